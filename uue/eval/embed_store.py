"""`uue embed` / `uue similar`: user vectors in a Parquet file, recomputed only for changed users.

Rows: user_id, vector (list<float32>), content_hash (of the user's activities), model, pooling.
Re-running `uue embed` on the same file reuses the vector of every user whose hash (and model and
pooling) is unchanged, so adding activities to one user re-embeds only that user.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from uue.datasets.histories import iter_histories
from uue.datasets.records import History
from uue.errors import ConfigError, InputError
from uue.eval.embedders import DenseEmbedder
from uue.eval.user_vectors import Pooling, user_vectors

SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("vector", pa.list_(pa.float32())),
        ("content_hash", pa.string()),
        ("model", pa.string()),
        ("pooling", pa.string()),
    ]
)


def content_hash(history: History) -> str:
    payload = json.dumps([a.to_dict() for a in history.activities], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class EmbedStats:
    users: int
    embedded: int
    reused: int


def _embeddings_table(path: Path, columns: list[str] | None = None) -> pa.Table:
    try:
        return pq.read_table(path, columns=columns)
    except (pa.ArrowInvalid, pa.ArrowException, OSError, KeyError) as error:
        raise InputError(str(path), f"not an embeddings file written by `uue embed` ({error})") from None


def _read(path: Path) -> dict[str, dict]:
    if path.is_dir():
        raise InputError(str(path), "is a folder", hint="--out takes a file path, e.g. users.parquet")
    if not path.is_file():
        return {}
    return {row["user_id"]: row for row in _embeddings_table(path).to_pylist()}


def embed_users(
    embedder: DenseEmbedder,
    model_name: str,
    histories_dir: Path,
    out: Path,
    pooling: Pooling = Pooling.mean,
    batch_users: int = 256,
    on_progress: Callable[[int], None] | None = None,
) -> EmbedStats:
    """Embed every user of `histories_dir` into `out` (Parquet), reusing unchanged users' vectors;
    `on_progress(users_done)` after each user."""
    if not isinstance(embedder, DenseEmbedder):
        raise ConfigError(f"{model_name} has no vectors", hint="`uue embed` needs a dense model, not bm25")
    old = _read(out)
    progress = on_progress or (lambda users: None)
    rows: list[dict] = []
    pending: list[tuple[History, str]] = []

    def flush() -> None:
        vectors = user_vectors([h.activities for h, _ in pending], embedder, pooling)  # [n, d]
        rows.extend(
            {
                "user_id": h.user_id,
                "vector": v.astype(np.float32).tolist(),
                "content_hash": c,
                "model": model_name,
                "pooling": pooling.value,
            }
            for (h, c), v in zip(pending, vectors, strict=True)
        )
        progress(len(pending))
        pending.clear()

    embedded = reused = 0
    for history in iter_histories(histories_dir):
        digest = content_hash(history)
        previous = old.get(history.user_id)
        if previous and (previous["content_hash"], previous["model"], previous["pooling"]) == (
            digest,
            model_name,
            pooling.value,
        ):
            rows.append(previous)
            reused += 1
            progress(1)
            continue
        pending.append((history, digest))
        embedded += 1
        if len(pending) >= batch_users:
            flush()
    if pending:
        flush()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), tmp)
    tmp.replace(out)
    return EmbedStats(len(rows), embedded, reused)


def similar_users(user_id: str, embeddings: str | Path, k: int = 10) -> list[tuple[str, float]]:
    """The `k` users whose vectors have the highest cosine similarity with `user_id`'s."""
    embeddings = Path(embeddings)
    if not embeddings.is_file():
        raise InputError(str(embeddings), "no embeddings file", hint="create it with `uue embed`")
    table = _embeddings_table(embeddings, ["user_id", "vector"])
    users = table["user_id"].to_pylist()
    if user_id not in users:
        raise InputError(
            str(embeddings),
            f"user {user_id!r} is not embedded",
            hint="run `uue embed` on histories that contain the user",
        )
    vectors = np.asarray(table["vector"].to_pylist(), dtype=np.float32)  # [n, d]
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    scores = vectors @ vectors[users.index(user_id)]  # [n]
    order = [i for i in np.argsort(-scores) if users[i] != user_id][:k]
    return [(users[i], float(scores[i])) for i in order]

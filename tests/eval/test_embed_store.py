import numpy as np
import pytest

from tests.dev_triplets import toy_histories
from uue.datasets.histories import write_histories
from uue.datasets.records import Activity
from uue.errors import ConfigError
from uue.eval.embed_store import embed_users, similar_users
from uue.eval.embedders import BM25Embedder


class CountingEmbedder:
    """A tiny dense embedder (hashed bag of words) that records what it encodes."""

    name, max_tokens = "counting", 512

    def __init__(self):
        self.encoded: list[str] = []

    def count_tokens(self, text):
        return len(text.split())

    def _encode(self, texts):
        self.encoded.extend(texts)
        out = np.zeros((len(texts), 16), dtype=np.float32)  # [n, 16]
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, hash(word) % 16] += 1
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    encode_queries = encode_documents = _encode

    def score(self, queries, documents):
        return self._encode(queries) @ self._encode(documents).T


def test_embed_reembeds_only_the_changed_user(tmp_path):
    histories = toy_histories(6)
    write_histories(histories, tmp_path / "h")
    out = tmp_path / "users.parquet"
    first = CountingEmbedder()
    stats = embed_users(first, "counting", tmp_path / "h", out)
    assert (stats.users, stats.embedded, stats.reused) == (6, 6, 0)

    changed = histories[2]
    last = changed.activities[-1]
    changed.activities.append(
        Activity(
            "new",
            changed.user_id,
            "reddit",
            "comment",
            last.timestamp + 1,
            "a brand new comment",
            last.context,
            "t-new",
        )
    )
    write_histories(histories, tmp_path / "h")
    second = CountingEmbedder()
    stats = embed_users(second, "counting", tmp_path / "h", out)
    assert (stats.users, stats.embedded, stats.reused) == (6, 1, 5)
    assert second.encoded and all("a brand new comment" in t or changed.user_id in t for t in second.encoded)

    neighbours = similar_users(histories[0].user_id, out, k=3)
    assert len(neighbours) == 3 and histories[0].user_id not in [u for u, _ in neighbours]
    assert neighbours[0][1] >= neighbours[-1][1]


def test_embed_refuses_lexical_models(tmp_path):
    write_histories(toy_histories(3), tmp_path / "h")
    with pytest.raises(ConfigError):
        embed_users(BM25Embedder(), "bm25", tmp_path / "h", tmp_path / "u.parquet")


def test_case_13_bad_out_and_embeddings_files_are_one_line_errors(tmp_path):
    from uue.errors import InputError

    write_histories(toy_histories(3), tmp_path / "h")
    folder = tmp_path / "a-folder"
    folder.mkdir()
    with pytest.raises(InputError, match="is a folder"):
        embed_users(CountingEmbedder(), "counting", tmp_path / "h", folder)
    assert list(tmp_path.glob("*.tmp")) == []
    not_parquet = tmp_path / "notes.parquet"
    not_parquet.write_text("user_id,vector\n")
    with pytest.raises(InputError, match="not an embeddings file"):
        similar_users("u0", not_parquet)
    with pytest.raises(InputError, match="not an embeddings file"):
        embed_users(CountingEmbedder(), "counting", tmp_path / "h", not_parquet)
    assert not_parquet.read_text() == "user_id,vector\n"  # the file is left as it was


def test_case_13_similar_with_k_0_is_a_usage_error(tmp_path):
    from typer.testing import CliRunner

    from uue.cli import app

    result = CliRunner().invoke(
        app, ["similar", "u0", "--embeddings", str(tmp_path / "e.parquet"), "-k", "0"]
    )
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_embed_reports_progress_for_every_user(tmp_path):
    from uue.datasets.histories import count_users

    write_histories(toy_histories(5), tmp_path / "h")
    seen = []
    embed_users(
        CountingEmbedder(), "counting", tmp_path / "h", tmp_path / "u.parquet", on_progress=seen.append
    )
    assert sum(seen) == count_users(tmp_path / "h") == 5
    seen.clear()
    embed_users(
        CountingEmbedder(), "counting", tmp_path / "h", tmp_path / "u.parquet", on_progress=seen.append
    )
    assert sum(seen) == 5  # reused users count too

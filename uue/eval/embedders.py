"""Every model `uue bench` and `uue embed` can compare, behind one interface, built from a `--model` string.

Lives in `eval/` (not `trainers/`) because it is the scoring side: bench, the downstream tasks and
`uue embed` use it; training uses a `SentenceTransformer` directly and only calls bench at the end.

`--model` strings: `bm25` (lexical baseline), `minilm` (the offline all-MiniLM-L6-v2 = the base and
baseline), `mpnet` (the offline all-mpnet-base-v2, a stronger baseline), `litellm:<provider/model>` (any litellm embedding model), anything else is a
sentence-transformers model folder or hub name (loaded offline when HF_HUB_OFFLINE=1).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from uue.errors import ConfigError
from uue.models import offline_minilm_path


@runtime_checkable
class Embedder(Protocol):
    """Scores queries against documents: higher is more relevant."""

    name: str

    def score(self, queries: Sequence[str], documents: Sequence[str]) -> np.ndarray:  # [n_q, n_d]
        ...

    def count_tokens(self, text: str) -> int: ...

    @property
    def max_tokens(self) -> int: ...


@runtime_checkable
class DenseEmbedder(Embedder, Protocol):
    """An embedder with vectors: L2-normalised, so cosine similarity is a dot product."""

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:  # [n, d]
        ...

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:  # [n, d]
        ...


class _DenseScoring:
    def score(self, queries: Sequence[str], documents: Sequence[str]) -> np.ndarray:
        return self.encode_queries(queries) @ self.encode_documents(documents).T  # [n_q, d] @ [d, n_d]


class SentenceTransformerEmbedder(_DenseScoring):
    def __init__(
        self,
        model_name_or_path: str,
        batch_size: int = 32,
        max_seq_length: int | None = None,
        truncate_dim: int | None = None,
    ):
        from sentence_transformers import SentenceTransformer

        try:
            self.model = SentenceTransformer(str(model_name_or_path), device="cpu", truncate_dim=truncate_dim)
        except (OSError, ValueError) as error:
            raise ConfigError(
                f"cannot load sentence-transformers model {model_name_or_path!r}: {error}",
                hint="pass a model folder, `minilm`, `bm25` or `litellm:<model>`",
            ) from error
        if max_seq_length:
            self.model.max_seq_length = max_seq_length
        self.name = str(model_name_or_path)
        self.batch_size = batch_size

    @classmethod
    def of_model(cls, model, name: str, batch_size: int = 32) -> SentenceTransformerEmbedder:
        """An embedder over a model already in memory (one being trained), as it stands."""
        embedder = cls.__new__(cls)
        embedder.model, embedder.name, embedder.batch_size = model, name, batch_size
        return embedder

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=False, truncation=False)["input_ids"])

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self.model.encode_query(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )

    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        return self.model.encode_document(
            list(texts), batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
        )


class LiteLLMEmbedder(_DenseScoring):
    """Any litellm embedding model (`openai/text-embedding-3-large`, ...), in batches."""

    def __init__(
        self, model: str, batch_size: int = 64, max_tokens: int = 8000, embed_fn: Callable | None = None
    ):
        self.name = f"litellm:{model}"
        self.model, self.batch_size, self._max_tokens = model, batch_size, max_tokens
        self._embed_fn = embed_fn  # injectable for tests; litellm.embedding otherwise

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        return len(text) // 4 + 1

    def _encode(self, texts: Sequence[str]) -> np.ndarray:
        embed = self._embed_fn
        if embed is None:
            import litellm

            embed = litellm.embedding
        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            response = embed(model=self.model, input=list(texts[start : start + self.batch_size]))
            rows.extend(item["embedding"] for item in sorted(response["data"], key=lambda d: d["index"]))
        vectors = np.asarray(rows, dtype=np.float32)  # [n, d]
        return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)

    encode_queries = encode_documents = _encode


class BM25Embedder:
    """Lexical baseline (bm25s): measures how much of the task is keyword overlap. Scores only, no vectors."""

    name = "bm25"

    def __init__(self, max_tokens: int = 100_000):
        self._max_tokens = max_tokens

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def score(self, queries: Sequence[str], documents: Sequence[str]) -> np.ndarray:
        import bm25s

        retriever = bm25s.BM25()
        retriever.index(
            bm25s.tokenize(list(documents), show_progress=False, return_ids=True), show_progress=False
        )
        vocab = retriever.vocab_dict
        scores = np.zeros((len(queries), len(documents)), dtype=np.float32)  # [n_q, n_d]
        for i, tokens in enumerate(bm25s.tokenize(list(queries), return_ids=False, show_progress=False)):
            known = [t for t in tokens if t in vocab]
            if known:
                scores[i] = retriever.get_scores(known)
        return scores


EmbedderFactory = Callable[[str], Embedder]
_REGISTRY: dict[str, EmbedderFactory] = {}


def register_embedder(prefix: str, factory: EmbedderFactory) -> None:
    """`prefix` matches `--model prefix` or `--model prefix:<arg>`; duplicates fail loudly."""
    if prefix in _REGISTRY:
        raise ConfigError(f"embedder prefix {prefix!r} is registered twice")
    _REGISTRY[prefix] = factory


register_embedder("bm25", lambda arg: BM25Embedder())
register_embedder("minilm", lambda arg: SentenceTransformerEmbedder(str(offline_minilm_path())))
register_embedder("litellm", lambda arg: LiteLLMEmbedder(arg))


def _mpnet(arg: str) -> SentenceTransformerEmbedder:
    from uue.eval.mpnet import offline_mpnet_path

    return SentenceTransformerEmbedder(str(offline_mpnet_path()))


register_embedder("mpnet", _mpnet)


def _two_tower(arg: str) -> Embedder:
    from uue.twotower.embedder import TwoTowerEmbedder

    if not arg:
        raise ConfigError("`two-tower:` needs the model folder", hint="e.g. two-tower:runs/two-tower")
    return TwoTowerEmbedder(Path(arg))


register_embedder("two-tower", _two_tower)


def make_embedder(spec: str) -> Embedder:
    """`bm25`, `minilm`, `litellm:openai/text-embedding-3-large`, or a sentence-transformers path/name."""
    prefix, _, arg = spec.partition(":")
    if prefix in _REGISTRY and (arg or prefix != "litellm"):
        return _REGISTRY[prefix](arg)
    if prefix == "litellm":
        raise ConfigError("`litellm:` needs a model name", hint="e.g. litellm:openai/text-embedding-3-large")
    return SentenceTransformerEmbedder(spec)

"""User vectors from histories: windows of whole activities oldest first, pooled `last`, `mean` or
`recency` into one unit vector, and every distinct window encoded once per call."""

from __future__ import annotations

import functools
import hashlib

import numpy as np
import pytest

from tests.dev_triplets import toy_histories
from uue.eval.embedders import DenseEmbedder
from uue.eval.user_vectors import (
    Pooling,
    chunk_activities,
    pool_chunks,
    pooled_vectors,
    user_texts,
    user_vectors,
)


@functools.cache
def _word_vector(word: str, dim: int) -> np.ndarray:
    return np.random.default_rng(int(hashlib.md5(word.encode()).hexdigest()[:8], 16)).normal(size=dim)


class WordVectors:
    """A deterministic dense embedder: the normalised sum of one fixed random vector per word; tokens are
    words. Records every encode call."""

    name = "word-vectors"

    def __init__(self, max_tokens: int = 30, dim: int = 16):
        self._max_tokens, self.dim = max_tokens, dim
        self.calls: list[tuple[str, list[str]]] = []

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def vectors(self, texts) -> np.ndarray:
        rows = []
        for text in texts:
            row = np.zeros(self.dim)
            for word in text.lower().split():
                row += _word_vector(word, self.dim)
            rows.append(row / max(np.linalg.norm(row), 1e-12))
        return np.array(rows).reshape(len(rows), self.dim)  # [n, d]

    def encode_queries(self, texts) -> np.ndarray:
        self.calls.append(("queries", list(texts)))
        return self.vectors(texts)

    def encode_documents(self, texts) -> np.ndarray:
        self.calls.append(("documents", list(texts)))
        return self.vectors(texts)

    def score(self, queries, documents) -> np.ndarray:
        return self.vectors(queries) @ self.vectors(documents).T


@pytest.fixture(scope="module")
def history():
    return toy_histories(n_users=2, activities_per_user=6)[0].activities  # texts end "(user000 #i)"


def test_the_fake_embedder_is_a_dense_embedder():
    assert isinstance(WordVectors(), DenseEmbedder)


def test_pooling_by_hand():
    vectors = np.array([[1.0, 0.0], [0.0, 1.0]])  # oldest first
    np.testing.assert_allclose(pool_chunks(vectors, Pooling.last), [0.0, 1.0])
    np.testing.assert_allclose(pool_chunks(vectors, Pooling.mean), [2**-0.5, 2**-0.5])
    # recency: weights 0.5 ** age = [0.5, 1] -> [0.5, 1] / 1.5, normalised -> [1, 2] / sqrt(5)
    np.testing.assert_allclose(pool_chunks(vectors, Pooling.recency), np.array([1.0, 2.0]) / 5**0.5)
    np.testing.assert_allclose(pool_chunks(vectors, Pooling.recency, decay=1.0), [2**-0.5, 2**-0.5])
    assert not np.isnan(pool_chunks(np.zeros((2, 2)), Pooling.mean)).any()  # a zero vector stays zero


def test_windows_hold_whole_activities_oldest_window_first(history):
    chunks = chunk_activities(history, WordVectors(max_tokens=30))  # one activity per window
    assert len(chunks) == 6 and all(f"#{i})" in chunk for i, chunk in enumerate(chunks))
    assert chunks[-1] == user_texts(history, WordVectors(max_tokens=30))  # what `last` sees
    assert chunk_activities(history, WordVectors(max_tokens=30), max_chunks=2) == chunks[-2:]
    [whole] = chunk_activities(history, WordVectors(max_tokens=200))
    assert [f"#{i})" in whole for i in range(6)] == [True] * 6
    assert chunk_activities([], WordVectors()) == []


def test_each_pooling_matches_pooling_the_encoded_windows(history):
    embedder = WordVectors(max_tokens=30)
    out = pooled_vectors([history], embedder, [Pooling.last, Pooling.mean, Pooling.recency])
    windows = embedder.vectors(chunk_activities(history, embedder))  # [6, d]
    np.testing.assert_allclose(out[Pooling.mean][0], pool_chunks(windows, Pooling.mean))
    np.testing.assert_allclose(out[Pooling.recency][0], pool_chunks(windows, Pooling.recency))
    np.testing.assert_allclose(out[Pooling.last][0], windows[-1])
    assert not np.allclose(out[Pooling.mean][0], out[Pooling.recency][0])
    for vectors in out.values():
        np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0)


def test_windows_shared_by_histories_and_poolings_are_encoded_once_in_one_call(history):
    embedder = WordVectors(max_tokens=30)
    out = pooled_vectors([history, history[:5]], embedder, [Pooling.mean, Pooling.recency, Pooling.last])
    assert len(embedder.calls) == 1
    kind, texts = embedder.calls[0]
    assert kind == "queries" and len(texts) == len(set(texts)) == 6  # 6 + 5 windows + 2 lasts, 6 distinct
    assert out[Pooling.mean].shape == (2, embedder.dim)


def test_documents_are_encoded_as_documents_and_user_vectors_is_one_pooling(history):
    embedder = WordVectors(max_tokens=30)
    vectors = user_vectors([history, history[:3]], embedder, Pooling.mean, query=False)
    assert vectors.shape == (2, embedder.dim) and {kind for kind, _ in embedder.calls} == {"documents"}


def test_a_model_that_reads_whole_histories_is_asked_directly_for_every_pooling(history):
    class WholeHistories(WordVectors):
        def encode_users(self, histories):
            self.calls.append(("users", [str(len(h)) for h in histories]))
            return np.eye(len(histories), self.dim)  # [n_users, d]

    embedder = WholeHistories()
    out = pooled_vectors([history, history[:2]], embedder, [Pooling.mean, Pooling.last])
    assert embedder.calls == [("users", ["6", "2"])]
    assert out[Pooling.mean] is out[Pooling.last] and out[Pooling.mean].shape == (2, embedder.dim)

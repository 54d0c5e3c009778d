"""A user embedding = the model's embedding of the rendered history within the model's token budget.

Histories are read through the student's view (`uue.datasets.student_view`). Histories longer than
one window are cut into consecutive windows of whole activities and the window vectors are pooled:

* `last`: only the most recent window (what `render_segment` keeps when it drops the oldest);
* `mean`: the plain mean of all chunk vectors;
* `recency`: a weighted mean with weight `decay ** age` (age 0 = the newest chunk).

Lexical embedders (BM25) have no vectors: they get the `last` window as a document.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

import numpy as np

from uue.datasets.records import Activity
from uue.datasets.student_view import render_student_view
from uue.eval.embedders import DenseEmbedder, Embedder


class Pooling(str, Enum):
    last = "last"
    mean = "mean"
    recency = "recency"


def chunk_activities(activities: Sequence[Activity], embedder: Embedder, max_chunks: int = 16) -> list[str]:
    """The student's views of consecutive windows of the history, oldest window first, each within
    `embedder.max_tokens`; the newest window is what `last` pooling sees. Only the newest `max_chunks`."""
    chunks: list[str] = []
    remaining = list(activities)
    while remaining and len(chunks) < max_chunks:
        view = render_student_view(remaining, embedder.max_tokens, embedder.count_tokens)
        if not view.kept:  # cannot happen with a budget >= 8 tokens; guards an endless loop
            break
        chunks.append(view.text)
        remaining = remaining[: len(remaining) - view.kept]
    return chunks[::-1]


def pool_chunks(vectors: np.ndarray, pooling: Pooling, decay: float = 0.5) -> np.ndarray:
    """vectors [n_chunks, d], oldest first -> one L2-normalised vector [d]."""
    if pooling is Pooling.last:
        pooled = vectors[-1]
    else:
        age = np.arange(len(vectors))[::-1]  # [n_chunks], 0 = newest
        weights = np.ones(len(vectors)) if pooling is Pooling.mean else decay**age  # [n_chunks]
        pooled = (weights[:, None] * vectors).sum(axis=0) / weights.sum()  # [n_chunks, d] -> [d]
    return pooled / max(float(np.linalg.norm(pooled)), 1e-12)


def user_texts(activities: Sequence[Activity], embedder: Embedder) -> str:
    """The single-window text of a history (what lexical embedders and `last` pooling see)."""
    return render_student_view(list(activities), embedder.max_tokens, embedder.count_tokens).text


def user_vectors(
    histories: Sequence[Sequence[Activity]], embedder: DenseEmbedder, pooling: Pooling, query: bool = True
) -> np.ndarray:
    """One vector per history -> [n_users, d]."""
    return pooled_vectors(histories, embedder, [pooling], query)[pooling]


def pooled_vectors(
    histories: Sequence[Sequence[Activity]],
    embedder: DenseEmbedder,
    poolings: Sequence[Pooling],
    query: bool = True,
    max_windows: int = 16,
) -> dict[Pooling, np.ndarray]:
    """{pooling: [n_users, d]}: every distinct window is encoded once, in one batched call, and pooled
    each way (`mean` and `recency` share the windows; encoding them twice doubled the task bench, and
    the interest task's queries, one history minus one thread each, share most of their windows).

    A model that reads whole histories itself (`encode_users`, the two-tower user tower) is asked
    directly; its own pooling stands for every `poolings` entry."""
    if hasattr(embedder, "encode_users"):
        users = embedder.encode_users(histories)  # [n_users, d]
        return {pooling: users for pooling in poolings}
    chunked = [p for p in poolings if p is not Pooling.last]
    chunks = [chunk_activities(h, embedder, max_windows) for h in histories] if chunked else []
    lasts = [user_texts(h, embedder) for h in histories] if Pooling.last in poolings else []
    encode = embedder.encode_queries if query else embedder.encode_documents
    texts = [text for user_chunks in chunks for text in user_chunks] + lasts
    distinct = {text: i for i, text in enumerate(dict.fromkeys(texts))}
    vectors = encode(list(distinct))[[distinct[t] for t in texts]]  # [distinct, d] -> [windows, d]
    out: dict[Pooling, np.ndarray] = {}
    for pooling in chunked:
        pooled, start = [], 0
        for user_chunks in chunks:
            pooled.append(pool_chunks(vectors[start : start + len(user_chunks)], pooling))
            start += len(user_chunks)
        out[pooling] = np.stack(pooled)  # [n_users, d]
    if lasts:
        last = vectors[len(vectors) - len(lasts) :]
        out[Pooling.last] = last / np.maximum(np.linalg.norm(last, axis=1, keepdims=True), 1e-12)
    return out


def score_histories(
    embedder: Embedder,
    queries: Sequence[Sequence[Activity]],
    docs: Sequence[str] | Sequence[Sequence[Activity]],
    poolings: Sequence[Pooling],
    max_windows: int = 16,
) -> dict[Pooling, np.ndarray]:
    """Queries are histories; documents are texts or (for Q/Q) histories -> {pooling: [n_q, n_d]}.
    Lexical embedders score the newest window only (`last`)."""
    docs_are_users = bool(docs) and not isinstance(docs[0], str)
    if isinstance(embedder, DenseEmbedder):
        q = pooled_vectors(queries, embedder, poolings, max_windows=max_windows)  # {pooling: [n_q, d]}
        if docs_are_users:
            d = pooled_vectors(docs, embedder, poolings, max_windows=max_windows)
        else:
            texts = embedder.encode_documents(list(docs))  # [n_d, d]
            d = dict.fromkeys(poolings, texts)
        return {p: q[p] @ d[p].T for p in poolings}
    doc_texts = [user_texts(h, embedder) for h in docs] if docs_are_users else list(docs)
    return {Pooling.last: embedder.score([user_texts(h, embedder) for h in queries], doc_texts)}

"""A 2-D map of user embeddings coloured by each user's top community, for the bench run in MLflow:
whether a trained model's space groups people by what they talk about, at a glance.

The map is the first two principal components of the mean-pooled user vectors (numpy's SVD of the
centred vectors, no extra dependency); the `TOP` most frequent top communities get a colour each,
the rest are "other".
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from uue.datasets.records import History
from uue.eval.embedders import DenseEmbedder
from uue.eval.user_vectors import Pooling, pooled_vectors

TOP = 8


def top_community(history: History) -> str:
    return Counter(a.context.community or "?" for a in history.activities).most_common(1)[0][0]


def map_coordinates(vectors: np.ndarray) -> np.ndarray:
    """[n, d] -> [n, 2]: the projection on the first two principal components."""
    centred = vectors - vectors.mean(axis=0)
    _, _, components = np.linalg.svd(centred, full_matrices=False)
    return centred @ components[:2].T


def user_map_figure(embedder: DenseEmbedder, histories: Sequence[History], title: str):
    """The map of `histories` as seen by `embedder`; None below 3 users (no plane to draw)."""
    if len(histories) < 3:
        return None
    vectors = pooled_vectors([h.activities for h in histories], embedder, [Pooling.mean])[Pooling.mean]
    points = map_coordinates(vectors)
    labels = [top_community(h) for h in histories]
    shown = [name for name, _ in Counter(labels).most_common(TOP)]
    from matplotlib.figure import Figure  # the object API: no pyplot state, renders with Agg

    figure = Figure(figsize=(7, 6))
    axes = figure.subplots()
    for name in [*shown, "other"]:
        mask = np.array([(label if label in shown else "other") == name for label in labels])
        if mask.any():
            axes.scatter(
                points[mask, 0], points[mask, 1], s=12, label=f"r/{name}" if name != "other" else name
            )
    axes.set_title(f"{title}: held-out users, mean-pooled, first two principal components", fontsize=9)
    axes.legend(fontsize=7, markerscale=1.5, loc="best")
    figure.tight_layout()
    return figure

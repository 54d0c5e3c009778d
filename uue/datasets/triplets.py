"""The triplet dataset `uue synth` writes and `uue bench` / `uue train` read (a HF `datasets` table)."""

from __future__ import annotations

import datasets

_STR = datasets.Value("string")
TRIPLET_FEATURES = datasets.Features(
    {
        "triplet_id": _STR,  # stable hash of (user_id, segment, cluster): resume and dedup key
        "user_id": _STR,
        "context": _STR,  # rendered H_context = segment minus the cluster (the query)
        "positive": _STR,  # the teacher's specific, item-like summary of the cluster
        "positive_broad": _STR,  # its broad category label
        "negative": _STR,  # hard negative summary (reranked from the pool, or generated)
        "negative_broad": _STR,  # broad label of the negative's source cluster ("" when generated)
        "negative_source": _STR,  # "reranked" | "sampled" (the rerank failed: a random candidate) | "generated"
        "cluster_indices": datasets.List(datasets.Value("int32")),  # into the segment
        "segment_activity_ids": datasets.List(_STR),
        "cluster_activity_ids": datasets.List(_STR),
        "judge_score": datasets.Value("float32"),  # NaN when not judged
        "judge_reason": _STR,
        "teacher_model": _STR,
        "program_hash": _STR,  # hash of the DSPy program state used (compiled or not)
        "source_record_ids": datasets.List(_STR),  # platform ids behind the cluster's activities
    }
)

"""The triplet dataset `uue synth` writes and `uue bench` / `uue train` read (a HF `datasets` table)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import datasets
from pydantic import BaseModel

from uue.datasets.cards import TRIPLET_COLUMNS, write_card
from uue.errors import InputError
from uue.eval.split import UserSplit, split_users
from uue.provenance import made_by

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


class MergeTripletsReport(BaseModel):
    """`out/report.json` of `uue merge-triplets`."""

    triplets: int
    users: int
    sources: list[str]
    source_reports: list[dict[str, Any]]  # each source's own report.json, as written
    made_by: dict[str, Any]


def merge_triplets(sources: list[str | Path], out: str | Path) -> MergeTripletsReport:
    """Concatenate the triplets of several `uue synth` outputs (e.g. shards of users run on several
    machines) into `out/triplets`, each triplet once (by `triplet_id`), with `out/report.json`
    listing the sources' reports. Each shard drew its negatives from its own pool."""
    sources, out = [Path(s) for s in sources], Path(out)
    tables, reports = [], []
    for source in sources:
        path = source / "triplets"
        if not path.is_dir():
            raise InputError(str(source), "no triplets/ here", hint="create them with `uue synth`")
        tables.append(datasets.load_from_disk(str(path)))
        report = source / "report.json"
        reports.append(json.loads(report.read_text()) if report.is_file() else {"source": str(source)})
    merged = datasets.concatenate_datasets(tables)
    seen: set[str] = set()
    keep = [i for i, tid in enumerate(merged["triplet_id"]) if not (tid in seen or seen.add(tid))]
    merged = merged.select(keep)
    out.mkdir(parents=True, exist_ok=True)
    merged.save_to_disk(str(out / "triplets"))
    report = MergeTripletsReport(
        triplets=len(merged),
        users=len(set(merged["user_id"])),
        sources=[str(s) for s in sources],
        source_reports=reports,
        made_by=made_by("uue merge-triplets", {"sources": [str(s) for s in sources]}, list(sources)),
    )
    (out / "report.json").write_text(report.model_dump_json(indent=2))
    write_card(
        out, "uue triplets", f"{report.triplets:,} (query, positive, negative) training triplets of "
        f"{report.users:,} users merged from {len(sources)} `uue synth` outputs; report.json lists them.",
        {"triplets": "triplets/*.arrow"}, TRIPLET_COLUMNS,
    )  # fmt: skip
    return report


def split_by_user(
    table: datasets.Dataset, valid_fraction: float, split_seed: int = 0
) -> tuple[datasets.DatasetDict, UserSplit]:
    """{"train", "validation"} by user: the split of `uue train --valid-fraction` and `uue bench
    --held-out` (a hash of each user id), so no user is on both sides.

        parts, _ = split_by_user(datasets.load_dataset("runs/synth", "triplets", split="train"), 0.1)
    """
    split = split_users(table["user_id"], valid_fraction, split_seed)
    users = table["user_id"]
    parts = datasets.DatasetDict(
        train=table.select([i for i, u in enumerate(users) if u in split.train]),
        validation=table.select([i for i, u in enumerate(users) if u in split.valid]),
    )
    return parts, split

"""`uue seqrec profiles`: the teacher writes a profile per user (seed 004), embedded as `{user_id: vector}`.

A profile is written from the user's *training* items only (`s[:-2]`): the validation and test items
never reach the teacher, so distillation cannot leak the targets. Item texts come from MovieLens
(`u.item`: title + genres; `movies.dat`) or S3-Rec's `*_item2attributes.json` (anonymous attribute ids:
weak text, but the only one those sets have). Calls go through DSPy's disk cache in `OUT/dspy_cache`
and finished users through `OUT/progress/profiles.jsonl`, so a killed run resumes where it stopped.

Output in `OUT`: `profiles.parquet` (`user_id`, `vector`: what `distillation.profiles_path` reads),
`profiles.jsonl` (the texts), `report.json` (counts, failures, LLM ledger, provenance).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import dspy
import numpy as np
from pydantic import BaseModel

from uue.errors import InputError
from uue.programs.lm import LLMUsage, ModelTotals, TokenLedger, build_lm, default_adapter, response_cache
from uue.programs.profile import ProfileWriter
from uue.programs.store import UnitStore, run_units, unit_progress
from uue.provenance import made_by
from uue.seqrec.data import load_seqrec
from uue.seqrec.profile_config import ProfileJobConfig
from uue.seqrec.profiles import ProfileTable

PROGRESS_FILE = "progress/profiles.jsonl"
MAX_ATTRIBUTES = 10  # distinct attribute ids shown per item (S3-Rec sets)
MAX_ITEMS_CHARS = 2400  # about 1,000 tokens of items: the prompt stays far inside the teacher's window


class ProfilesReport(BaseModel):
    """What `uue seqrec profiles` wrote and what the teacher cost (report.json)."""

    users: int
    profiles: int
    failures: dict[str, int]
    llm: LLMUsage
    llm_this_run: LLMUsage
    seconds: float
    profiles_path: str
    made_by: dict


def item_texts(path: Path) -> dict[int, str]:
    """Item id -> one line of text, from any of the three item files."""
    if not path.is_file():
        raise InputError(str(path), "no such item file")
    if path.suffix == ".json":
        attributes = json.loads(path.read_text())
        # LastFM lists an artist's tags with repeats, up to 625: the distinct first ones say enough.
        return {
            int(i): "item with attributes " + ", ".join(map(str, list(dict.fromkeys(a))[:MAX_ATTRIBUTES]))
            for i, a in attributes.items()
        }
    lines = path.read_text(encoding="latin-1").splitlines()
    if "::" in lines[0]:  # ml-1m movies.dat: id::title::genre|genre
        rows = (line.split("::") for line in lines if line.strip())
        return {int(i): f"{title} ({genres.replace('|', ', ')})" for i, title, genres in rows}
    header = lines[0].split("|")  # ml-100k u.item: item|title|dates|url|19 genre flags
    genres = header[5:]
    texts = {}
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("|")
        try:
            flags = [g for g, flag in zip(genres, fields[5:], strict=True) if flag == "1"]
            texts[int(fields[0])] = f"{fields[1]} ({', '.join(flags) or 'no genre'})"
        except ValueError:
            raise InputError(str(path), "expected item|title|...|genre flags", line=number) from None
    return texts


def render_items(sequence: np.ndarray, texts: dict[int, str], max_items: int) -> str:
    """The most recent `max_items` items, one per line, oldest first, as many as fit `MAX_ITEMS_CHARS`."""
    lines: list[str] = []
    size = 0
    for item in sequence[::-1][:max_items]:
        line = texts.get(int(item), f"item {int(item)}")
        size += len(line) + 1
        if lines and size > MAX_ITEMS_CHARS:
            break
        lines.append(line[:MAX_ITEMS_CHARS])
    return "\n".join(reversed(lines))


def write_profiles(config: ProfileJobConfig) -> ProfilesReport:
    """Write (or resume) the profiles; returns the report, also saved as `OUT/report.json`."""
    started = time.perf_counter()
    data = load_seqrec(config.data, max_users=config.max_users)
    texts = item_texts(config.items) if config.items else {}
    config.out.mkdir(parents=True, exist_ok=True)
    store = UnitStore(config.out / PROGRESS_FILE)
    writer = ProfileWriter(config.attempts)
    lm = build_lm(config.teacher)
    ledger = TokenLedger()
    progress = unit_progress(config.progress)
    task = progress.add_task(
        "profiles", total=data.num_users, completed=sum(u in store for u in data.user_ids)
    )

    def done() -> dict:
        progress.advance(task)
        return ledger.take(lm.history)

    def unit(sequence: np.ndarray):
        def work() -> dict:
            written = writer(items=render_items(sequence[:-2], texts, config.max_items))
            return {"profile": written.profile, "failure": written.failure}

        return work

    with (
        response_cache(config.out / "dspy_cache"),
        dspy.context(lm=lm, adapter=default_adapter(config.teacher)),
        progress,
    ):
        run_units(
            [(user, unit(seq)) for user, seq in zip(data.user_ids, data.sequences, strict=True)],
            store,
            config.workers,
            done,
        )
    records = {user: store.get(user) for user in data.user_ids}
    written = {user: r["profile"] for user, r in records.items() if r["profile"]}
    _save(config, written)
    job = ModelTotals()
    for record in records.values():
        job.add(ModelTotals.from_dict(record.get("llm", {})))
    report = ProfilesReport(
        users=data.num_users,
        profiles=len(written),
        failures=dict(Counter(r["failure"] for r in records.values() if r["failure"])),
        llm=job.as_dict(),
        llm_this_run=ledger.as_dict(),
        seconds=round(time.perf_counter() - started, 2),
        profiles_path=str(config.out / "profiles.parquet"),
        made_by=made_by("uue seqrec profiles", config, [p for p in (config.data, config.items) if p]),
    )
    (config.out / "report.json").write_text(report.model_dump_json(indent=2))
    return report


def _save(config: ProfileJobConfig, profiles: dict[str, str]) -> None:
    from sentence_transformers import SentenceTransformer

    from uue.models import resolve_base_model

    users = list(profiles)
    model = SentenceTransformer(resolve_base_model(config.embedder))
    vectors = model.encode([profiles[u] for u in users], batch_size=64, normalize_embeddings=True)
    ProfileTable(users, np.asarray(vectors, dtype=np.float32)).save(config.out / "profiles.parquet")
    with open(config.out / "profiles.jsonl", "w", encoding="utf-8") as file:
        for user in users:
            file.write(json.dumps({"user_id": user, "profile": profiles[user]}, ensure_ascii=False) + "\n")

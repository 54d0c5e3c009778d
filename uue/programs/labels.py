"""Teacher labels as their own dataset: one JSON line per labelled activity, LLM-written strings and ids.

`uue synth --mode activity` writes `OUT/labels.jsonl`; `uue synth --labels FILE` rebuilds triplets
from histories + this file without calling the teacher. The file holds no user text (activity ids,
the teacher's labels, which teacher and prompt wrote them), so it can be committed and shared.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from uue.errors import InputError


class ActivityLabel(BaseModel):
    """The teacher's answer for one activity. `nothing`: the teacher found no topic to label."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    activity_id: str
    specific: str
    broad: str
    nothing: bool
    teacher_model: str
    program_hash: str


def write_labels(path: str | Path, labels: Iterable[ActivityLabel]) -> int:
    """Write atomically (a kill mid-write keeps the previous file), sorted by activity id."""
    path = Path(path)
    rows = sorted(labels, key=lambda label: label.activity_id)
    staging = path.with_name(path.name + ".tmp")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(staging, "w", encoding="utf-8") as file:
        for label in rows:
            file.write(label.model_dump_json() + "\n")
        file.flush()
        os.fsync(file.fileno())
    staging.replace(path)
    return len(rows)


def read_labels(path: str | Path) -> list[ActivityLabel]:
    """Every label in `path`; a bad line is an InputError naming the line and the field."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "file not found", hint="write labels with `uue synth --mode activity`")
    labels: dict[str, ActivityLabel] = {}
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                label = ActivityLabel.model_validate(json.loads(line))
            except json.JSONDecodeError as error:
                raise InputError(str(path), f"not JSON ({error.msg})", line=number) from error
            except ValidationError as error:
                first = error.errors()[0]
                field = ".".join(str(part) for part in first["loc"]) or None
                raise InputError(str(path), first["msg"], line=number, field=field) from error
            if label.activity_id in labels and labels[label.activity_id] != label:
                raise InputError(
                    str(path), "activity labelled twice, differently", line=number, field="activity_id"
                )
            labels[label.activity_id] = label
    return list(labels.values())

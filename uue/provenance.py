"""How an artifact was made: recorded next to every dataset, compiled program and model."""

from __future__ import annotations

import hashlib
import json
import platform
import sys
import time
from dataclasses import asdict, is_dataclass
from enum import Enum
from pathlib import Path

from pydantic import BaseModel

import uue


def file_fingerprint(path: Path) -> dict:
    stat = path.stat()
    return {"path": str(path), "bytes": stat.st_size, "mtime": int(stat.st_mtime)}


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def made_by(command: str, settings: object, inputs: list[Path] = ()) -> dict:
    """The provenance block: uue version, command, typed settings, input files, host and time."""
    return {
        "uue_version": uue.__version__,
        "command": command,
        "argv": sys.argv,
        "settings": _jsonable(settings),
        "inputs": [file_fingerprint(p) for p in inputs if p.is_file()],
        "python": platform.python_version(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def records_same_making(
    saved: dict, wanted: dict, parts: tuple[str, ...] = ("settings",), ignore: frozenset[str] = frozenset()
) -> bool:
    """Whether a stored `made_by` block (`saved`, {} if none) records what `wanted` would make: the
    same `parts`, compared as JSON, settings named in `ignore` aside (what a reuse may differ in)."""

    def view(block: dict) -> dict:
        found = {part: block.get(part) for part in parts}
        if isinstance(found.get("settings"), dict):
            found["settings"] = {k: v for k, v in found["settings"].items() if k not in ignore}
        return found

    return saved.get("settings") is not None and view(saved) == view(
        json.loads(json.dumps(wanted, default=str))
    )


def _jsonable(value: object) -> object:
    if isinstance(value, BaseModel):  # python mode: a set field stays a set, then sorted below
        return _jsonable(value.model_dump(mode="python"))
    if isinstance(value, Enum):
        return value.value
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _jsonable(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_jsonable(v) for v in (sorted(value) if isinstance(value, (set, frozenset)) else value)]
    if isinstance(value, Path):
        return str(value)
    return value

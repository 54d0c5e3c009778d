"""Finished units of a resumable run: one JSON line per unit, appended and synced as each finishes."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any


class UnitStore:
    """A keyed, append-only JSONL file. A process killed mid-write leaves at most one partial last
    line; opening the store cuts it off, so that unit is simply done again (from DSPy's cache)."""

    def __init__(self, path: Path):
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._records: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        if len(complete) != len(data):
            with open(self.path, "r+b") as file:
                file.truncate(len(complete))
        for line in complete.splitlines():
            record = json.loads(line)
            self._records[record["key"]] = record["value"]

    def __contains__(self, key: str) -> bool:
        return key in self._records

    def __len__(self) -> int:
        return len(self._records)

    def get(self, key: str) -> dict[str, Any] | None:
        return self._records.get(key)

    def add(self, key: str, value: dict[str, Any]) -> None:
        line = json.dumps({"key": key, "value": value}, ensure_ascii=False) + "\n"
        with self._lock:
            if key in self._records:
                return
            with open(self.path, "a", encoding="utf-8") as file:
                file.write(line)
                file.flush()
                os.fsync(file.fileno())
            self._records[key] = value

"""Resumable jobs of teacher calls: finished units kept in a JSONL store (one line per unit, appended
and synced as each finishes), the loop that runs the rest, and its progress bar."""

from __future__ import annotations

import contextvars
import json
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from uue.errors import InputError


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
        for number, line in enumerate(complete.splitlines(), start=1):
            try:
                record = json.loads(line)
                self._records[record["key"]] = record["value"]
            except (ValueError, TypeError, KeyError) as error:
                raise InputError(
                    str(self.path),
                    f"not a progress record ({type(error).__name__}: {error})",
                    line=number,
                    hint="delete that line (its unit is done again) or the file (every unit is)",
                ) from None

    def __contains__(self, key: str) -> bool:
        return key in self._records

    def __len__(self) -> int:
        return len(self._records)

    def keys(self) -> set[str]:
        return set(self._records)

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


def unit_progress(enabled: bool = True) -> Progress:
    """The progress bar of a resumable job: one task per phase, finished units counted."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        disable=not enabled,
    )


def run_units(
    units: list[tuple[str, Callable[[], dict[str, Any]]]],
    store: UnitStore,
    workers: int,
    on_done: Callable[[], dict[str, Any]],
) -> None:
    """Run the unfinished `(key, work)` units and store each result as soon as it is done, with the
    LLM usage `on_done` returns under `llm` (so a resumed job can still total what it cost).

    Worker threads get a copy of the caller's context, so `dspy.context(lm=...)` reaches them.
    """
    lock = threading.Lock()

    def finish(key: str, work: Callable[[], dict[str, Any]]) -> None:
        result = work()
        with lock:  # with workers > 1 a unit's usage is approximate; the totals are exact
            result["llm"] = on_done()
        store.add(key, result)

    todo = [(key, work) for key, work in units if key not in store]
    if workers == 1:
        for key, work in todo:
            finish(key, work)
        return
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(contextvars.copy_context().run, finish, key, work) for key, work in todo]
        for future in futures:
            future.result()

"""The settings a resumable teacher job's finished units were made with, kept beside them.

A rerun with other settings would mix units of two recipes under one report (and the report's
`made_by` would name only the new one). So the first run writes `progress/settings.json`; a rerun
whose result-shaping settings differ stops with the differing ones named, unless `--force-restart`
deletes the finished units. Settings that only choose *which* units run (more users, more
activities per user) are not part of it: a resume may grow a job.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from uue.errors import ConfigError

SETTINGS_FILE = "progress/settings.json"


def check_job_settings(out: Path, settings: dict[str, Any], force_restart: bool = False) -> None:
    """Write `settings` for a new job; refuse a resume made with other ones (or start over when forced)."""
    path = out / SETTINGS_FILE
    settings = json.loads(json.dumps(settings, default=str))
    if force_restart and path.parent.exists():
        shutil.rmtree(path.parent)
    finished = any(unit_file.stat().st_size for unit_file in path.parent.glob("*.jsonl"))
    if path.is_file() and finished:  # a job that finished nothing (a dead teacher) may change anything
        saved = json.loads(path.read_text())
        differing = sorted(k for k in saved.keys() | settings.keys() if saved.get(k) != settings.get(k))
        if differing:
            changes = ", ".join(f"{k} {saved.get(k)!r} -> {settings.get(k)!r}" for k in differing)
            raise ConfigError(
                f"{out}: its finished units were made with other settings ({changes})",
                hint="rerun with the earlier options, or add --force-restart to delete them and start over",
            )
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(settings, indent=2, sort_keys=True))

"""The `uue` command line. Each module holds the commands of one stage; the work lives in the subpackages.

`data` (ingest, embed, similar, merge-triplets), `teacher` (synth, compile), `student` (train,
student, bench), `seqrec` (the recommenders). Options of config-backed commands are generated from
the config models (`options.py`), so their defaults and help texts are the configs'.
"""

from __future__ import annotations

import sys

from uue.programs.lm.offline import ensure_offline_defaults

ensure_offline_defaults()  # before anything imports litellm: no network refresh may block a run

from uue.cli import data, seqrec, student, teacher  # noqa: E402, F401  (registration)
from uue.cli.app import app, console, one_line_errors  # noqa: E402

__all__ = ["app", "console", "main", "one_line_errors"]


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())

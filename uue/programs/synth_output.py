"""What both synth modes share: choosing users, writing the triplet dataset, the MLflow run."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import islice
from pathlib import Path
from typing import Any

import datasets

from uue.datasets.cards import TRIPLET_COLUMNS, write_card
from uue.datasets.histories import iter_histories
from uue.datasets.records import History
from uue.datasets.triplets import TRIPLET_FEATURES
from uue.programs.synth_config import SynthConfig
from uue.tracking import dspy_traces, log_triplets_input, numeric, tracked_run


def select_users(histories_dir: Path, max_users: int | None, min_activities: int) -> list[History]:
    """The first `max_users` users (in storage order) with at least `min_activities` activities."""
    eligible = (h for h in iter_histories(histories_dir) if len(h.activities) >= min_activities)
    return list(islice(eligible, max_users))


def write_dataset(rows: list[dict[str, Any]], directory: Path) -> None:
    """Save atomically: a kill during the write leaves the previous dataset (or none), never half."""
    staging = directory.with_name(directory.name + ".tmp")
    if staging.exists():  # left by a run killed while saving
        shutil.rmtree(staging)
    columns = {name: [row[name] for row in rows] for name in TRIPLET_FEATURES}  # from_list fails on []
    table = datasets.Dataset.from_dict(columns, features=TRIPLET_FEATURES)
    # An empty table saved with the default zero shards cannot be loaded again: one shard can.
    table.save_to_disk(str(staging), num_shards=1 if not rows else None)
    if directory.exists():
        shutil.rmtree(directory)
    staging.rename(directory)
    write_card(
        directory.parent, "uue triplets", f"{len(rows):,} (query, positive, negative) training triplets written by "
        "`uue synth`; how they were made is in report.json beside this card.",
        {"triplets": f"{directory.name}/*.arrow"}, TRIPLET_COLUMNS,
    )  # fmt: skip


@contextmanager
def synth_run(config: SynthConfig) -> Iterator[Any | None]:
    """The synth's MLflow run (experiment `uue-synth`), open for the whole job: params first."""
    with tracked_run("uue-synth", f"synth-{config.out.name}", config.track) as run:
        if run is not None:
            import mlflow

            params = config.model_dump(mode="json", exclude={"teacher"})
            params.update({f"teacher_{k}": v for k, v in config.teacher.model_dump(mode="json").items()})
            mlflow.log_params({k: str(v) for k, v in params.items()})
            mlflow.set_tag("uue.dataset", str(config.out.resolve()))  # the key train and bench use
            with dspy_traces(config.trace_sample):
                yield run
        else:
            yield run


def log_synth_report(report: dict[str, Any], out: Path) -> None:
    """The report's figures as metrics, the whole report as an artifact and the triplets written as the
    run's output dataset (the one `uue train` and `uue bench` log as their input) of the open run."""
    import mlflow

    mlflow.log_metrics({**numeric(report), **numeric(report["llm"], "llm_")})
    mlflow.log_dict(report, "report.json")
    log_triplets_input(out, "output")

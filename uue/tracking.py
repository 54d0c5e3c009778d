"""The one way a stage opens its MLflow run.

A run opens when the work starts, so the UI shows its real duration, and MLflow's own context manager
ends it FAILED when the work raises. The tracking URI is the stage's (a config field), else
$MLFLOW_TRACKING_URI, else `sqlite:///mlflow.db` in the working directory; a SQLite store keeps its
artifacts beside its file. mlflow is imported here,
lazily: it takes seconds, and only tracked runs need it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
SECRET_WORDS = ("token", "key", "secret")  # a config key naming one of these is never logged


def tracking_uri(configured: str | None = None) -> str:
    return configured or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


@contextmanager
def tracked_run(
    experiment: str, run_name: str | None, enabled: bool = True, uri: str | None = None
) -> Iterator[Any | None]:
    """`with tracked_run("uue-synth", "synth-x", config.track) as run:` (run is None when disabled)."""
    if not enabled:
        yield None
        return
    import mlflow

    uri = tracking_uri(uri)
    mlflow.set_tracking_uri(uri)
    if mlflow.get_experiment_by_name(experiment) is None:
        mlflow.create_experiment(experiment, artifact_location=artifact_location(uri, experiment))
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name) as run:
        yield run


def artifact_location(uri: str, experiment: str) -> str | None:
    """Artifacts of a SQLite store beside its file (`mlartifacts/<experiment>`), not in the working
    directory's `./mlruns`, MLflow's default; a server decides for itself (None)."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts" / experiment).as_uri()


def numeric(figures: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The numbers of a flat mapping (no bools, no None), as MLflow metrics."""
    return {
        f"{prefix}{k}": float(v)
        for k, v in figures.items()
        if isinstance(v, int | float) and not isinstance(v, bool) and v is not None
    }


def dataset_input(dataset: Any, source: str, name: str) -> Any:
    """An MLflow dataset of a Hugging Face dataset's plain columns (strings and numbers): MLflow cannot
    infer a schema for list columns that are empty in every row (a pivot-only column in activity triplets)."""
    import mlflow

    flat = [
        c
        for c, f in dataset.features.items()
        if getattr(f, "dtype", None) in ("string", "float32", "float64", "int64", "int32")
    ]
    return mlflow.data.from_huggingface(dataset.select_columns(flat), path=source, name=name)


def triplets_input(directory: str | Path, table: Any | None = None) -> Any:
    """The MLflow dataset of a `uue synth` output folder: one name, source and digest for every stage
    that reads or writes it (synth: output, train: training, bench: evaluation), so the UI's Datasets
    panels link the runs. `table`: the triplets when already loaded."""
    import datasets

    directory = Path(directory)
    table = table if table is not None else datasets.load_from_disk(str(directory / "triplets"))
    return dataset_input(table, str(directory.resolve()), directory.name)


def log_triplets_input(directory: str | Path, context: str, table: Any | None = None) -> None:
    """`mlflow.log_input` of `triplets_input` in the open run; an empty folder has no digest (MLflow
    cannot hash zero rows), so it is not logged."""
    import datasets
    import mlflow

    table = table if table is not None else datasets.load_from_disk(str(Path(directory) / "triplets"))
    if len(table):
        mlflow.log_input(triplets_input(directory, table), context=context)


def config_params(config: BaseModel) -> dict[str, str]:
    """The config as MLflow params: nested keys joined with '.', values as text, no secret."""
    flat = _flatten(config.model_dump(mode="json"))
    return {
        key: _without_password(str(value))
        for key, value in flat.items()
        if not any(word in key.lower() for word in SECRET_WORDS)
    }


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, Mapping) and value:
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _without_password(value: str) -> str:
    """A URL's password masked (`https://user:***@host`): a tracking URI may carry one."""
    if "://" not in value or "@" not in value:
        return value
    parts = urlsplit(value)
    if not parts.password:
        return value
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


@contextmanager
def dspy_traces(sample: float, **autolog_options: bool) -> Iterator[None]:
    """`mlflow.dspy.autolog` for the block: traces of a `sample` share of DSPy module calls (MLflow's own
    sampler; 0: none) and `autolog_options` (`log_compiles=True`, ...). The sampling ratio is read when
    MLflow's tracer starts, hence the resets."""
    if sample <= 0 and not autolog_options:
        yield
        return
    import dspy
    import mlflow
    from mlflow.dspy.callback import MlflowCallback

    previous = os.environ.get("MLFLOW_TRACE_SAMPLING_RATIO")
    os.environ["MLFLOW_TRACE_SAMPLING_RATIO"] = str(sample)
    mlflow.tracing.reset()
    mlflow.dspy.autolog(log_traces=sample > 0, silent=True, **autolog_options)
    # autolog adds its callback to DSPy's global settings, which an enclosing `dspy.context` (a caller's,
    # a test's) shadows: the callback is also set for this block, so the module calls see it.
    callbacks = [c for c in dspy.settings.callbacks if not isinstance(c, MlflowCallback)] + [MlflowCallback()]
    try:
        with dspy.context(callbacks=callbacks):
            yield
    finally:
        mlflow.flush_trace_async_logging()  # traces are written by a background queue
        mlflow.dspy.autolog(disable=True, silent=True)
        if previous is None:
            os.environ.pop("MLFLOW_TRACE_SAMPLING_RATIO", None)
        else:
            os.environ["MLFLOW_TRACE_SAMPLING_RATIO"] = previous
        mlflow.tracing.reset()

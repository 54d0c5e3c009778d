"""`uue bench` as one call: the triplet bench, optionally the user tasks, one report.json written beside
the input by default (the MLflow side is shown through the CLI in tests/eval/test_bench.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.dev_triplets import write_toy_corpus
from uue.eval.bench import BenchConfig
from uue.eval.suite import default_out, run_suite
from uue.eval.tasks import Task, TaskConfig


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, Path]:
    return write_toy_corpus(tmp_path_factory.mktemp("suite"), n_users=16)


def test_the_report_goes_beside_the_triplets_never_inside_them(corpus):
    _, triplets = corpus
    report = run_suite(BenchConfig(triplets=triplets, models=["bm25", "bm25"], resamples=10, track=False))
    assert Path(report.report_path) == triplets.with_name("trip.bench") / "report.json"
    saved = json.loads(Path(report.report_path).read_text())
    assert list(saved["models"]) == ["bm25"] and saved["tasks"] is None  # a model named twice runs once
    assert saved["models"]["bm25"]["baseline"] is True


def test_tasks_run_on_the_held_out_users_into_the_same_report(corpus, tmp_path):
    histories, triplets = corpus
    config = BenchConfig(triplets=triplets, models=["bm25"], resamples=10, track=False, out=tmp_path / "r")
    tasks = TaskConfig(histories=histories, triplets=triplets, valid_fraction=0.5, resamples=10)
    report = run_suite(config, [Task.reid, Task.next_subreddit], tasks)
    assert report.report_path == str(tmp_path / "r" / "report.json")
    results = json.loads((tmp_path / "r" / "report.json").read_text())["tasks"]["results"]["bm25"]
    assert sorted(results) == ["next-subreddit", "reid"] and list(results["reid"]) == ["last"]
    assert report.tasks.comparisons == {}  # no trained model to compare


def test_tasks_need_their_config(corpus):
    with pytest.raises(ValueError, match="tasks need a TaskConfig"):
        run_suite(BenchConfig(triplets=corpus[1], models=["bm25"], track=False), [Task.reid])


def test_the_default_out_is_a_sibling_named_after_the_input():
    assert default_out(BenchConfig(triplets=Path("runs/synth/"))) == Path("runs/synth.bench")

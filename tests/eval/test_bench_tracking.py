"""What `uue bench` logs to MLflow: every estimate as a metric, the triplets as the dataset synth and
train log (same digest), the train run as parent, and the paired-difference figure."""

from __future__ import annotations

import json

import mlflow

from tests.dev_triplets import write_toy_corpus
from tests.eval.test_report import TASKS, _report
from uue.eval.bench import BenchConfig
from uue.eval.bench_tracking import bench_metrics, difference_rows, differences_figure, log_bench, train_runs
from uue.tracking import tracked_run, triplets_input


def test_every_estimate_of_triplets_comparisons_and_tasks_is_a_metric():
    metrics = bench_metrics(_report(tasks=TASKS))
    assert metrics["runs_student/full/recall_at_1/ci_high"] == 0.4
    assert metrics["differences/runs_student - bm25/sampled/mrr/mean"] == 0.15
    assert metrics["tasks/minilm/interests/last/specific/mrr/ci_low"] == 0.1
    assert metrics["tasks/minilm/reid/mean/reid/n/mean"] == 25
    assert metrics["task-differences/runs_student - minilm/reid/mean/reid/mrr/mean"] == 0.05
    assert not any("@" in name for name in metrics)


def test_the_figure_has_a_row_per_mrr_and_recall_difference_and_none_without_comparisons():
    rows = difference_rows(_report(tasks=TASKS))
    assert [label for label, _ in rows] == [
        "runs/student - bm25 · sampled · recall@1",
        "runs/student - bm25 · sampled · mrr",
        "runs/student - minilm · reid · mean · mrr",
    ]
    assert len(differences_figure(_report(tasks=TASKS)).axes[0].get_yticks()) == 3
    empty = _report()
    empty.comparisons = {}
    assert differences_figure(empty) is None


def test_the_bench_run_links_its_dataset_and_its_train_run(tmp_path):
    _, triplets = write_toy_corpus(tmp_path, n_users=12)
    student = tmp_path / "student"
    student.mkdir()
    (student / "uue_provenance.json").write_text(json.dumps({"mlflow_run_id": "abc123"}))
    assert train_runs(["bm25", str(student), str(tmp_path / "nowhere")]) == ["abc123"]
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = BenchConfig(triplets=triplets, models=["bm25", str(student)])
    with tracked_run("uue-bench", "bench", uri=uri) as run:
        log_bench(config, _report(tasks=TASKS))
    logged = mlflow.MlflowClient(uri).get_run(run.info.run_id)
    assert (
        logged.data.tags["mlflow.parentRunId"] == "abc123" and logged.data.tags["uue.train_runs"] == "abc123"
    )
    (dataset,) = logged.inputs.dataset_inputs
    assert dataset.dataset.digest == triplets_input(triplets).digest and dataset.tags[0].value == "evaluation"
    artifacts = {a.path for a in mlflow.MlflowClient(uri).list_artifacts(run.info.run_id)}
    assert {"report.json", "paired_differences.png"} <= artifacts
    assert logged.data.params["distractors"] == "9"

"""The MLflow lineage of a synth -> train -> bench chain (scripted teacher, a tiny real MiniLM run):
one dataset digest across the three runs, each run's params are uue's config, the bench is the train
run's child, and a secret in the environment reaches nothing in the store."""

from __future__ import annotations

import mlflow
import pytest

from uue.eval.bench import BenchConfig
from uue.eval.suite import run_suite
from uue.programs.lm import TeacherConfig
from uue.programs.synth import SynthConfig, run_synth
from uue.trainers.student import train
from uue.trainers.student_config import TrainConfig

SECRET = "sk-uue-lineage-0123456789"


def _only_run(experiment: str):
    (run,) = mlflow.search_runs(experiment_names=[experiment], output_format="list")
    return run


@pytest.mark.slow
@pytest.mark.usefixtures("clean_dspy")
def test_synth_train_and_bench_runs_link_through_one_dataset(tmp_path, histories_dir, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    synth_out = tmp_path / "synth"
    run_synth(SynthConfig(histories=histories_dir, out=synth_out, mode="activity", negatives="mined", candidates=4,
                          teacher=TeacherConfig(model="scripted/deterministic"), progress=False))  # fmt: skip
    train(TrainConfig(triplets=synth_out, out=tmp_path / "student", max_steps=2, batch_size=8, eval_steps=2,
                      max_seq_length=64, valid_fraction=0.5, tracking_uri=uri))  # fmt: skip
    run_suite(
        BenchConfig(triplets=synth_out, models=["bm25", str(tmp_path / "student")], out=tmp_path / "bench")
    )

    mlflow.set_tracking_uri(uri)
    synth, trained, bench = _only_run("uue-synth"), _only_run("uue-student"), _only_run("uue-bench")
    digests = {}
    for run, context in ((synth, "output"), (trained, "training"), (bench, "evaluation")):
        found = [d for d in run.inputs.dataset_inputs if d.dataset.name == synth_out.name]
        assert [d.tags[0].value for d in found] == [context]
        digests[context] = found[0].dataset.digest
    assert len(set(digests.values())) == 1, digests
    assert (
        synth.data.params["mode"] == "activity"
        and synth.data.params["teacher_model"] == "scripted/deterministic"
    )
    assert trained.data.params["valid_fraction"] == "0.5" and trained.data.params["loss"] == "mnrl"
    assert bench.data.params["models"] == str(["bm25", str(tmp_path / "student")])
    assert bench.data.tags["mlflow.parentRunId"] == trained.info.run_id
    assert {run.data.tags["uue.dataset"] for run in (synth, trained)} == {str(synth_out.resolve())}
    stored = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not [p for p in stored if SECRET.encode() in p.read_bytes()]

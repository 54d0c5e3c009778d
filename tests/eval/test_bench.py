import json

import datasets
from typer.testing import CliRunner

from tests.dev_triplets import write_toy_corpus
from uue.cli import app
from uue.eval.split import split_users


def test_bench_cli_writes_report_with_verdict(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    hist, trip = write_toy_corpus(tmp_path, n_users=30)
    result = CliRunner().invoke(
        app,
        [
            "bench",
            "--triplets",
            str(trip),
            "--model",
            "bm25",
            "--task",
            "reid",
            "--histories",
            str(hist),
            "--valid-fraction",
            "0.5",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["protocol"]["candidates"] == 11
    sampled = report["models"]["bm25"]["sampled"]["recall@1"]
    assert report["verdict"]["best_baseline"] == "bm25"
    assert report["verdict"]["verdict"] == ("red flag" if sampled["mean"] >= 0.8 else "ok")  # the default bar
    assert sampled["ci_low"] <= sampled["mean"] <= sampled["ci_high"]
    assert "mrr" in report["tasks"]["results"]["bm25"]["reid"]["last"]["reid"]


def test_bench_held_out_uses_only_the_users_train_keeps_out(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    _, trip = write_toy_corpus(tmp_path, n_users=30)
    args = ["bench", "--triplets", str(trip), "--model", "bm25", "--valid-fraction", "0.3"]
    result = CliRunner().invoke(app, [*args, "--held-out", "--out", str(tmp_path / "r")])
    assert result.exit_code == 0, result.output
    protocol = json.loads((tmp_path / "r" / "report.json").read_text())["protocol"]
    users = set(datasets.load_from_disk(str(trip / "triplets"))["user_id"])
    held_out = split_users(users, 0.3).valid
    assert 0 < protocol["users"] == len(held_out) < len(users)
    assert protocol["split"].startswith("held-out users")


def test_bench_cli_missing_triplets_is_one_line(tmp_path):
    result = CliRunner().invoke(app, ["bench", "--triplets", str(tmp_path / "nope"), "--model", "bm25"])
    assert result.exit_code == 2 and "uue synth" in result.output


def test_case_11_zero_triplets_load_as_an_empty_dataset_and_bench_and_train_say_so(tmp_path):
    from uue.programs.synth_output import write_dataset

    empty = tmp_path / "synth"
    write_dataset([], empty / "triplets")
    assert len(datasets.load_from_disk(str(empty / "triplets"))) == 0  # loadable, not a broken folder
    for args in (["bench", "--triplets", str(empty), "--model", "bm25", "--out", str(tmp_path / "b")],
                 ["train", "--triplets", str(empty), "--out", str(tmp_path / "m")]):  # fmt: skip
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "no triplets in this directory" in result.output and "Traceback" not in result.output


def test_bench_is_its_own_mlflow_run_with_every_interval_and_its_input(tmp_path, monkeypatch):
    import mlflow

    monkeypatch.setenv("HOME", str(tmp_path))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    _, trip = write_toy_corpus(tmp_path, n_users=12)
    result = CliRunner().invoke(
        app, ["bench", "--triplets", str(trip), "--model", "bm25", "--out", str(tmp_path / "r")]
    )
    assert result.exit_code == 0, result.output
    mlflow.set_tracking_uri(uri)
    (run,) = mlflow.search_runs(experiment_names=["uue-bench"], output_format="list")
    assert {"bm25/sampled/recall_at_1/mean", "bm25/full/mrr/ci_low"} <= set(run.data.metrics)
    assert run.inputs.dataset_inputs and run.data.params["distractors"] == "9"


def test_trained_folders_are_not_baselines_whether_bi_encoder_or_two_tower(tmp_path):
    from uue.eval.bench import is_baseline

    student, tower = tmp_path / "student", tmp_path / "tower"
    for folder, record in ((student, "uue_provenance.json"), (tower, "report.json")):
        folder.mkdir()
        (folder / record).write_text("{}")
    assert not is_baseline(str(student)) and not is_baseline(f"two-tower:{tower}")
    assert is_baseline("minilm") and is_baseline("bm25") and is_baseline(f"two-tower:{tmp_path / 'none'}")
    assert is_baseline(str(tower))  # a two-tower folder is only read as one through `two-tower:`

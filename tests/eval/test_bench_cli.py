import json

from typer.testing import CliRunner

from tests.dev_triplets import write_toy_corpus
from uue.cli import app


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
    assert report["verdict"]["verdict"] in {"ok", "red flag"} and report["verdict"]["best_baseline"] == "bm25"
    sampled = report["models"]["bm25"]["sampled"]["recall@1"]
    assert sampled["ci_low"] <= sampled["mean"] <= sampled["ci_high"]
    assert "mrr" in report["tasks"]["bm25"]["reid"]["last"]["reid"]


def test_bench_cli_missing_triplets_is_one_line(tmp_path):
    result = CliRunner().invoke(app, ["bench", "--triplets", str(tmp_path / "nope"), "--model", "bm25"])
    assert result.exit_code == 2 and "uue synth" in result.output

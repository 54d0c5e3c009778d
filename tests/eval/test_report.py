"""`uue bench`'s tables and report.json from a hand-made report: a mean with its interval per cell, a
row per model and protocol, task variants labelled, comparisons of both kinds, and the verdict lines."""

from __future__ import annotations

import json

from rich.table import Table

from uue.eval.bench import BenchReport
from uue.eval.metrics import BENCH_METRICS
from uue.eval.report import (
    COLUMNS,
    bench_table,
    comparison_table,
    task_table,
    verdict_lines,
    write_report,
)


def _e(mean: float, low: float, high: float) -> dict:
    return {"mean": mean, "ci_low": low, "ci_high": high}


def _metrics(mean: float) -> dict:
    return {name: _e(mean, mean - 0.1, mean + 0.1) for name in BENCH_METRICS}


def _report(verdict: str = "ok", easiest: list | None = None, tasks: dict | None = None) -> BenchReport:
    return BenchReport(
        protocol={"triplets": 120, "distractors": 9},
        models={
            "bm25": {"baseline": True, "sampled": _metrics(0.5), "full": {}},
            "runs/student": {"baseline": False, "sampled": _metrics(0.7), "full": _metrics(0.3)},
        },
        comparisons={
            "runs/student - bm25": {"sampled": {"recall@1": _e(0.2, 0.1, 0.3), "mrr": _e(0.15, 0.05, 0.25)}}
        },
        verdict={"verdict": verdict, "detail": "best baseline recall@1 0.500"},
        easiest=easiest or [],
        tasks=tasks,
        report_path="somewhere/report.json",
    )


def _rows(table: Table) -> list[list[str]]:
    return [list(row) for row in zip(*(list(column.cells) for column in table.columns), strict=True)]


def test_the_bench_table_has_a_row_per_model_and_filled_protocol():
    table = bench_table(_report())
    assert [column.header for column in table.columns] == ["model", "protocol", *COLUMNS]
    assert "120 triplets" in str(table.title) and "1 negative + 9 distractors" in str(table.title)
    rows = _rows(table)
    assert [row[:2] for row in rows] == [
        ["bm25", "sampled"],
        ["runs/student (trained)", "sampled"],
        ["runs/student (trained)", "full"],
    ]  # bm25's empty `full` has no row
    assert rows[1][2:] == ["0.700 [0.600, 0.800]"] * len(COLUMNS)


TASKS = {
    "results": {
        "minilm": {
            "reid": {"mean": {"reid": {**_metrics(0.4), "n": _e(25, 25, 25)}}},
            "interests": {"last": {"specific": {"mrr": _e(0.2, 0.1, 0.3), "n": _e(12, 12, 12)}}},
        }
    },
    "comparisons": {"runs/student - minilm": {"reid": {"mean": {"reid": {"mrr": _e(0.05, -0.01, 0.1)}}}}},
    "users": 25,
}


def test_the_task_table_labels_variants_and_lists_every_metric_but_n():
    rows = _rows(task_table(TASKS["results"]))
    assert [row[:4] for row in rows] == [
        ["minilm", "reid", "mean", "25"],
        ["minilm", "interests/specific", "last", "12"],
    ]
    assert rows[0][4].splitlines() == [f"{name} 0.400 [0.300, 0.500]" for name in BENCH_METRICS]
    assert rows[1][4] == "mrr 0.200 [0.100, 0.300]"


def test_the_comparison_table_holds_triplet_and_task_differences():
    rows = _rows(comparison_table(_report(tasks=TASKS)))
    assert rows == [
        [
            "runs/student - bm25",
            "triplets (sampled)",
            "recall@1 0.200 [0.100, 0.300]\nmrr 0.150 [0.050, 0.250]",
        ],
        ["runs/student - minilm", "reid (mean)", "mrr 0.050 [-0.010, 0.100]"],
    ]
    assert len(_rows(comparison_table(_report()))) == 1  # no tasks: triplets only


def test_an_ok_verdict_is_one_green_line():
    assert verdict_lines(_report()) == ["[green]verdict: ok[/green] best baseline recall@1 0.500"]


def test_a_red_flag_lists_the_five_easiest_triplets_cut_to_100_characters():
    easiest = [{"triplet_id": f"t{i}", "margin": 0.5 - i / 10, "positive": "x" * 150} for i in range(7)]
    lines = verdict_lines(_report("red flag", easiest))
    assert lines[0].startswith("[red]verdict: red flag[/red]") and len(lines) == 6
    assert lines[1] == "  easy: t0 margin 0.500: " + "x" * 100
    assert lines[5].startswith("  easy: t4 margin 0.100")


def test_report_json_is_written_into_a_new_folder_without_its_own_path(tmp_path):
    report = _report(tasks=TASKS)
    path = write_report(report, tmp_path / "runs" / "bench")
    assert path == tmp_path / "runs" / "bench" / "report.json"
    saved = json.loads(path.read_text())
    assert "report_path" not in saved
    assert BenchReport(**saved) == report.model_copy(update={"report_path": None})

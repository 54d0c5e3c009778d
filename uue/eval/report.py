"""Rich tables and report.json for `uue bench`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from rich.table import Table

from uue.eval.bench import BenchReport
from uue.eval.metrics import BENCH_METRICS

COLUMNS = list(BENCH_METRICS)  # of the triplet bench


def _cell(estimate: dict) -> str:
    return f"{estimate['mean']:.3f} [{estimate['ci_low']:.3f}, {estimate['ci_high']:.3f}]"


def bench_table(report: BenchReport) -> Table:
    proto = report.protocol
    table = Table(
        title=f"uue bench: {proto['triplets']} triplets, target vs 1 negative + {proto['distractors']} distractors (sampled) and vs all positives (full); 95% bootstrap CI"
    )
    for name in ["model", "protocol", *COLUMNS]:
        table.add_column(name)
    for model, result in report.models.items():
        for protocol in ("sampled", "full"):
            if result[protocol]:
                table.add_row(
                    model + ("" if result["baseline"] else " (trained)"),
                    protocol,
                    *(_cell(result[protocol][m]) for m in COLUMNS),
                )
    return table


def _metric_cells(metrics: dict) -> str:
    """Every metric of a leaf but `n`, one per line (tasks have their own: recall@1..., auc, ...)."""
    return "\n".join(f"{name} {_cell(e)}" for name, e in metrics.items() if name != "n")


def task_table(task_results: dict) -> Table:
    table = Table(title="downstream tasks on held-out users; 95% bootstrap CI over users")
    for name in ["model", "task", "pooling", "n", "metrics"]:
        table.add_column(name)
    for model, tasks in task_results.items():
        for label, pooling, metrics in _task_leaves(tasks):
            table.add_row(model, label, pooling, str(int(metrics["n"]["mean"])), _metric_cells(metrics))
    return table


def comparison_table(report: BenchReport) -> Table:
    """Trained minus baseline, paired per query (per user for `space`): every metric's difference."""
    table = Table(
        title="trained - baseline, paired per query (95% bootstrap CI; above 0 = trained is better)"
    )
    for name in ("pair", "on", "Δ"):
        table.add_column(name)
    for pair, protocols in report.comparisons.items():
        for protocol, metrics in protocols.items():
            table.add_row(pair, f"triplets ({protocol})", _metric_cells(metrics))
    for pair, tasks in (report.tasks.comparisons if report.tasks else {}).items():
        for label, pooling, metrics in _task_leaves(tasks):
            table.add_row(pair, f"{label} ({pooling})", _metric_cells(metrics))
    return table


def _task_leaves(tasks: dict) -> Iterator[tuple[str, str, dict]]:
    """(label, pooling, metrics) of {task: {pooling: {variant: metrics}}}; the label is the task, or
    task/variant where a task has variants (interests: specific, broad)."""
    for task, by_pooling in tasks.items():
        for pooling, variants in by_pooling.items():
            for variant, metrics in variants.items():
                yield (task if variant == task else f"{task}/{variant}"), pooling, metrics


def verdict_lines(report: BenchReport) -> list[str]:
    """Seed 000's verdict, coloured, with the easiest triplets when it is a red flag."""
    verdict = report.verdict
    colour = "red" if verdict["verdict"] == "red flag" else "green"
    lines = [f"[{colour}]verdict: {verdict['verdict']}[/{colour}] {verdict.get('detail', '')}"]
    if verdict["verdict"] == "red flag":
        lines += [
            f"  easy: {row['triplet_id']} margin {row['margin']:.3f}: {row['positive'][:100]}"
            for row in report.easiest[:5]
        ]
    return lines


def write_report(report: BenchReport, out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "report.json"
    path.write_text(report.model_dump_json(indent=2, exclude={"report_path"}))
    return path

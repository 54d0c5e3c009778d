"""The student's held-out table on a toy corpus: every model's rows on the same held-out users, paired
deltas against the baseline, ranks reused from the cache while nothing changed, and the markdown."""

from __future__ import annotations

import datasets
import pytest

from tests.dev_triplets import write_toy_corpus
from tests.eval.test_user_vectors import WordVectors
from uue.eval.embedders import BM25Embedder
from uue.eval.heldout import (
    HEADLINE_METRICS,
    Figure,
    HeldOutConfig,
    HeldOutReport,
    Row,
    held_out_report,
    held_out_triplets,
    markdown_table,
)
from uue.eval.split import is_held_out

TASKS = ["interests/specific", "interests/broad", "reid", "next-subreddit", "triplets"]


@pytest.fixture(scope="module")
def config(tmp_path_factory) -> HeldOutConfig:
    histories, triplets = write_toy_corpus(tmp_path_factory.mktemp("heldout"), n_users=16)
    return HeldOutConfig(
        histories=histories, triplets=triplets, valid_fraction=0.5, baseline="bm25", resamples=20
    )


def _loaders(calls: list[str]) -> dict:
    def load(spec, make):
        def loader():
            calls.append(spec)
            return make()

        return loader

    return {"bm25": load("bm25", BM25Embedder), "words": load("words", lambda: WordVectors(max_tokens=256))}


def test_held_out_triplets_are_those_of_held_out_users(config):
    every = datasets.load_from_disk(str(config.triplets / "triplets"))
    kept = held_out_triplets(config)
    assert 0 < len(kept) < len(every)
    assert set(kept["user_id"]) == {u for u in every["user_id"] if is_held_out(u, 0.5)}


def test_every_model_gets_every_task_and_metric_with_a_delta_against_the_baseline(config):
    report = held_out_report(_loaders([]), config)
    assert report.triplets == len(held_out_triplets(config)) and report.users >= 2
    assert len(report.rows) == 2 * len(TASKS) * len(HEADLINE_METRICS)
    assert list(dict.fromkeys(r.task for r in report.rows)) == TASKS
    for task in TASKS:
        base, other = report.row(task, "mrr", "bm25"), report.row(task, "mrr", "words")
        assert base.delta is None and other.delta is not None and base.n == other.n > 0
        assert base.value.ci_low <= base.value.mean <= base.value.ci_high
        assert other.delta.mean == pytest.approx(other.value.mean - base.value.mean, abs=1e-9)
    assert report.row("reid", "mrr", "bm25").n == report.users


def test_ranks_are_reused_from_the_cache_until_a_setting_changes(config, tmp_path):
    calls: list[str] = []
    first = held_out_report(_loaders(calls), config, cache_dir=tmp_path)
    again = held_out_report(_loaders(calls), config, cache_dir=tmp_path)
    assert calls == ["bm25", "words"] and again.rows == first.rows
    held_out_report(_loaders(calls), config.model_copy(update={"max_windows": 2}), cache_dir=tmp_path)
    assert calls == ["bm25", "words", "bm25", "words"]


def _figure(mean: float) -> Figure:
    return Figure(mean=mean, ci_low=mean - 0.1, ci_high=mean + 0.1)


def test_the_markdown_table_has_a_column_per_model_and_deltas_beside_the_values(config):
    rows = [
        Row(task="reid", metric="mrr", model="minilm", n=30, value=_figure(0.25), delta=None),
        Row(task="reid", metric="mrr", model="runs/best", n=30, value=_figure(0.5), delta=_figure(0.25)),
        Row(task="triplets", metric="recall@1", model="minilm", n=12, value=_figure(0.1), delta=None),
        Row(
            task="triplets",
            metric="recall@1",
            model="runs/best",
            n=12,
            value=_figure(0.05),
            delta=_figure(-0.05),
        ),
    ]
    report = HeldOutReport(config=config, users=30, triplets=12, rows=rows)
    assert markdown_table(report, names={"runs/best": "student"}).splitlines() == [
        "| held-out | minilm | student |",
        "|---|---|---|",
        "| reid mrr (n=30) | 0.250 | 0.500 (Δ +0.250 [+0.150, +0.350]) |",
        "| triplets recall@1 (n=12) | 0.100 | 0.050 (Δ -0.050 [-0.150, +0.050]) |",
    ]

"""Statement retrieval and zero-shot inference (uue/eval/statements.py): the metrics by hand, the
held-out users' queries without their labelled threads, statements seen in training left out of
zero-shot, and the bench task end to end on toy histories written like `uue ingest`'s."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.dev_triplets import toy_histories, write_toy_corpus
from uue.cli import app
from uue.datasets.histories import iter_histories
from uue.eval.embedders import BM25Embedder
from uue.eval.split import is_held_out
from uue.eval.statements import (
    retrieval_values,
    statement_set,
    statement_task_values,
    zero_shot_values,
)
from uue.eval.user_vectors import Pooling
from uue.programs.labels import ActivityLabel, write_labels


def _label(activity_id: str, specific: str, broad: str = "Topic", nothing: bool = False) -> ActivityLabel:
    return ActivityLabel(activity_id=activity_id, specific=specific, broad=broad, nothing=nothing,
                         teacher_model="test", program_hash="test")  # fmt: skip


def test_recall_and_f1_at_10_by_hand():
    scores = np.array([np.arange(20, 0, -1, dtype=float)])  # candidate 0 best ... 19 worst
    found = retrieval_values(scores, [{0, 5, 15}])
    # 2 of 3 relevant in the top 10: recall 2/3, precision 2/10, F1 = 2PR/(P+R)
    assert found["recall@10"][0] == pytest.approx(2 / 3)
    assert found["f1@10"][0] == pytest.approx(2 * 0.2 * (2 / 3) / (0.2 + 2 / 3))
    constant = retrieval_values(np.zeros((1, 20)), [{3}])  # ties count against the relevant candidate
    assert constant["recall@10"][0] == 0.0 and constant["f1@10"][0] == 0.0


def test_auc_and_f1_at_r_by_hand():
    scores = np.array([[0.9, 0.1, 0.5, 0.5, 0.2]])
    found = zero_shot_values(scores, [{0, 2}])
    # positives 0.9, 0.5 against negatives 0.1, 0.5, 0.2: 0.9 wins 3, 0.5 wins 2 and ties 1 (half)
    assert found["auc"][0] == pytest.approx(5.5 / 6)
    assert found["f1@R"][0] == pytest.approx(0.5)  # top 2: 0.9 (own), 0.5 tie broken against the own


def test_queries_leave_out_labelled_threads_and_seen_statements_come_from_training_users(tmp_path):
    histories = toy_histories(n_users=40)
    labels = [_label(h.activities[-1].activity_id, f"interest of {h.user_id}") for h in histories]
    labels.append(_label(histories[0].activities[0].activity_id, "", "", nothing=True))
    owners = {a.activity_id: h.user_id for h in histories for a in h.activities}
    held_out = [h for h in histories if is_held_out(h.user_id, 0.3)]
    found = statement_set(held_out, labels, owners, valid_fraction=0.3)
    assert 0 < len(found.users) == len(held_out) < len(histories)
    for user, history in zip(found.users, held_out, strict=True):
        assert history.activities[-1] not in user.query and len(user.query) == len(history.activities) - 1
        assert user.specific == {f"interest of {history.user_id}"}
    training = {f"interest of {h.user_id}" for h in histories if not is_held_out(h.user_id, 0.3)}
    assert found.seen == training and not found.seen & set().union(*(u.specific for u in found.users))


def test_the_task_scores_retrieval_and_zero_shot_per_user():
    histories = toy_histories(n_users=60, activities_per_user=8)
    # the label names the topic of the user's newest thread; the rest of its history is mostly those topics
    labels = [_label(h.activities[-1].activity_id, h.activities[-1].context.title.removeprefix("Question about "),
                     h.activities[-1].context.community) for h in histories]  # fmt: skip
    owners = {a.activity_id: h.user_id for h in histories for a in h.activities}
    held_out = [h for h in histories if is_held_out(h.user_id, 0.5)]
    found = statement_set(held_out, labels, owners, valid_fraction=0.5)
    values = statement_task_values(BM25Embedder(), found, Pooling.last, max_windows=4)
    assert set(values) >= {"retrieval/specific", "retrieval/broad"}
    for metrics in values.values():
        assert all(len(v) <= len(found.users) and ((0 <= v) & (v <= 1)).all() for v in metrics.values())
    # broad labels (6 subreddits) are easy for a lexical model that reads the subreddit names
    assert values["retrieval/broad"]["recall@10"].mean() == 1.0


def test_bench_tasks_statements_and_space_report_intervals_and_statements_need_labels(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    histories_dir, triplets = write_toy_corpus(tmp_path, n_users=40)
    stored = list(iter_histories(histories_dir))
    labels = tmp_path / "labels.jsonl"
    write_labels(labels, [_label(h.activities[-1].activity_id, f"{h.activities[-1].context.title} {i % 7}")
                          for i, h in enumerate(stored)])  # fmt: skip
    args = ["bench", "--triplets", str(triplets), "--model", "bm25", "--task", "statements",
            "--histories", str(histories_dir), "--valid-fraction", "0.5", "--out", str(tmp_path / "r")]  # fmt: skip
    missing = CliRunner().invoke(app, args)
    assert missing.exit_code != 0 and "--labels" in missing.output
    result = CliRunner().invoke(app, [*args, "--labels", str(labels), "--model", "minilm", "--task", "space"])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r" / "report.json").read_text())["tasks"]
    statements = report["results"]["bm25"]["statements"]["last"]
    assert set(statements) == {"retrieval/specific", "retrieval/broad", "zero-shot"}
    for metrics in statements.values():
        for name, estimate in metrics.items():
            assert estimate["ci_low"] <= estimate["mean"] <= estimate["ci_high"], name
    assert "space" not in report["results"]["bm25"]  # a lexical model has no vectors
    space = report["results"]["minilm"]["space"]["mean"]["space"]
    assert 0 < space["anisotropy"]["mean"] < 1 and 1 < space["effective_rank"]["mean"] < 384

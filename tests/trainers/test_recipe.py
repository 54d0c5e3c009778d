"""`uue student` end to end on a small corpus: two stages, the held-out table, reuse on a rerun."""

from __future__ import annotations

import json

import pytest

from uue.datasets.histories import write_histories
from uue.datasets.records import Activity, History, ThreadContext
from uue.programs.lm import TeacherConfig
from uue.programs.synth import SynthConfig, run_synth
from uue.trainers.recipe import RecipeConfig, run_recipe, stage_configs

TOPICS = ["chemistry labs", "graduate admissions", "dorm roommates", "student loans", "calculus exams",
          "campus jobs", "study abroad", "research papers"]  # fmt: skip


def corpus(n_users: int = 40, n_activities: int = 20) -> list[History]:
    histories = []
    for u in range(n_users):
        topics = (TOPICS[u % len(TOPICS)], TOPICS[(u * 3 + 1) % len(TOPICS)])
        activities = [
            Activity(
                f"t1_u{u}a{i}", f"user{u}", "reddit", "comment", 1_600_000_000 + i,
                f"my thoughts on {topics[i % 2]} number {i}, written by someone who cares about {topics[i % 2]}",
                ThreadContext("College" if i % 2 else "GradSchool", f"Thread about {topics[i % 2]} {i}"),
                f"t3_u{u}a{i}",
            )
            for i in range(n_activities)
        ]  # fmt: skip
        histories.append(History(f"user{u}", "reddit", activities))
    return histories


def test_the_schedules_train_the_final_model_from_the_right_base(tmp_path):
    settings = dict(histories=tmp_path / "h", triplets=tmp_path / "t", out=tmp_path / "s")
    same_user, mixed = stage_configs(
        RecipeConfig(**settings, schedule="mixed", hard_negatives=False, loss="gist")
    )
    assert (same_user.objective, same_user.base_model, same_user.max_samples) == ("same-user", "minilm", 3000)
    assert (mixed.objective, mixed.base_model, mixed.same_user_pairs) == ("mixed", "minilm", 3000)
    assert not mixed.hard_negatives and mixed.loss == same_user.loss == "gist"
    _, sequential = stage_configs(RecipeConfig(**settings))  # the default
    assert (sequential.objective, sequential.base_model) == ("triplets", str(tmp_path / "s" / "same-user"))
    assert sequential.same_user_pairs is None and sequential.hard_negatives
    assert mixed.triplets == tmp_path / "t"
    _, with_activity = stage_configs(
        RecipeConfig(**settings, schedule="mixed", train_triplets=tmp_path / "w")
    )
    assert with_activity.triplets == tmp_path / "w"  # trains on these; the held-out table reads --triplets


@pytest.mark.slow
@pytest.mark.usefixtures("isolated_dspy")
@pytest.mark.parametrize(
    ("schedule", "loss", "hard_negatives"), [("mixed", "gist", False), ("sequential", "mnrl", True)]
)
def test_the_recipe_trains_both_models_and_benches_held_out_users(tmp_path, schedule, loss, hard_negatives):
    write_histories(corpus(), tmp_path / "histories")
    run_synth(
        SynthConfig(
            histories=tmp_path / "histories", out=tmp_path / "synth", teacher=TeacherConfig(model="scripted/deterministic"),
            mode="activity", negatives="mined", activities_per_user=3, track=False, progress=False,
        )
    )  # fmt: skip
    config = RecipeConfig(
        histories=tmp_path / "histories", triplets=tmp_path / "synth", out=tmp_path / "student",
        valid_fraction=0.3, same_user_pairs=16, batch_size=4, max_steps=2, max_users=20,
        schedule=schedule, loss=loss, hard_negatives=hard_negatives,
    )  # fmt: skip
    report = run_recipe(config)
    tuned = json.loads((tmp_path / "student" / "fine-tuned" / "uue_provenance.json").read_text())
    base = "minilm" if schedule == "mixed" else str(tmp_path / "student" / "same-user")
    assert tuned["made_by"]["settings"]["base_model"] == base
    assert tuned["split"]["train_examples"] > (16 if schedule == "mixed" else 0)  # pairs and triplets
    best = json.loads((tmp_path / "student" / "best" / "uue_provenance.json").read_text())["made_by"]
    assert best["command"] == "uue merge"  # best/ averages the fine-tuned model with its own base
    assert (best["settings"]["base"], best["settings"]["weight"]) == (base, 0.5)
    assert report.best_model == str(tmp_path / "student" / "best")
    rows = report.held_out.rows
    assert {r.task for r in rows} == {
        "interests/specific",
        "interests/broad",
        "reid",
        "next-subreddit",
        "triplets",
    }
    assert {r.model for r in rows} == {"bm25", "minilm", report.same_user_model, report.fine_tuned_model,
                                       report.best_model}  # fmt: skip
    for row in rows:
        assert (row.delta is None) == (row.model == "minilm")
        base = report.held_out.row(row.task, row.metric, "minilm")
        assert row.n == base.n > 0  # paired: every model ranks the same held-out queries
    saved = json.loads((tmp_path / "student" / "report.json").read_text())
    assert saved["made_by"]["command"] == "uue student"

    stamp = (tmp_path / "student" / "best" / "uue_provenance.json").stat().st_mtime_ns
    again = run_recipe(config)  # reuses both stages, the merge and every model's ranks
    assert (tmp_path / "student" / "best" / "uue_provenance.json").stat().st_mtime_ns == stamp
    assert again.held_out.rows == rows

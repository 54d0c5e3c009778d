"""`uue synth --mode activity`, the teacher's part: which activities to label, and the resumable run.

A unit is one activity (`progress/labels.jsonl`, keyed by activity id); `OUT/labels.jsonl` is
rewritten from the finished units every `LABELS_EVERY` of them and at the end, so a job killed at
any point leaves a labels file at most that many units behind and loses no teacher call (the DSPy
cache replays an interrupted unit).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import dspy

from uue.datasets.records import Activity, History
from uue.programs.checks import words
from uue.programs.labels import ActivityLabel
from uue.programs.retry import stop_if_teacher_failed
from uue.programs.store import UnitStore, run_units, unit_progress

LABELS_EVERY = 50


@dataclass(frozen=True)
class LabelRequest:
    """One activity to label, and the user it belongs to."""

    user_id: str
    activity: Activity


def threads_of(history: History) -> dict[str, list[Activity]]:
    out: dict[str, list[Activity]] = {}
    for activity in history.activities:
        out.setdefault(activity.thread_key, []).append(activity)
    return out


def choose_activities(history: History, per_user: int, min_words: int) -> list[Activity]:
    """The newest `per_user` activities with at least `min_words` words, one per thread, and never
    one whose thread holds all of the user's activities (its triplet would have an empty query)."""
    threads = threads_of(history)
    if len(threads) < 2:
        return []
    chosen, seen = [], set()
    for activity in reversed(history.activities):
        thread = activity.thread_key
        if thread in seen or len(words(activity.text)) < min_words:
            continue
        seen.add(thread)
        chosen.append(activity)
        if len(chosen) == per_user:
            break
    return chosen


def label_requests(histories: Iterable[History], per_user: int, min_words: int) -> list[LabelRequest]:
    return [LabelRequest(h.user_id, a) for h in histories for a in choose_activities(h, per_user, min_words)]


def stored_label(unit: dict, activity_id: str, teacher: str, phash: str) -> ActivityLabel | None:
    """A finished unit as a label (None when the teacher gave no valid answer)."""
    if unit.get("failure"):
        return None
    return ActivityLabel(
        activity_id=activity_id,
        specific=unit["specific"],
        broad=unit["broad"],
        nothing=unit["nothing"],
        teacher_model=teacher,
        program_hash=phash,
    )


def run_labelling(
    requests: list[LabelRequest],
    labeller: dspy.Module,
    store: UnitStore,
    on_labels: Callable[[], None],
    usage: Callable[[], dict],
    show_progress: bool,
    workers: int = 1,
) -> None:
    """Label every unfinished request into `store`, calling `on_labels` every `LABELS_EVERY` units,
    `workers` activities at once. Set the LM (`dspy.context`) before calling."""
    progress = unit_progress(show_progress)
    done_since = {"count": 0}

    def work(request: LabelRequest) -> dict:
        found = labeller(activity=request.activity)
        stop_if_teacher_failed([found.failure], f"activity {request.activity.activity_id}")
        return {
            "user_id": request.user_id,
            "specific": found.specific,
            "broad": found.broad,
            "nothing": found.nothing,
            "failure": found.failure,
            "attempts": found.attempts,
        }

    with progress:
        task = progress.add_task(
            "label activities",
            total=len(requests),
            completed=sum(r.activity.activity_id in store for r in requests),
        )

        def finished() -> dict:
            progress.advance(task)
            done_since["count"] += 1
            if done_since["count"] % LABELS_EVERY == 0:
                on_labels()
            return usage()

        run_units([(r.activity.activity_id, lambda r=r: work(r)) for r in requests], store, workers, finished)


def adopt_labels(
    store: UnitStore, requests: list[LabelRequest], labels: list[ActivityLabel], teacher: str, phash: str
) -> int:
    """Store the labels of an earlier run (a committed labels file) as finished units, so a job whose
    `out/` was lost resumes where that run stopped instead of asking the teacher again. Only labels
    of the same teacher and program count; returns how many units were adopted."""
    by_id = {
        label.activity_id: label
        for label in labels
        if label.teacher_model == teacher and label.program_hash == phash
    }
    adopted = 0
    for request in requests:
        label = by_id.get(request.activity.activity_id)
        if label is None or request.activity.activity_id in store:
            continue
        unit = {"user_id": request.user_id, "specific": label.specific, "broad": label.broad}
        store.add(label.activity_id, unit | {"nothing": label.nothing, "failure": "", "adopted": True})
        adopted += 1
    return adopted

"""Two-tower examples from histories and teacher labels: (the user's history as chunks, a statement).

For each labelled activity of a user: the chunks are the user's newest activities *without that
activity's thread* (as the bi-encoder's triplets: the statement is predicted from the rest), grouped
`activities_per_chunk` at a time, each rendered in the student's view; the statement is its specific
label. Users split by the same hash as `uue train` / `uue student`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from uue.datasets.histories import iter_histories
from uue.datasets.records import Activity
from uue.datasets.render import TokenCounter, approximate_tokens
from uue.datasets.student_view import render_student_view
from uue.eval.split import is_held_out
from uue.programs.label_job import threads_of
from uue.programs.labels import read_labels
from uue.twotower.config import TwoTowerConfig
from uue.twotower.metadata import user_tokens


@dataclass(frozen=True)
class Example:
    user_id: str
    chunks: list[str]  # newest first
    statement: str
    broad: str
    user_tokens: tuple[str, ...] = ()  # side information of the query's activities (`metadata.user_tokens`)


def history_chunks(
    activities: Sequence[Activity],
    per_chunk: int,
    num_chunks: int,
    budget: int,
    count_tokens: TokenCounter = approximate_tokens,
) -> list[str]:
    """The newest `num_chunks * per_chunk` activities (given oldest first), `per_chunk` to a chunk,
    newest chunk first, each rendered in the student's view within `budget` tokens."""
    newest = list(activities)[-num_chunks * per_chunk :][::-1]
    groups = [newest[i : i + per_chunk][::-1] for i in range(0, len(newest), per_chunk)]
    return [
        text for group in groups if (text := render_student_view(group, budget, count_tokens).text.strip())
    ]


def load_examples(config: TwoTowerConfig, held_out: bool) -> list[Example]:
    """The examples of the training users (or of the held-out ones)."""
    labels = {label.activity_id: label for label in read_labels(config.labels) if not label.nothing}
    out = []
    for history in iter_histories(config.histories):
        if is_held_out(history.user_id, config.valid_fraction, config.split_seed) != held_out:
            continue
        threads = threads_of(history)
        for activity in history.activities:
            label = labels.get(activity.activity_id)
            if label is None:
                continue
            in_thread = {a.activity_id for a in threads[activity.thread_key]}
            rest = [a for a in history.activities if a.activity_id not in in_thread]
            chunks = history_chunks(
                rest, config.activities_per_chunk, config.num_chunks_per_user, config.max_chunk_length
            )
            if chunks:
                out.append(Example(history.user_id, chunks, label.specific, label.broad, user_tokens(rest)))
    return out


def distinct_user_batches(examples: list[Example], batch_size: int, seed: int) -> list[list[Example]]:
    """Shuffled batches in which no user appears twice (another example of the same user would be a
    false in-batch negative); an example that does not fit waits for the next batch."""
    import random

    order = list(examples)
    random.Random(seed).shuffle(order)
    batches: list[list[Example]] = []
    pending = order
    while pending:
        batch, seen, rest = [], set(), []
        for example in pending:
            if len(batch) < batch_size and example.user_id not in seen:
                batch.append(example)
                seen.add(example.user_id)
            else:
                rest.append(example)
        if len(batch) < 2:  # one user left with several examples: no negatives in batch
            break
        batches.append(batch)
        pending = rest
    return batches

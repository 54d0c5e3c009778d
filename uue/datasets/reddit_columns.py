"""The join of `MemoryIndex` rows into histories, done on columns (Arrow and NumPy) instead of rows.

The same histories as `RedditParser._build_batch` (a test compares it with the disk index), but the
per-activity work runs in C: one transposition of the index tuples, then hash lookups, takes and one
sort. A tuple per activity in Python, converted to Arrow, cost more than reading and parsing the
dumps. Used when the index is in memory, i.e. when the input fits the memory budget.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from uue.datasets.histories import HistoryBatch
from uue.datasets.records import HISTORY_SCHEMA, MESSAGE_SCHEMA, THREAD_SCHEMA
from uue.datasets.reddit_index import MemoryIndex

_TEXT = pa.string()
_DELETED_SELFTEXT = ("[deleted]", "[removed]")


def _column(values: Sequence, kind: pa.DataType = _TEXT) -> pa.Array:
    return pa.array(values, kind)


def _positions(keys: pa.Array, table_ids: pa.Array) -> np.ndarray:
    """Row of each key in `table_ids` (unique), -1 where absent or null. One hash table per call:
    call it once for all rows, not per batch."""
    found = pc.index_in(keys, value_set=table_ids)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _comment_ids(fullnames: pa.Array) -> pa.Array:
    """`t1_<id>` → `<id>`; null for anything that is not a comment (a submission parent `t3_...`)."""
    return pc.if_else(
        pc.starts_with(fullnames, "t1_"), pc.utf8_slice_codeunits(fullnames, 3), pa.scalar(None, _TEXT)
    )


def _chains(first: np.ndarray, parent_of: np.ndarray, max_depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Each activity's parent comments as rows of the comment table, oldest first, flattened, and how
    many each has. `first`: the direct parent's row (-1: none); `parent_of`: the same for every
    comment. A chain stops at a missing parent or after `max_depth`, as `RedditParser._chain`."""
    levels = np.full((len(first), max_depth), -1, dtype=np.int64)
    current = first
    for depth in range(max_depth):
        levels[:, depth] = current
        current = np.where(current >= 0, parent_of[np.maximum(current, 0)], -1)
    lengths = (levels >= 0).sum(axis=1)  # a -1 ends a chain: every later level is -1 too
    order = lengths[:, None] - 1 - np.arange(max_depth)[None, :]  # row i reads levels len-1 .. 0
    oldest_first = np.take_along_axis(levels, np.maximum(order, 0), axis=1)
    return oldest_first[order >= 0], lengths


def _offsets(lengths: np.ndarray) -> pa.Array:
    return pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))


def _fullnames(prefix: str, ids: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(pa.scalar(prefix), ids, "")


@dataclass
class _Context:
    """Every comment and submission of the input (skipped ones are context too), as columns; which
    of them earlier batches already emitted, so each thread and message is written once."""

    comments: list[tuple]  # index rows, in the order of comment_ids
    comment_ids: pa.Array
    parent_of: np.ndarray
    submissions: list[tuple]
    submission_ids: pa.Array
    comments_sent: np.ndarray = field(init=False)
    submissions_sent: np.ndarray = field(init=False)

    def __post_init__(self):
        self.comments_sent = np.zeros(len(self.comment_ids), dtype=bool)
        self.submissions_sent = np.zeros(len(self.submission_ids), dtype=bool)

    @classmethod
    def of(cls, index: MemoryIndex) -> _Context:
        comments, submissions = list(index.comments.values()), list(index.submissions.values())
        comment_ids = _column([row[0] for row in comments])
        parent_of = _positions(_comment_ids(_column([row[5] for row in comments])), comment_ids)
        return cls(comments, comment_ids, parent_of, submissions, _column([row[0] for row in submissions]))

    def new_threads(self, rows: np.ndarray) -> pa.Table:
        """Thread rows (title, body, author) among `rows` not written by an earlier batch."""
        return _unsent_table(
            rows,
            self.submissions_sent,
            "t3_",
            self.submission_ids,
            self.submissions,
            (2, 3, 1),
            THREAD_SCHEMA,
        )

    def new_messages(self, rows: np.ndarray) -> pa.Table:
        """Parent-comment rows (author, body) among `rows` not written by an earlier batch."""
        return _unsent_table(
            rows, self.comments_sent, "t1_", self.comment_ids, self.comments, (1, 2), MESSAGE_SCHEMA
        )


def _unsent_table(
    rows: np.ndarray,
    sent: np.ndarray,
    prefix: str,
    ids: pa.Array,
    records: list[tuple],
    fields: tuple[int, ...],
    schema: pa.Schema,
) -> pa.Table:
    """The fullname and `fields` of the index `records` at `rows` (-1: none) not `sent` yet, which
    are then marked sent."""
    rows = np.unique(rows[rows >= 0])
    rows = rows[~sent[rows]]
    sent[rows] = True
    return pa.Table.from_arrays(
        [
            _fullnames(prefix, ids.take(pa.array(rows))),
            *(_column([records[i][k] for i in rows.tolist()]) for k in fields),
        ],
        schema=schema,
    )


def history_batches(
    index: MemoryIndex,
    authors: list[str],
    since: int,
    until: int,
    max_depth: int,
    files: Sequence[str],
    users_per_batch: int,
) -> Iterator[HistoryBatch]:
    """The histories of `authors` (sorted), `users_per_batch` users a batch; activities oldest first,
    ties broken by activity id (as `RedditParser._build_batch`)."""
    context = _Context.of(index)
    own = [index.user_activities(a, since, until) for a in authors]
    parent_ids = _column([row[5] for comments, _ in own for row in comments])
    link_ids = _column([row[4] for comments, _ in own for row in comments])
    first_parents = _positions(_comment_ids(parent_ids), context.comment_ids)
    thread_rows = _positions(link_ids, context.submission_ids)
    done = 0
    for start in range(0, len(authors), users_per_batch):
        batch = own[start : start + users_per_batch]
        end = done + sum(len(comments) for comments, _ in batch)
        yield _batch(
            context,
            authors[start : start + users_per_batch],
            batch,
            first_parents[done:end],
            thread_rows[done:end],
            max_depth,
            files,
        )
        done = end


def _batch(
    context: _Context,
    authors: list[str],
    own: list[tuple],
    first_parents: np.ndarray,
    thread_rows: np.ndarray,
    max_depth: int,
    files: Sequence[str],
) -> HistoryBatch:
    c = list(zip(*(row for rows, _ in own for row in rows), strict=True)) or [()] * 10
    s = list(zip(*(row for _, rows in own for row in rows), strict=True)) or [()] * 9
    n_comments, n_submissions = len(c[0]), len(s[0])
    none = np.full(n_submissions, -1, dtype=np.int64)
    activity_ids = ["t1_" + i for i in c[0]] + ["t3_" + i for i in s[0]]
    users = np.concatenate(
        [np.repeat(np.arange(len(own)), [len(rows) for rows, _ in own]),
         np.repeat(np.arange(len(own)), [len(rows) for _, rows in own])]
    )  # fmt: skip
    order = _history_order(users, np.array(c[6] + s[5], dtype=np.int64), activity_ids)
    # Every column is put in history order while still a Python list (a list index costs less than
    # an Arrow take of the finished column); NumPy columns are indexed directly.
    thread_rows = np.concatenate([thread_rows, none])[order]
    flat, lengths = _chains(np.concatenate([first_parents, none])[order], context.parent_of, max_depth)
    is_comment = order < n_comments
    listed = order.tolist()

    def ordered(values: Sequence, kind: pa.DataType = _TEXT) -> pa.Array:
        return pa.array([values[i] for i in listed], kind)

    submission_texts = [
        title + "\n\n" + selftext if selftext and selftext not in _DELETED_SELFTEXT else title
        for title, selftext in zip(s[2], s[3], strict=True)
    ]
    activity_ids = ordered(activity_ids)
    thread_ids = ordered(["t3_" + i for i in c[4]] + ["t3_" + i for i in s[0]])
    parent_names = _fullnames("t1_", context.comment_ids.take(pa.array(flat, pa.int64())))
    record_sizes = np.where(is_comment, lengths + 2, 1)
    activity_type = HISTORY_SCHEMA.field("activities").type.value_type
    columns = {
        "activity_id": activity_ids,
        "user_id": ordered(c[1] + s[1]),
        "platform": pa.array(["reddit"] * len(listed), _TEXT),
        "kind": pc.if_else(pa.array(is_comment), "comment", "submission"),
        "timestamp": ordered(c[6] + s[5], pa.int64()),
        "text": ordered(c[2] + tuple(submission_texts)),
        "community": ordered(c[3] + s[4]),
        "thread_id": thread_ids,
        "context_id": pc.if_else(pa.array(thread_rows >= 0), thread_ids, ""),
        "parent_ids": pa.ListArray.from_arrays(_offsets(lengths), parent_names),
        "source": pa.StructArray.from_arrays(
            [
                pa.DictionaryArray.from_arrays(ordered(c[7] + s[6], pa.int32()), _column(files)).cast(_TEXT),
                ordered(c[8] + s[7], pa.int64()),
                pa.ListArray.from_arrays(
                    _offsets(record_sizes),
                    _record_ids(activity_ids, thread_ids, parent_names, is_comment, record_sizes),
                ),
            ],
            fields=list(activity_type.field("source").type),
        ),
    }
    activities = pa.StructArray.from_arrays(
        [columns[f.name] for f in activity_type], fields=list(activity_type)
    )
    counts = np.array([len(comments) + len(subs) for comments, subs in own], dtype=np.int64)
    histories = pa.Table.from_arrays(
        [
            pa.array(authors, _TEXT),
            pa.array(["reddit"] * len(authors), _TEXT),
            pa.array(counts),
            pa.ListArray.from_arrays(_offsets(counts), activities),
        ],
        schema=HISTORY_SCHEMA,
    )
    return HistoryBatch(histories, context.new_threads(thread_rows), context.new_messages(flat))


def _history_order(users: np.ndarray, timestamps: np.ndarray, activity_ids: list[str]) -> np.ndarray:
    """Positions sorted by (user, timestamp, activity id): NumPy for the first two keys, Python only
    for the rare runs of one user's activities with the same timestamp."""
    order = np.lexsort((timestamps, users))
    user, stamp = users[order], timestamps[order]
    tied = (user[1:] == user[:-1]) & (stamp[1:] == stamp[:-1])  # tied[k]: positions k and k+1 tie
    edges = np.diff(np.concatenate([[0], tied.astype(np.int8), [0]]))
    for start, end in zip(
        np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True
    ):
        order[start : end + 1] = sorted(order[start : end + 1].tolist(), key=activity_ids.__getitem__)
    return order


def _record_ids(
    activity_ids: pa.Array, thread_ids: pa.Array, parents: pa.Array, is_comment: np.ndarray, sizes: np.ndarray
) -> pa.Array:
    """The flat values of the lists of record ids: (activity id, thread id, *parent fullnames) for a
    comment, (activity id,) for a submission; `parents` holds the comments' parents in order."""
    count = len(activity_ids)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    source = np.empty(int(sizes.sum()), dtype=np.int64)
    fixed = np.zeros(len(source), dtype=bool)
    source[starts], fixed[starts] = np.arange(count), True
    comment_starts = starts[is_comment] + 1
    source[comment_starts], fixed[comment_starts] = count + np.flatnonzero(is_comment), True
    source[~fixed] = 2 * count + np.arange(len(parents))
    return pa.concat_arrays([activity_ids, thread_ids, parents]).take(pa.array(source))

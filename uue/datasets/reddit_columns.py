"""The in-memory Reddit index: every parsed line's fields as Arrow columns, joined into histories
on columns (Arrow and NumPy) instead of rows.

The parser hands rows over in chunks of tuples (`add`); each chunk becomes Arrow arrays at once,
so no Python object per line outlives its chunk, and everything after that (first row per id, user
selection, the thread and parent-chain joins, the output columns) runs in C. A tuple per line kept
until the join, and a list per output column, had cost more than reading and parsing the dumps.
It writes the same histories as the disk path (`RedditParser._build_batch`; a test compares them).
Used when the input fits the memory budget. String columns are `large_string`, so the index may hold
more than 2 GiB of text; each output batch is cast to the storage schema's `string`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from uue.datasets.histories import HistoryBatch
from uue.datasets.records import HISTORY_SCHEMA, MESSAGE_SCHEMA, THREAD_SCHEMA
from uue.datasets.reddit_index import RedditIndex

_TEXT = pa.large_string()
# The row shapes of `reddit_index.py`, named.
COMMENT_COLUMNS = pa.schema(
    [("id", _TEXT), ("author", _TEXT), ("body", _TEXT), ("subreddit", _TEXT), ("link_id", _TEXT),
     ("parent_id", _TEXT), ("created", pa.int64()), ("file", pa.int32()), ("line", pa.int64()),
     ("skip", _TEXT)]
)  # fmt: skip
SUBMISSION_COLUMNS = pa.schema(
    [("id", _TEXT), ("author", _TEXT), ("title", _TEXT), ("selftext", _TEXT), ("subreddit", _TEXT),
     ("created", pa.int64()), ("file", pa.int32()), ("line", pa.int64()), ("skip", _TEXT)]
)  # fmt: skip
_SHARED_COLUMNS = ("author", "subreddit", "created", "file", "line")
_DELETED_SELFTEXT = pa.array(["", "[deleted]", "[removed]"], _TEXT)
_ACTIVITY_TYPE = HISTORY_SCHEMA.field("activities").type.value_type


def _record_batch(rows: list[tuple], schema: pa.Schema) -> pa.RecordBatch:
    # Tuples convert straight to a struct array: a third faster than transposing them first.
    return pa.RecordBatch.from_struct_array(pa.array(rows, pa.struct(list(schema))))


def _first_row_per_id(table: pa.Table) -> pa.Table:
    """The first row of each id, in input order (as `INSERT OR IGNORE` keeps it)."""
    codes = pc.dictionary_encode(table["id"].combine_chunks()).indices.to_numpy()
    _, first = np.unique(codes, return_index=True)  # codes number ids in order of first appearance
    return table if len(first) == table.num_rows else table.take(pa.array(first))


def _positions(keys: pa.Array | pa.ChunkedArray, table_ids: pa.Array) -> np.ndarray:
    """Row of each key in `table_ids` (unique), -1 where absent or null. One hash table per call."""
    found = pc.index_in(keys, value_set=table_ids)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _comment_ids(fullnames: pa.Array | pa.ChunkedArray) -> pa.Array:
    """`t1_<id>` → `<id>`; null for anything that is not a comment (a submission parent `t3_...`)."""
    return pc.if_else(
        pc.starts_with(fullnames, "t1_"), pc.utf8_slice_codeunits(fullnames, 3), pa.scalar(None, _TEXT)
    )


def _fullnames(prefix: str, ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    return pc.binary_join_element_wise(pa.scalar(prefix, _TEXT), ids, pa.scalar("", _TEXT))


def _text(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """One storage column: a single chunk of `string`."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    return values.cast(pa.string())


def _offsets(lengths: np.ndarray) -> pa.Array:
    return pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))


class MemoryIndex(RedditIndex):
    def __init__(self) -> None:
        self._chunks: tuple[list, list] = ([], [])
        self.comments = COMMENT_COLUMNS.empty_table()
        self.submissions = SUBMISSION_COLUMNS.empty_table()

    def add(self, comments: list[tuple], submissions: list[tuple]) -> None:
        for chunks, rows, schema in zip(
            self._chunks, (comments, submissions), (COMMENT_COLUMNS, SUBMISSION_COLUMNS), strict=True
        ):
            if rows:
                chunks.append(_record_batch(rows, schema))

    def finish(self) -> tuple[int, Counter]:
        comment_chunks, submission_chunks = self._chunks
        self._chunks = ([], [])
        # One chunk per column: a take from many chunks concatenates them first, at every call.
        self.comments = _first_row_per_id(
            pa.Table.from_batches(comment_chunks, COMMENT_COLUMNS).combine_chunks()
        )
        self.submissions = _first_row_per_id(
            pa.Table.from_batches(submission_chunks, SUBMISSION_COLUMNS).combine_chunks()
        )
        skipped: Counter = Counter()
        for table in (self.comments, self.submissions):
            reasons = pc.filter(table["skip"], pc.not_equal(table["skip"], ""))
            for entry in pc.value_counts(reasons).to_pylist():
                skipped[entry["values"]] += entry["counts"]
        return self.comments.num_rows + self.submissions.num_rows, skipped

    @staticmethod
    def active(table: pa.Table, since: int, until: int) -> np.ndarray:
        """Which rows are activities (not skipped) inside [since, until)."""
        created = table["created"].to_numpy()
        kept = pc.equal(table["skip"], "").to_numpy(zero_copy_only=False)
        return kept & (created >= since) & (created < until)

    def activity_counts(self, since: int, until: int) -> Iterator[tuple[str, int]]:
        authors = pa.chunked_array(
            [
                *pc.filter(self.comments["author"], self.active(self.comments, since, until)).chunks,
                *pc.filter(self.submissions["author"], self.active(self.submissions, since, until)).chunks,
            ],
            _TEXT,
        )
        encoded = pc.dictionary_encode(authors.combine_chunks())
        counts = np.bincount(encoded.indices.to_numpy(), minlength=len(encoded.dictionary))
        return zip(encoded.dictionary.to_pylist(), counts.tolist(), strict=True)


def _chains(first: np.ndarray, parent_of: np.ndarray, max_depth: int) -> tuple[np.ndarray, np.ndarray]:
    """Each activity's parent comments as rows of the comment table, oldest first, flattened, and how
    many each has. `first`: the direct parent's row (-1: none); `parent_of`: the same for every
    comment. A chain stops at a missing parent or after `max_depth`, as `RedditParser._chain`."""
    if not len(parent_of):  # no comment in the input (submissions only): no chain to follow
        return np.empty(0, dtype=np.int64), np.zeros(len(first), dtype=np.int64)
    levels = np.full((len(first), max_depth), -1, dtype=np.int64)
    current = first
    for depth in range(max_depth):
        levels[:, depth] = current
        current = np.where(current >= 0, parent_of[np.maximum(current, 0)], -1)
    lengths = (levels >= 0).sum(axis=1)  # a -1 ends a chain: every later level is -1 too
    order = lengths[:, None] - 1 - np.arange(max_depth)[None, :]  # row i reads levels len-1 .. 0
    oldest_first = np.take_along_axis(levels, np.maximum(order, 0), axis=1)
    return oldest_first[order >= 0], lengths


def _history_order(users: np.ndarray, timestamps: np.ndarray, activity_ids: pa.Array) -> np.ndarray:
    """Positions sorted by (user, timestamp, activity id): NumPy for the first two keys, Python only
    for the rare runs of one user's activities with the same timestamp."""
    order = np.lexsort((timestamps, users))
    user, stamp = users[order], timestamps[order]
    tied = (user[1:] == user[:-1]) & (stamp[1:] == stamp[:-1])  # tied[k]: positions k and k+1 tie
    edges = np.diff(np.concatenate([[0], tied.astype(np.int8), [0]]))
    for start, end in zip(
        np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist(), strict=True
    ):
        run = order[start : end + 1]
        ids = activity_ids.take(pa.array(run)).to_pylist()
        order[start : end + 1] = run[sorted(range(len(run)), key=ids.__getitem__)]
    return order


def _activity_lines(comments: pa.Table, submissions: pa.Table) -> pa.Table:
    """Every comment, then every submission, in the columns an activity needs."""
    selftext, title = submissions["selftext"], submissions["title"]
    return pa.concat_tables(
        [
            pa.table(
                {
                    "activity_id": _fullnames("t1_", comments["id"]),
                    "thread_id": _fullnames("t3_", comments["link_id"]),
                    "text": comments["body"],
                    **{k: comments[k] for k in _SHARED_COLUMNS},
                }
            ),
            pa.table(
                {
                    "activity_id": _fullnames("t3_", submissions["id"]),
                    "thread_id": _fullnames("t3_", submissions["id"]),
                    "text": pc.if_else(
                        pc.is_in(selftext, value_set=_DELETED_SELFTEXT),
                        title,
                        pc.binary_join_element_wise(title, selftext, pa.scalar("\n\n", _TEXT)),
                    ),
                    **{k: submissions[k] for k in _SHARED_COLUMNS},
                }
            ),
        ]
    ).combine_chunks()


class _Join:
    """The selected users' activities in history order, with what each points to: its thread's row
    in the submission table and its parents' rows in the comment table. Which threads and parent
    messages earlier batches already emitted, so each is written once."""

    def __init__(self, index: MemoryIndex, authors: list[str], since: int, until: int):
        comments, submissions = self.comments, self.submissions = index.comments, index.submissions
        self.comment_ids = comments["id"].combine_chunks()
        self.submission_ids = submissions["id"].combine_chunks()
        self.parent_of = _positions(_comment_ids(comments["parent_id"]), self.comment_ids)
        self.comments_sent = np.zeros(len(self.comment_ids), dtype=bool)
        self.submissions_sent = np.zeros(len(self.submission_ids), dtype=bool)

        # Every line as an activity, comments first: rows keep their numbers in the comment table,
        # so each batch takes its activities in one gather, not a selection and then an ordering.
        self.lines = _activity_lines(comments, submissions)
        none = np.full(submissions.num_rows, -1, dtype=np.int64)
        self.first_parents = np.concatenate([self.parent_of, none])
        self.thread_rows = np.concatenate([_positions(comments["link_id"], self.submission_ids), none])
        self.comment_count = comments.num_rows

        user = _positions(self.lines["author"], pa.array(authors, _TEXT))
        active = np.concatenate(
            [index.active(comments, since, until), index.active(submissions, since, until)]
        )
        selected = np.flatnonzero(active & (user >= 0))
        order = _history_order(
            user[selected],
            self.lines["created"].to_numpy()[selected],
            self.lines["activity_id"].take(pa.array(selected)),
        )
        self.rows = selected[order]  # the users' activities in history order, as rows of `lines`
        self.users = user[self.rows]

    def batch(self, first_user: int, authors: list[str], max_depth: int, files: pa.Array) -> HistoryBatch:
        start, end = np.searchsorted(self.users, [first_user, first_user + len(authors)])
        rows = self.rows[start:end]
        activities = self.lines.take(pa.array(rows))
        thread_rows, is_comment = self.thread_rows[rows], rows < self.comment_count
        flat, lengths = _chains(self.first_parents[rows], self.parent_of, max_depth)
        activity_ids, thread_ids = _text(activities["activity_id"]), _text(activities["thread_id"])
        parent_names = _text(_fullnames("t1_", self.comment_ids.take(pa.array(flat, pa.int64()))))
        record_sizes = np.where(is_comment, lengths + 2, 1)
        count = end - start
        columns = {
            "activity_id": activity_ids,
            "user_id": _text(activities["author"]),
            "platform": pa.array(["reddit"] * count, pa.string()),
            "kind": pc.if_else(pa.array(is_comment), "comment", "submission"),
            "timestamp": activities["created"].combine_chunks(),
            "text": _text(activities["text"]),
            "community": _text(activities["subreddit"]),
            "thread_id": thread_ids,
            "context_id": pc.if_else(pa.array(thread_rows >= 0), thread_ids, ""),
            "parent_ids": pa.ListArray.from_arrays(_offsets(lengths), parent_names),
            "source": pa.StructArray.from_arrays(
                [
                    files.take(activities["file"].combine_chunks()),
                    activities["line"].combine_chunks(),
                    pa.ListArray.from_arrays(
                        _offsets(record_sizes),
                        _record_ids(activity_ids, thread_ids, parent_names, is_comment, record_sizes),
                    ),
                ],
                fields=list(_ACTIVITY_TYPE.field("source").type),
            ),
        }
        activities = pa.StructArray.from_arrays(
            [columns[f.name] for f in _ACTIVITY_TYPE], fields=list(_ACTIVITY_TYPE)
        )
        counts = np.bincount(self.users[start:end] - first_user, minlength=len(authors)).astype(np.int64)
        histories = pa.Table.from_arrays(
            [
                pa.array(authors, pa.string()),
                pa.array(["reddit"] * len(authors), pa.string()),
                pa.array(counts),
                pa.ListArray.from_arrays(_offsets(counts), activities),
            ],
            schema=HISTORY_SCHEMA,
        )
        threads = self._unsent(
            thread_rows,
            self.submissions_sent,
            "t3_",
            self.submissions,
            ("title", "selftext", "author"),
            THREAD_SCHEMA,
        )
        messages = self._unsent(
            flat, self.comments_sent, "t1_", self.comments, ("author", "body"), MESSAGE_SCHEMA
        )
        return HistoryBatch(histories, threads, messages)

    @staticmethod
    def _unsent(
        rows: np.ndarray,
        sent: np.ndarray,
        prefix: str,
        table: pa.Table,
        fields: tuple[str, ...],
        schema: pa.Schema,
    ) -> pa.Table:
        """The fullname and `fields` of `table`'s `rows` (-1: none) not `sent` yet, then marked sent."""
        rows = np.unique(rows[rows >= 0])
        rows = rows[~sent[rows]]
        sent[rows] = True
        taken = table.take(pa.array(rows, pa.int64()))
        return pa.Table.from_arrays(
            [_text(_fullnames(prefix, taken["id"])), *(_text(taken[f]) for f in fields)], schema=schema
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
    join = _Join(index, authors, since, until)
    file_names = pa.array(files, pa.string())
    for start in range(0, len(authors), users_per_batch):
        yield join.batch(start, authors[start : start + users_per_batch], max_depth, file_names)


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

"""Reddit Pushshift comments (RC) and submissions (RS) → per-user histories with thread context.

One streaming pass parses every line and keeps only the fields the join needs in an index
(`reddit_index.py`): in memory when the input fits `IngestOptions.memory_budget_mb`, else in an
on-disk SQLite file with a capped page cache, so memory stays bounded on dumps larger than RAM.
Users are then selected (time window, minimum activities, most active N) and their histories built
in batches of `USER_BATCH` users. In memory the join runs on columns (`reddit_columns.py`, leaving
as `HistoryBatch` tables); on disk each batch's parent chains are fetched level by level, set at a
time, and histories leave as `HistoryRows` (one tuple per activity, not four objects). Peak memory
on the disk index is one batch of histories plus the SQLite cache.
"""

from __future__ import annotations

import gc
import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

from uue.datasets.histories import HistoryBatch
from uue.datasets.io import iter_lines
from uue.datasets.options import IngestOptions
from uue.datasets.parser import PlatformParser, register_parser
from uue.datasets.records import HistoryRows
from uue.datasets.reddit_columns import MemoryIndex, history_batches
from uue.datasets.reddit_index import RedditIndex, SqliteIndex
from uue.datasets.tally import IngestTally

DEFAULT_BOTS = frozenset(
    {
        "AutoModerator",
        "BotDefense",
        "RemindMeBot",
        "WikiTextBot",
        "sneakpeekbot",
        "TotesMessenger",
        "RepostSleuthBot",
        "SaveVideo",
        "transcribot",
        "Reddit-Book-Bot",
        "GoodBot_BadBot",
        "image_linker_bot",
        "autotldr",
        "timezone_bot",
        "converter-bot",
        "RedditSilverRobot",
    }
)
DELETED_MARKERS = frozenset({"[deleted]", "[removed]", ""})
USER_BATCH = 2000
INSERT_BATCH = 20000
# Decompressed JSON per compressed byte, generous: the in-memory index keeps a fraction of it.
_EXPANSION = {".zst": 10, ".gz": 6}
_NO_LIMIT = 2**62


class _BadLine(Exception):
    def __init__(self, reason: str, detail: str = ""):
        super().__init__(reason)
        self.reason, self.detail = reason, detail


def _text_field(obj: dict, name: str) -> str:
    value = obj.get(name)
    if value is None:
        raise _BadLine(f"missing_field:{name}")
    if not isinstance(value, str):
        raise _BadLine(f"invalid_field:{name}", f"expected text, got {type(value).__name__}")
    return value


# Unix seconds that can be a Reddit activity (1970 .. 2100): anything else is a corrupt line, and would
# overflow the int64 columns of the histories (a created_utc of 1e30 once aborted a whole ingest).
TIMESTAMP_RANGE = range(0, 4_102_444_800)


def _timestamp(obj: dict) -> int:
    value = obj.get("created_utc")
    if value is None:
        raise _BadLine("missing_field:created_utc")
    try:  # older dumps store strings, 2024 dumps floats
        seconds = value if type(value) is int else int(float(value))
    except (TypeError, ValueError, OverflowError):  # OverflowError: float("inf")
        raise _BadLine("invalid_field:created_utc", repr(value)[:40]) from None
    if seconds not in TIMESTAMP_RANGE:
        raise _BadLine("invalid_field:created_utc", f"{repr(value)[:40]} is not a date from 1970 to 2100")
    return seconds


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector. Ingestion allocates a tuple or more per line and makes no
    reference cycles, so collections free nothing; yet each full one walks the whole index, and
    together they took a fifth of the run time. Reference counting still frees everything."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _estimated_mb(files: Sequence[Path]) -> float:
    return sum(p.stat().st_size * _EXPANSION.get(p.suffix, 1) for p in files) / 2**20


def _strip_kind(fullname: str) -> str:
    return fullname[3:] if fullname[2:3] == "_" else fullname


@register_parser
@dataclass
class RedditParser(PlatformParser):
    """Comments and submissions may come in any number of files, in any order; joins span files."""

    platform = "reddit"
    files: Sequence[Path]
    workdir: Path
    on_progress: Callable[[Path, int], None] | None = None

    def histories(self, options: IngestOptions, tally: IngestTally) -> Iterator[HistoryRows | HistoryBatch]:
        index = self._choose_index(options)
        try:
            with _collector_paused():
                self._load(index, tally, options.bots if options.bots is not None else DEFAULT_BOTS)
                yield from self._select_and_build(index, options, tally)
        finally:
            index.close()

    def _choose_index(self, options: IngestOptions) -> RedditIndex:
        if (
            options.index == "memory"
            or options.index == "auto"
            and _estimated_mb(self.files) <= options.memory_budget_mb
        ):
            return MemoryIndex()
        return SqliteIndex(self.workdir / "reddit-index.sqlite")

    # -- pass 1: stream every line into the index ------------------------------------------------
    def _load(self, index: RedditIndex, tally: IngestTally, bots: frozenset[str]) -> None:
        comments: list[tuple] = []
        submissions: list[tuple] = []
        parsed = 0
        parse = self._parse_line
        for file_index, path in enumerate(self.files):
            name = str(path)
            progress = (lambda done, path=path: self.on_progress(path, done)) if self.on_progress else None
            line_number = 0
            try:
                for line_number, raw in iter_lines(path, progress, tally.problem):  # noqa: B007 - counted after the loop
                    try:
                        row = parse(raw, file_index, line_number, bots)
                    except _BadLine as bad:
                        tally.reject(name, line_number, bad.reason, raw, bad.detail)
                        continue
                    if row is None:
                        tally.skip("empty_line")
                    elif len(row) == 10:
                        comments.append(row)
                    else:
                        submissions.append(row)
                    if not line_number % INSERT_BATCH:
                        parsed += len(comments) + len(submissions)
                        index.add(comments, submissions)
                        comments, submissions = [], []
            finally:  # line numbers count lines: also right when a corrupt stream ends the file early
                tally.lines_read += line_number
            if not line_number:
                tally.problem(f"{name}: file is empty (0 lines)")
        parsed += len(comments) + len(submissions)
        index.add(comments, submissions)
        tally.records_read = tally.lines_read
        unique, skipped = index.finish()
        tally.skip("duplicate_id", parsed - unique)
        for reason, count in skipped.items():
            tally.skip(reason, count)

    def _parse_line(
        self, raw: bytes, file_index: int, line_number: int, bots: frozenset[str]
    ) -> tuple | None:
        """The line's index row, None for an empty line; raises `_BadLine` for a line to quarantine."""
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            if not raw.strip():  # checked only here: an empty line never parses
                return None
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as bad_bytes:
                raise _BadLine("invalid_utf8", f"byte {bad_bytes.start}") from None
            raise _BadLine("malformed_json", str(error)[:80]) from None
        if type(obj) is not dict:
            raise _BadLine("malformed_json", "not a JSON object")
        # The fast path reads well-formed lines (orjson makes exact str/int); anything unusual goes
        # through the checking helpers, in the same order, so that they name the first bad field.
        try:
            record_id, author, subreddit = obj["id"], obj["author"], obj["subreddit"]
            if not (type(record_id) is str and type(author) is str and type(subreddit) is str):
                raise KeyError
        except KeyError:
            record_id, author, subreddit = (_text_field(obj, k) for k in ("id", "author", "subreddit"))
        created = obj.get("created_utc")
        if type(created) is not int or created not in TIMESTAMP_RANGE:
            created = _timestamp(obj)
        skip = "deleted_author" if author in DELETED_MARKERS else "bot_author" if author in bots else ""
        if "body" in obj or "parent_id" in obj:
            try:
                body, link_id, parent_id = obj["body"], obj["link_id"], obj["parent_id"]
                if not (type(body) is str and type(link_id) is str and type(parent_id) is str):
                    raise KeyError
            except KeyError:
                body, link_id, parent_id = (_text_field(obj, k) for k in ("body", "link_id", "parent_id"))
            if not skip and body in DELETED_MARKERS:
                skip = "deleted_body"
            return (
                record_id,
                author,
                body,
                subreddit,
                _strip_kind(link_id),
                parent_id,
                created,
                file_index,
                line_number,
                skip,
            )
        if "title" in obj:
            title = _text_field(obj, "title")
            selftext = obj.get("selftext") or ""
            if type(selftext) is not str:
                raise _BadLine("invalid_field:selftext", f"expected text, got {type(selftext).__name__}")
            return (record_id, author, title, selftext, subreddit, created, file_index, line_number, skip)
        raise _BadLine("unknown_record_type", "neither a comment (body, parent_id) nor a submission (title)")

    # -- pass 2: select users, build histories batch by batch --------------------------------------
    def _select_and_build(
        self, index: RedditIndex, options: IngestOptions, tally: IngestTally
    ) -> Iterator[HistoryRows | HistoryBatch]:
        since = options.since if options.since is not None else -_NO_LIMIT
        until = options.until if options.until is not None else _NO_LIMIT
        activities = tally.records_read - sum(tally.skipped.values())
        counts = list(index.activity_counts(since, until))
        tally.skip("outside_time_range", activities - sum(n for _, n in counts))
        eligible = [(author, n) for author, n in counts if n >= options.min_activities]
        tally.skip("user_below_min_activities", sum(n for _, n in counts) - sum(n for _, n in eligible))
        if options.max_users is not None and len(eligible) > options.max_users:
            eligible = heapq.nsmallest(options.max_users, eligible, key=lambda pair: (-pair[1], pair[0]))
        tally.skip(
            "over_max_users",
            sum(n for _, n in counts if n >= options.min_activities) - sum(n for _, n in eligible),
        )
        users = sorted(author for author, _ in eligible)
        if isinstance(index, MemoryIndex):  # the same join on columns: half the time (reddit_columns.py)
            files = [str(path) for path in self.files]
            yield from history_batches(
                index, users, since, until, options.max_parent_depth, files, USER_BATCH
            )
            return
        for start in range(0, len(users), USER_BATCH):
            yield from self._build_batch(
                index, users[start : start + USER_BATCH], since, until, options.max_parent_depth
            )

    def _build_batch(
        self, index: SqliteIndex, authors: list[str], since: int, until: int, max_depth: int
    ) -> Iterator[HistoryRows]:
        """The batch's histories as `ACTIVITY_ROW_FIELDS` tuples: no objects per activity."""
        comment_rows, submission_rows = index.user_rows(authors, since, until)
        parents = self._fetch_parents(index, (row[5] for row in comment_rows), max_depth)
        files = [str(path) for path in self.files]
        by_user: dict[str, list[tuple]] = {author: [] for author in authors}
        chains: dict[str, tuple[tuple, tuple]] = {}  # parent_id → its chain, shared by its replies
        for (
            cid,
            author,
            body,
            subreddit,
            link_id,
            parent_id,
            created,
            file,
            line,
            title,
            selftext,
            op,
        ) in comment_rows:
            chain = chains.get(parent_id)
            if chain is None:
                chain = chains[parent_id] = self._chain(parent_id, parents, max_depth)
            activity_id, thread_id = "t1_" + cid, "t3_" + link_id
            by_user[author].append(
                (
                    created,
                    activity_id,
                    "comment",
                    body,
                    thread_id,
                    subreddit,
                    title,
                    selftext,
                    op,
                    chain[0],
                    files[file],
                    line,
                    (activity_id, thread_id, *chain[1]),
                )
            )
        for sid, author, title, selftext, subreddit, created, file, line, _ in submission_rows:
            activity_id = "t3_" + sid
            text = title + "\n\n" + selftext if selftext and selftext not in DELETED_MARKERS else title
            by_user[author].append(
                (
                    created,
                    activity_id,
                    "submission",
                    text,
                    activity_id,
                    subreddit,
                    "",
                    "",
                    "",
                    (),
                    files[file],
                    line,
                    (activity_id,),
                )
            )
        for author in authors:
            rows = by_user[author]
            rows.sort()  # by (timestamp, activity_id): ids are unique, so no further field is compared
            yield HistoryRows(author, self.platform, rows)

    @staticmethod
    def _fetch_parents(
        index: SqliteIndex, parent_ids: Iterable[str], max_depth: int
    ) -> dict[str, tuple[str, str, str]]:
        """Parent comments up to `max_depth` levels: id → (author, body, its parent_id), level by level."""
        found: dict[str, tuple[str, str, str]] = {}
        wanted = {p[3:] for p in parent_ids if p.startswith("t1_")}
        for _ in range(max_depth):
            wanted -= found.keys()
            if not wanted:
                break
            rows = index.parents(wanted)
            found.update((cid, (author, body, parent)) for cid, author, body, parent in rows)
            wanted = {parent[3:] for _, _, _, parent in rows if parent.startswith("t1_")}
        return found

    @staticmethod
    def _chain(parent_id: str, parents: dict, max_depth: int) -> tuple[tuple, tuple]:
        """The parent comments of one activity as (fullname, author, body), oldest first, as far up
        as the dump has them, and their fullnames. Tuples: one chain is shared by every reply to its
        parent."""
        messages: list[tuple[str, str, str]] = []
        while parent_id.startswith("t1_") and len(messages) < max_depth:
            parent = parents.get(parent_id[3:])
            if parent is None:
                break
            author, body, next_id = parent
            messages.append((parent_id, author, body))
            parent_id = next_id
        messages.reverse()
        return tuple(messages), tuple(m[0] for m in messages)

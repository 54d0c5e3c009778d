"""Reddit Pushshift comments (RC) and submissions (RS) → per-user histories with thread context.

One streaming pass parses every line and keeps only the fields the join needs in an index
(`reddit_index.py`): in memory when the input fits `IngestOptions.memory_budget_mb`, else in an
on-disk SQLite file with a capped page cache, so memory stays bounded on dumps larger than RAM.
Users are then selected (time window, minimum activities, most active N) and their histories built
in batches of `USER_BATCH` users; each batch's parent chains are fetched level by level, set at a
time. Peak memory on the disk index is one batch of histories plus the SQLite cache.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from uue.datasets.io import iter_lines
from uue.datasets.options import IngestOptions
from uue.datasets.records import Activity, ContextMessage, History, Source, ThreadContext
from uue.datasets.reddit_index import MemoryIndex, RedditIndex, SqliteIndex
from uue.datasets.registry import PlatformParser, register_parser
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


def _timestamp(obj: dict) -> int:
    value = obj.get("created_utc")
    if value is None:
        raise _BadLine("missing_field:created_utc")
    if type(value) is int:
        return value
    try:  # older dumps store strings, 2024 dumps floats
        return int(float(value))
    except (TypeError, ValueError):
        raise _BadLine("invalid_field:created_utc", repr(value)[:40]) from None


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

    def histories(self, options: IngestOptions, tally: IngestTally) -> Iterator[History]:
        index = self._choose_index(options)
        try:
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
        for file_index, path in enumerate(self.files):
            name = str(path)
            progress = (lambda done, path=path: self.on_progress(path, done)) if self.on_progress else None
            lines_before = tally.lines_read
            for line_number, raw in iter_lines(path, progress):
                tally.lines_read += 1
                if not raw.strip():
                    tally.skip("empty_line")
                    continue
                try:
                    row = self._parse_line(raw, file_index, line_number, bots)
                except _BadLine as bad:
                    tally.reject(name, line_number, bad.reason, raw, bad.detail)
                    continue
                (comments if len(row) == 10 else submissions).append(row)
                if len(comments) + len(submissions) >= INSERT_BATCH:
                    parsed += len(comments) + len(submissions)
                    index.add(comments, submissions)
                    comments, submissions = [], []
            if tally.lines_read == lines_before:
                tally.problem(f"{name}: file is empty (0 lines)")
        parsed += len(comments) + len(submissions)
        index.add(comments, submissions)
        tally.records_read = tally.lines_read
        unique, skipped = index.finish()
        tally.skip("duplicate_id", parsed - unique)
        for reason, count in skipped.items():
            tally.skip(reason, count)

    def _parse_line(self, raw: bytes, file_index: int, line_number: int, bots: frozenset[str]) -> tuple:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as error:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as bad_bytes:
                raise _BadLine("invalid_utf8", f"byte {bad_bytes.start}") from None
            raise _BadLine("malformed_json", str(error)[:80]) from None
        if not isinstance(obj, dict):
            raise _BadLine("malformed_json", "not a JSON object")
        record_id = _text_field(obj, "id")
        author = _text_field(obj, "author")
        subreddit = _text_field(obj, "subreddit")
        created = _timestamp(obj)
        skip = "deleted_author" if author in DELETED_MARKERS else "bot_author" if author in bots else ""
        if "body" in obj or "parent_id" in obj:
            body = _text_field(obj, "body")
            link_id = _strip_kind(_text_field(obj, "link_id"))
            parent_id = _text_field(obj, "parent_id")
            if not skip and body in DELETED_MARKERS:
                skip = "deleted_body"
            return (
                record_id,
                author,
                body,
                subreddit,
                link_id,
                parent_id,
                created,
                file_index,
                line_number,
                skip,
            )
        if "title" in obj:
            title = _text_field(obj, "title")
            selftext = obj.get("selftext") or ""
            if not isinstance(selftext, str):
                raise _BadLine("invalid_field:selftext", f"expected text, got {type(selftext).__name__}")
            return (record_id, author, title, selftext, subreddit, created, file_index, line_number, skip)
        raise _BadLine("unknown_record_type", "neither a comment (body, parent_id) nor a submission (title)")

    # -- pass 2: select users, build histories batch by batch --------------------------------------
    def _select_and_build(
        self, index: RedditIndex, options: IngestOptions, tally: IngestTally
    ) -> Iterator[History]:
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
        for start in range(0, len(users), USER_BATCH):
            yield from self._build_batch(
                index, users[start : start + USER_BATCH], since, until, options.max_parent_depth
            )

    def _build_batch(
        self, index: RedditIndex, authors: list[str], since: int, until: int, max_depth: int
    ) -> Iterator[History]:
        comment_rows, submission_rows = index.user_rows(authors, since, until)
        parents = self._fetch_parents(index, (row[5] for row in comment_rows), max_depth)
        by_user: dict[str, list[Activity]] = {author: [] for author in authors}
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
            chain, record_ids = self._chain(parent_id, parents, max_depth)
            by_user[author].append(
                Activity(
                    activity_id=f"t1_{cid}",
                    user_id=author,
                    platform=self.platform,
                    kind="comment",
                    timestamp=created,
                    text=body,
                    context=ThreadContext(subreddit, title, selftext, op, chain),
                    thread_id=f"t3_{link_id}",
                    source=Source(str(self.files[file]), line, [f"t1_{cid}", f"t3_{link_id}", *record_ids]),
                )
            )
        for sid, author, title, selftext, subreddit, created, file, line, _ in submission_rows:
            text = f"{title}\n\n{selftext}" if selftext and selftext not in DELETED_MARKERS else title
            by_user[author].append(
                Activity(
                    activity_id=f"t3_{sid}",
                    user_id=author,
                    platform=self.platform,
                    kind="submission",
                    timestamp=created,
                    text=text,
                    context=ThreadContext(community=subreddit),
                    thread_id=f"t3_{sid}",
                    source=Source(str(self.files[file]), line, [f"t3_{sid}"]),
                )
            )
        for author in authors:
            history = by_user[author]
            history.sort(key=lambda a: (a.timestamp, a.activity_id))
            yield History(author, self.platform, history)

    @staticmethod
    def _fetch_parents(
        index: RedditIndex, parent_ids: Iterable[str], max_depth: int
    ) -> dict[str, tuple[str, str, str]]:
        """Parent comments up to `max_depth` levels: id → (author, body, its parent_id), level by level."""
        found: dict[str, tuple[str, str, str]] = {}
        wanted = {_strip_kind(p) for p in parent_ids if p.startswith("t1_")}
        for _ in range(max_depth):
            wanted -= found.keys()
            if not wanted:
                break
            rows = index.parents(wanted)
            found.update((cid, (author, body, parent)) for cid, author, body, parent in rows)
            wanted = {_strip_kind(parent) for _, _, _, parent in rows if parent.startswith("t1_")}
        return found

    @staticmethod
    def _chain(parent_id: str, parents: dict, max_depth: int) -> tuple[list[ContextMessage], list[str]]:
        """The parent comments of one activity, oldest first, as far up as the dump has them."""
        chain: list[ContextMessage] = []
        record_ids: list[str] = []
        while parent_id.startswith("t1_") and len(chain) < max_depth:
            parent = parents.get(parent_id[3:])
            if parent is None:
                break
            record_ids.append(parent_id)
            author, body, parent_id = parent
            chain.append(ContextMessage(author, body))
        chain.reverse()
        record_ids.reverse()
        return chain, record_ids

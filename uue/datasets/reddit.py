"""Reddit Pushshift comments (RC) and submissions (RS) → per-user histories with thread context.

Memory stays bounded on dumps larger than RAM: one streaming pass writes every line's few needed
fields into an on-disk SQLite index (page cache capped by `SQLITE_CACHE_KIB`); users are then
selected with SQL and their histories are built in batches of `USER_BATCH` users, fetching each
batch's submissions and parent chains with set-at-a-time queries. Peak memory is one batch of
histories plus the SQLite cache, whatever the dump size; disk use is about the size of the
decompressed text fields.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from uue.datasets.io import iter_lines
from uue.datasets.options import IngestOptions
from uue.datasets.records import Activity, ContextMessage, History, Source, ThreadContext
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
SQLITE_CACHE_KIB = 262144  # 256 MiB page cache: the only part of the index held in memory
_NO_LIMIT = 2**62

_SCHEMA = """
CREATE TABLE submissions (id TEXT PRIMARY KEY, author TEXT, title TEXT, selftext TEXT, subreddit TEXT,
                          created_utc INTEGER, file INTEGER, line INTEGER, skip_reason TEXT) WITHOUT ROWID;
CREATE TABLE comments (id TEXT PRIMARY KEY, author TEXT, body TEXT, subreddit TEXT, link_id TEXT,
                       parent_id TEXT, created_utc INTEGER, file INTEGER, line INTEGER, skip_reason TEXT)
                       WITHOUT ROWID;
"""


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


def _in_batch(table: str) -> str:
    """SQL: the row is an activity of one of the batch's `:authors` inside the time window."""
    return (
        f"{table}author IN (SELECT value FROM json_each(:authors)) AND {table}skip_reason = ''"
        f" AND {table}created_utc >= :since AND {table}created_utc < :until"
    )


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
    _db: sqlite3.Connection | None = field(default=None, init=False, repr=False)

    def histories(self, options: IngestOptions, tally: IngestTally) -> Iterator[History]:
        self.workdir.mkdir(parents=True, exist_ok=True)
        index_path = self.workdir / "reddit-index.sqlite"
        index_path.unlink(missing_ok=True)
        self._db = sqlite3.connect(index_path)
        try:
            self._db.executescript(
                f"PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-{SQLITE_CACHE_KIB};"
                "PRAGMA temp_store=FILE;" + _SCHEMA
            )
            self._load(tally, options.bots if options.bots is not None else DEFAULT_BOTS)
            yield from self._select_and_build(options, tally)
        finally:
            self._db.close()
            self._db = None
            index_path.unlink(missing_ok=True)

    # -- pass 1: stream every line into the index ------------------------------------------------
    def _load(self, tally: IngestTally, bots: frozenset[str]) -> None:
        db = self._db
        comments: list[tuple] = []
        submissions: list[tuple] = []
        stored = 0
        for file_index, path in enumerate(self.files):
            name = str(path)
            progress = (lambda done, path=path: self.on_progress(path, done)) if self.on_progress else None
            lines_before = tally.lines_read
            for line_number, raw in iter_lines(path, progress):
                tally.lines_read += 1
                tally.records_read += 1
                if not raw.strip():
                    tally.skip("empty_line")
                    continue
                try:
                    row = self._parse_line(raw, file_index, line_number, bots)
                except _BadLine as bad:
                    tally.reject(name, line_number, bad.reason, raw, bad.detail)
                    continue
                (comments if len(row) == 10 else submissions).append(row)
                if len(comments) >= INSERT_BATCH or len(submissions) >= INSERT_BATCH:
                    stored += self._insert(comments, submissions)
            if tally.lines_read == lines_before:
                tally.problem(f"{name}: file is empty (0 lines)")
        stored += self._insert(comments, submissions)
        db.execute("CREATE INDEX comments_author ON comments(author)")
        db.execute("CREATE INDEX submissions_author ON submissions(author)")
        unique = db.execute("SELECT (SELECT COUNT(*) FROM comments) + (SELECT COUNT(*) FROM submissions)").fetchone()[0]
        tally.skip("duplicate_id", stored - unique)
        for table in ("comments", "submissions"):
            for reason, count in db.execute(
                f"SELECT skip_reason, COUNT(*) FROM {table} WHERE skip_reason != '' GROUP BY skip_reason"
            ):
                tally.skip(reason, count)

    def _insert(self, comments: list[tuple], submissions: list[tuple]) -> int:
        stored = len(comments) + len(submissions)
        with self._db:
            self._db.executemany("INSERT OR IGNORE INTO comments VALUES (?,?,?,?,?,?,?,?,?,?)", comments)
            self._db.executemany("INSERT OR IGNORE INTO submissions VALUES (?,?,?,?,?,?,?,?,?)", submissions)
        comments.clear()
        submissions.clear()
        return stored

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
            return (record_id, author, body, subreddit, link_id, parent_id, created, file_index, line_number, skip)
        if "title" in obj:
            title = _text_field(obj, "title")
            selftext = obj.get("selftext") or ""
            if not isinstance(selftext, str):
                raise _BadLine("invalid_field:selftext", f"expected text, got {type(selftext).__name__}")
            return (record_id, author, title, selftext, subreddit, created, file_index, line_number, skip)
        raise _BadLine("unknown_record_type", "neither a comment (body, parent_id) nor a submission (title)")

    # -- pass 2: select users, build histories batch by batch --------------------------------------
    def _select_and_build(self, options: IngestOptions, tally: IngestTally) -> Iterator[History]:
        db = self._db
        since = options.since if options.since is not None else -_NO_LIMIT
        until = options.until if options.until is not None else _NO_LIMIT
        in_range = "skip_reason = '' AND created_utc >= :since AND created_utc < :until"
        window = {"since": since, "until": until}
        activities = db.execute(
            "SELECT (SELECT COUNT(*) FROM comments WHERE skip_reason = '')"
            " + (SELECT COUNT(*) FROM submissions WHERE skip_reason = '')"
        ).fetchone()[0]
        db.execute(
            "CREATE TEMP TABLE user_counts AS SELECT author, COUNT(*) AS n FROM ("
            f"SELECT author FROM comments WHERE {in_range} UNION ALL SELECT author FROM submissions WHERE {in_range}"
            ") GROUP BY author",
            window,
        )
        counted = db.execute("SELECT COALESCE(SUM(n), 0) FROM user_counts").fetchone()[0]
        tally.skip("outside_time_range", activities - counted)
        below = db.execute("SELECT COALESCE(SUM(n), 0) FROM user_counts WHERE n < ?", (options.min_activities,))
        tally.skip("user_below_min_activities", below.fetchone()[0])
        db.execute(
            "CREATE TEMP TABLE selected AS SELECT author, n FROM user_counts WHERE n >= ? "
            "ORDER BY n DESC, author LIMIT ?",
            (options.min_activities, options.max_users or -1),
        )
        eligible = db.execute("SELECT COALESCE(SUM(n), 0) FROM user_counts WHERE n >= ?", (options.min_activities,))
        kept = db.execute("SELECT COALESCE(SUM(n), 0) FROM selected").fetchone()[0]
        tally.skip("over_max_users", eligible.fetchone()[0] - kept)

        users = [author for (author,) in db.execute("SELECT author FROM selected ORDER BY author")]
        for start in range(0, len(users), USER_BATCH):
            yield from self._build_batch(users[start : start + USER_BATCH], window, options.max_parent_depth)

    def _build_batch(self, authors: list[str], window: dict, max_depth: int) -> Iterator[History]:
        db = self._db
        params = {**window, "authors": json.dumps(authors)}
        comment_rows = db.execute(
            "SELECT c.id, c.author, c.body, c.subreddit, c.link_id, c.parent_id, c.created_utc, c.file, c.line,"
            " s.title, s.selftext, s.author FROM comments c LEFT JOIN submissions s ON s.id = c.link_id"
            f" WHERE {_in_batch('c.')}",
            params,
        ).fetchall()
        submission_rows = db.execute(
            f"SELECT id, author, title, selftext, subreddit, created_utc, file, line FROM submissions"
            f" WHERE {_in_batch('')}",
            params,
        ).fetchall()
        parents = self._fetch_parents((row[5] for row in comment_rows), max_depth)

        by_user: dict[str, list[Activity]] = {author: [] for author in authors}
        for cid, author, body, subreddit, link_id, parent_id, created, file, line, title, selftext, op in comment_rows:
            chain, record_ids = self._chain(parent_id, parents, max_depth)
            by_user[author].append(
                Activity(
                    activity_id=f"t1_{cid}",
                    user_id=author,
                    platform=self.platform,
                    kind="comment",
                    timestamp=created,
                    text=body,
                    context=ThreadContext(subreddit, title or "", selftext or "", op or "", chain),
                    thread_id=f"t3_{link_id}",
                    source=Source(str(self.files[file]), line, [f"t1_{cid}", f"t3_{link_id}", *record_ids]),
                )
            )
        for sid, author, title, selftext, subreddit, created, file, line in submission_rows:
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

    def _fetch_parents(self, parent_ids: Iterable[str], max_depth: int) -> dict[str, tuple[str, str, str]]:
        """Parent comments up to `max_depth` levels: id → (author, body, its parent_id), level by level."""
        found: dict[str, tuple[str, str, str]] = {}
        wanted = {_strip_kind(p) for p in parent_ids if p.startswith("t1_")}
        for _ in range(max_depth):
            wanted -= found.keys()
            if not wanted:
                break
            rows = self._db.execute(
                "SELECT id, author, body, parent_id FROM comments WHERE id IN (SELECT value FROM json_each(?))",
                (json.dumps(list(wanted)),),
            ).fetchall()
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

"""Where the Reddit parser keeps every line's needed fields between reading and joining.

Two indexes with one contract for loading and user selection (`RedditIndex`). `MemoryIndex`
(`reddit_columns.py`) holds the rows as Arrow columns and joins on them: fastest, and used when the
input fits the memory budget. `SqliteIndex` holds them in an on-disk SQLite file whose page cache is
capped at `SQLITE_CACHE_KIB`: memory stays bounded on dumps larger than RAM, at the price of random
reads while joining batch by batch (`user_rows`, `parents`: `RedditParser._build_batch`).

Row shapes (tuples, to keep per-line cost low):
  comment    (id, author, body, subreddit, link_id, parent_id, created_utc, file, line, skip_reason)
  submission (id, author, title, selftext, subreddit, created_utc, file, line, skip_reason)
  activity   comment row's first 9 fields + (thread title, thread selftext, thread author) from the join
"""

from __future__ import annotations

import json
import sqlite3
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

SQLITE_CACHE_KIB = 262144  # 256 MiB page cache: the only part of the disk index held in memory


class RedditIndex(ABC):
    @abstractmethod
    def add(self, comments: list[tuple], submissions: list[tuple]) -> None:
        """Store rows; a repeated id keeps the first row (as in `INSERT OR IGNORE`)."""

    @abstractmethod
    def finish(self) -> tuple[int, Counter]:
        """After the last `add`: (unique rows stored, rows per non-empty skip_reason)."""

    @abstractmethod
    def activity_counts(self, since: int, until: int) -> Iterator[tuple[str, int]]:
        """(author, activities inside [since, until)) for every author with at least one."""

    def close(self) -> None:  # noqa: B027 - optional hook
        pass


_SCHEMA = """
PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=FILE; PRAGMA cache_size=-{cache_kib};
CREATE TABLE submissions (id TEXT PRIMARY KEY, author TEXT, title TEXT, selftext TEXT, subreddit TEXT,
                          created_utc INTEGER, file INTEGER, line INTEGER, skip_reason TEXT) WITHOUT ROWID;
CREATE TABLE comments (id TEXT PRIMARY KEY, author TEXT, body TEXT, subreddit TEXT, link_id TEXT,
                       parent_id TEXT, created_utc INTEGER, file INTEGER, line INTEGER, skip_reason TEXT)
                       WITHOUT ROWID;
"""


def _in_batch(table: str) -> str:
    """SQL: the row is an activity of one of the batch's `:authors` inside the time window."""
    return (
        f"{table}author IN (SELECT value FROM json_each(:authors)) AND {table}skip_reason = ''"
        f" AND {table}created_utc >= :since AND {table}created_utc < :until"
    )


class SqliteIndex(RedditIndex):
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.unlink(missing_ok=True)
        self.db = sqlite3.connect(path)
        self.db.executescript(_SCHEMA.format(cache_kib=SQLITE_CACHE_KIB))

    def add(self, comments: list[tuple], submissions: list[tuple]) -> None:
        with self.db:
            self.db.executemany("INSERT OR IGNORE INTO comments VALUES (?,?,?,?,?,?,?,?,?,?)", comments)
            self.db.executemany("INSERT OR IGNORE INTO submissions VALUES (?,?,?,?,?,?,?,?,?)", submissions)

    def finish(self) -> tuple[int, Counter]:
        self.db.execute("CREATE INDEX comments_author ON comments(author)")
        self.db.execute("CREATE INDEX submissions_author ON submissions(author)")
        skipped: Counter = Counter()
        unique = 0
        for table in ("comments", "submissions"):
            unique += self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for reason, count in self.db.execute(
                f"SELECT skip_reason, COUNT(*) FROM {table} WHERE skip_reason != '' GROUP BY skip_reason"
            ):
                skipped[reason] += count
        return unique, skipped

    def activity_counts(self, since: int, until: int) -> Iterator[tuple[str, int]]:
        in_range = "skip_reason = '' AND created_utc >= :since AND created_utc < :until"
        yield from self.db.execute(
            "SELECT author, COUNT(*) FROM (SELECT author FROM comments WHERE "
            f"{in_range} UNION ALL SELECT author FROM submissions WHERE {in_range}) GROUP BY author",
            {"since": since, "until": until},
        )

    def user_rows(self, authors: list[str], since: int, until: int) -> tuple[list[tuple], list[tuple]]:
        """(activity rows of comments, submission rows) of `authors` inside the window."""
        params = {"since": since, "until": until, "authors": json.dumps(authors)}
        comments = self.db.execute(
            "SELECT c.id, c.author, c.body, c.subreddit, c.link_id, c.parent_id, c.created_utc, c.file, c.line,"
            " COALESCE(s.title, ''), COALESCE(s.selftext, ''), COALESCE(s.author, '')"
            f" FROM comments c LEFT JOIN submissions s ON s.id = c.link_id WHERE {_in_batch('c.')}",
            params,
        ).fetchall()
        submissions = self.db.execute(f"SELECT * FROM submissions WHERE {_in_batch('')}", params).fetchall()
        return comments, submissions

    def parents(self, ids: Iterable[str]) -> list[tuple[str, str, str, str]]:
        """(id, author, body, parent_id) of the comments among `ids` that the input had."""
        return self.db.execute(
            "SELECT id, author, body, parent_id FROM comments WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(list(ids)),),
        ).fetchall()

    def close(self) -> None:
        self.db.close()
        self.path.unlink(missing_ok=True)

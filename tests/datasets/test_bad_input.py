"""Bad input: one clear line naming file and line, the run goes on, nothing is lost, counts add up."""

from __future__ import annotations

import base64
import gzip
import json
import zlib

import pytest
import zstandard
from typer.testing import CliRunner

from uue.cli import app
from uue.datasets.ingest import ingest
from uue.datasets.io import iter_lines
from uue.datasets.options import IngestOptions

from .conftest import head_lines

runner = CliRunner()


def _comment(cid: str, author: str = "alice", body: str = "hello there", parent: str = "t3_s1") -> bytes:
    row = {"id": cid, "author": author, "body": body, "subreddit": "College", "link_id": "t3_s1",
           "parent_id": parent, "created_utc": 1600000000 + int(cid[1:])}  # fmt: skip
    return json.dumps(row).encode()


SUBMISSION = json.dumps(
    {
        "id": "s1",
        "author": "bob",
        "title": "Dorm tips?",
        "selftext": "",
        "subreddit": "College",
        "created_utc": 1599999999,
    }
).encode()


def _quarantine(out) -> list[dict]:
    return [json.loads(line) for line in (out / "quarantine.jsonl").read_text().splitlines()]


def _ingest(tmp_path, lines: list[bytes], name: str = "RC.jsonl"):
    path = tmp_path / name
    path.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out"
    tally = ingest("reddit", [path], out, IngestOptions())
    return tally, out, path


def test_malformed_json_is_quarantined_and_the_run_continues(tmp_path):
    broken = b'{"id": "c2", "author": "alice", "body": "unterminated'
    tally, out, path = _ingest(tmp_path, [SUBMISSION, _comment("c1"), broken, _comment("c3")])
    assert tally.records_written == 3 and tally.skipped == {"malformed_json": 1} and tally.balanced
    (entry,) = _quarantine(out)
    assert entry["raw"] == broken.decode() and entry["line"] == 3 and entry["file"] == str(path)
    assert tally.messages[0].startswith(f"{path}:3: malformed_json")


def test_non_utf8_byte_is_quarantined_verbatim(tmp_path):
    bad = _comment("c2", body="caf\xe9").replace(b"caf\\u00e9", b"caf\xe9")
    tally, out, _ = _ingest(tmp_path, [SUBMISSION, bad, _comment("c3")])
    assert tally.skipped == {"invalid_utf8": 1} and tally.balanced
    (entry,) = _quarantine(out)
    assert base64.b64decode(entry["raw_base64"]) == bad


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (
            b'{"id": "c9", "author": "alice", "subreddit": "x", "link_id": "t3_s1", "parent_id": "t3_s1", '
            b'"created_utc": 1}',
            "missing_field:body",
        ),
        (
            b'{"id": "c9", "author": 7, "body": "b", "subreddit": "x", "link_id": "t3_s1", "parent_id": "t3_s1",'
            b' "created_utc": 1}',
            "invalid_field:author",
        ),
        (
            b'{"id": "c9", "author": "a", "body": "b", "subreddit": "x", "link_id": "t3_s1", "parent_id": "t3_s1",'
            b' "created_utc": "soon"}',
            "invalid_field:created_utc",
        ),
        (
            b'{"id": "c9", "author": "a", "body": "b", "subreddit": "x", "link_id": "t3_s1", "parent_id": "t3_s1",'
            b' "created_utc": 1e30}',
            "invalid_field:created_utc",
        ),
        (
            b'{"id": "c9", "author": "a", "body": "b", "subreddit": "x", "link_id": "t3_s1", "parent_id": "t3_s1",'
            b' "created_utc": -5}',
            "invalid_field:created_utc",
        ),
        (b'{"id": "c9", "author": "a", "subreddit": "x", "created_utc": 1}', "unknown_record_type"),
        (b"[1, 2]", "malformed_json"),
    ],
    ids=[
        "missing-body",
        "author-not-text",
        "bad-timestamp",
        "case-9-timestamp-1e30",
        "negative-timestamp",
        "neither-kind",
        "not-an-object",
    ],  # fmt: skip
)
def test_bad_fields_name_the_field(tmp_path, line, reason):
    tally, out, _ = _ingest(tmp_path, [SUBMISSION, line, _comment("c1")])
    assert tally.skipped == {reason: 1} and tally.records_written == 2 and tally.balanced
    assert _quarantine(out)[0]["reason"] == reason


def test_deleted_and_bot_authors_are_context_but_never_users(tmp_path):
    lines = [SUBMISSION, _comment("c1", author="[deleted]", body="I was here"),
             _comment("c2", author="AutoModerator", parent="t1_c1"), _comment("c3", parent="t1_c2"),
             _comment("c4", body="[removed]")]  # fmt: skip
    tally, out, _ = _ingest(tmp_path, lines)
    assert tally.skipped == {"deleted_author": 1, "bot_author": 1, "deleted_body": 1} and tally.balanced
    from uue.datasets.histories import iter_histories

    users = {h.user_id: h for h in iter_histories(out)}
    assert set(users) == {"alice", "bob"}
    (reply,) = users["alice"].activities
    assert [(p.author, p.text) for p in reply.context.parents] == [("[deleted]", "I was here"),
                                                                    ("AutoModerator", "hello there")]  # fmt: skip


@pytest.mark.parametrize("index", ["memory", "disk"])
def test_duplicate_ids_are_counted_once_and_the_first_row_wins(tmp_path, index):
    from uue.datasets.histories import iter_histories

    path = tmp_path / "RC.jsonl"
    lines = [SUBMISSION, _comment("c1", body="first"), _comment("c2"), _comment("c1", body="second"), b""]
    path.write_bytes(b"\n".join(lines) + b"\n")
    tally = ingest("reddit", [path], tmp_path / "out", IngestOptions(index=index))
    assert tally.skipped == {"duplicate_id": 1, "empty_line": 1} and tally.records_written == 3
    alice = next(h for h in iter_histories(tmp_path / "out") if h.user_id == "alice")
    assert [a.text for a in alice.activities] == ["first", "hello there"]


def test_parent_in_another_file_is_joined(tmp_path):
    (tmp_path / "RS.jsonl").write_bytes(SUBMISSION + b"\n")
    (tmp_path / "RC_a.jsonl").write_bytes(_comment("c1", author="carol", body="first") + b"\n")
    with gzip.open(tmp_path / "RC_b.jsonl.gz", "wb") as fh:
        fh.write(_comment("c2", parent="t1_c1") + b"\n")
    files = [tmp_path / "RC_b.jsonl.gz", tmp_path / "RC_a.jsonl", tmp_path / "RS.jsonl"]
    ingest("reddit", files, tmp_path / "out", IngestOptions())
    from uue.datasets.histories import iter_histories

    (alice,) = iter_histories(tmp_path / "out", users={"alice"})
    assert alice.activities[0].context.parents[0].text == "first"
    assert alice.activities[0].context.title == "Dorm tips?"


def test_truncated_zst_keeps_complete_lines_and_reports_one_line(reddit_files, tmp_path):
    lines = head_lines(reddit_files[1], 3000)
    whole = zstandard.ZstdCompressor().compress(b"".join(lines))
    truncated = tmp_path / "RC_cut.zst"
    truncated.write_bytes(whole[: len(whole) // 2])
    good = tmp_path / "RS_good.jsonl"
    good.write_bytes(SUBMISSION + b"\n")
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["ingest", "reddit", "--comments", str(truncated), "--submissions", str(good), "--out", str(out)]
    )
    # case 7: the complete lines are kept, the good file too, and the report is written
    assert result.exit_code == 0, result.output
    assert "RC_cut.zst" in result.output and "ends early or is corrupt" in result.output
    assert "Traceback" not in result.output
    report = json.loads((out / "report.json").read_text())
    assert 0 < report["lines_read"] < len(lines) + 1 and report["records_written"] > 0


@pytest.mark.parametrize("cut", [0.3, 0.6, 0.9])
def test_truncated_gz_keeps_every_complete_line_before_the_cut(reddit_files, tmp_path, cut):
    # GzipFile dropped its whole last block when the stream ended early ("after line 0")
    lines = head_lines(reddit_files[1], 3000)
    whole = gzip.compress(b"".join(lines))
    path = tmp_path / "RC_cut.jsonl.gz"
    path.write_bytes(whole[: int(len(whole) * cut)])
    readable = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(path.read_bytes())
    complete = readable.count(b"\n")  # what any gzip reader can recover: the lines ended before the cut
    problems: list[str] = []
    got = [raw for _, raw in iter_lines(path, on_truncated=problems.append)]
    assert got[:complete] == [line.removesuffix(b"\n") for line in lines[:complete]]
    assert len(got) in (complete, complete + 1)  # + the cut line's readable start, which the parser rejects
    assert len(problems) == 1 and f"after line {len(got)}" in problems[0]


def test_gz_of_several_members_reads_them_all(tmp_path):
    path = tmp_path / "RC.jsonl.gz"
    path.write_bytes(gzip.compress(b"a\nb\n") + gzip.compress(b"c\n") + b"\x00" * 8)
    assert [raw for _, raw in iter_lines(path)] == [b"a", b"b", b"c"]


def test_crlf_line_is_quarantined_verbatim_and_good_crlf_lines_parse(tmp_path):
    broken = b'{"id": "c2", "author": "alice", "body": "unterminated\r'
    path = tmp_path / "RC.jsonl"
    path.write_bytes(
        b"\r\n".join([SUBMISSION, _comment("c1"), broken.removesuffix(b"\r"), _comment("c3")]) + b"\r\n"
    )
    tally = ingest("reddit", [path], tmp_path / "out", IngestOptions())
    assert tally.records_written == 3 and tally.skipped == {"malformed_json": 1} and tally.balanced
    (entry,) = _quarantine(tmp_path / "out")
    assert entry["raw"].encode() == broken  # the \r of the line is kept


def test_submissions_alone_ingest_their_authors(tmp_path):
    # no comment at all used to end in an IndexError while joining parent chains
    tally, out, _ = _ingest(tmp_path, [SUBMISSION], name="RS.jsonl")
    assert (tally.records_written, tally.users_written) == (1, 1) and tally.balanced


def test_missing_file_is_one_line_and_no_work(tmp_path):
    result = runner.invoke(
        app, ["ingest", "reddit", "--comments", str(tmp_path / "nope.zst"), "--out", str(tmp_path)]
    )
    assert result.exit_code == 2 and "nope.zst: file not found" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "report.json").exists()


def test_empty_file_warns_and_the_run_continues(tmp_path):
    (tmp_path / "empty.jsonl").write_bytes(b"")
    (tmp_path / "RC.jsonl").write_bytes(SUBMISSION + b"\n" + _comment("c1") + b"\n")
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "ingest",
            "reddit",
            "--comments",
            str(tmp_path / "empty.jsonl"),
            "--comments",
            str(tmp_path / "RC.jsonl"),
            "--out",
            str(out),
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    assert "empty.jsonl: file is empty" in result.output
    report = json.loads((out / "report.json").read_text())
    assert report["users_written"] == 2 and report["balanced"]

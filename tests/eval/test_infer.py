"""`uue infer` (uue/eval/infer.py): statements ranked per user, from flags or a file, written as JSON
lines; bad input is one line."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from tests.dev_triplets import write_toy_corpus
from uue.cli import app
from uue.datasets.histories import iter_histories
from uue.eval.infer import InferConfig, run_infer


def test_each_user_gets_its_own_topics_first(tmp_path):
    histories, _ = write_toy_corpus(tmp_path, n_users=12)
    user = next(iter_histories(histories))
    topics = {a.context.community for a in user.activities}
    statements = tmp_path / "statements.txt"
    statements.write_text("# communities\n" + "".join(f"r/{c}\n" for c in sorted(
        ["personalfinance", "MechanicalKeyboards", "Cooking", "running", "gardening", "buildapc"])))  # fmt: skip
    report = run_infer(InferConfig(model="bm25", histories=histories, users=[user.user_id],
                                   statements_file=statements, top_k=2, out=tmp_path / "scores.jsonl"))  # fmt: skip
    (found,) = report.users
    assert report.statements == 6 and len(found.top) == 2
    assert {s.statement.removeprefix("r/") for s in found.top} <= topics
    assert found.top[0].score >= found.top[1].score
    (line,) = (tmp_path / "scores.jsonl").read_text().splitlines()
    assert len(json.loads(line)["top"]) == 6  # the file keeps every statement


def test_cli_prints_rankings_and_refuses_no_statements_or_an_unknown_user(tmp_path):
    histories, _ = write_toy_corpus(tmp_path, n_users=6)
    base = ["infer", "--model", "bm25", "--histories", str(histories)]
    ok = CliRunner().invoke(
        app, [*base, "--statement", "r/Cooking", "--statement", "r/running", "--max-users", "2"]
    )
    assert ok.exit_code == 0, ok.output
    assert ok.output.count("r/Cooking") == 2
    none = CliRunner().invoke(app, base)
    assert none.exit_code != 0 and "no statements" in none.output and "Traceback" not in none.output
    stranger = CliRunner().invoke(app, [*base, "--statement", "x", "--user", "nobody"])
    assert stranger.exit_code != 0 and "nobody" in stranger.output
    missing = CliRunner().invoke(app, [*base, "--statements-file", str(tmp_path / "absent.txt")])
    assert missing.exit_code != 0 and "absent.txt" in missing.output

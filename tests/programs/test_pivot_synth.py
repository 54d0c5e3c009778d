"""`run_synth` end to end: triplet invariants, resume after SIGKILL, and the real offline teacher."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from itertools import islice
from pathlib import Path

import datasets
import pytest

from uue.datasets.ingest import ingest
from uue.datasets.options import IngestOptions
from uue.errors import ConfigError
from uue.programs import scripted
from uue.programs.lm import TeacherConfig
from uue.programs.pivot_synth import PHASE1_FILE, PHASE2_FILE
from uue.programs.scripted import CALL_LOG_ENV, DELAY_ENV, deterministic_reply
from uue.programs.synth import SynthConfig, run_synth

SCRIPTED = TeacherConfig(model="scripted/deterministic")
DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "reddit-college"


def check_triplets(rows: datasets.Dataset, histories_by_user: dict) -> None:
    """Invariants every triplet must hold, whatever the teacher wrote."""
    positives_of = {}
    for row in rows:
        positives_of.setdefault(row["user_id"], set()).add(row["positive"])
    for row in rows:
        assert row["positive"] and row["negative"] and row["positive"] != row["negative"]
        assert row["negative"] not in positives_of[row["user_id"]] or row["negative_source"] == "generated"
        segment = row["segment_activity_ids"]
        assert row["cluster_indices"] and all(0 <= i < len(segment) for i in row["cluster_indices"])
        assert row["cluster_activity_ids"] == [segment[i] for i in row["cluster_indices"]]
        activities = {a.activity_id: a for a in histories_by_user[row["user_id"]].activities}
        for activity_id in row["cluster_activity_ids"]:  # the context excludes the cluster
            text = activities[activity_id].text  # users repeat themselves ("added, thanks"): count
            others = [i for i in segment if i not in row["cluster_activity_ids"]]
            allowed = sum(activities[i].text.startswith(text) for i in others)
            assert row["context"].count(f"SUBJECT: {text}") <= allowed
        assert row["teacher_model"] and row["program_hash"] and row["source_record_ids"] and row["triplet_id"]


@pytest.mark.usefixtures("clean_dspy")
def test_scripted_run_writes_valid_triplets_and_report(tmp_path, histories_dir, histories):
    config = SynthConfig(
        histories=histories_dir,
        out=tmp_path / "out",
        teacher=SCRIPTED,
        max_positives=2,
        candidates=2,
        min_judge_score=0.5,
        track=False,
        progress=False,
    )
    report = run_synth(config)
    rows = datasets.load_from_disk(str(tmp_path / "out" / "triplets"))
    assert report.users == 3 and report.positives == 6 and report.triplets == len(rows) == 6
    check_triplets(rows, {h.user_id: h for h in histories})
    negative_users = {p: row["user_id"] for row in rows for p in [row["positive"]]}
    assert all(negative_users.get(row["negative"]) != row["user_id"] for row in rows)
    assert all(row["judge_score"] == pytest.approx(0.75) for row in rows)
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["llm"]["calls"] == 6 + 6 + 6  # pivot rounds, judge, rerank
    assert saved["made_by"]["command"] == "uue synth" and saved["failures"] == {}

    again = run_synth(config)
    assert again.llm_this_run.calls == 0 and again.triplets == 6
    assert again.llm.model_dump() == saved["llm"]  # the job's figures are those of the finished units


@pytest.mark.usefixtures("clean_dspy")
def test_generated_negatives(tmp_path, histories_dir, histories):
    config = SynthConfig(
        histories=histories_dir,
        out=tmp_path / "out",
        teacher=SCRIPTED,
        max_positives=1,
        negatives="generated",
        track=False,
        progress=False,
    )
    run_synth(config)
    rows = datasets.load_from_disk(str(tmp_path / "out" / "triplets"))
    assert len(rows) == 3 and set(rows["negative_source"]) == {"generated"}
    assert all(math.isnan(score) for score in rows["judge_score"])  # not judged
    check_triplets(rows, {h.user_id: h for h in histories})


@pytest.mark.usefixtures("clean_dspy")
def test_a_failed_rerank_keeps_the_triplet_with_a_sampled_negative(tmp_path, histories_dir, monkeypatch):
    def junk_rankings(prompt: str, fields: list[str]) -> str:
        return json.dumps({"ranking": [99]}) if "ranking" in fields else deterministic_reply(prompt, fields)

    monkeypatch.setattr(scripted, "deterministic_reply", junk_rankings)
    config = SynthConfig(
        histories=histories_dir, out=tmp_path / "out", teacher=SCRIPTED, max_positives=1, candidates=2,
        track=False, progress=False,
    )  # fmt: skip
    report = run_synth(config)
    rows = datasets.load_from_disk(str(tmp_path / "out" / "triplets"))
    assert len(rows) == report.positives == 3 and set(rows["negative_source"]) == {"sampled"}
    assert report.failures == {"phase2:rank_out_of_range:kept_with_sampled_negative": 3}


def test_a_local_teacher_refuses_parallel_workers(tmp_path):
    with pytest.raises(
        ValueError, match="--workers is for remote teachers: a local model batches --parallel"
    ):
        SynthConfig(histories=tmp_path, out=tmp_path, workers=2)


SYNTH_SCRIPT = """
import sys
from pathlib import Path
from uue.programs.lm import TeacherConfig, ensure_offline_defaults
ensure_offline_defaults()
from uue.programs.synth import SynthConfig, run_synth
run_synth(SynthConfig(histories=Path(sys.argv[1]), out=Path(sys.argv[2]),
    teacher=TeacherConfig(model="scripted/deterministic"), max_positives=2, candidates=2,
    track=False, progress=False))
"""


def resume_config(histories_dir: Path, out: Path) -> SynthConfig:
    """The in-process twin of SYNTH_SCRIPT's config."""
    return SynthConfig(
        histories=histories_dir,
        out=out,
        teacher=SCRIPTED,
        max_positives=2,
        candidates=2,
        track=False,
        progress=False,
    )


def finished_units(out: Path) -> int:
    return sum(
        len((out / name).read_text().splitlines())
        for name in (PHASE1_FILE, PHASE2_FILE)
        if (out / name).exists()
    )


def test_kill_and_resume_equals_an_uninterrupted_run(tmp_path, histories_dir, monkeypatch):
    """SIGKILL a run (a subprocess) after 4 finished units (of 3 users + 6 positives), rerun: same
    triplets, and every teacher call reached the engine once across both runs (the scripted engine
    logs them). The uninterrupted run and the resume run in-process: one subprocess start, not three."""
    whole, whole_log = tmp_path / "whole", tmp_path / "whole.log"
    monkeypatch.setenv(CALL_LOG_ENV, str(whole_log))
    run_synth(resume_config(histories_dir, whole))

    resumed, resumed_log = tmp_path / "resumed", tmp_path / "resumed.log"
    env = {**os.environ, CALL_LOG_ENV: str(resumed_log), DELAY_ENV: "0.2"}
    process = subprocess.Popen(
        [sys.executable, "-c", SYNTH_SCRIPT, str(histories_dir), str(resumed)], env=env
    )
    deadline = time.monotonic() + 120
    while finished_units(resumed) < 4 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 4 <= finished_units(resumed) < 9 and not (resumed / "triplets").exists()
    monkeypatch.setenv(CALL_LOG_ENV, str(resumed_log))
    report = run_synth(resume_config(histories_dir, resumed))

    one = datasets.load_from_disk(str(whole / "triplets")).to_list()
    two = datasets.load_from_disk(str(resumed / "triplets")).to_list()
    assert json.dumps(one) == json.dumps(two) and len(one) == 6  # json: NaN judge scores compare equal
    calls_whole = whole_log.read_text().splitlines()
    calls_resumed = resumed_log.read_text().splitlines()
    assert sorted(calls_resumed) == sorted(calls_whole)  # no call repeated, none missing
    assert report.llm_this_run.generated_calls < len(calls_whole)  # the resume did what was left
    # The job's figures add up over both invocations: every call counted once, whichever ran it.
    assert report.llm.calls == json.loads((whole / "report.json").read_text())["llm"]["calls"]


def head_of_dump(source: Path, target: Path, lines: int) -> Path:
    """The first `lines` records of a .zst dump, as a new .zst file."""
    import io

    import zstandard

    with (
        open(source, "rb") as file,
        zstandard.ZstdDecompressor(max_window_size=2**31).stream_reader(file) as raw,
    ):
        head = "".join(islice(io.TextIOWrapper(raw, encoding="utf-8"), lines))
    target.write_bytes(zstandard.ZstdCompressor().compress(head.encode("utf-8")))
    return target


@pytest.fixture(scope="session")
def real_histories(tmp_path_factory, shared_data):
    """Three real users from the first lines of the shared reddit-college dumps (~5 s, where
    ingesting the whole dumps took ~40 s)."""
    files = [DATA / "RS_reddit-college.zst", DATA / "RC_reddit-college.zst"]
    missing = [str(f) for f in files if not f.exists()]
    assert not missing, f"the shared reddit-college dumps are missing: {missing}"
    root = tmp_path_factory.mktemp("real")
    sample = [
        head_of_dump(files[0], root / "RS_head.zst", 20_000),
        head_of_dump(files[1], root / "RC_head.zst", 40_000),
    ]
    ingest("reddit", sample, root / "ingested", IngestOptions(min_activities=6, max_users=3))
    return root / "ingested"


@pytest.mark.slow
@pytest.mark.usefixtures("clean_dspy")
def test_real_offline_teacher_end_to_end(tmp_path, real_histories):
    """The 0.5B teacher on three real users writes at least one triplet, and every triplet holds the
    invariants. ~10 teacher calls; 2-5 minutes on 2 busy CPU cores."""
    from uue.datasets.histories import iter_histories

    config = SynthConfig(
        histories=real_histories,
        out=tmp_path / "out",
        max_users=3,
        max_positives=1,
        segment_size=5,
        segment_budget=400,
        context_budget=200,
        candidates=2,
        track=False,
        progress=False,
        teacher=TeacherConfig(max_tokens=120),
    )
    report = run_synth(config)
    rows = datasets.load_from_disk(str(tmp_path / "out" / "triplets"))
    assert report.users == 3 and report.triplets == len(rows) >= 1, report
    assert report.llm.generated_calls > 0
    check_triplets(rows, {h.user_id: h for h in iter_histories(real_histories)})
    assert set(rows["teacher_model"]) == {"local/qwen2.5-coder-0.5b"}
    for row in rows:
        assert row["positive"] != row["positive_broad"] and len(row["positive"].split()) <= 16


@pytest.mark.usefixtures("clean_dspy")
def test_case_3_a_teacher_that_cannot_be_called_marks_no_user_finished(tmp_path, histories_dir):
    from uue.errors import TeacherError

    bad = SynthConfig(histories=histories_dir, out=tmp_path / "s", track=False, progress=False,
                      teacher=TeacherConfig(model="notaprovider/xyz", num_retries=0))  # fmt: skip
    with pytest.raises(TeacherError, match="teacher call failed"):
        run_synth(bad)
    store = tmp_path / "s" / PHASE1_FILE
    assert not store.is_file() or store.read_text() == ""  # a rerun with a good teacher asks again
    good = run_synth(bad.model_copy(update={"teacher": TeacherConfig(model="scripted/deterministic")}))
    assert good.triplets > 0


@pytest.mark.usefixtures("clean_dspy")
def test_case_4_a_resume_with_other_result_settings_is_refused_by_name(tmp_path, histories_dir):
    config = SynthConfig(histories=histories_dir, out=tmp_path / "s", teacher=SCRIPTED, max_positives=1,
                         track=False, progress=False)  # fmt: skip
    run_synth(config)
    changed = config.model_copy(update={"max_positives": 2})
    with pytest.raises(ConfigError, match=r"max_positives 1 -> 2.*--force-restart"):
        run_synth(changed)
    again = run_synth(changed.model_copy(update={"force_restart": True}))
    assert again.positives > again.users  # redone with two positives a user, not the old single one
    assert run_synth(changed.model_copy(update={"max_users": 2})).users == 2  # choosing users is no change


@pytest.mark.usefixtures("clean_dspy")
def test_no_secret_from_the_environment_is_written_anywhere(tmp_path, histories_dir, monkeypatch):
    secret = "sk-uue-test-0123456789abcdef"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    run_synth(SynthConfig(histories=histories_dir, out=tmp_path / "s", teacher=SCRIPTED, progress=False))
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "mlflow.db" for p in written) and any(p.name == "report.json" for p in written)
    assert not [p for p in written if secret.encode() in p.read_bytes()]

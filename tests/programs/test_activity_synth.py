"""`uue synth --mode activity` end to end with the scripted teacher: labels file, rebuild, invariants."""

from __future__ import annotations

import json
import math

import datasets
import pytest
from typer.testing import CliRunner

from uue.cli import app
from uue.errors import InputError
from uue.programs.activity_synth import LABEL_STORE, LABELS_FILE
from uue.programs.labels import read_labels, write_labels
from uue.programs.lm import TeacherConfig
from uue.programs.synth import SynthConfig, run_synth

SCRIPTED = TeacherConfig(model="scripted/deterministic")


def activity_config(histories_dir, out, **overrides) -> SynthConfig:
    settings = dict(
        histories=histories_dir,
        out=out,
        teacher=SCRIPTED,
        mode="activity",
        negatives="mined",
        candidates=4,
        track=False,
        progress=False,
    )
    return SynthConfig(**(settings | overrides))


@pytest.fixture
def labelled(tmp_path, histories_dir):
    report = run_synth(activity_config(histories_dir, tmp_path / "teacher"))
    return report, tmp_path / "teacher"


@pytest.mark.usefixtures("clean_dspy")
def test_labels_and_triplets_hold_their_invariants(labelled, histories):
    report, out = labelled
    labels = read_labels(out / LABELS_FILE)
    # 12 activities, "thanks, that helps a lot" is the one nothing-to-label; each needs another thread
    assert (report.activities_chosen, report.labelled, report.nothing) == (12, 11, 1)
    assert report.llm.calls == 12 and report.failures == {}
    assert all(
        set(json.loads(label.model_dump_json()))
        == {"activity_id", "specific", "broad", "nothing", "teacher_model", "program_hash"}
        for label in labels
    )
    rows = datasets.load_from_disk(str(out / "triplets"))
    # every label has a query; a query whose candidates all look like its own interests gets no triplet
    assert report.empty_queries == 0 and report.no_negative <= 2
    assert len(rows) == report.triplets == 11 - report.no_negative
    by_user = {h.user_id: h for h in histories}
    own = {}
    for row in rows:
        own.setdefault(row["user_id"], set()).add(row["positive"])
    for row in rows:
        assert row["context"].strip(), "no triplet may have an empty query"
        assert row["negative"] not in own[row["user_id"]] and row["negative_source"] == "mined"
        thread = {a.activity_id: a.text for a in by_user[row["user_id"]].activities}
        for activity_id in row["cluster_activity_ids"]:  # the query leaves the labelled thread out
            assert thread[activity_id] not in row["context"]
            assert activity_id not in row["segment_activity_ids"]


@pytest.mark.usefixtures("clean_dspy")
def test_the_labels_file_rebuilds_the_same_triplets_without_the_teacher(labelled, tmp_path, histories_dir):
    _, teacher_out = labelled
    rebuilt = run_synth(
        activity_config(
            histories_dir,
            tmp_path / "rebuilt",
            teacher=TeacherConfig(model="no-such/model"),
            labels=teacher_out / LABELS_FILE,
        )
    )
    assert rebuilt.llm.calls == 0 and rebuilt.llm_this_run.calls == 0
    first = datasets.load_from_disk(str(teacher_out / "triplets")).to_list()
    again = datasets.load_from_disk(str(tmp_path / "rebuilt" / "triplets")).to_list()
    assert all(math.isnan(row.pop("judge_score")) for row in [*first, *again])  # NaN != NaN
    assert again == first and len(first) >= 9


@pytest.mark.usefixtures("clean_dspy")
def test_each_user_side_rebuilds_exactly_its_users_triplets(labelled, tmp_path, histories_dir):
    from uue.eval.split import is_held_out

    _, teacher_out = labelled
    every = set(datasets.load_from_disk(str(teacher_out / "triplets"))["user_id"])
    fraction = next(  # a share that puts users on both sides of this small corpus's hash split
        f
        for f in (0.5, 0.3, 0.7, 0.2, 0.8, 0.1, 0.9)
        if 0 < sum(is_held_out(u, f, 0) for u in every) < len(every)
    )
    users = {}
    for side in ("train", "held-out"):
        out = tmp_path / side
        run_synth(
            activity_config(
                histories_dir, out, labels=teacher_out / LABELS_FILE, user_side=side, valid_fraction=fraction
            )
        )
        users[side] = set(datasets.load_from_disk(str(out / "triplets"))["user_id"])
    held_out = {u for u in every if is_held_out(u, fraction, 0)}
    assert users["train"] == every - held_out  # the training side keeps its users' triplets, none other
    assert users["held-out"] <= held_out  # a lone held-out user has no other's label to mine a negative


@pytest.mark.usefixtures("clean_dspy")
def test_a_rerun_resumes_with_no_new_call(labelled, histories_dir):
    report, out = labelled
    again = run_synth(activity_config(histories_dir, out))
    assert again.llm_this_run.calls == 0 and again.triplets == report.triplets
    assert len((out / LABEL_STORE).read_text().splitlines()) == 12


@pytest.mark.usefixtures("clean_dspy")
def test_a_lost_out_resumes_from_a_labels_file_of_the_same_teacher(labelled, tmp_path, histories_dir):
    report, out = labelled
    labels = read_labels(out / LABELS_FILE)
    kept = tmp_path / "kept.jsonl"  # what a session commits: all labels but the first two
    other = labels[2].model_copy(update={"teacher_model": "another/teacher"})  # never adopted
    write_labels(kept, [other, *labels[3:]])
    again = run_synth(activity_config(histories_dir, tmp_path / "fresh", resume_labels=kept))
    # 12 units: 9 adopted; the 2 left out and the one of another teacher are asked again
    assert again.llm_this_run.calls == 12 - len(labels[3:])
    assert read_labels(tmp_path / "fresh" / LABELS_FILE) == labels
    assert again.triplets == report.triplets


def test_a_bad_labels_line_names_the_line_and_field(tmp_path):
    path = tmp_path / "labels.jsonl"
    good = {
        "activity_id": "a",
        "specific": "x",
        "broad": "y",
        "nothing": False,
        "teacher_model": "m",
        "program_hash": "h",
    }
    path.write_text(
        json.dumps(good) + "\n" + json.dumps({**good, "activity_id": "b", "nothing": "maybe"}) + "\n"
    )
    with pytest.raises(InputError, match=r"labels.jsonl:2: field 'nothing'"):
        read_labels(path)


def test_mined_and_labels_belong_to_activity_mode(tmp_path):
    with pytest.raises(ValueError, match="belong to --mode activity"):
        SynthConfig(histories=tmp_path, out=tmp_path, negatives="mined")
    with pytest.raises(ValueError, match="without the teacher"):
        SynthConfig(histories=tmp_path, out=tmp_path, mode="activity", labels=tmp_path / "l.jsonl")


@pytest.mark.usefixtures("clean_dspy")
def test_the_cli_wires_activity_mode_and_rejects_mined_negatives_in_pivot_mode(tmp_path, histories_dir):
    from typer.testing import CliRunner

    from uue.cli import app

    common = ["synth", "--histories", str(histories_dir), "--teacher", "scripted/deterministic"]
    done = CliRunner().invoke(
        app, [*common, "--out", str(tmp_path / "a"), "--mode", "activity", "--negatives", "mined"]
    )
    assert done.exit_code == 0, done.output
    assert (tmp_path / "a" / LABELS_FILE).is_file() and "triplets from 3 users" in done.output
    wrong = CliRunner().invoke(app, [*common, "--out", str(tmp_path / "b"), "--negatives", "mined"])
    assert wrong.exit_code == 2 and "belong to --mode activity" in wrong.output
    assert "Traceback" not in wrong.output


@pytest.mark.usefixtures("clean_dspy")
def test_a_teacher_that_cannot_be_called_stops_the_run_and_marks_nothing_finished(tmp_path, histories_dir):
    from uue.errors import TeacherError

    config = activity_config(
        histories_dir, tmp_path / "bad", teacher=TeacherConfig(model="notaprovider/xyz", num_retries=0)
    )
    with pytest.raises(TeacherError, match="teacher call failed"):
        run_synth(config)
    assert not (tmp_path / "bad" / LABEL_STORE).is_file() or not (tmp_path / "bad" / LABEL_STORE).read_text()


@pytest.mark.usefixtures("clean_dspy")
def test_a_rerun_prints_the_calls_it_made_not_the_jobs(tmp_path, histories_dir):
    args = ["synth", "--mode", "activity", "--negatives", "mined", "--histories", str(histories_dir),
            "--out", str(tmp_path / "a"), "--teacher", "scripted/deterministic", "--no-track", "--no-progress"]  # fmt: skip
    first = CliRunner().invoke(app, args)
    again = CliRunner().invoke(app, args)
    assert first.exit_code == again.exit_code == 0, again.output
    assert "0 LLM calls this run" in again.output.replace("\n", " ")
    assert "0 LLM calls this run" not in first.output.replace("\n", " ")


@pytest.mark.usefixtures("clean_dspy")
@pytest.mark.parametrize(("sample", "traced"), [(1.0, True), (0.0, False)])
def test_the_synth_run_traces_its_teacher_calls_at_the_sampled_rate(
    tmp_path, histories_dir, sample, traced, monkeypatch
):
    import mlflow

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    config = activity_config(histories_dir, tmp_path / "t", track=True, trace_sample=sample)
    run_synth(config)
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.get_experiment_by_name("uue-synth")
    traces = mlflow.search_traces(locations=[experiment.experiment_id], return_type="list")
    assert (len(traces) >= 12) if traced else not traces  # 12 labelled activities, each a module call
    (run,) = mlflow.search_runs([experiment.experiment_id], output_format="list")
    (dataset,) = run.inputs.dataset_inputs  # the triplets written, as train and bench will log them
    assert dataset.tags[0].value == "output" and run.data.tags["uue.dataset"] == str(config.out.resolve())

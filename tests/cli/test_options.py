"""CLI options come from the configs: the same defaults and help, choices validated before any work."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from uue.cli import app
from uue.cli.options import config_options
from uue.optimizers.compile_config import CompileConfig
from uue.programs.synth_config import SynthConfig
from uue.trainers.student_config import TrainConfig

runner = CliRunner()


@pytest.mark.parametrize("model", [SynthConfig, TrainConfig, CompileConfig])
def test_every_generated_option_has_the_fields_default_and_help(model):
    names = [n for n in model.model_fields if n not in ("teacher", "prompt_model", "tracking_uri")]
    for parameter in config_options(model, names):
        field = model.model_fields[parameter.name]
        option = parameter.annotation.__metadata__[0]
        assert option.help == (field.description or "")
        if not field.is_required() and field.default_factory is None:
            default = field.default.value if hasattr(field.default, "value") else field.default
            assert parameter.default in (default, "none" if default is None else default)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["embed", "--model", "minilm", "--histories", "h", "--out", "o.parquet", "--pooling", "bogus"], "'bogus' is not one of"),
        (["train", "--out", "o", "--loss", "hinge"], "'hinge' is not one of"),
        (["synth", "--histories", "h", "--out", "o", "--negatives", "random"], "'random' is not one of"),
        (["compile", "--program", "cluster", "--out", "o.json", "--optimizer", "adam"], "'adam' is not one of"),
        (["ingest", "reddit", "x.jsonl", "--out", "o", "--index", "ram"], "'ram' is not one of"),
        (["ingest", "myspace", "x.jsonl", "--out", "o"], "'myspace' is not one of"),
    ],
)  # fmt: skip
def test_an_unknown_choice_is_a_usage_error_before_any_work(args, message, tmp_path):
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and message in result.output.replace("\n", " ")
    assert "Traceback" not in result.output


def test_a_bad_value_names_its_option_in_one_line():
    result = runner.invoke(app, ["train", "--out", "o", "--triplets", "t", "--matryoshka-dims", "32,x"])
    assert result.exit_code == 2
    assert "--matryoshka-dims" in result.output and "32,x" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_none_clears_an_optional_choice(monkeypatch):
    seen = {}
    monkeypatch.setattr(
        "uue.optimizers.compile.compile_program", lambda config: seen.setdefault("c", config) and {}
    )
    runner.invoke(app, ["compile", "--program", "cluster", "--out", "o.json", "--histories", "h", "--auto", "none", "--max-metric-calls", "3", "--optimizer", "gepa"])  # fmt: skip
    assert seen["c"].auto is None and seen["c"].max_metric_calls == 3


def test_the_prompt_model_is_a_name_served_where_the_teacher_is(monkeypatch):
    seen = {}
    monkeypatch.setattr(
        "uue.optimizers.compile.compile_program", lambda config: seen.setdefault("c", config) and {}
    )
    runner.invoke(app, ["compile", "--program", "cluster", "--out", "o.json", "--histories", "h", "--teacher", "openai/t", "--api-base", "http://host:1/v1", "--prompt-model", "openai/big"])  # fmt: skip
    proposer = seen["c"].prompt_model
    assert (proposer.model, proposer.api_base) == ("openai/big", "http://host:1/v1")


def test_bench_task_options_share_the_task_configs_defaults(monkeypatch):
    from uue.eval.tasks import TaskConfig

    seen = {}
    monkeypatch.setattr("uue.eval.suite.run_suite", lambda config, tasks, task_config, on_model: seen.update(
        config=config, task_config=task_config) or (_ for _ in ()).throw(SystemExit(0)))  # fmt: skip
    runner.invoke(app, ["bench", "--triplets", "t", "--held-out", "--task", "reid", "--histories", "h"])
    defaults = TaskConfig(histories="h")
    assert seen["task_config"].valid_fraction == defaults.valid_fraction == seen["config"].valid_fraction
    assert seen["task_config"].max_users == defaults.max_users
    result = runner.invoke(app, ["bench", "--triplets", "t", "--task", "reid"])
    assert result.exit_code == 2 and "--task needs --histories" in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.startswith("uue ")


def test_data_in_messages_is_not_rich_markup(tmp_path):
    """An error naming `[bold]` or `:id:` prints them as written (rich markup and emoji codes escaped)."""
    missing = tmp_path / "[bold]x:id:"
    result = runner.invoke(app, ["similar", "u0", "--embeddings", str(missing)])
    assert result.exit_code == 2 and "[bold]x:id:" in result.output


def test_case_8_the_teacher_call_timeout_and_retries_are_options(monkeypatch):
    seen = {}
    monkeypatch.setattr("uue.programs.synth.run_synth", lambda config: seen.setdefault("c", config))
    runner.invoke(app, ["synth", "--histories", "h", "--out", "o", "--call-timeout", "20", "--retries", "0"])
    assert (seen["c"].teacher.timeout_s, seen["c"].teacher.num_retries) == (20.0, 0)


def test_case_12_teacher_errors_are_one_line_with_the_fix_and_no_secret(monkeypatch):
    from dspy.utils.exceptions import LMAuthError

    from uue.cli.app import teacher_error_line

    monkeypatch.setenv("MY_PROVIDER_KEY", "abcd1234secretvalue")
    error = LMAuthError("401: bad key abcd1234secretvalue\n  (300 more lines of transport detail)", model="m")
    line = teacher_error_line(error)
    assert "\n" not in line and "abcd1234secretvalue" not in line and "[redacted]" in line
    assert "LMAuthError" in line and "API key" in line
    monkeypatch.setattr("uue.programs.synth.run_synth", lambda config: (_ for _ in ()).throw(error))
    result = runner.invoke(app, ["synth", "--histories", "h", "--out", "o"])
    assert (
        result.exit_code == 2
        and "Traceback" not in result.output
        and "abcd1234secretvalue" not in result.output
    )


def test_case_13_an_out_that_is_a_file_is_one_line(tmp_path):
    comments = tmp_path / "RC.jsonl"
    comments.write_text(
        '{"id": "c1", "author": "al", "body": "hi there", "subreddit": "C", "link_id": "t3_s1", '
        '"parent_id": "t3_s1", "created_utc": 1600000001}\n'
    )
    taken = tmp_path / "a-file"
    taken.write_text("mine\n")
    for out in (taken, taken / "sub"):
        result = runner.invoke(app, ["ingest", "reddit", "--comments", str(comments), "--out", str(out)])
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        assert f"{taken}: is a file, not a folder" in " ".join(result.output.split())
    assert taken.read_text() == "mine\n"


def test_a_yaml_config_fills_the_options_and_a_flag_beside_it_wins(monkeypatch, tmp_path):
    seen = {}
    monkeypatch.setattr("uue.twotower.train.train_two_tower", lambda config: seen.setdefault("c", config))
    settings = tmp_path / "tower.yaml"
    settings.write_text(
        "histories: h\nlabels: l.jsonl\nout: o\nmax-steps: 10\nnegatives: hard\nshare_encoder: true\n"
    )
    runner.invoke(app, ["train-two-tower", "--config", str(settings), "--max-steps", "3"])
    config = seen["c"]
    assert (str(config.histories), str(config.labels), str(config.out)) == ("h", "l.jsonl", "o")
    assert config.max_steps == 3 and config.negatives.value == "hard" and config.share_encoder


@pytest.mark.parametrize(
    ("text", "message"),
    [("bogus_field: 1\n", "unknown option 'bogus_field'"), ("- a\n- b\n", "expected a mapping"),
     ("negatives: sideways\nhistories: h\nlabels: l\nout: o\n", "'sideways' is not one of")],
)  # fmt: skip
def test_a_bad_yaml_config_is_a_one_line_usage_error(tmp_path, text, message):
    settings = tmp_path / "tower.yaml"
    settings.write_text(text)
    result = runner.invoke(app, ["train-two-tower", "--config", str(settings)])
    assert result.exit_code == 2 and message in " ".join(result.output.split())
    assert "Traceback" not in result.output

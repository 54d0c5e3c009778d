"""`uue compile` on a scripted teacher: demos are set, the input is untouched, the saved program
round-trips and loads in `uue synth`, and the MLflow run holds before/after scores."""

from __future__ import annotations

import inspect
import json

import dspy
import mlflow
import pytest
from typer.testing import CliRunner

from tests.optimizers.conftest import oracle_reply
from uue.cli import app
from uue.optimizers import compile as compile_module
from uue.optimizers.compile import CompileConfig, MetricName, compile_program, report_path
from uue.optimizers.compile_config import METRICS_OF, ProgramPart
from uue.optimizers.metrics import Metric
from uue.optimizers.optimizers import (
    CompileJob,
    CountedMetric,
    part_of_program,
    run_optimizer,
    with_base_demos,
)
from uue.optimizers.references import Split, split_cases, write_cases
from uue.programs.behaviours import compilable
from uue.programs.lm import TeacherConfig
from uue.programs.pivot import ClusterF1, cluster_examples
from uue.programs.program import SynthProgram, load_program, program_hash
from uue.programs.scripted import scripted_lm
from uue.programs.synth import SynthConfig, run_synth

SCRIPTED = TeacherConfig(model="scripted/deterministic")


@pytest.fixture(scope="module")
def splits(real_cases):
    return split_cases(real_cases, seed=0)


@pytest.fixture
def oracle(splits):
    """Right about every training segment and every other validation segment."""
    known = [*splits[Split.train], *splits[Split.val][::2]]
    return scripted_lm(
        oracle_reply({c.segment.text.strip(): list(c.thread) for c in known}), model="scripted/oracle"
    )


@pytest.fixture
def reference_files(splits, tmp_path):
    paths = {split: tmp_path / f"{split.value}.jsonl" for split in (Split.train, Split.val)}
    for split, path in paths.items():
        write_cases(splits[split][:8], path)
    return paths


def predictions(module, examples):
    return [(p.related, p.specific, p.broad) for p in (module(**e.inputs()) for e in examples)]


def test_bootstrap_returns_a_copy_with_demos_that_round_trips(splits, oracle, tmp_path):
    student = SynthProgram().pivot
    train, val = cluster_examples(splits[Split.train][:6]), cluster_examples(splits[Split.val][:6])
    handwritten = list(student.predict.demos)
    config = CompileConfig(
        program="cluster", out=tmp_path / "p.json", trainset=tmp_path, valset=tmp_path, max_demos=2
    )
    metric = ClusterF1()
    with dspy.context(lm=oracle, adapter=dspy.JSONAdapter()):
        compiled = run_optimizer(
            config, CompileJob(student, train, val, CountedMetric(metric), oracle, oracle)
        )
    assert student.predict.demos == handwritten  # the input is never changed
    assert compiled is not student and len(compiled.predict.demos) == 2  # optimizers reset demos
    assert all(isinstance(d.segment, str) and d.related for d in compiled.predict.demos)
    with_base_demos(compiled, student)
    assert compiled.predict.demos[: len(handwritten)] == handwritten and len(
        compiled.predict.demos
    ) == 2 + len(handwritten)

    program = SynthProgram()
    program.pivot = part_of_program(compiled)
    program.save(str(tmp_path / "p.json"))
    loaded = load_program(tmp_path / "p.json")
    assert [(d["segment"], d["related"]) for d in loaded.pivot.predict.demos] == [
        (d["segment"], d["related"]) for d in compiled.predict.demos
    ]
    assert program_hash(loaded) == program_hash(program)
    with dspy.context(lm=oracle, adapter=dspy.JSONAdapter()):
        first = predictions(compiled, val)
        calls = len(oracle.engine.prompts)
        again = predictions(loaded.pivot, val)
    assert again == first
    assert len(oracle.engine.prompts) == calls  # identical prompts: every call came from the cache


@pytest.mark.parametrize(("demo_threshold", "bootstrapped"), [(None, 0), (0.0, 2)])
def test_demo_threshold_decides_which_traces_become_demos(splits, demo_threshold, bootstrapped, tmp_path):
    """A teacher that clusters the pivot alone scores F1 <= 2/3 on these threads (2+ activities):
    under the default bar (0.8) no trace becomes a demo; with --demo-threshold 0 every one may."""
    pivot_alone = scripted_lm(oracle_reply({}), model="scripted/pivot-alone")
    config = CompileConfig(
        program="cluster", out=tmp_path / "p.json", trainset=tmp_path, valset=tmp_path, max_demos=2,
        demo_threshold=demo_threshold,
    )  # fmt: skip
    metric = compile_module.make_metric(MetricName.f1, [], seed=0, demo_threshold=config.demo_threshold)
    train, val = cluster_examples(splits[Split.train][:6]), cluster_examples(splits[Split.val][:2])
    with dspy.context(lm=pivot_alone, adapter=dspy.JSONAdapter()):
        job = CompileJob(SynthProgram().pivot, train, val, CountedMetric(metric), pivot_alone, pivot_alone)
        compiled = run_optimizer(config, job)
    assert len(compiled.predict.demos) == bootstrapped


@pytest.mark.parametrize("optimizer", ["random-search", "mipro"])
def test_search_optimizers_run_on_the_reference_sets(splits, optimizer, tmp_path):
    """BootstrapFewShotWithRandomSearch and MIPROv2 (instructions proposed by the prompt model, chosen
    with optuna) run end to end and return a compiled copy; the oracle is right on train segments."""
    # The teacher clusters right only under the proposed instruction, so a MIPROv2 that uses its
    # proposal scores higher than one that keeps the hand-written instruction.
    proposed = "Cluster the activities of the pivot's thread."
    known = {c.segment.text.strip(): list(c.thread) for c in splits[Split.train] + splits[Split.val]}
    answer_right, answer_pivot_only = oracle_reply(known), oracle_reply({})

    asked: set[str] = set()

    def reply(prompt: str, fields: list[str]) -> str:  # MIPROv2's proposer asks for free text too
        asked.update(fields)
        if {"related", "ranking", "faithfulness"} & set(fields):
            return (answer_right if proposed in prompt else answer_pivot_only)(prompt, fields)
        return json.dumps({field: proposed for field in fields})

    lm = scripted_lm(reply, model=f"scripted/{optimizer}")
    config = CompileConfig(
        program="cluster", optimizer=optimizer, out=tmp_path / "p.json", trainset=tmp_path, valset=tmp_path,
        auto=None, num_candidates=2, max_demos=1,
    )  # fmt: skip
    metric = ClusterF1()
    student = SynthProgram().pivot
    train, val = cluster_examples(splits[Split.train][:6]), cluster_examples(splits[Split.val][:4])
    counted = CountedMetric(metric)
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        compiled = run_optimizer(config, CompileJob(student, train, val, counted, lm, lm))
    assert compiled is not student and counted.calls > len(val)  # candidates were scored on the valset
    if optimizer == "random-search":  # zero-shot, labelled-only, unshuffled + one per candidate seed
        assert len(compiled.candidate_programs) == 3 + config.num_candidates
    else:
        valset_passes = 1 + 2 * config.num_candidates  # the baseline, then num_trials
        assert counted.calls >= len(val) * valset_passes
        assert asked - {"related"}, "the proposer was never asked for an instruction"
        assert compiled.predict.signature.instructions == proposed


def test_compile_writes_program_report_and_mlflow_run(reference_files, oracle, tmp_path, monkeypatch):
    monkeypatch.setattr(compile_module, "build_lm", lambda config: oracle)
    out = tmp_path / "compiled" / "cluster.json"
    config = CompileConfig(
        program="cluster",
        optimizer="bootstrap",
        out=out,
        trainset=reference_files[Split.train],
        valset=reference_files[Split.val],
        teacher=SCRIPTED,
        max_demos=2,
    )
    report = compile_program(config)
    assert report.demos == {"predict": 2 + len(SynthProgram().pivot.predict.demos)}
    assert 0.0 < report.before <= 1.0 and report.after == pytest.approx(report.before)
    assert report.metric_calls >= 2 and report.llm.calls > 0
    assert report.teacher_model == "scripted/deterministic"
    assert report.made_by["command"] == "uue compile"
    assert json.loads(report_path(out).read_text())["program_hash"] == program_hash(load_program(out))

    runs = mlflow.search_runs(experiment_names=["uue-compile"], output_format="list")
    run = next(r for r in runs if r.data.tags.get("program_hash") == report.program_hash)
    assert run.data.metrics["before"] == pytest.approx(report.before)
    assert run.data.metrics["after"] == pytest.approx(report.after)
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id, "program")}
    assert artifacts == {"program/cluster.json", "program/cluster.report.json"}
    mlflow.flush_trace_async_logging()
    traces = mlflow.search_traces(
        locations=[run.info.experiment_id], run_id=run.info.run_id, return_type="list"
    )
    assert (
        len(traces) >= 2 * report.valset_size
    )  # DSPy autolog: the calls of the evaluations before and after


def test_cli_builds_references_and_synth_loads_the_program(real_histories, tmp_path):
    out = tmp_path / "c.json"
    result = CliRunner().invoke(
        app,
        [
            "compile", "--program", "cluster", "--histories", str(real_histories), "--max-users", "300",
            "--teacher", "scripted/deterministic", "--max-train", "4", "--max-val", "4", "--out", str(out),
            "--no-track",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert all(out.with_name(f"c.{s}.jsonl").is_file() for s in ("train", "val", "test"))
    report = json.loads(report_path(out).read_text())
    synth = run_synth(
        SynthConfig(
            histories=real_histories, out=tmp_path / "synth", teacher=SCRIPTED, max_users=2, program=out,
            track=False, progress=False,
        )
    )  # fmt: skip
    assert synth.program_hash == report["program_hash"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--program", "rerank", "--metric", "f1", "--histories", "x"], "does not fit program 'rerank'"),
        (["--program", "cluster"], "give --trainset and --valset, or --histories"),
        (["--program", "cluster", "--optimizer", "gepa", "--auto", "none", "--histories", "x"], "GEPA needs a budget"),
        (["--program", "cluster", "--trainset", "nope.jsonl", "--valset", "nope.jsonl", "--no-track"], "no such reference set"),
    ],
)  # fmt: skip
def test_cli_errors_are_one_line(args, message, tmp_path):
    result = CliRunner().invoke(app, ["compile", *args, "--out", str(tmp_path / "c.json")])
    assert result.exit_code == 2
    assert message in result.output.replace("\n", " ")


def test_case_6_compile_with_a_teacher_that_cannot_be_called_fails(reference_files, tmp_path):
    train, val = reference_files[Split.train], reference_files[Split.val]
    result = CliRunner().invoke(app, [
        "compile", "--program", "cluster", "--trainset", str(train), "--valset", str(val), "--max-val", "2",
        "--teacher", "notaprovider/xyz", "--retries", "0", "--out", str(tmp_path / "c.json"), "--no-track",
    ])  # fmt: skip
    assert result.exit_code == 2 and "teacher call failed" in result.output, result.output
    assert not (tmp_path / "c.json").exists()


def test_the_compile_choices_are_the_registrys_compilable_behaviours(real_cases):
    """`--program` and `--metric` list exactly the registry's parts and metrics (the default first);
    each part's examples carry exactly its module's `forward` inputs and each of its metrics builds."""
    parts = compilable()
    assert [p.value for p in ProgramPart] == list(parts)
    assert {p.value: [m.value for m in ms] for p, ms in METRICS_OF.items()} == {
        part: list(b.compile.metrics) for part, b in parts.items()
    }
    assert [m.value for m in MetricName] == [m for b in parts.values() for m in b.compile.metrics]
    program = SynthProgram()
    for part, behaviour in parts.items():
        module = getattr(program, behaviour.compile.attribute)
        outputs = [set(pred.signature.output_fields) for _, pred in module.named_predictors()]
        assert set(behaviour.output_fields) in outputs, (part, outputs)  # the module runs that behaviour
        examples = behaviour.compile.examples(real_cases, 0)
        assert examples, part
        forward_inputs = set(inspect.signature(module.forward).parameters)
        assert all(set(e.inputs().keys()) == forward_inputs for e in examples), part
        for name in behaviour.compile.metrics:
            assert isinstance(compile_module.make_metric(MetricName(name), real_cases, seed=0), Metric)

"""The `uue` command line: wires the stages together; the work lives in the subpackages."""

from __future__ import annotations

from uue.programs.lm.offline import ensure_offline_defaults

ensure_offline_defaults()  # before anything imports litellm: no network refresh may block a run

import functools  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Annotated  # noqa: E402

import typer  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn  # noqa: E402

from uue.errors import UueError  # noqa: E402
from uue.programs.lm.config import DEFAULT_TEACHER  # noqa: E402

app = typer.Typer(help="Universal user embeddings distilled from an LLM teacher.", no_args_is_help=True)
console = Console(stderr=True)


@app.callback()
def uue() -> None:
    """ingest → synth → bench → train: universal user embeddings from raw activity histories."""


# The teacher options, the same in every command that calls the teacher.
TeacherOption = Annotated[
    str, typer.Option(help="LiteLLM model string, or local/<name> for the offline default")
]
ApiBaseOption = Annotated[str | None, typer.Option(help="Server URL of a hosted teacher (OpenAI-compatible)")]


def one_line_errors(command):
    """Domain errors and options a typed config rejects become one red line and exit code 2, never
    a traceback."""
    from pydantic import ValidationError

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ValidationError as error:
            first = error.errors()[0]
            where = "-".join(map(str, first["loc"])).replace("_", "-")
            message = f"{'--' + where + ': ' if where else ''}{first['msg']}"
            console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except UueError as error:
            console.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            console.print("[yellow]interrupted[/yellow]: rerun the same command to resume")
            raise typer.Exit(130) from None

    return wrapper


def _bytes_progress(files: list[Path]) -> tuple[Progress, callable]:
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=console,
    )
    tasks = {
        path: progress.add_task(path.name, total=path.stat().st_size if path.is_file() else None)
        for path in files
    }
    return progress, lambda path, done: progress.update(tasks[path], completed=done)


@app.command()
@one_line_errors
def ingest(
    platform: Annotated[str, typer.Argument(help="reddit | synthpai (see `uue.datasets.registry`)")],
    out: Annotated[Path, typer.Option(help="Output directory for histories/, report.json, quarantine.jsonl")],
    files: Annotated[list[Path] | None, typer.Argument(help="Input files (.zst, .gz, .jsonl, .json)")] = None,
    comments: Annotated[list[Path] | None, typer.Option(help="Reddit comment dumps (RC_*)")] = None,
    submissions: Annotated[list[Path] | None, typer.Option(help="Reddit submission dumps (RS_*)")] = None,
    min_activities: Annotated[int, typer.Option(help="Leave out users with fewer activities")] = 1,
    max_users: Annotated[int | None, typer.Option(help="Keep only the N most active users")] = None,
    since: Annotated[
        str | None, typer.Option(help="Only activities from this date (YYYY-MM-DD, UTC)")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Only activities before this date (YYYY-MM-DD, UTC)")
    ] = None,
    max_parent_depth: Annotated[int, typer.Option(help="Parent comments kept per activity")] = 8,
    bots: Annotated[
        str | None, typer.Option(help="Comma-separated bot accounts (replaces the default list)")
    ] = None,
    index: Annotated[
        str, typer.Option(help="Join index: auto | memory | disk (bounded RAM for huge dumps)")
    ] = "auto",
) -> None:
    """Parse raw platform dumps into per-user, time-ordered histories (a Hugging Face dataset)."""
    from uue.datasets.ingest import ingest as run_ingest
    from uue.datasets.options import IngestOptions, parse_date

    inputs = [*(submissions or []), *(comments or []), *(files or [])]
    if not inputs:
        raise UueError("no input files", hint="pass files, or --comments/--submissions for reddit")
    options = IngestOptions(
        min_activities=min_activities,
        max_users=max_users,
        since=parse_date(since),
        until=parse_date(until),
        max_parent_depth=max_parent_depth,
        bots=frozenset(b.strip() for b in bots.split(",") if b.strip()) if bots is not None else None,
        index=index,
    )
    progress, on_progress = _bytes_progress(inputs)
    with progress:
        tally = run_ingest(platform, inputs, out, options, on_progress)
    for problem in tally.problems:
        console.print(f"[yellow]warning:[/yellow] {problem}", highlight=False, soft_wrap=True)
    if tally.problem_count > len(tally.problems):
        console.print(
            f"[yellow]... and {tally.problem_count - len(tally.problems)} more, see {tally.quarantine_path}"
        )
    summary = tally.as_dict()
    console.print(
        f"[green]wrote[/green] {summary['users_written']:,} users, {summary['records_written']:,} activities "
        f"from {summary['lines_read']:,} lines to {out}; skipped {json.dumps(summary['skipped'])}",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
@one_line_errors
def bench(
    triplets: Annotated[Path, typer.Option(help="Directory written by `uue synth`")],
    model: Annotated[
        list[str], typer.Option(help="bm25 | minilm | litellm:<model> | model folder; repeat")
    ] = ["bm25", "minilm"],  # noqa: B006
    distractors: Annotated[int, typer.Option(help="Other users' positives added to each query")] = 9,
    red_flag: Annotated[
        float, typer.Option(help="Best-baseline Recall@1 at or above this is a red flag")
    ] = 0.8,
    max_triplets: Annotated[int | None, typer.Option(help="Use only the first N triplets")] = None,
    held_out: Annotated[
        bool,
        typer.Option(
            "--held-out",
            help="Bench only held-out users' triplets (the --valid-fraction split of `uue train`)",
        ),
    ] = False,
    task: Annotated[
        list[str] | None, typer.Option(help="Also run: reid | interests | next-subreddit")
    ] = None,
    histories: Annotated[Path | None, typer.Option(help="Histories for --task (from `uue ingest`)")] = None,
    valid_fraction: Annotated[
        float, typer.Option(help="Held-out user share (same split as `uue train`)")
    ] = 0.1,
    max_users: Annotated[int, typer.Option(help="At most N held-out users for --task")] = 500,
    seed: Annotated[int, typer.Option(help="Distractor and bootstrap seed")] = 0,
    out: Annotated[Path | None, typer.Option(help="Directory for report.json (default: --triplets)")] = None,
) -> None:
    """Seed 000 step 2: how well do off-the-shelf embedders solve the triplets? Verdict + report.json."""
    from rich.console import Console as StdoutConsole

    from uue.eval.bench import BenchConfig, is_baseline, load_triplets, run_bench
    from uue.eval.embedders import make_embedder
    from uue.eval.report import bench_table, comparison_table, task_table, verdict_lines, write_report
    from uue.eval.tasks import Task, TaskConfig, run_tasks

    config = BenchConfig(
        triplets=triplets,
        models=model,
        distractors=distractors,
        red_flag_recall_at_1=red_flag,
        max_triplets=max_triplets,
        seed=seed,
        out=out,
        valid_fraction=valid_fraction if held_out else None,
    )
    if task and histories is None:
        raise UueError("--task needs --histories")
    embedders = {spec: make_embedder(spec) for spec in dict.fromkeys(model)}
    report = run_bench(config, embedders)
    stdout = StdoutConsole()
    stdout.print(bench_table(report))
    if task:
        task_config = TaskConfig(
            histories=histories,
            triplets=triplets,
            valid_fraction=valid_fraction,
            max_users=max_users,
            seed=seed,
        )
        trained = [spec for spec in embedders if not is_baseline(spec)]
        report["tasks"] = run_tasks(
            [Task(t) for t in task], embedders, task_config, load_triplets(triplets), trained
        )
        stdout.print(task_table(report["tasks"]["results"]))
    if report["comparisons"] or report.get("tasks", {}).get("comparisons"):
        stdout.print(comparison_table(report))
    for line in verdict_lines(report):
        stdout.print(line, soft_wrap=True)
    console.print(f"[green]wrote[/green] {write_report(report, out or triplets)}")


@app.command()
@one_line_errors
def train(
    out: Annotated[Path, typer.Option(help="Output directory for the model")],
    triplets: Annotated[Path | None, typer.Option(help="Directory written by `uue synth` (triplets)")] = None,
    objective: Annotated[
        str, typer.Option(help="triplets | same-user (needs --histories) | mixed (both, one run)")
    ] = "triplets",
    histories: Annotated[
        Path | None, typer.Option(help="Directory written by `uue ingest` (same-user)")
    ] = None,
    pair_rounds: Annotated[int, typer.Option(help="Same-user: pairs per user")] = 4,
    same_user_pairs: Annotated[int | None, typer.Option(help="Mixed: same-user pairs (default all)")] = None,
    hard_negatives: Annotated[bool, typer.Option(help="Triplets: train on the mined negative")] = True,
    pair_window: Annotated[int, typer.Option(help="Same-user: activities per window")] = 8,
    base_model: Annotated[str, typer.Option(help="minilm | sentence-transformers folder or name")] = "minilm",
    epochs: Annotated[float, typer.Option()] = 1.0,
    max_steps: Annotated[int, typer.Option(help="-1: run the epochs")] = -1,
    batch_size: Annotated[int, typer.Option()] = 16,
    learning_rate: Annotated[float, typer.Option()] = 2e-5,
    loss: Annotated[str, typer.Option(help="mnrl | cached-mnrl | gist")] = "mnrl",
    matryoshka_dims: Annotated[str, typer.Option(help="e.g. 32,64,128,256,384 (empty: off)")] = "",
    lora: Annotated[bool, typer.Option(help="Train a LoRA adapter")] = False,
    max_seq_length: Annotated[int, typer.Option()] = 256,
    valid_fraction: Annotated[float, typer.Option(help="Held-out share of users")] = 0.1,
    eval_steps: Annotated[int, typer.Option(help="Evaluate + checkpoint every N steps")] = 50,
    resume: Annotated[bool, typer.Option(help="Resume from out/checkpoints")] = False,
    max_samples: Annotated[int | None, typer.Option(help="Train on at most N triplets")] = None,
    experiment: Annotated[str, typer.Option(help="MLflow experiment")] = "uue-student",
) -> None:
    """Train the student bi-encoder on teacher triplets (MNRL + hard negatives), tracked in MLflow."""
    from uue.errors import ConfigError
    from uue.trainers.student import train as run_train
    from uue.trainers.student_config import TrainConfig

    try:
        dims = [int(d) for d in matryoshka_dims.split(",") if d.strip()]
    except ValueError:
        raise ConfigError(
            f"--matryoshka-dims: expected integers like 32,64,384, got {matryoshka_dims!r}"
        ) from None
    config = TrainConfig(
        objective=objective,
        triplets=triplets,
        histories=histories,
        pair_rounds=pair_rounds,
        same_user_pairs=same_user_pairs,
        hard_negatives=hard_negatives,
        pair_window=pair_window,
        out=out,
        base_model=base_model,
        epochs=epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        learning_rate=learning_rate,
        loss=loss,
        matryoshka_dims=dims,
        lora=lora,
        max_seq_length=max_seq_length,
        valid_fraction=valid_fraction,
        eval_steps=eval_steps,
        resume=resume,
        max_samples=max_samples,
        experiment=experiment,
    )
    result = run_train(config)
    console.print(f"[green]saved[/green] {out} (MLflow run {result['run_id']} at {config.tracking_uri})")
    for name, value in sorted(result["metrics"].items()):
        console.print(f"  {name} = {value:.4f}", highlight=False)


@app.command()
@one_line_errors
def embed(
    model: Annotated[str, typer.Option(help="minilm | litellm:<model> | model folder")],
    histories: Annotated[Path, typer.Option(help="Directory written by `uue ingest`")],
    out: Annotated[Path, typer.Option(help="Parquet file (user_id, vector); updated in place")],
    pooling: Annotated[str, typer.Option(help="mean | recency | last")] = "mean",
) -> None:
    """Embed every user's history; users whose activities did not change keep their vector."""
    from uue.eval.embed_store import embed_users
    from uue.eval.embedders import make_embedder
    from uue.eval.user_vectors import Pooling

    stats = embed_users(make_embedder(model), model, histories, out, Pooling(pooling))
    console.print(
        f"[green]wrote[/green] {stats.users} users to {out}: {stats.embedded} embedded, {stats.reused} unchanged"
    )


@app.command()
@one_line_errors
def similar(
    user: Annotated[str, typer.Argument(help="A user id present in the embeddings file")],
    embeddings: Annotated[Path, typer.Option(help="Parquet file written by `uue embed`")],
    k: Annotated[int, typer.Option(help="How many neighbours")] = 10,
) -> None:
    """The users nearest to USER (cosine similarity of user embeddings)."""
    from uue.eval.embed_store import similar_users

    for other, score in similar_users(user, embeddings, k):
        typer.echo(f"{score:.4f}\t{other}")


@app.command()
@one_line_errors
def synth(
    histories: Annotated[Path, typer.Option(help="Directory written by `uue ingest`")],
    out: Annotated[
        Path, typer.Option(help="Output: triplets/, report.json, progress/ (resume), dspy_cache/")
    ],
    teacher: TeacherOption = DEFAULT_TEACHER,
    api_base: ApiBaseOption = None,
    mode: Annotated[
        str, typer.Option(help="pivot (clusters of a segment) | activity (one label each)")
    ] = "pivot",
    labels: Annotated[
        Path | None, typer.Option(help="Activity mode: rebuild triplets from this labels.jsonl, no teacher")
    ] = None,
    resume_labels: Annotated[
        Path | None,
        typer.Option(help="Activity mode: an earlier run's labels.jsonl (same teacher) counted as done"),
    ] = None,
    activities_per_user: Annotated[int, typer.Option(help="Activity mode: activities labelled per user")] = 8,
    max_tokens: Annotated[int, typer.Option(help="Maximum generated tokens per teacher call")] = 256,
    max_users: Annotated[int | None, typer.Option(help="Only the first N users")] = None,
    min_activities: Annotated[int, typer.Option(help="Skip users with fewer activities")] = 1,
    max_positives: Annotated[int, typer.Option(help="Positives per user")] = 3,
    segment_size: Annotated[int, typer.Option(help="Most recent activities shown to the teacher")] = 16,
    candidates: Annotated[int, typer.Option(help="Pool candidates reranked per positive")] = 4,
    negatives: Annotated[str, typer.Option(help="rerank | generated (pivot) | mined (activity)")] = "rerank",
    min_judge_score: Annotated[float | None, typer.Option(help="Judge positives, drop those below")] = None,
    workers: Annotated[int, typer.Option(help="Concurrent units (remote teachers only)")] = 1,
    program: Annotated[Path | None, typer.Option(help="Compiled SynthProgram saved with DSPy save")] = None,
    seed: Annotated[int, typer.Option(help="Seed of candidate sampling")] = 0,
) -> None:
    """Write (context, positive, negative) triplets with the teacher; rerun the same command to resume."""
    from uue.programs.lm import TeacherConfig
    from uue.programs.synth import SynthConfig, run_synth

    config = SynthConfig(
        histories=histories,
        out=out,
        teacher=TeacherConfig(model=teacher, api_base=api_base, max_tokens=max_tokens),
        mode=mode,
        labels=labels,
        resume_labels=resume_labels,
        activities_per_user=activities_per_user,
        max_users=max_users,
        min_activities=min_activities,
        max_positives=max_positives,
        segment_size=segment_size,
        candidates=candidates,
        negatives=negatives,
        min_judge_score=min_judge_score,
        workers=workers,
        program=program,
        seed=seed,
    )
    report = run_synth(config)
    console.print(
        f"[green]wrote[/green] {report['triplets']:,} triplets from {report['users']:,} users to {out}/triplets; "
        f"{report['llm']['generated_calls']:,} LLM calls, failures {json.dumps(report['failures'])}",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
@one_line_errors
def student(
    histories: Annotated[Path, typer.Option(help="Directory written by `uue ingest`")],
    triplets: Annotated[Path, typer.Option(help="Directory written by `uue synth` (teacher triplets)")],
    out: Annotated[Path, typer.Option(help="Output: same-user/, best/, report.json, report.md")],
    valid_fraction: Annotated[float, typer.Option(help="Held-out share of users")] = 0.2,
    same_user_pairs: Annotated[int, typer.Option(help="Same-user pairs")] = 3000,
    schedule: Annotated[str, typer.Option(help="mixed (pairs + triplets in one run) | sequential")] = "mixed",
    hard_negatives: Annotated[bool, typer.Option(help="Train on the triplets' mined negatives")] = True,
    loss: Annotated[str, typer.Option(help="mnrl | gist")] = "mnrl",
    max_users: Annotated[int, typer.Option(help="Held-out users of the user tasks")] = 300,
    baseline: Annotated[list[str] | None, typer.Option(help="Baseline --model strings; repeat")] = None,
) -> None:
    """The student recipe: same-user pairs and teacher triplets; benched on held-out users."""
    from uue.eval.heldout import markdown_table
    from uue.trainers.recipe import RecipeConfig, run_recipe

    config = RecipeConfig(
        histories=histories,
        triplets=triplets,
        out=out,
        valid_fraction=valid_fraction,
        same_user_pairs=same_user_pairs,
        schedule=schedule,
        hard_negatives=hard_negatives,
        loss=loss,
        max_users=max_users,
        **({"baselines": baseline} if baseline else {}),
    )
    report = run_recipe(config)
    typer.echo(markdown_table(report.held_out))
    console.print(f"[green]wrote[/green] {report.best_model} and {out / 'report.json'}")


@app.command("merge-triplets")
@one_line_errors
def merge_triplets_command(
    triplets: Annotated[list[Path], typer.Option(help="A directory written by `uue synth`; repeat")],
    out: Annotated[Path, typer.Option(help="Output directory (triplets/, report.json)")],
) -> None:
    """Concatenate the triplets of several synth runs (e.g. shards of users), each triplet once."""
    from uue.datasets.triplets import merge_triplets

    count = merge_triplets(list(triplets), out)
    console.print(f"[green]wrote[/green] {count} triplets to {out / 'triplets'}")


@app.command("compile")
@one_line_errors
def compile_command(
    program: Annotated[str, typer.Option(help="cluster | rerank | judge: the teacher module to compile")],
    out: Annotated[
        Path, typer.Option(help="Compiled SynthProgram (DSPy save JSON); FILE.report.json beside it")
    ],
    optimizer: Annotated[str, typer.Option(help="bootstrap | random-search | mipro | gepa")] = "bootstrap",
    trainset: Annotated[Path | None, typer.Option(help="Reference cases (JSON lines) to compile on")] = None,
    valset: Annotated[Path | None, typer.Option(help="Reference cases to score before/after")] = None,
    histories: Annotated[
        Path | None, typer.Option(help="Build the reference sets from `uue ingest` output")
    ] = None,
    max_users: Annotated[int | None, typer.Option(help="With --histories: only the first N users")] = None,
    metric: Annotated[
        str | None, typer.Option(help="f1 | f1-loose | judge | retrieval | hardness | agreement")
    ] = None,
    teacher: TeacherOption = DEFAULT_TEACHER,
    api_base: ApiBaseOption = None,
    prompt_model: Annotated[
        str | None, typer.Option(help="LM proposing instructions (MIPROv2) / reflecting (GEPA)")
    ] = None,
    base: Annotated[Path | None, typer.Option(help="Start from this saved SynthProgram")] = None,
    max_train: Annotated[int, typer.Option(help="At most N training examples")] = 24,
    max_val: Annotated[int, typer.Option(help="At most N validation examples")] = 24,
    max_demos: Annotated[int, typer.Option(help="Bootstrapped demos per predictor")] = 1,
    demo_threshold: Annotated[
        float | None,
        typer.Option(help="Score a traced answer needs to become a demo (default: the metric's)"),
    ] = None,
    num_candidates: Annotated[int, typer.Option(help="Random search candidates; MIPROv2 without --auto")] = 4,
    auto: Annotated[
        str | None, typer.Option(help="MIPROv2/GEPA budget: light | medium | heavy | none")
    ] = "light",
    max_metric_calls: Annotated[
        int | None, typer.Option(help="GEPA: cap on metric calls (overrides --auto)")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the split, sampling and optimizers")] = 0,
    track: Annotated[bool, typer.Option(help="Log the compile to MLflow")] = True,
) -> None:
    """Compile one teacher module with a DSPy optimizer on label-free reference sets; `uue synth --program OUT` uses it."""
    from uue.optimizers.compile import CompileConfig, compile_program
    from uue.programs.lm import TeacherConfig

    config = CompileConfig(
        program=program,
        optimizer=optimizer,
        out=out,
        trainset=trainset,
        valset=valset,
        histories=histories,
        max_users=max_users,
        metric=metric,
        teacher=TeacherConfig(model=teacher, api_base=api_base),
        prompt_model=TeacherConfig(model=prompt_model, api_base=api_base) if prompt_model else None,
        base=base,
        max_train=max_train,
        max_val=max_val,
        max_demos=max_demos,
        demo_threshold=demo_threshold,
        num_candidates=num_candidates,
        auto=None if auto in (None, "none") else auto,
        max_metric_calls=max_metric_calls,
        seed=seed,
        track=track,
    )
    report = compile_program(config)
    console.print(
        f"[green]wrote[/green] {out}: {report['metric']['name']} {report['before']:.3f} -> {report['after']:.3f} "
        f"on {report['valset_size']} val examples; {report['llm']['generated_calls']:,} LLM calls",
        highlight=False,
        soft_wrap=True,
    )


seqrec_app = typer.Typer(help="Sequential recommenders (SASRec, BERT4Rec) with LLM-profile distillation.")
app.add_typer(seqrec_app, name="seqrec")


@seqrec_app.command("train")
@one_line_errors
def seqrec_train(
    config: Annotated[Path, typer.Option(help="YAML config (see configs/seqrec/)")],
    epochs: Annotated[int | None, typer.Option(help="Override training.epochs")] = None,
    out: Annotated[Path | None, typer.Option(help="Save the trained model checkpoint here")] = None,
) -> None:
    """Train SASRec/BERT4Rec (optionally distilling user profiles), tracked in MLflow."""
    from uue.seqrec import load_config, train_seqrec
    from uue.seqrec.train import save_checkpoint

    settings = load_config(config, {"training.epochs": epochs} if epochs else None)
    result = train_seqrec(settings)
    if out:
        save_checkpoint(result.model, settings, out)
    for protocol, metrics in result.test_metrics.items():
        console.print(
            f"{protocol}: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(metrics.items())), highlight=False
        )


@seqrec_app.command("bench")
@one_line_errors
def seqrec_bench(
    config: Annotated[Path, typer.Option(help="YAML config (see configs/seqrec/)")],
    protocol: Annotated[list[str], typer.Option(help="full, random<N> or popular<N>; repeat")] = ["full"],  # noqa: B006
    checkpoint: Annotated[
        Path | None, typer.Option(help="Evaluate this checkpoint instead of training")
    ] = None,
) -> None:
    """HR/NDCG/Recall@5,10,20 with full ranking and the papers' sampled protocols."""
    from uue.seqrec import load_config
    from uue.seqrec.train import evaluate_checkpoint, train_seqrec, with_protocols

    settings = load_config(config)
    if checkpoint:
        results = evaluate_checkpoint(settings, checkpoint, protocol)
    else:
        results = train_seqrec(with_protocols(settings, protocol)).test_metrics
    console.print_json(json.dumps(results))


@seqrec_app.command("profiles")
@one_line_errors
def seqrec_profiles(
    data: Annotated[Path, typer.Option(help="Sequence file: S3-Rec, pairs, or MovieLens u.data")],
    out: Annotated[
        Path, typer.Option(help="Output directory (profiles.parquet, profiles.jsonl, report.json)")
    ],
    items: Annotated[
        Path | None, typer.Option(help="Item texts: u.item, movies.dat, *_item2attributes.json")
    ] = None,
    teacher: TeacherOption = DEFAULT_TEACHER,
    api_base: ApiBaseOption = None,
    max_users: Annotated[int | None, typer.Option(help="Only the first N users")] = None,
    max_items: Annotated[int, typer.Option(help="Most recent training items shown")] = 30,
    embedder: Annotated[str, typer.Option(help="sentence-transformers model for the vectors")] = "minilm",
    workers: Annotated[int, typer.Option(help="Concurrent users (remote teachers only)")] = 1,
) -> None:
    """Seed 004: the teacher writes a profile per user from their training items; vectors for distillation."""
    from uue.programs.lm import TeacherConfig
    from uue.seqrec.profile_job import ProfileJobConfig, write_profiles

    config = ProfileJobConfig(
        data=data,
        items=items,
        out=out,
        teacher=TeacherConfig(model=teacher, api_base=api_base),
        max_users=max_users,
        max_items=max_items,
        embedder=embedder,
        workers=workers,
    )
    report = write_profiles(config)
    console.print(
        f"[green]wrote[/green] {report['profiles']} profiles of {report['users']} users to {report['profiles_path']}; failures {report['failures']}"
    )


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())


if __name__ == "__main__":  # pragma: no cover
    main()

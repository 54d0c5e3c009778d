"""`uue seqrec`: sequential recommenders (SASRec, BERT4Rec) with LLM-profile distillation."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from uue.cli.app import app, console, one_line_errors
from uue.cli.options import config_command
from uue.seqrec.profile_config import ProfileJobConfig

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
    from uue.seqrec.train import run_seqrec_train

    result = run_seqrec_train(config, epochs, out)
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
    from uue.seqrec.train import run_seqrec_bench

    console.print_json(json.dumps(run_seqrec_bench(config, protocol, checkpoint)))


@seqrec_app.command("profiles")
@one_line_errors
@config_command(ProfileJobConfig, teacher=True)
def seqrec_profiles(config: ProfileJobConfig) -> None:
    """The teacher writes a profile of each user from their training items; vectors for distillation."""
    from uue.seqrec.profile_job import write_profiles

    report = write_profiles(config)
    console.print(
        f"[green]wrote[/green] {report.profiles} profiles of {report.users} users to "
        f"{report.profiles_path}; failures {report.failures}"
    )

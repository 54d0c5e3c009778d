"""`uue student`: the final recipe, then the held-out table (`make student`).

Stage 1 pre-trains MiniLM on teacher-free same-user pairs of the training users; stage 2 fine-tunes
that model on the teacher triplets (Gecko's pre-finetune then fine-tune). Both stages are reused when
their folder already holds a model trained with the same settings, so a rerun only benches. The
report compares BM25, base MiniLM, the stage-1 model and the final model on held-out users.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from uue.eval.embedders import make_embedder
from uue.eval.heldout import HeldOutConfig, HeldOutReport, held_out_report, markdown_table
from uue.provenance import made_by
from uue.trainers.student import train_or_reuse
from uue.trainers.student_config import Objective, TrainConfig


class RecipeConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    histories: Path = Field(description="Directory written by `uue ingest` (same-user pairs, user tasks)")
    triplets: Path = Field(description="Directory written by `uue synth` (teacher triplets)")
    out: Path = Field(description="Output: same-user/, best/ and report.json")
    valid_fraction: float = Field(0.2, gt=0, lt=1, description="Held-out share of users")
    same_user_pairs: int = Field(3000, ge=2, description="Stage 1: same-user pairs (one per user)")
    epochs: float = Field(1.0, gt=0, description="Epochs of each stage")
    batch_size: int = Field(32, ge=2)
    learning_rate: float = Field(2e-5, gt=0)
    baselines: list[str] = Field(default_factory=lambda: ["bm25", "minilm"], description="--model strings")
    max_users: int = Field(300, ge=2, description="Held-out users of the user tasks")
    max_steps: int = Field(-1, description="Stop each stage after N steps (-1: run the epochs; smoke runs)")


class RecipeReport(BaseModel):
    same_user_model: str
    best_model: str
    held_out: HeldOutReport
    made_by: dict


def stage_configs(config: RecipeConfig) -> tuple[TrainConfig, TrainConfig]:
    shared = dict(
        valid_fraction=config.valid_fraction,
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        max_steps=config.max_steps,
        eval_steps=200,
        experiment="uue-student-recipe",
    )
    first = TrainConfig(
        objective=Objective.same_user,
        histories=config.histories,
        pair_rounds=1,
        max_samples=config.same_user_pairs,
        out=config.out / "same-user",
        run_name="same-user",
        **shared,
    )
    second = TrainConfig(
        triplets=config.triplets,
        base_model=str(first.out),
        out=config.out / "best",
        run_name="same-user+teacher",
        **shared,
    )
    return first, second


def run_recipe(config: RecipeConfig) -> RecipeReport:
    first, second = stage_configs(config)
    train_or_reuse(first)
    train_or_reuse(second)
    specs = [*config.baselines, str(first.out), str(second.out)]
    held_out = held_out_report(
        {spec: (lambda spec=spec: make_embedder(spec)) for spec in specs},
        HeldOutConfig(
            histories=config.histories,
            triplets=config.triplets,
            valid_fraction=config.valid_fraction,
            max_users=config.max_users,
        ),
        cache_dir=config.out / "ranks",
    )
    report = RecipeReport(
        same_user_model=str(first.out),
        best_model=str(second.out),
        held_out=held_out,
        made_by=made_by("uue student", config),
    )
    config.out.mkdir(parents=True, exist_ok=True)
    (config.out / "report.json").write_text(report.model_dump_json(indent=2))
    (config.out / "report.md").write_text(markdown_table(held_out) + "\n")
    return report

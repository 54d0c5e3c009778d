"""`uue student`: the final recipe, then the held-out table (`make student`).

The same-user model learns from teacher-free same-user pairs of the training users alone. The final
model adds the teacher triplets, by one of two schedules: `mixed` trains base MiniLM on both at once
(every batch is one or the other), `sequential` fine-tunes the same-user model on the triplets
(Gecko's pre-finetune then fine-tune). Fine-tuning on the triplets gains interest retrieval and
forgets what the pairs gave re-identification, so `best/` is the weight average of the fine-tuned model
and its base (`uue merge`, WiSE-FT), which keeps both (README, "Student at scale"). Every model is
reused when its folder already holds one made with the same settings, so a rerun only benches. The
report compares BM25, base MiniLM, the same-user model, the fine-tuned one and `best/` on held-out users.
"""

from __future__ import annotations

from pydantic import BaseModel

from uue.eval.embedders import make_embedder
from uue.eval.heldout import HeldOutConfig, HeldOutReport, held_out_report, markdown_table
from uue.provenance import made_by
from uue.trainers.merge import MergeConfig, merge_or_reuse
from uue.trainers.recipe_config import RecipeConfig, Schedule
from uue.trainers.student import train_or_reuse
from uue.trainers.student_config import Objective, TrainConfig


class RecipeReport(BaseModel):
    same_user_model: str
    fine_tuned_model: str
    best_model: str
    held_out: HeldOutReport
    made_by: dict


def stage_configs(config: RecipeConfig) -> tuple[TrainConfig, TrainConfig]:
    """The same-user model and the final one."""
    shared = dict(
        valid_fraction=config.valid_fraction,
        epochs=config.epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        max_steps=config.max_steps,
        eval_steps=200,
        evaluate=False,  # the held-out table below is the measurement: no second one while training
        experiment="uue-student-recipe",
        histories=config.histories,
        pair_rounds=1,
        loss=config.loss,
        precision=config.precision,
        attention_dropout=config.attention_dropout,
    )
    same_user = TrainConfig(
        objective=Objective.same_user,
        max_samples=config.same_user_pairs,
        out=config.out / "same-user",
        run_name="same-user",
        log_model=False,  # an intermediate model: only the final one goes to MLflow's model store
        **shared,
    )
    mixed = config.schedule is Schedule.mixed
    final = TrainConfig(
        objective=Objective.mixed if mixed else Objective.triplets,
        triplets=config.train_triplets or config.triplets,
        hard_negatives=config.hard_negatives,
        same_user_pairs=config.same_user_pairs if mixed else None,
        base_model="minilm" if mixed else str(same_user.out),
        out=config.out / "fine-tuned",
        run_name=f"same-user+teacher ({config.schedule.value})",
        **shared,
    )
    return same_user, final


def merge_config(config: RecipeConfig, final: TrainConfig) -> MergeConfig:
    """`best/`: the fine-tuned model averaged with the model it was fine-tuned from."""
    return MergeConfig(
        base=final.base_model, tuned=str(final.out), weight=config.merge_weight, out=config.out / "best"
    )


def run_recipe(config: RecipeConfig) -> RecipeReport:
    same_user, final = stage_configs(config)
    train_or_reuse(same_user)
    train_or_reuse(final)
    best = merge_or_reuse(merge_config(config, final))
    specs = [*config.baselines, str(same_user.out), str(final.out), str(best)]
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
        same_user_model=str(same_user.out),
        fine_tuned_model=str(final.out),
        best_model=str(best),
        held_out=held_out,
        made_by=made_by("uue student", config),
    )
    config.out.mkdir(parents=True, exist_ok=True)
    (config.out / "report.json").write_text(report.model_dump_json(indent=2))
    (config.out / "report.md").write_text(markdown_table(held_out) + "\n")
    return report

"""`uue train`: the student bi-encoder learns context -> positive (vs the hard negative and the batch).

SentenceTransformerTrainer + (Cached)MultipleNegativesRankingLoss over (anchor=context, positive,
negative), NO_DUPLICATES batches (a text twice in a batch would be a false in-batch negative),
optional MatryoshkaLoss and LoRA. Validation = held-out *users* (`uue.eval.split`), evaluated with
`TripletEvaluator` during training and with `uue bench` (sampled + full ranking) at the end.
MLflow: the run opens before the model and data load (a crash there ends it FAILED); it holds uue's
config as params, the datasets as inputs, teacher provenance (tags and the report), sample triplets,
the trainer's logs per step, plots, and the final bench metrics (per Matryoshka dim), which the model
card holds too (`uue.trainers.train_tracking`, `train_plots`, `model_card`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import datasets
import mlflow
import mlflow.sentence_transformers
from pydantic import BaseModel

from uue.datasets.triplets import split_by_user
from uue.errors import ConfigError, InputError
from uue.eval.bench import evaluate_model, load_triplets
from uue.eval.embedders import SentenceTransformerEmbedder
from uue.eval.split import UserSplit
from uue.models import load_sentence_transformer, offline_minilm_path
from uue.provenance import made_by, records_same_making
from uue.tracking import config_params, tracked_run
from uue.trainers.model_card import USAGE_EXAMPLES, add_bench_to_card, finish_card, prepare_card, write_card
from uue.trainers.same_user import same_user_data
from uue.trainers.student_config import LossKind, Objective, TrainConfig
from uue.trainers.train_plots import log_training_plots
from uue.trainers.train_tracking import (
    bench_metrics,
    log_training_inputs,
    log_triplets_dataset,
    mlflow_metrics_callback,
)

TRAIN_COLUMNS = ["context", "positive", "negative"]  # anchor, positive, negative: the order MNRL reads


class TrainReport(BaseModel):
    """What `uue train` made: its MLflow run, the final validation figures, the user split."""

    run_id: str | None
    metrics: dict[str, float]
    split: dict
    reused: bool = False  # an identical earlier model was kept (`train_or_reuse`)


@dataclass
class TrainingData:
    """What one training run reads: the training examples (one dataset, or one per kind of batch), the
    held-out users' validation triplets, the user split, and the tags naming the data's provenance."""

    train: datasets.Dataset | dict[str, datasets.Dataset]
    valid: datasets.Dataset
    split: UserSplit
    tags: dict[str, str]
    triplets: datasets.Dataset | None = None  # the whole `uue synth` table, where the objective reads one

    @property
    def eval_triplets(self) -> datasets.Dataset:
        """The validation triplets in the (anchor, positive, negative) order the evaluators read."""
        return (
            self.valid.select_columns(TRAIN_COLUMNS) if "context" in self.valid.column_names else self.valid
        )

    @property
    def bench_table(self) -> datasets.Dataset | None:
        """The validation triplets as `uue bench` reads them, where they are teacher triplets."""
        return self.valid if {"context", "user_id"} <= set(self.valid.column_names) else None

    def describe_split(self) -> dict:
        parts = self.train.values() if isinstance(self.train, dict) else [self.train]
        counts = {"train_examples": sum(len(part) for part in parts), "valid_examples": len(self.valid)}
        return self.split.describe() | counts


def split_triplets(
    table: datasets.Dataset, config: TrainConfig
) -> tuple[datasets.Dataset, datasets.Dataset, UserSplit]:
    parts, split = split_by_user(table, config.valid_fraction, config.split_seed)
    train, valid = parts["train"], parts["validation"]
    if len(train) == 0 or (len(valid) == 0 and config.evaluate):  # unevaluated: e.g. training-side triplets
        raise ConfigError(
            f"user split left {len(train)} train / {len(valid)} validation triplets",
            hint="change --valid-fraction or use more users",
        )
    return train, valid, split


def checkpoint_dir(config: TrainConfig) -> Path:
    """Beside the model folder, not in it: the model folder stays what one copies or publishes."""
    return config.out.with_name(config.out.name + ".checkpoints")


def build_model(config: TrainConfig):
    model = load_sentence_transformer(config.base_model, config.attention_dropout)
    if config.max_seq_length:
        model.max_seq_length = config.max_seq_length
    prepare_card(model, config.base_model)
    if config.lora:
        from peft import LoraConfig, TaskType

        model.add_adapter(
            LoraConfig(
                task_type=TaskType.FEATURE_EXTRACTION,
                r=config.lora_r,
                lora_alpha=config.lora_alpha,
                lora_dropout=0.1,
            )
        )
    return model


def guide_model(model):
    """GISTEmbed's guide: base MiniLM, frozen, reading as many tokens as the student."""
    from sentence_transformers import SentenceTransformer

    guide = SentenceTransformer(str(offline_minilm_path()), device="cpu")
    guide.max_seq_length = model.max_seq_length
    return guide


def build_loss(model, config: TrainConfig):
    from sentence_transformers.sentence_transformer import losses

    if config.loss is LossKind.cached_mnrl:
        loss = losses.CachedMultipleNegativesRankingLoss(model, mini_batch_size=config.mini_batch_size)
    elif config.loss is LossKind.gist:
        loss = losses.GISTEmbedLoss(model, guide=guide_model(model))
    else:
        loss = losses.MultipleNegativesRankingLoss(model)
    if config.matryoshka_dims:
        full = model.get_embedding_dimension()
        if max(config.matryoshka_dims) > full:
            raise ConfigError(f"matryoshka dim {max(config.matryoshka_dims)} exceeds the model's {full}")
        loss = losses.MatryoshkaLoss(model, loss, matryoshka_dims=config.matryoshka_dims)
    return loss


def build_trainer(
    model,
    loss,
    train: datasets.Dataset | dict[str, datasets.Dataset],
    valid: datasets.Dataset,
    config: TrainConfig,
    report_to: list[str],
    bench_table: datasets.Dataset | None = None,
):
    """`train`: (anchor, positive[, negative]) columns, or a dict of such datasets (every batch is
    drawn from one of them); `valid`: (anchor, positive, negative) columns, in that order; `report_to`:
    "mlflow" (the active run, `mlflow_metrics_callback`) and transformers' other integrations;
    `bench_table`: the validation triplets with their `uue synth` columns, benched at every evaluation
    step as `uue bench` does (without one, the validation pairs are ranked by `evaluators.retrieval_evaluator`)."""
    from sentence_transformers.sentence_transformer.trainer import SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.training_args import (
        BatchSamplers,
        MultiDatasetBatchSamplers,
        SentenceTransformerTrainingArguments,
    )

    from uue.trainers.evaluators import training_evaluator  # imports sentence-transformers

    args = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoint_dir(config)),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_ratio=config.warmup_ratio,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        multi_dataset_batch_sampler=MultiDatasetBatchSamplers.PROPORTIONAL,
        eval_strategy="steps" if config.evaluate else "no",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.eval_steps,
        save_total_limit=config.save_total_limit,
        logging_steps=max(1, min(10, config.eval_steps)),
        seed=config.seed,
        report_to=[name for name in report_to if name != "mlflow"],
        run_name=config.run_name,
        use_cpu=True,
        bf16=config.bf16,
        dataloader_num_workers=0,
    )
    evaluator = training_evaluator(valid, bench_table, config) if config.evaluate else None
    return SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=valid if config.evaluate else None,
        loss=loss,
        evaluator=evaluator,
        callbacks=[mlflow_metrics_callback()] if "mlflow" in report_to else None,
    )


def final_bench(
    model_dir: Path, valid: datasets.Dataset, config: TrainConfig
) -> dict[int | None, dict[str, float]]:
    """Bench figures of the saved model on validation triplets, per Matryoshka dim (None: full size):
    {dim: {"sampled_recall@1": ..., "full_mrr": ...}}."""
    from uue.trainers.evaluators import bench_config

    bench = bench_config(config)
    figures: dict[int | None, dict[str, float]] = {}
    for dim in config.matryoshka_dims or [None]:
        embedder = SentenceTransformerEmbedder(
            str(model_dir), max_seq_length=config.max_seq_length, truncate_dim=dim
        )
        figures[dim] = evaluate_model(embedder, str(model_dir), valid, bench).means()
    return figures


def _teacher_tags(triplets_dir: Path, table: datasets.Dataset) -> dict[str, str]:
    """Short provenance tags (the synth report, a few kB, is an artifact: `log_teacher_report`)."""
    teachers = sorted(set(table.unique("teacher_model")))
    programs = sorted(set(table.unique("program_hash")))
    return {
        "uue.dataset": str(triplets_dir.resolve()),  # the key `uue synth` tags its output folder with
        "uue.dataset.triplets": str(len(table)),
        "uue.teacher_model": ",".join(teachers)[:250],
        "uue.program_hash": ",".join(programs)[:250],
    }


def triplet_data(config: TrainConfig) -> TrainingData:
    """Train triplets in the columns the loss reads (context, positive[, negative]), validation
    triplets (split by user), and the MLflow tags naming their teacher."""
    table = load_triplets(config.triplets)
    train_set, valid_set, split = split_triplets(table, config)
    if config.max_samples:  # the first N training triplets: fewer labelled users, as less teacher time gives
        train_set = train_set.select(range(min(config.max_samples, len(train_set))))
    columns = TRAIN_COLUMNS if config.hard_negatives else TRAIN_COLUMNS[:2]
    tags = _teacher_tags(config.triplets, table)
    return TrainingData(train_set.select_columns(columns), valid_set, split, tags, triplets=table)


def training_data(config: TrainConfig, model) -> TrainingData:
    """The examples of `config.objective`; `model` counts the tokens of same-user windows."""
    if config.objective is Objective.same_user:
        train_data, valid_set, split = same_user_data(config, model, config.max_samples)
        data = TrainingData(
            train_data, valid_set, split, {"uue.dataset": str(Path(config.histories).resolve())}
        )
    elif config.objective is Objective.mixed:
        rounds, _, _ = same_user_data(config, model, config.same_user_pairs)
        data = triplet_data(config)  # the same hash split of users
        data = replace(data, train=rounds | {"teacher": data.train})
    else:
        data = triplet_data(config)
    data.tags |= {"uue.objective": config.objective.value, "uue.base_model": config.base_model}
    return data


def log_data(data: TrainingData, config: TrainConfig) -> None:
    """Provenance tags, the split, the datasets as inputs; for teacher triplets also the synth folder
    (the digest `uue synth` and `uue bench` log for it), its report and sample rows."""
    mlflow.set_tags(data.tags)
    mlflow.log_dict(data.split.describe(), "split.json")
    log_training_inputs(data.train, data.valid, config)
    if data.triplets is not None:
        log_triplets_dataset(config.triplets, data.triplets)


def card_data(config: TrainConfig, data: TrainingData) -> dict[str, str]:
    """The training data in the card (an unnamed dataset's name): objective, users, and the teacher
    with its program hash."""
    teacher = data.tags.get("uue.teacher_model")
    source = (
        f"teacher {teacher}, program {data.tags.get('uue.program_hash', '?')}" if teacher else "no teacher"
    )
    return {
        "name": f"uue {config.objective.value} ({source})",
        "description": f"{config.objective.value} examples of {len(data.split.train)} users ({source})",
    }


def save_student(
    model, data: TrainingData, config: TrainConfig, run_id: str
) -> dict[int | None, dict[str, float]]:
    """Save the model and its provenance, bench the saved folder, then write the card, which holds the
    bench's figures; returns them (per Matryoshka dim)."""
    finish_card(
        model, f"uue student ({config.objective.value}, base {config.base_model})", card_data(config, data)
    )
    model.save_pretrained(str(config.out), create_model_card=False)  # the card follows the bench
    provenance = {
        "made_by": made_by("uue train", config),
        "triplets_report": _read_json(config.triplets / "report.json") if config.triplets else {},
        "split": data.describe_split(),
        "mlflow_run_id": run_id,
    }
    (config.out / "uue_provenance.json").write_text(json.dumps(provenance, indent=2, default=str))
    figures = final_bench(config.out, data.valid, config) if config.triplets and config.evaluate else {}
    add_bench_to_card(
        model, figures, {"distractors": config.bench_distractors, "users": len(data.split.valid)}
    )
    if config.push_to_hub:  # the card's usage snippet loads the model from the Hub
        model.model_card_data.model_id = config.push_to_hub
    write_card(model, config.out)
    return figures


def push_student(model, config: TrainConfig, run_id: str) -> None:
    """The saved model folder (card, provenance) to the Hub; the token is huggingface_hub's own
    (`HF_TOKEN` or `hf auth login`), never a uue setting."""
    model.push_to_hub(
        config.push_to_hub,
        local_model_path=str(config.out),
        exist_ok=True,
        commit_message=f"uue train (MLflow run {run_id})",
    )
    mlflow.set_tag("uue.hub_repo", config.push_to_hub)


def train(config: TrainConfig, report_to: tuple[str, ...] = ("mlflow",)) -> TrainReport:
    """Train, save to `config.out`, log to MLflow; returns {run_id, metrics, split}."""
    checkpoints = checkpoint_dir(config)
    if config.resume and not any(checkpoints.glob("checkpoint-*")):
        raise InputError(str(checkpoints), "no checkpoint to resume from", hint="run without --resume first")
    # open before the model and data load: a crash there ends the run FAILED, its duration is the real one
    with tracked_run(config.experiment, config.run_name, uri=config.tracking_uri) as run:
        mlflow.log_params(config_params(config))
        model = build_model(config)
        data = training_data(config, model)
        log_data(data, config)
        loss = build_loss(model, config)
        mlflow.log_dict(loss.get_config_dict(), "loss_config.json")
        trainer = build_trainer(
            model, loss, data.train, data.eval_triplets, config, list(report_to), data.bench_table
        )
        trainer.train(resume_from_checkpoint=True if config.resume else None)
        figures = save_student(model, data, config, run.info.run_id)
        metrics = bench_metrics(figures)
        mlflow.log_metrics(metrics)
        log_training_plots(trainer.state.log_history, figures)
        mlflow.log_artifact(str(config.out / "uue_provenance.json"))
        if config.log_model:
            mlflow.sentence_transformers.log_model(
                model, name="student", input_example=USAGE_EXAMPLES[:1], registered_model_name=config.register_as,
                pip_requirements=[],  # offline: no requirement inference from the index
            )  # fmt: skip
        if config.push_to_hub:
            push_student(model, config, run.info.run_id)
    return TrainReport(run_id=run.info.run_id, metrics=metrics, split=data.describe_split())


# Settings that do not change the model: where it is written, where it is pushed afterwards.
REUSE_IGNORES = frozenset({"out", "push_to_hub"})


def train_or_reuse(config: TrainConfig) -> TrainReport:
    """`train`, unless `config.out` already holds a model trained with exactly these settings (where
    it was written is not one of them: a moved model folder is reused)."""

    saved = _read_json(config.out / "uue_provenance.json")
    if records_same_making(saved.get("made_by", {}), made_by("", config), ignore=REUSE_IGNORES):
        return TrainReport(run_id=saved.get("mlflow_run_id"), metrics={}, split=saved["split"], reused=True)
    return train(config)


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}

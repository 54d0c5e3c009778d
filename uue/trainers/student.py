"""`uue train`: the student bi-encoder learns context -> positive (vs the hard negative and the batch).

SentenceTransformerTrainer + (Cached)MultipleNegativesRankingLoss over (anchor=context, positive,
negative), NO_DUPLICATES batches (a text twice in a batch would be a false in-batch negative),
optional MatryoshkaLoss and LoRA. Validation = held-out *users* (`uue.eval.split`), evaluated with
`TripletEvaluator` during training and with `uue bench` (sampled + full ranking) at the end.
MLflow: the HF callback logs training; this module opens the run, tags dataset and teacher provenance,
and logs the loss config and the final bench metrics (per Matryoshka dim).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import datasets
import mlflow

from uue.errors import ConfigError, InputError
from uue.eval.bench import BenchConfig, evaluate_model, load_triplets
from uue.eval.embedders import SentenceTransformerEmbedder, offline_minilm_path
from uue.eval.split import UserSplit, split_users
from uue.provenance import made_by
from uue.trainers.student_config import LossKind, TrainConfig

TRAIN_COLUMNS = ["context", "positive", "negative"]  # anchor, positive, negative: the order MNRL reads


def resolve_base_model(name: str) -> str:
    return str(offline_minilm_path()) if name == "minilm" else name


def split_triplets(
    table: datasets.Dataset, config: TrainConfig
) -> tuple[datasets.Dataset, datasets.Dataset, UserSplit]:
    split = split_users(table["user_id"], config.valid_fraction, config.split_seed)
    users = table["user_id"]
    train = table.select([i for i, u in enumerate(users) if u in split.train])
    valid = table.select([i for i, u in enumerate(users) if u in split.valid])
    if len(train) == 0 or len(valid) == 0:
        raise ConfigError(
            f"user split left {len(train)} train / {len(valid)} validation triplets",
            hint="change --valid-fraction or use more users",
        )
    return train, valid, split


def build_model(config: TrainConfig):
    from sentence_transformers import SentenceTransformer

    try:
        model = SentenceTransformer(resolve_base_model(config.base_model), device="cpu")
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot load base model {config.base_model!r}: {error}") from error
    if config.max_seq_length:
        model.max_seq_length = config.max_seq_length
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


def build_loss(model, config: TrainConfig):
    from sentence_transformers.sentence_transformer import losses

    if config.loss is LossKind.cached_mnrl:
        loss = losses.CachedMultipleNegativesRankingLoss(model, mini_batch_size=config.mini_batch_size)
    else:
        loss = losses.MultipleNegativesRankingLoss(model)
    if config.matryoshka_dims:
        full = model.get_embedding_dimension()
        if max(config.matryoshka_dims) > full:
            raise ConfigError(f"matryoshka dim {max(config.matryoshka_dims)} exceeds the model's {full}")
        loss = losses.MatryoshkaLoss(model, loss, matryoshka_dims=config.matryoshka_dims)
    return loss


def build_trainer(
    model, loss, train: datasets.Dataset, valid: datasets.Dataset, config: TrainConfig, report_to: list[str]
):
    from sentence_transformers.sentence_transformer.evaluation import TripletEvaluator
    from sentence_transformers.sentence_transformer.trainer import SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.training_args import (
        BatchSamplers,
        SentenceTransformerTrainingArguments,
    )

    args = SentenceTransformerTrainingArguments(
        output_dir=str(config.out / "checkpoints"),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        warmup_ratio=config.warmup_ratio,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        eval_strategy="steps",
        eval_steps=config.eval_steps,
        save_strategy="steps",
        save_steps=config.eval_steps,
        save_total_limit=config.save_total_limit,
        logging_steps=max(1, min(10, config.eval_steps)),
        seed=config.seed,
        report_to=report_to,
        run_name=config.run_name,
        use_cpu=True,
        dataloader_num_workers=0,
    )
    evaluator = TripletEvaluator(
        valid["context"],
        valid["positive"],
        valid["negative"],
        name="valid",
        write_csv=False,
        batch_size=config.batch_size,
    )
    return SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=train.select_columns(TRAIN_COLUMNS),
        eval_dataset=valid.select_columns(TRAIN_COLUMNS),
        loss=loss,
        evaluator=evaluator,
    )


def final_bench(model_dir: Path, valid: datasets.Dataset, config: TrainConfig) -> dict[str, float]:
    """Bench metrics of the saved model on validation triplets, per Matryoshka dim (`dim<d>/...`)."""
    bench = BenchConfig(
        triplets=config.triplets, distractors=config.bench_distractors, seed=config.seed, resamples=200
    )
    metrics: dict[str, float] = {}
    for dim in config.matryoshka_dims or [None]:
        embedder = SentenceTransformerEmbedder(
            str(model_dir), max_seq_length=config.max_seq_length, truncate_dim=dim
        )
        result = evaluate_model(embedder, str(model_dir), valid, bench)
        prefix = f"bench/dim{dim}/" if dim else "bench/"
        for protocol, estimates in (("sampled", result.sampled), ("full", result.full)):
            metrics.update(
                {f"{prefix}{protocol}_{k.replace('@', '_at_')}": e.mean for k, e in estimates.items()}
            )
    return metrics


def _teacher_tags(triplets_dir: Path, table: datasets.Dataset) -> dict[str, str]:
    report_path = triplets_dir / "report.json"
    teachers = sorted(set(table.unique("teacher_model")))
    programs = sorted(set(table.unique("program_hash")))
    return {
        "uue.dataset": str(triplets_dir.resolve()),
        "uue.dataset.triplets": str(len(table)),
        "uue.teacher_model": ",".join(teachers)[:250],
        "uue.program_hash": ",".join(programs)[:250],
        "uue.dataset.report": report_path.read_text()[:4000] if report_path.is_file() else "",
    }


def train(config: TrainConfig, report_to: tuple[str, ...] = ("mlflow",)) -> dict:
    """Train, save to `config.out`, log to MLflow; returns {run_id, metrics, split}."""
    table = load_triplets(config.triplets)
    if config.max_samples:
        table = table.select(range(min(config.max_samples, len(table))))
    train_set, valid_set, split = split_triplets(table, config)
    checkpoints = config.out / "checkpoints"
    if config.resume and not any(checkpoints.glob("checkpoint-*")):
        raise InputError(str(checkpoints), "no checkpoint to resume from", hint="run without --resume first")
    model = build_model(config)
    loss = build_loss(model, config)
    mlflow.set_tracking_uri(config.tracking_uri)
    mlflow.set_experiment(config.experiment)
    with mlflow.start_run(run_name=config.run_name) as run:
        mlflow.set_tags(_teacher_tags(config.triplets, table) | {"uue.base_model": config.base_model})
        mlflow.log_dict(loss.get_config_dict(), "loss_config.json")
        mlflow.log_dict(split.describe(), "split.json")
        trainer = build_trainer(model, loss, train_set, valid_set, config, list(report_to))
        trainer.train(resume_from_checkpoint=True if config.resume else None)
        model.save_pretrained(str(config.out))
        provenance = {
            "made_by": made_by("uue train", config),
            "triplets_report": _read_json(config.triplets / "report.json"),
            "split": split.describe() | {"train_triplets": len(train_set), "valid_triplets": len(valid_set)},
            "mlflow_run_id": run.info.run_id,
        }
        (config.out / "uue_provenance.json").write_text(json.dumps(provenance, indent=2, default=str))
        metrics = final_bench(config.out, valid_set, config)
        mlflow.log_metrics(metrics)
        mlflow.log_artifact(str(config.out / "uue_provenance.json"))
    return {"run_id": run.info.run_id, "metrics": metrics, "split": provenance["split"]}


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}


def clean_checkpoints(out: Path) -> None:
    shutil.rmtree(out / "checkpoints", ignore_errors=True)

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
from pathlib import Path

import datasets
import mlflow
import mlflow.sentence_transformers
from pydantic import BaseModel

from uue.datasets.histories import iter_histories
from uue.errors import ConfigError, InputError
from uue.eval.bench import BenchConfig, evaluate_model, load_triplets
from uue.eval.embedders import SentenceTransformerEmbedder
from uue.eval.split import UserSplit, split_users
from uue.models import load_sentence_transformer, offline_minilm_path
from uue.provenance import made_by, records_same_making
from uue.tracking import dataset_input, tracked_run
from uue.trainers.model_card import USAGE_EXAMPLES, finish_card, prepare_card
from uue.trainers.same_user import SameUserPair, pair_datasets, same_user_pairs
from uue.trainers.student_config import LossKind, Objective, TrainConfig

TRAIN_COLUMNS = ["context", "positive", "negative"]  # anchor, positive, negative: the order MNRL reads


class TrainReport(BaseModel):
    """What `uue train` made: its MLflow run, the final validation figures, the user split."""

    run_id: str | None
    metrics: dict[str, float]
    split: dict
    reused: bool = False  # an identical earlier model was kept (`train_or_reuse`)


def split_triplets(
    table: datasets.Dataset, config: TrainConfig
) -> tuple[datasets.Dataset, datasets.Dataset, UserSplit]:
    split = split_users(table["user_id"], config.valid_fraction, config.split_seed)
    users = table["user_id"]
    train = table.select([i for i, u in enumerate(users) if u in split.train])
    valid = table.select([i for i, u in enumerate(users) if u in split.valid])
    if len(train) == 0 or (len(valid) == 0 and config.evaluate):  # unevaluated: e.g. training-side triplets
        raise ConfigError(
            f"user split left {len(train)} train / {len(valid)} validation triplets",
            hint="change --valid-fraction or use more users",
        )
    return train, valid, split


def log_training_inputs(train_data, valid_set: datasets.Dataset, config: TrainConfig) -> None:
    """The run's datasets in MLflow's Datasets panel (name, digest, source): synth -> train -> bench
    link by the digest of the same triplets."""
    source = str((config.triplets or config.histories).resolve())
    parts = train_data if isinstance(train_data, dict) else {"train": train_data}
    for name, part in {**parts, "validation": valid_set}.items():
        if len(part) == 0:  # triplets of training users only (`uue synth --user-side train`)
            continue
        dataset = dataset_input(part, source, f"{Path(source).name}/{name}")
        mlflow.log_input(dataset, context="validation" if name == "validation" else "training")


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


def retrieval_evaluator(valid: datasets.Dataset, batch_size: int):
    """The bench's question at every evaluation step: each validation query against every validation
    label (positives and negatives), sentence-transformers' InformationRetrievalEvaluator (MRR@10,
    Recall@k, NDCG@10 per step in MLflow)."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    anchor, positive, negative = valid.column_names
    labels = list(dict.fromkeys([*valid[positive], *valid[negative]]))
    corpus = {f"d{i}": text for i, text in enumerate(labels)}
    ids = {text: key for key, text in corpus.items()}
    queries = {f"q{i}": text for i, text in enumerate(valid[anchor])}
    relevant = {f"q{i}": {ids[text]} for i, text in enumerate(valid[positive])}
    return InformationRetrievalEvaluator(
        queries, corpus, relevant, name="valid-retrieval", mrr_at_k=[10], ndcg_at_k=[10],
        accuracy_at_k=[1, 5], precision_recall_at_k=[1, 5], map_at_k=[10], batch_size=batch_size,
        show_progress_bar=False, write_csv=False,
    )  # fmt: skip


def build_trainer(
    model,
    loss,
    train: datasets.Dataset | dict[str, datasets.Dataset],
    valid: datasets.Dataset,
    config: TrainConfig,
    report_to: list[str],
):
    """`train`: (anchor, positive[, negative]) columns, or a dict of such datasets (every batch is
    drawn from one of them); `valid`: (anchor, positive, negative) columns, in that order."""
    from sentence_transformers.sentence_transformer.evaluation import SequentialEvaluator, TripletEvaluator
    from sentence_transformers.sentence_transformer.trainer import SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.training_args import (
        BatchSamplers,
        MultiDatasetBatchSamplers,
        SentenceTransformerTrainingArguments,
    )

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
        report_to=report_to,
        run_name=config.run_name,
        use_cpu=True,
        bf16=config.bf16,
        dataloader_num_workers=0,
    )
    evaluator = None
    if config.evaluate:
        anchor, positive, negative = valid.column_names
        triplets = TripletEvaluator(
            valid[anchor],
            valid[positive],
            valid[negative],
            name="valid",
            write_csv=False,
            batch_size=config.batch_size,
        )
        evaluator = SequentialEvaluator([triplets, retrieval_evaluator(valid, config.batch_size)])
    return SentenceTransformerTrainer(
        model=model,
        args=args,
        train_dataset=train,
        eval_dataset=valid if config.evaluate else None,
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


def triplet_data(config: TrainConfig) -> tuple[datasets.Dataset, datasets.Dataset, UserSplit, dict]:
    """Train triplets in the columns the loss reads (context, positive[, negative]), validation
    triplets (split by user), and the MLflow tags naming their teacher."""
    table = load_triplets(config.triplets)
    train_set, valid_set, split = split_triplets(table, config)
    if config.max_samples:  # the first N training triplets: fewer labelled users, as less teacher time gives
        train_set = train_set.select(range(min(config.max_samples, len(train_set))))
    columns = TRAIN_COLUMNS if config.hard_negatives else TRAIN_COLUMNS[:2]
    return train_set.select_columns(columns), valid_set, split, _teacher_tags(config.triplets, table)


def same_user_data(
    config: TrainConfig, model, limit: int | None
) -> tuple[dict[str, datasets.Dataset], datasets.Dataset, UserSplit]:
    """At most `limit` same-user pairs of the training users (one dataset per round) and held-out
    users' pairs as validation triplets (the negative: the next held-out user's positive window)."""
    histories = [h for h in iter_histories(config.histories) if len(h.activities) >= config.min_activities]
    split = split_users([h.user_id for h in histories], config.valid_fraction, config.split_seed)

    def count(text: str) -> int:
        return len(model.tokenizer(text, add_special_tokens=False)["input_ids"])

    def pairs(users: frozenset[str], rounds: int, limit: int | None = None) -> list[list[SameUserPair]]:
        chosen = [h for h in histories if h.user_id in users][:limit]  # the first users, in storage order
        return same_user_pairs(chosen, rounds, config.pair_window, model.max_seq_length, count, config.seed)

    per_round = -(-limit // config.pair_rounds) if limit else None
    train_rounds = pairs(split.train, config.pair_rounds, per_round)
    valid_pairs = pairs(split.valid, 1, 500)[0]  # 500 held-out users are plenty for the evaluator
    if len(valid_pairs) < 2 or not any(train_rounds):
        raise ConfigError(
            f"same-user pairs: {sum(map(len, train_rounds))} train / {len(valid_pairs)} validation",
            hint="use more histories, a smaller --pair-window or --min-activities",
        )
    positives = [p.positive for p in valid_pairs]
    valid = datasets.Dataset.from_dict(
        {
            "anchor": [p.anchor for p in valid_pairs],
            "positive": positives,
            "negative": positives[1:] + positives[:1],
        }
    )
    return pair_datasets(train_rounds), valid, split


def train(config: TrainConfig, report_to: tuple[str, ...] = ("mlflow",)) -> TrainReport:
    """Train, save to `config.out`, log to MLflow; returns {run_id, metrics, split}."""
    checkpoints = checkpoint_dir(config)
    if config.resume and not any(checkpoints.glob("checkpoint-*")):
        raise InputError(str(checkpoints), "no checkpoint to resume from", hint="run without --resume first")
    model = build_model(config)
    if config.objective is Objective.same_user:
        train_data, valid_set, split = same_user_data(config, model, config.max_samples)
        tags = {"uue.dataset": str(Path(config.histories).resolve())}
    elif config.objective is Objective.mixed:
        rounds, _, _ = same_user_data(config, model, config.same_user_pairs)
        teacher, valid_set, split, tags = triplet_data(config)  # the same hash split of users
        train_data = rounds | {"teacher": teacher}
    else:
        train_data, valid_set, split, tags = triplet_data(config)
    tags |= {"uue.objective": config.objective.value}
    train_count = (
        sum(len(d) for d in train_data.values()) if isinstance(train_data, dict) else len(train_data)
    )
    loss = build_loss(model, config)
    with tracked_run(config.experiment, config.run_name, uri=config.tracking_uri) as run:
        mlflow.set_tags(tags | {"uue.base_model": config.base_model})
        mlflow.log_dict(loss.get_config_dict(), "loss_config.json")
        mlflow.log_dict(split.describe(), "split.json")
        log_training_inputs(train_data, valid_set, config)
        eval_columns = (
            valid_set.select_columns(TRAIN_COLUMNS) if "context" in valid_set.column_names else valid_set
        )
        trainer = build_trainer(model, loss, train_data, eval_columns, config, list(report_to))
        trainer.train(resume_from_checkpoint=True if config.resume else None)
        finish_card(model, f"uue student ({config.objective.value}, base {config.base_model})",
                    {"description": f"{config.objective.value} examples of {len(split.train)} users: {tags.get('uue.teacher_model', 'no teacher')}"})  # fmt: skip
        model.save_pretrained(str(config.out))
        provenance = {
            "made_by": made_by("uue train", config),
            "triplets_report": _read_json(config.triplets / "report.json") if config.triplets else {},
            "split": split.describe() | {"train_examples": train_count, "valid_examples": len(valid_set)},
            "mlflow_run_id": run.info.run_id,
        }
        (config.out / "uue_provenance.json").write_text(json.dumps(provenance, indent=2, default=str))
        metrics = final_bench(config.out, valid_set, config) if config.triplets and config.evaluate else {}
        mlflow.log_metrics(metrics)
        mlflow.log_artifact(str(config.out / "uue_provenance.json"))
        if config.log_model:
            mlflow.sentence_transformers.log_model(
                model, name="student", input_example=USAGE_EXAMPLES[:1], registered_model_name=config.register_as,
                pip_requirements=[],  # offline: no requirement inference from the index
            )  # fmt: skip
    return TrainReport(run_id=run.info.run_id, metrics=metrics, split=provenance["split"])


def train_or_reuse(config: TrainConfig) -> TrainReport:
    """`train`, unless `config.out` already holds a model trained with exactly these settings (where
    it was written is not one of them: a moved model folder is reused)."""

    saved = _read_json(config.out / "uue_provenance.json")
    if records_same_making(saved.get("made_by", {}), made_by("", config), ignore=frozenset({"out"})):
        return TrainReport(run_id=saved.get("mlflow_run_id"), metrics={}, split=saved["split"], reused=True)
    return train(config)


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.is_file() else {}

"""Throughput of `uue train` and `uue embed` against bare sentence-transformers on the same work.

    HF_HUB_OFFLINE=1 python -m benchmarks.train_throughput --histories out/demo/histories --samples 256 --batch-size 16

Training: samples/s of the `uue train` trainer (built by `uue.trainers.student`, evaluation pushed past
the last step) vs a bare SentenceTransformerTrainer + MultipleNegativesRankingLoss script, same
dev triplets, model, batch and max_seq_length. Embedding: users/s of `uue embed` (`last` pooling, so
the texts are identical) vs `model.encode` of the same rendered texts. Target: ratios >= 0.9.
Dev triplets come from real histories via tests/dev_triplets.py (no teacher involved).
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from pathlib import Path

import datasets

from tests.dev_triplets import dev_triplets_from_histories, write_dev_triplets
from uue.datasets.histories import iter_histories, write_histories
from uue.datasets.triplets import TRIPLET_FEATURES
from uue.eval.embed_store import embed_users
from uue.eval.embedders import SentenceTransformerEmbedder, offline_minilm_path
from uue.eval.user_vectors import Pooling, user_texts
from uue.trainers.student import TRAIN_COLUMNS, build_loss, build_model, build_trainer
from uue.trainers.student_config import TrainConfig


def bare_train(table: datasets.Dataset, args, out: Path) -> float:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.trainer import SentenceTransformerTrainer
    from sentence_transformers.sentence_transformer.training_args import (
        BatchSamplers,
        SentenceTransformerTrainingArguments,
    )

    model = SentenceTransformer(str(offline_minilm_path()), device="cpu")
    model.max_seq_length = args.max_seq_length
    targs = SentenceTransformerTrainingArguments(
        output_dir=str(out),
        num_train_epochs=1,
        per_device_train_batch_size=args.batch_size,
        batch_sampler=BatchSamplers.NO_DUPLICATES,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        seed=0,
    )
    trainer = SentenceTransformerTrainer(
        model=model,
        args=targs,
        train_dataset=table.select_columns(TRAIN_COLUMNS),
        loss=MultipleNegativesRankingLoss(model),
    )
    return trainer.train().metrics["train_samples_per_second"]


def uue_train(table: datasets.Dataset, valid: datasets.Dataset, args, root: Path) -> float:
    config = TrainConfig(
        triplets=root,
        out=root / "uue-model",
        epochs=1,
        batch_size=args.batch_size,
        max_seq_length=args.max_seq_length,
        eval_steps=10_000,
        valid_fraction=0.1,
    )
    model = build_model(config)
    trainer = build_trainer(model, build_loss(model, config), table, valid, config, report_to=[])
    return trainer.train().metrics["train_samples_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--histories", type=Path, default=Path("out/demo/histories"))
    parser.add_argument("--samples", type=int, default=256)
    parser.add_argument("--users", type=int, default=64, help="users for the embed comparison")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-seq-length", type=int, default=256)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    histories = [h for h in itertools.islice(iter_histories(args.histories), 4000) if len(h.activities) >= 4]
    rows = dev_triplets_from_histories(histories[: args.samples * 2])[: args.samples]
    table = datasets.Dataset.from_list(rows, features=TRIPLET_FEATURES)
    results: dict = {
        "samples": len(table),
        "batch_size": args.batch_size,
        "max_seq_length": args.max_seq_length,
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_dev_triplets(rows, root)
        results["bare_train_samples_per_s"] = bare_train(table, args, root / "bare")
        results["uue_train_samples_per_s"] = uue_train(table, table.select(range(8)), args, root)
        results["train_ratio"] = results["uue_train_samples_per_s"] / results["bare_train_samples_per_s"]

        users = histories[: args.users]
        write_histories(users, root / "hist")
        embedder = SentenceTransformerEmbedder(str(offline_minilm_path()), max_seq_length=args.max_seq_length)
        texts = [user_texts(h.activities, embedder) for h in users]
        start = time.perf_counter()
        embedder.model.encode(texts, batch_size=32, normalize_embeddings=True)
        results["bare_encode_users_per_s"] = len(users) / (time.perf_counter() - start)
        for pooling in (Pooling.last, Pooling.mean):
            start = time.perf_counter()
            embed_users(embedder, "minilm", root / "hist", root / f"users-{pooling.value}.parquet", pooling)
            results[f"uue_embed_{pooling.value}_users_per_s"] = len(users) / (time.perf_counter() - start)
        results["embed_ratio_last"] = (
            results["uue_embed_last_users_per_s"] / results["bare_encode_users_per_s"]
        )
    print(json.dumps(results, indent=2))
    if args.out:
        args.out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

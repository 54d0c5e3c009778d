"""Reproduce SASRec / BERT4Rec on the seqrec benchmarks and compare with the published numbers.

    python benchmarks/seqrec.py --dataset LastFM --model sasrec --seeds 1 2 3
    python benchmarks/seqrec.py --dataset Beauty --model bert4rec --epochs 60 --seeds 1
    python benchmarks/seqrec.py --dataset LastFM --model sasrec --seeds 1 2 3 \
        --config configs/seqrec/sasrec_lastfm_distill.yaml --profiles runs/profiles-lastfm/profiles.parquet

The base config is configs/seqrec/<model>_<dataset>.yaml when it exists (else the model defaults);
flags override it. With --profiles, every seed trains a plain and a distilled model (distillation
settings from the config's `distillation` section, or the defaults) and the table compares them
(full ranking first). Prints a table; --json-out also writes every run's metrics.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from uue.trainers.seqrec import load_seqrec, train_seqrec
from uue.trainers.seqrec.config import config_from_dict

ROOT = Path(__file__).resolve().parents[1]
DATA_DIR = ROOT.parent / "shared" / "data" / "seqrec"

# (dataset, model, protocol) -> (HR@10, NDCG@10), from shared/data/README.md.
PUBLISHED: dict[tuple[str, str, str], tuple[float, float]] = {
    ("Beauty", "sasrec", "random99"): (0.4696, 0.3156),
    ("Beauty", "bert4rec", "random99"): (0.4739, 0.2975),
    ("Beauty", "sasrec", "full"): (0.0605, 0.0318),
    ("Beauty", "bert4rec", "full"): (0.0347, 0.0170),
    ("Sports_and_Outdoors", "sasrec", "random99"): (0.4622, 0.2869),
    ("Sports_and_Outdoors", "sasrec", "full"): (0.0350, 0.0192),
    ("Toys_and_Games", "sasrec", "random99"): (0.4663, 0.3136),
    ("Toys_and_Games", "sasrec", "full"): (0.0675, 0.0374),
    ("Yelp", "sasrec", "random99"): (0.7373, 0.4642),
    ("Yelp", "sasrec", "full"): (0.0274, 0.0136),
    ("LastFM", "sasrec", "random99"): (0.4706, 0.2755),
    ("LastFM", "sasrec", "full"): (0.0688, 0.0390),
    ("bert4rec_beauty", "sasrec", "popular100"): (0.2653, 0.1633),
    ("bert4rec_beauty", "bert4rec", "popular100"): (0.3025, 0.1862),
    ("sasrec_Video", "sasrec", "random100"): (0.7410, 0.5360),
}


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--dataset", default="LastFM", help="name in ../shared/data/seqrec (no .txt) or a file path"
    )
    parser.add_argument("--model", default="sasrec", help="registered recommender")
    parser.add_argument(
        "--config", type=Path, help="base YAML (default: configs/seqrec/<model>_<dataset>.yaml)"
    )
    parser.add_argument("--epochs", type=int, help="max epochs (early stopping still applies)")
    parser.add_argument("--patience", type=int, help="validations without improvement before stopping")
    parser.add_argument("--eval-every", type=int)
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--max-users", type=int, help="first N users only (smoke runs)")
    parser.add_argument("--protocols", nargs="+", help="default: full + the dataset's published protocol(s)")
    parser.add_argument("--profiles", type=Path, help="{user_id: vector} file: compare distilled vs plain")
    parser.add_argument("--fine-tune-epoch", type=int, help="distilled runs: first epoch with L_rec only")
    parser.add_argument("--no-mlflow", action="store_true", help="do not track the runs")
    parser.add_argument("--json-out", type=Path)
    return parser.parse_args(argv)


def _base_config(args: argparse.Namespace, dataset: str, path: Path) -> dict[str, Any]:
    default = ROOT / "configs" / "seqrec" / f"{args.model}_{dataset.lower()}.yaml"
    source = args.config or (default if default.is_file() else None)
    import yaml

    raw: dict[str, Any] = yaml.safe_load(source.read_text()) if source else {}
    raw.setdefault("model", {})["model_name"] = args.model
    raw.setdefault("data", {})["path"] = str(path)
    raw["experiment_name"] = f"bench-seqrec-{dataset}"
    training = raw.setdefault("training", {})
    for key, value in (("epochs", args.epochs), ("patience", args.patience), ("eval_every", args.eval_every)):
        if value is not None:
            training[key] = value
    if args.max_users is not None:
        raw["data"]["max_users"] = args.max_users
    published = sorted({p for (d, _, p) in PUBLISHED if d == dataset})
    protocols = args.protocols or ["full"] + [p for p in published if p != "full"]
    raw.setdefault("eval", {})["protocols"] = protocols
    raw.setdefault("tracking", {})["enabled"] = not args.no_mlflow
    return raw


def _mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    path = Path(args.dataset) if Path(args.dataset).is_file() else DATA_DIR / f"{args.dataset}.txt"
    dataset = path.stem
    base = _base_config(args, dataset, path)
    data = load_seqrec(path, max_users=base["data"].get("max_users"))  # the flag or the config
    print(f"{dataset}: {data.describe()}", flush=True)

    plain = json.loads(json.dumps(base))
    plain.setdefault("distillation", {})["enabled"] = False  # a distillation config's plain twin
    variants = {"plain": plain}
    if args.profiles is not None:
        distilled = json.loads(json.dumps(base))
        distilled.setdefault("distillation", {}).update(enabled=True, profiles_path=str(args.profiles))
        if args.fine_tune_epoch is not None:
            distilled["distillation"]["fine_tune_epoch"] = args.fine_tune_epoch
        variants["distilled"] = distilled

    runs: list[dict[str, Any]] = []
    for seed in args.seeds:
        for variant, raw in variants.items():
            config = config_from_dict(
                raw
                | {
                    "seed": seed,
                    "tracking": raw["tracking"] | {"run_name": f"{args.model}-{variant}-s{seed}"},
                }
            )
            start = time.perf_counter()
            result = train_seqrec(config, data=data)
            wall = time.perf_counter() - start
            runs.append(
                {
                    "variant": variant,
                    "seed": seed,
                    "wall_seconds": wall,
                    "samples_per_second": result.samples_per_second,
                    "best_epoch": result.best_epoch,
                    "epochs_run": result.epochs_run,
                    "test": result.test_metrics,
                    "run_id": result.run_id,
                }
            )
            print(
                f"[{variant} seed={seed}] wall {wall:.0f}s, {result.samples_per_second:.0f} samples/s, "
                f"best epoch {result.best_epoch}/{result.epochs_run}, full NDCG@10 "
                f"{result.test_metrics['full']['NDCG@10']:.4f}",
                flush=True,
            )

    print()
    print(f"{dataset} / {args.model}, seeds {args.seeds}, test split, mean ± std over seeds")
    header = "| variant | protocol | HR@10 | NDCG@10 | published HR@10 / NDCG@10 | NDCG@10 vs published |"
    print(header)
    print("|---|---|---|---|---|---|")
    for variant in variants:
        chosen = [r for r in runs if r["variant"] == variant]
        for protocol in base["eval"]["protocols"]:
            hr = [r["test"][protocol]["HR@10"] for r in chosen]
            ndcg = [r["test"][protocol]["NDCG@10"] for r in chosen]
            published = PUBLISHED.get((dataset, args.model, protocol))
            ref = f"{published[0]:.4f} / {published[1]:.4f}" if published else "-"
            gap = f"{100 * (statistics.mean(ndcg) / published[1] - 1):+.1f}%" if published else "-"
            print(f"| {variant} | {protocol} | {_mean_std(hr)} | {_mean_std(ndcg)} | {ref} | {gap} |")
    for variant in variants:
        chosen = [r for r in runs if r["variant"] == variant]
        print(
            f"{variant}: wall {_mean_std([r['wall_seconds'] for r in chosen])} s per run, "
            f"{_mean_std([r['samples_per_second'] for r in chosen])} training samples/s, "
            f"best epochs {[r['best_epoch'] for r in chosen]}, epochs run {[r['epochs_run'] for r in chosen]}"
        )
    if args.json_out:
        args.json_out.write_text(
            json.dumps({"dataset": dataset, "model": args.model, "runs": runs}, indent=2)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

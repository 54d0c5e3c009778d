"""Reproduce SASRec / BERT4Rec on the seqrec benchmarks and compare with the published numbers.

    python benchmarks/seqrec.py --dataset LastFM --model sasrec --seeds 1 2 3
    python benchmarks/seqrec.py --dataset Beauty --model bert4rec --epochs 60 --seeds 1
    python benchmarks/seqrec.py --dataset Beauty --model sasrec --select random99:MRR --eval-every 1 --patience 10
    python benchmarks/seqrec.py --dataset LastFM --model sasrec --seeds 1 2 3 \
        --config configs/seqrec/sasrec_lastfm_distill.yaml --profiles runs/profiles-lastfm/profiles.parquet

The base config is configs/seqrec/<model>_<dataset>.yaml when it exists (else the model defaults);
flags override it. With --profiles, every seed trains a plain and a distilled model (distillation
settings from the config's `distillation` section, or the defaults) and the table compares them
(full ranking first); --shuffled-control adds a third model trained on the same vectors dealt to
other users. Every number comes with a 95% bootstrap interval over the test users (per-user values
averaged over seeds); distilled vs plain is also compared user by user (paired), on all users and
on the users that have a profile. Prints tables; --json-out also writes every run's metrics and
per-user ranks, after each run: rerunning the command reuses the runs whose config is unchanged
(so the plain runs can be trained before the profiles exist, with the same --json-out).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from uue.eval.metrics import bootstrap_ci
from uue.seqrec.config import apply_overrides, config_from_dict
from uue.seqrec.data import load_seqrec
from uue.seqrec.evaluate import per_user_metrics
from uue.seqrec.profiles import ProfileTable, load_profiles
from uue.seqrec.train import train_seqrec

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
    parser.add_argument(
        "--select",
        metavar="PROTOCOL:METRIC",
        help="model selection on the valid split, e.g. random99:MRR as the S3-Rec code (default: the config's)",
    )
    parser.add_argument(
        "--set",
        metavar="KEY=VALUE",
        nargs="+",
        default=[],
        help="config overrides, e.g. model.num_heads=2 (values read as YAML)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[42])
    parser.add_argument("--max-users", type=int, help="first N users only (smoke runs)")
    parser.add_argument("--protocols", nargs="+", help="default: full + the dataset's published protocol(s)")
    parser.add_argument("--profiles", type=Path, help="{user_id: vector} file: compare distilled vs plain")
    parser.add_argument("--fine-tune-epoch", type=int, help="distilled runs: first epoch with L_rec only")
    parser.add_argument("--alpha", type=float, help="distilled runs: weight of the distillation term")
    parser.add_argument(
        "--shuffled-control",
        action="store_true",
        help="with --profiles: also train on the profile vectors dealt to other users (seed 0)",
    )
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
    # applied in this order, a later entry winning
    flags = {
        "training.epochs": args.epochs,
        "training.patience": args.patience,
        "training.eval_every": args.eval_every,
    }
    overrides = {key: value for key, value in flags.items() if value is not None}
    overrides |= {key: yaml.safe_load(value) for key, _, value in (a.partition("=") for a in args.set)}
    if args.max_users is not None:
        overrides["data.max_users"] = args.max_users
    published = sorted({p for (d, _, p) in PUBLISHED if d == dataset})
    overrides["eval.protocols"] = args.protocols or ["full"] + [p for p in published if p != "full"]
    if args.select:
        overrides["eval.select_protocol"], _, overrides["eval.select_metric"] = args.select.partition(":")
    overrides["tracking.enabled"] = not args.no_mlflow
    return apply_overrides(raw, overrides)


def _mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def _interval(values: np.ndarray) -> str:
    estimate = bootstrap_ci(values)
    return f"{estimate.mean:.4f} [{estimate.ci_low:.4f}, {estimate.ci_high:.4f}]"


def _per_user(runs: list[dict[str, Any]], variant: str, protocol: str, metric: str) -> np.ndarray:
    """Each test user's `metric`, averaged over the variant's seeds -> [U]."""
    chosen = [r for r in runs if r["variant"] == variant]
    return np.mean([per_user_metrics(r["ranks"][protocol])[metric] for r in chosen], axis=0)


def _full_ranking(runs: list[dict[str, Any]], variant: str, mask: np.ndarray) -> dict[str, np.ndarray]:
    """HR@10 and NDCG@10 under full ranking of the users in `mask`, seeds averaged."""
    return {m: _per_user(runs, variant, "full", m)[mask] for m in ("HR@10", "NDCG@10")}


def _run_key(raw: dict[str, Any]) -> str:
    """Fingerprint of a run's full config and of its profile file's bytes (rewritten profiles: new key)."""
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode())
    distillation = raw.get("distillation", {})
    if distillation.get("enabled"):
        digest.update(Path(distillation["profiles_path"]).read_bytes())
    return digest.hexdigest()[:16]


def _variants(
    base: dict[str, Any], args: argparse.Namespace, profiles: ProfileTable | None
) -> dict[str, dict[str, Any]]:
    """plain, and with --profiles the distilled model (and the shuffled control) on the same config."""
    plain = json.loads(json.dumps(base))
    plain.setdefault("distillation", {})["enabled"] = False  # a distillation config's plain twin
    variants = {"plain": plain}
    if profiles is None:
        return variants
    profile_files = {"distilled": args.profiles}
    if args.shuffled_control:
        shuffled = args.profiles.with_name(f"{args.profiles.stem}-shuffled.parquet")
        profiles.shuffled(seed=0).save(shuffled)
        profile_files["shuffled"] = shuffled
    for variant, path in profile_files.items():
        distilled = json.loads(json.dumps(base))
        distilled.setdefault("distillation", {}).update(enabled=True, profiles_path=str(path))
        given = {"fine_tune_epoch": args.fine_tune_epoch, "alpha": args.alpha}
        distilled["distillation"] |= {key: value for key, value in given.items() if value is not None}
        variants[variant] = distilled
    return variants


def _print_reproduction(runs, variants, protocols, dataset: str, model: str) -> None:
    print(
        "| variant | protocol | HR@10 | NDCG@10 | NDCG@10, 95% CI over users | published HR@10 / NDCG@10 "
        "| HR@10 / NDCG@10 vs published | published NDCG@10 inside CI |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for variant in variants:
        chosen = [r for r in runs if r["variant"] == variant]
        for protocol in protocols:
            hr = [r["test"][protocol]["HR@10"] for r in chosen]
            ndcg = [r["test"][protocol]["NDCG@10"] for r in chosen]
            estimate = bootstrap_ci(_per_user(runs, variant, protocol, "NDCG@10"))
            published = PUBLISHED.get((dataset, model, protocol))
            ref = gap = inside = "-"
            if published:
                ref = f"{published[0]:.4f} / {published[1]:.4f}"
                gap = " / ".join(
                    f"{100 * (statistics.mean(ours) / theirs - 1):+.1f}%"
                    for ours, theirs in ((hr, published[0]), (ndcg, published[1]))
                )
                inside = "yes" if estimate.ci_low <= published[1] <= estimate.ci_high else "no"
            print(
                f"| {variant} | {protocol} | {_mean_std(hr)} | {_mean_std(ndcg)} "
                f"| [{estimate.ci_low:.4f}, {estimate.ci_high:.4f}] | {ref} | {gap} | {inside} |"
            )


def _print_distillation(runs, variants, has_profile: np.ndarray) -> None:
    """Full ranking, each variant vs plain on the same users: per-user differences, seeds averaged."""
    subsets = {"all users": np.ones_like(has_profile)}
    if not has_profile.all():
        subsets["users with a profile"] = has_profile
    print("| users | variant | HR@10 | NDCG@10 | ΔHR@10 vs plain | ΔNDCG@10 vs plain |")
    print("|---|---|---|---|---|---|")
    for subset, mask in subsets.items():
        plain = _full_ranking(runs, "plain", mask)
        for variant in variants:
            values = _full_ranking(runs, variant, mask)
            deltas = (
                ["-", "-"]
                if variant == "plain"
                else [_interval(values[m] - plain[m]) for m in ("HR@10", "NDCG@10")]
            )
            print(
                f"| {subset} ({int(mask.sum())}) | {variant} | {_interval(values['HR@10'])} "
                f"| {_interval(values['NDCG@10'])} | {deltas[0]} | {deltas[1]} |"
            )
    if "shuffled" in variants:  # does the profile's content matter, beyond the extra loss term?
        for subset, mask in subsets.items():
            own, other = _full_ranking(runs, "distilled", mask), _full_ranking(runs, "shuffled", mask)
            print(
                f"own - shuffled profiles, {subset}: ΔHR@10 {_interval(own['HR@10'] - other['HR@10'])}, "
                f"ΔNDCG@10 {_interval(own['NDCG@10'] - other['NDCG@10'])}"
            )


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    path = Path(args.dataset) if Path(args.dataset).is_file() else DATA_DIR / f"{args.dataset}.txt"
    dataset = path.stem
    base = _base_config(args, dataset, path)
    data = load_seqrec(path, max_users=base["data"].get("max_users"))  # the flag or the config
    print(f"{dataset}: {data.describe()}", flush=True)
    profiles = load_profiles(args.profiles) if args.profiles is not None else None
    variants = _variants(base, args, profiles)

    done = json.loads(args.json_out.read_text())["runs"] if args.json_out and args.json_out.is_file() else []
    runs: list[dict[str, Any]] = []
    for seed in args.seeds:
        for variant, raw in variants.items():
            raw = raw | {
                "seed": seed,
                "tracking": raw["tracking"] | {"run_name": f"{args.model}-{variant}-s{seed}"},
            }
            key = _run_key(raw)
            previous = [r for r in done if r.get("config_key") == key and r["variant"] == variant]
            if previous:
                runs.append(previous[0])
                print(f"[{variant} seed={seed}] reused from {args.json_out}", flush=True)
                continue
            start = time.perf_counter()
            result = train_seqrec(config_from_dict(raw), data=data)
            wall = time.perf_counter() - start
            runs.append(
                {
                    "variant": variant,
                    "seed": seed,
                    "config_key": key,
                    "wall_seconds": wall,
                    "samples_per_second": result.samples_per_second,
                    "best_epoch": result.best_epoch,
                    "epochs_run": result.epochs_run,
                    "test": result.test_metrics,
                    "run_id": result.run_id,
                    "ranks": {p: r.tolist() for p, r in result.test_ranks.items()},
                }
            )
            print(
                f"[{variant} seed={seed}] wall {wall:.0f}s, {result.samples_per_second:.0f} samples/s, "
                f"best epoch {result.best_epoch}/{result.epochs_run}, full NDCG@10 "
                f"{result.test_metrics['full']['NDCG@10']:.4f}",
                flush=True,
            )
            if args.json_out:  # after every run, so an interrupted benchmark resumes
                fresh = {run["config_key"] for run in runs}
                kept = [run for run in done if run.get("config_key") not in fresh]
                payload = {"dataset": dataset, "model": args.model, "runs": kept + runs}
                args.json_out.write_text(json.dumps(payload))

    print()
    print(f"{dataset} / {args.model}, seeds {args.seeds}, test split, mean ± std over seeds")
    _print_reproduction(runs, variants, base["eval"]["protocols"], dataset, args.model)
    if profiles is not None:
        test_users = np.array(data.user_ids)[data.split("test").user_index]
        has_profile = np.isin(test_users, profiles.user_ids)
        print()
        print(
            "Distillation, full ranking, mean [95% CI] over test users (each user's value averaged over seeds)"
        )
        _print_distillation(runs, variants, has_profile)
    for variant in variants:
        chosen = [r for r in runs if r["variant"] == variant]
        print(
            f"{variant}: wall {_mean_std([r['wall_seconds'] for r in chosen])} s per run, "
            f"{_mean_std([r['samples_per_second'] for r in chosen])} training samples/s, "
            f"best epochs {[r['best_epoch'] for r in chosen]}, epochs run {[r['epochs_run'] for r in chosen]}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Does the student beat its base? The held-out table and the learning curve over teacher triplets.

Run: python benchmarks/student.py --histories out/scale/histories --triplets out/scale/from-labels \
         --train-triplets out/scale/from-labels-with-activity --out out/student \
         [--sizes 500 1000 2000 0] [--plot docs/learning_curve.png]
(`--out out/student` reuses the two models `make student` trained.)

Arms, all from base MiniLM and all benched on the same held-out users (the `--valid-fraction` hash
split): same-user pre-training only; teacher triplets only, on the first N training triplets for each
`--sizes` (0 = all); same-user then all teacher triplets (the `uue student` recipe). Rows beside
them: BM25, base MiniLM and all-mpnet-base-v2, and the recipe's `best/`, the weight average of the
same-user model and same-user+teacher (merged-0.5; `--merge` adds other shares). Every figure is a mean with a paired 95% bootstrap
interval against base MiniLM. Trained arms and their ranks are reused on a rerun (resumable); the
table, the curve (PNG, also logged to MLflow with the table) and `--out/curve.json` are rewritten.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from uue.programs.lm import ensure_offline_defaults

ensure_offline_defaults()
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from uue.eval.embedders import make_embedder  # noqa: E402
from uue.eval.heldout import HeldOutConfig, HeldOutReport, held_out_report, markdown_table  # noqa: E402
from uue.tracking import tracked_run  # noqa: E402
from uue.trainers.merge import merge_or_reuse  # noqa: E402
from uue.trainers.recipe import RecipeConfig, Schedule, merge_config, stage_configs  # noqa: E402
from uue.trainers.student import train_or_reuse  # noqa: E402
from uue.trainers.student_config import LossKind, Objective  # noqa: E402

# Seed 003's arms: (name, attention pooling, one encoder for both towers)
TWO_TOWER_ARMS = [
    ("two-tower", True, False),
    ("two-tower-mean", False, False),
    ("two-tower-shared", True, True),
]
CURVE = [
    ("interests/specific", "recall@1"),
    ("interests/specific", "mrr"),
    ("reid", "recall@1"),
    ("triplets", "mrr"),
]


def teacher_arm(recipe: RecipeConfig, size: int, template):
    name = f"teacher-{size or 'all'}"
    return name, template.model_copy(
        update={
            "objective": Objective.triplets,
            "same_user_pairs": None,
            "base_model": "minilm",
            "max_samples": size or None,
            "out": recipe.out / name,
            "run_name": name,
        }
    )


def plot(report: HeldOutReport, arms: dict[str, int], names: dict[str, str], path: Path, recipe_x: int):
    """Teacher-only arms as the curve; baselines and the same-user model (no teacher triplet) as
    lines; the recipe's fine-tuned model and best/ at the teacher triplets they trained on."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, len(CURVE), figsize=(4 * len(CURVE), 3.4))
    for axis, (task, metric) in zip(axes, CURVE, strict=True):
        by_name = {
            names.get(r.model, r.model): r for r in report.rows if (r.task, r.metric) == (task, metric)
        }
        sizes = sorted(arms.items(), key=lambda item: item[1])
        values = [report.row(task, metric, spec) for spec, _ in sizes]
        x = [n for _, n in sizes]
        axis.errorbar(x, [v.value.mean for v in values], fmt="o-", label="teacher only",
                      yerr=[[v.value.mean - v.value.ci_low for v in values], [v.value.ci_high - v.value.mean for v in values]])  # fmt: skip
        for name, color, line, label in (
            ("minilm", "k", "--", "minilm"),
            ("mpnet", "b", ":", "mpnet"),
            ("bm25", "g", "-.", "bm25"),
            ("same-user", "C1", ":", "same-user only"),
        ):
            if (row := by_name.get(name)) is not None:
                axis.axhline(row.value.mean, linestyle=line, color=color, label=label)
        for name, label, marker in (
            ("same-user+teacher", "same-user + teacher", "*"),
            ("merged-0.5", "best: their average", "D"),
        ):
            if (row := by_name.get(name)) is not None:
                axis.plot([recipe_x], [row.value.mean], marker, markersize=9, label=label)
        axis.set_xscale("log")
        axis.set_xticks(x, [f"{n:,}" for n in x])  # the sizes themselves: log ticks overlapped at 3k/4k
        axis.minorticks_off()
        axis.set_xlabel("teacher triplets (training users)")
        axis.set_title(f"{task} {metric}")
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return figure


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--histories", type=Path, required=True)
    parser.add_argument("--triplets", type=Path, required=True)
    parser.add_argument(
        "--train-triplets", type=Path, help="Train on these triplets (as `uue student --train-triplets`)"
    )
    parser.add_argument("--out", type=Path, default=Path("runs/student-curve"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[500, 1000, 2000, 0])
    parser.add_argument("--valid-fraction", type=float, default=0.2)
    parser.add_argument("--same-user-pairs", type=int, default=3000)
    parser.add_argument("--max-users", type=int, default=300)
    parser.add_argument("--baselines", nargs="+", default=["bm25", "minilm", "mpnet"])
    parser.add_argument("--schedule", choices=[s.value for s in Schedule], default="sequential")
    parser.add_argument("--loss", choices=[k.value for k in LossKind], default="mnrl")
    parser.add_argument("--no-hard-negatives", dest="hard_negatives", action="store_false")
    parser.add_argument(
        "--arms",
        nargs="+",
        choices=["same-user", "teacher", "final"],
        default=["same-user", "teacher", "final"],
        help="Which students to train and bench",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=DIR",
        help="Other training triplets (e.g. `uue synth --query-scope with-activity`): arms teacher-all-NAME "
        "and same-user+teacher-NAME; benched on the same held-out users and --triplets' held-out triplets",
    )
    parser.add_argument(
        "--two-tower",
        type=Path,
        metavar="LABELS",
        help="Also train seed 003's two-tower model on these teacher labels (attention pooling; the "
        "mean-pooling and shared-encoder ablations) and bench it on the same held-out users",
    )
    parser.add_argument(
        "--merge",
        type=float,
        nargs="+",
        default=[],
        metavar="WEIGHT",
        help="Besides the recipe's best/ (weight 0.5), bench the weight average of the same-user model and "
        "same-user+teacher (`uue merge`, WiSE-FT) at these shares of the fine-tuned model",
    )
    parser.add_argument("--ranks", type=Path, default=Path("runs/ranks"), help="Rank cache shared by runs")
    parser.add_argument("--plot", type=Path, default=Path("docs/learning_curve.png"))
    args = parser.parse_args()
    recipe = RecipeConfig(
        histories=args.histories, triplets=args.triplets, train_triplets=args.train_triplets, out=args.out, valid_fraction=args.valid_fraction,
        same_user_pairs=args.same_user_pairs, max_users=args.max_users, baselines=args.baselines,
        schedule=args.schedule, loss=args.loss, hard_negatives=args.hard_negatives,
    )  # fmt: skip
    same_user, combined = stage_configs(recipe)
    arms = dict(teacher_arm(recipe, size, combined) for size in args.sizes) if "teacher" in args.arms else {}
    wanted = {"same-user": "same-user" in args.arms, "same-user+teacher": "final" in args.arms}
    trained = {"same-user": same_user, **arms, "same-user+teacher": combined}
    trained = {name: config for name, config in trained.items() if wanted.get(name, True)}
    for variant in args.variant:
        label, _, directory = variant.partition("=")
        for name, config in (
            (f"teacher-all-{label}", arms.get("teacher-all")),
            (f"same-user+teacher-{label}", combined if wanted["same-user+teacher"] else None),
        ):
            if config is not None:
                trained[name] = config.model_copy(
                    update={"triplets": Path(directory), "out": recipe.out / name, "run_name": name}
                )
    counts: dict[str, int] = {}
    for name, config in trained.items():
        result = train_or_reuse(config)
        counts[str(config.out)] = result.split["train_examples"]
        print(f"{name}: {result.split['train_examples']} training examples", flush=True)
    specs = [*args.baselines, *(str(c.out) for c in trained.values())]
    merged = {}
    if wanted["same-user+teacher"]:  # the recipe's best/: its share of the fine-tuned model, then --merge's
        best = merge_config(recipe, combined)
        merges = [best] + [
            best.model_copy(update={"weight": w, "out": args.out / f"merged-{w:g}"})
            for w in args.merge
            if w != best.weight  # best/ is that model already (and would share its name in the table)
        ]
        for config in merges:
            merged[str(merge_or_reuse(config))] = f"merged-{config.weight:g}"
            specs.append(str(config.out))
    if args.two_tower:
        from uue.twotower.config import TwoTowerConfig
        from uue.twotower.train import train_two_tower

        for name, attention, shared in TWO_TOWER_ARMS:
            tower = TwoTowerConfig(histories=args.histories, labels=args.two_tower, out=args.out / name,
                                   attention=attention, share_encoder=shared,
                                   valid_fraction=args.valid_fraction)  # fmt: skip
            if not (tower.out / "model.pt").is_file():  # resumable: a trained arm is kept
                report = train_two_tower(tower)
                print(f"{name}: {report.examples} examples, {report.users_per_second} users/s", flush=True)
            specs.append(f"two-tower:{tower.out}")
    report = held_out_report(
        {spec: (lambda spec=spec: make_embedder(spec)) for spec in specs},
        HeldOutConfig(histories=args.histories, triplets=args.triplets, valid_fraction=args.valid_fraction,
                      max_users=args.max_users),
        cache_dir=args.ranks,
    )  # fmt: skip
    names = {str(c.out): name for name, c in trained.items()} | merged
    names.update({f"two-tower:{args.out / n}": n for n, _, _ in TWO_TOWER_ARMS})
    table = markdown_table(report, names)
    print(table)
    teacher_only = {str(c.out): counts[str(c.out)] for c in arms.values()}
    recipe_x = counts.get(str(combined.out), 0)  # the fine-tuned model's teacher triplets (its markers')
    figure = plot(report, teacher_only, names, args.plot, recipe_x)
    (args.out / "curve.json").write_text(
        json.dumps(
            {"report": report.model_dump(mode="json"), "train_examples": counts, "names": names}, indent=2
        )
    )
    import mlflow

    with tracked_run("uue-student-curve", "learning-curve"):
        mlflow.log_figure(figure, "learning_curve.png")
        mlflow.log_table(
            {
                "model": [names.get(r.model, r.model) for r in report.rows],
                "task": [r.task for r in report.rows],
                "metric": [r.metric for r in report.rows],
                "value": [r.value.mean for r in report.rows],
                "delta_vs_minilm": [r.delta.mean if r.delta else 0.0 for r in report.rows],
                "delta_low": [r.delta.ci_low if r.delta else 0.0 for r in report.rows],
                "delta_high": [r.delta.ci_high if r.delta else 0.0 for r in report.rows],
                "train_examples": [counts.get(r.model, 0) for r in report.rows],
            },
            "held_out.json",
        )
        for name, n in counts.items():  # MLflow names allow no "+": same-user+teacher -> same-user_teacher
            mlflow.log_metric(f"train_examples/{names[name].replace('+', '_')}", n)
    print(f"wrote {args.plot} and {args.out / 'curve.json'}")


if __name__ == "__main__":
    main()

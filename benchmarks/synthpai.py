"""SynthPAI zero-shot attributes (issue 18): each user's history ranks the statements of each attribute.

Run: uue ingest synthpai ../shared/data/synthpai/comments_eval_revised.jsonl --out out/synthpai/histories
     python benchmarks/synthpai.py --histories out/synthpai/histories --model bm25 --model minilm \
         --model out/student/best --model two-tower:out/student/two-tower-mean [--out out/synthpai/report.json]
Per attribute (only human-checked values, `uue.eval.attributes`): top-1 accuracy and MRR with 95%
bootstrap intervals over users, and each model's paired difference against `--baseline` (minilm).
`prior` ranks statements by how many other users hold them. Nothing is trained on SynthPAI.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from uue.datasets.histories import iter_histories  # noqa: E402
from uue.eval.attributes import attribute_candidates, attribute_ranks, checked_statements  # noqa: E402
from uue.eval.embedders import make_embedder  # noqa: E402
from uue.eval.metrics import bootstrap_ci, paired_differences, per_query  # noqa: E402

METRICS = {"recall@1": "top-1", "mrr": "MRR"}


def cell(estimate) -> str:
    return f"{estimate.mean:.3f} [{estimate.ci_low:.3f}, {estimate.ci_high:.3f}]"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--histories", type=Path, default=Path("out/synthpai/histories"))
    parser.add_argument(
        "--data", type=Path, default=Path("../shared/data/synthpai/comments_eval_revised.jsonl")
    )
    parser.add_argument("--model", action="append", default=None, help="A `uue bench --model`; repeat")
    parser.add_argument("--baseline", default="minilm")
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=None, help="Also write the figures as JSON here")
    args = parser.parse_args()
    models = list(dict.fromkeys(args.model or ["bm25", "minilm"]))
    if args.baseline not in models:
        models.insert(0, args.baseline)
    truths = checked_statements(args.data)
    histories = list(iter_histories(args.histories))
    candidates = attribute_candidates(truths)
    ranks = {"prior": attribute_ranks(None, histories, truths)}
    for spec in models:
        ranks[spec] = attribute_ranks(make_embedder(spec), histories, truths)
        print(f"scored {spec}", flush=True)
    figures: dict = {}
    header = "| attribute (users, statements) | metric | " + " | ".join(ranks) + " |"
    lines = [header, "|---|---|" + "---|" * len(ranks)]
    for attribute in candidates:
        base = ranks[args.baseline][attribute]
        n = len(base)
        for metric, label in METRICS.items():
            cells = []
            for spec, by_attribute in ranks.items():
                r = by_attribute[attribute]
                value = bootstrap_ci(per_query(r)[metric], args.resamples)
                text = cell(value)
                figure = {"value": value.as_dict()}
                if spec != args.baseline:
                    delta = paired_differences(r, base, args.resamples, 0)[metric]
                    text += f" (Δ {delta.mean:+.3f} [{delta.ci_low:+.3f}, {delta.ci_high:+.3f}])"
                    figure["delta"] = delta.as_dict()
                cells.append(text)
                figures.setdefault(spec, {}).setdefault(attribute, {})[metric] = figure
            lines.append(
                f"| {attribute} ({n}, {len(candidates[attribute])}) | {label} | " + " | ".join(cells) + " |"
            )
    print("\n".join(lines))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"baseline": args.baseline, "figures": figures}, indent=2))


if __name__ == "__main__":
    main()

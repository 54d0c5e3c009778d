"""Which offline teacher gives better activity labels per CPU hour: the 0.5B or the 1.5B?

Run: python benchmarks/teacher_choice.py --histories out/scale/histories [--activities 40]
    [--teachers local/qwen2.5-coder-0.5b local/qwen2.5-coder-1.5b] [--judge local/qwen2.5-coder-1.5b]

Both teachers label the same activities (the newest 5 per user of the first users, as `uue synth
--mode activity` picks them), uncached, one after the other. Per teacher: seconds per activity and
labels per CPU hour; the judge's score (`uue.programs.judge.Judge`, one judge for both teachers) of
each specific label against the activity; and label retrieval: MiniLM ranks the labelled activity
(its teacher view) among 9 other users' activities for the label; 1/rank, the metric of `uue compile`.
"Good labels per hour" = labels per hour x mean judge score. Run on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import time
from itertools import islice
from pathlib import Path

from uue.programs.lm import ensure_offline_defaults

ensure_offline_defaults()
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import dspy  # noqa: E402
import numpy as np  # noqa: E402

from uue.datasets.histories import iter_histories  # noqa: E402
from uue.eval.embedders import make_embedder  # noqa: E402
from uue.eval.metrics import bootstrap_ci  # noqa: E402
from uue.programs.activity import LabelActivity, teacher_view  # noqa: E402
from uue.programs.judge import Judge  # noqa: E402
from uue.programs.label_job import label_requests  # noqa: E402
from uue.programs.lm import TeacherConfig, build_lm, default_adapter  # noqa: E402


def label_all(teacher: str, requests) -> tuple[list, float]:
    config = TeacherConfig(model=teacher, cache=False)
    lm = build_lm(config)
    labeller = LabelActivity()
    with dspy.context(lm=lm, adapter=default_adapter(config)):
        labeller(activity=requests[0].activity)  # loads the model and fills the prompt prefix: not timed
        start = time.perf_counter()
        found = [labeller(activity=r.activity) for r in requests]
    return found, time.perf_counter() - start


def judge_scores(judge_model: str, requests, labels) -> list[float]:
    config = TeacherConfig(model=judge_model)
    judge = Judge()
    scores = []
    with dspy.context(lm=build_lm(config), adapter=default_adapter(config)):
        for request, label in zip(requests, labels, strict=True):
            if label.specific:
                score = judge(activities=teacher_view(request.activity), label=label.specific).score
                scores.append(0.0 if np.isnan(score) else float(score))
    return scores


def retrieval(requests, labels, embedder, distractors: int = 9, seed: int = 0) -> list[float]:
    views = [teacher_view(r.activity) for r in requests]
    docs = embedder.encode_documents(views)  # [n, d]
    out = []
    for i, (request, label) in enumerate(zip(requests, labels, strict=True)):
        if not label.specific:
            continue
        others = [j for j, r in enumerate(requests) if r.user_id != request.user_id]
        chosen = random.Random(f"{seed}:{i}").sample(others, min(distractors, len(others)))
        query = embedder.encode_queries([label.specific])[0]  # [d]
        scores = docs[[i, *chosen]] @ query  # [1 + k]
        out.append(1.0 / (1 + int((scores[1:] > scores[0]).sum())))
    return out


def summary(values: list[float]) -> dict:
    if not values:
        return {"mean": 0.0, "ci": [0.0, 0.0], "n": 0}
    estimate = bootstrap_ci(np.asarray(values), 1000, 0)
    return {
        "mean": round(estimate.mean, 3),
        "ci": [round(estimate.ci_low, 3), round(estimate.ci_high, 3)],
        "n": len(values),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--histories", type=Path, default=Path("out/scale/histories"))
    parser.add_argument("--activities", type=int, default=40)
    parser.add_argument(
        "--teachers", nargs="+", default=["local/qwen2.5-coder-0.5b", "local/qwen2.5-coder-1.5b"]
    )
    parser.add_argument("--judge", default="local/qwen2.5-coder-1.5b")
    args = parser.parse_args()
    requests = label_requests(islice(iter_histories(args.histories), args.activities), 5, 4)[
        : args.activities
    ]
    embedder = make_embedder("minilm")
    figures: dict = {"activities": len(requests), "judge": args.judge, "load_average_before": os.getloadavg()}
    for teacher in args.teachers:
        labels, seconds = label_all(teacher, requests)
        judged = judge_scores(args.judge, requests, labels)
        per_hour = len(requests) / seconds * 3600
        labelled = sum(bool(label.specific) for label in labels)
        judge = summary(judged)
        figures[teacher] = {
            "seconds_per_activity": round(seconds / len(requests), 2),
            "activities_per_hour": round(per_hour, 1),
            "labelled": labelled,
            "nothing": sum(label.nothing for label in labels),
            "failures": sum(label.failure is not None for label in labels),
            "judge": judge,
            "label_retrieval_mrr": summary(retrieval(requests, labels, embedder)),
            "good_labels_per_hour": round(per_hour * labelled / len(requests) * judge["mean"], 1),
            "examples": [label.specific + " | " + label.broad for label in labels[:12]],
        }
        print(json.dumps({teacher: figures[teacher]}, indent=2), flush=True)
    figures["load_average_after"] = os.getloadavg()
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

"""Cost of `uue synth` with the offline teacher, `--mode pivot` and `--mode activity` on the same users
in one run: triplets (and labelled activities) per hour, LLM calls and prompt tokens per triplet, and
a fully cached rerun of each. Pivot also reports prompt tokens against one pass over its segments.

Run: python benchmarks/synth.py [--users 20] [--histories out/demo/histories] [--out /tmp/uue-bench-synth]
    [--teacher local/qwen2.5-coder-1.5b] [--modes pivot activity]
(`make demo` writes out/demo/histories: the 200 most active users of the shared reddit-college dumps.)
"One pass" = the model's tokens of each user's rendered segment, counted once. Targets: pivot's
evaluated prompt tokens <= 1.5x one pass; activity >= 10x pivot's triplets per hour; reruns make no
LLM call. Run it on a quiet machine: the figures are CPU time on a shared 2-core host.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path

from uue.programs.lm import ensure_offline_defaults

ensure_offline_defaults()

from uue.programs.extract import recent_segment  # noqa: E402
from uue.programs.lm import TeacherConfig, build_lm  # noqa: E402
from uue.programs.synth import SynthConfig, run_synth  # noqa: E402
from uue.programs.synth_output import select_users  # noqa: E402


def one_pass_tokens(config: SynthConfig) -> int:
    """Tokens (the teacher's tokenizer) of rendering each processed user's segment once."""
    llm = build_lm(config.teacher).engine.llm
    users = select_users(config.histories, config.max_users, config.min_activities)
    segments = [recent_segment(h, config.segment_size, config.segment_budget).text for h in users]
    return sum(len(llm.tokenize(text.encode("utf-8"), add_bos=False)) for text in segments)


def pivot_figures(config: SynthConfig, first: dict) -> dict:
    llm, positives = first.llm, max(1, first.positives)
    evaluated = llm.prompt_tokens - llm.cached_prompt_tokens
    one_pass = one_pass_tokens(config)
    return {
        "positives": first.positives,
        "llm_calls_per_positive": round(llm.calls / positives, 2),
        "prompt_tokens_per_positive": first.prompt_tokens_per_positive,
        "evaluated_prompt_tokens_per_positive": first.evaluated_prompt_tokens_per_positive,
        "one_pass_tokens": one_pass,
        "prompt_tokens_vs_one_pass": round(llm.prompt_tokens / max(1, one_pass), 2),
        "evaluated_prompt_tokens_vs_one_pass": round(evaluated / max(1, one_pass), 2),
    }


def activity_figures(first: dict) -> dict:
    return {
        "activities_labelled_or_nothing": first.labelled + first.nothing,
        "labelled": first.labelled,
        "nothing": first.nothing,
        "labels_per_hour": round((first.labelled + first.nothing) / first.teacher_seconds * 3600, 1),
        "teacher_seconds": first.teacher_seconds,
        "subject_share_of_query_tokens": first.subject_share,
    }


def run_mode(mode: str, args, defaults) -> dict:
    out = args.out / mode
    shutil.rmtree(out, ignore_errors=True)
    extra = {"mode": "activity", "negatives": "mined", "activities_per_user": args.activities_per_user}
    config = SynthConfig(
        histories=args.histories,
        out=out,
        teacher=TeacherConfig(model=args.teacher, prefill_json=args.prefill_json),
        max_users=args.users,
        min_activities=args.min_activities,
        max_positives=args.max_positives,
        segment_size=args.segment_size,
        segment_budget=args.segment_budget,
        context_budget=args.context_budget,
        candidates=args.candidates,
        track=False,
        progress=False,
        **(extra if mode == "activity" else {}),
    )
    first = run_synth(config)
    start = time.perf_counter()
    rerun = run_synth(config)
    rerun_s = time.perf_counter() - start
    llm, triplets = first.llm, max(1, first.triplets)
    figures = {
        "users": first.users,
        "triplets": first.triplets,
        "failures": first.failures,
        "seconds": first.seconds,
        "triplets_per_hour": round(first.triplets / first.seconds * 3600, 1),
        "llm_calls": llm.calls,
        "prompt_tokens_per_triplet": round(llm.prompt_tokens / triplets, 1),
        "evaluated_prompt_tokens_per_triplet": round(
            (llm.prompt_tokens - llm.cached_prompt_tokens) / triplets, 1
        ),
        "completion_tokens_per_triplet": round(llm.completion_tokens / triplets, 1),
        "rerun_seconds": round(rerun_s, 2),
        "rerun_llm_calls": rerun.llm_this_run.calls,
        "rerun_triplets_equal": rerun.triplets == first.triplets,
    }
    return figures | (pivot_figures(config, first) if mode == "pivot" else activity_figures(first))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--histories", type=Path, default=Path("out/demo/histories"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/uue-bench-synth"))
    parser.add_argument("--teacher", default="local/qwen2.5-coder-0.5b")
    parser.add_argument("--modes", nargs="+", default=["pivot", "activity"], choices=["pivot", "activity"])
    parser.add_argument("--activities-per-user", type=int, default=5)
    parser.add_argument(
        "--prefill-json",
        action=argparse.BooleanOptionalAction,
        default=TeacherConfig.model_fields["prefill_json"].default,
        help="The engine writes the JSON syntax itself (uue's default)",
    )
    defaults = {name: field.default for name, field in SynthConfig.model_fields.items()}
    parser.add_argument("--min-activities", type=int, default=8)
    for name in ("max_positives", "segment_size", "segment_budget", "context_budget", "candidates"):
        # `uue synth`'s own defaults, so the figures are those of a plain run
        parser.add_argument("--" + name.replace("_", "-"), type=int, default=defaults[name])
    args = parser.parse_args()
    load = os.getloadavg()
    figures = {"teacher": args.teacher, "prefill_json": args.prefill_json,
               "load_average_before": [round(x, 2) for x in load]}  # fmt: skip
    for mode in args.modes:
        figures[mode] = run_mode(mode, args, defaults)
        print(json.dumps({mode: figures[mode]}, indent=2), flush=True)
    if {"pivot", "activity"} <= set(figures):
        figures["activity_vs_pivot_triplets_per_hour"] = round(
            figures["activity"]["triplets_per_hour"] / max(1e-9, figures["pivot"]["triplets_per_hour"]), 2
        )
    figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

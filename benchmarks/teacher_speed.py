"""Where an offline teacher's time per activity label goes: prompt evaluation vs generation.

Run: python benchmarks/teacher_speed.py --histories out/scale/histories [--teacher local/qwen2.5-coder-1.5b]
         [--activities 12] [--skip-users 1300]

Labels one activity of each of `--activities` users after the first `--skip-users` (past the scale
run's users, so no cache helps), uncached; the first call loads the model and fills the shared
prompt prefix and is not timed. Prints seconds per activity, calls per activity (validation retries),
new prompt tokens per call with llama.cpp's prompt tokens/s, and generated tokens per call with
tokens/s. Run it on a quiet machine: both rates fall several-fold beside another busy process.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextvars import copy_context
from itertools import islice
from pathlib import Path

from uue.programs.lm import ensure_offline_defaults

ensure_offline_defaults()
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import dspy  # noqa: E402

from uue.datasets.histories import iter_histories  # noqa: E402
from uue.programs.activity import LabelActivity  # noqa: E402
from uue.programs.label_job import label_requests  # noqa: E402
from uue.programs.lm import TeacherConfig, build_lm, default_adapter  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--histories", type=Path, required=True)
    parser.add_argument("--teacher", default="local/qwen2.5-coder-1.5b")
    parser.add_argument("--activities", type=int, default=12)
    parser.add_argument("--skip-users", type=int, default=1300)
    parser.add_argument(
        "--prefill-json",
        action=argparse.BooleanOptionalAction,
        default=TeacherConfig.model_fields["prefill_json"].default,
        help="The engine writes the JSON syntax itself (uue's default)",
    )
    parser.add_argument(
        "--parallel",
        type=int,
        default=TeacherConfig.model_fields["parallel"].default,
        help="Activities labelled at once (threads; the engine decodes them in one batch)",
    )
    args = parser.parse_args()
    histories = islice(iter_histories(args.histories), args.skip_users, None)
    requests = label_requests(histories, 1, 4)[: args.activities + 1]
    config = TeacherConfig(
        model=args.teacher, cache=False, prefill_json=args.prefill_json, parallel=args.parallel
    )
    lm = build_lm(config, concurrent=args.parallel > 1)
    engine = lm.engine
    labeller = LabelActivity()
    with dspy.context(lm=lm, adapter=default_adapter(config)):
        labeller(activity=requests[0].activity)  # loads the model and fills the prompt prefix
        before, history_before = dict(engine.stats), len(lm.history)
        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.parallel) as pool:
            # each task runs in a copy of this thread's context, so dspy.context(lm=...) reaches it
            tasks = [pool.submit(copy_context().run, labeller, activity=r.activity) for r in requests[1:]]
            found = [task.result() for task in tasks]
        seconds = time.perf_counter() - start
    stats = {key: engine.stats[key] - before[key] for key in engine.stats}
    generated = sum(entry["usage"].get("completion_tokens", 0) for entry in lm.history[history_before:])
    n, calls = len(found), stats["calls"]
    print(
        json.dumps(
            {
                "teacher": args.teacher,
                "activities": n,
                "s_per_activity": round(seconds / n, 2),
                "activities_per_hour": round(n / seconds * 3600),
                "calls_per_activity": round(calls / n, 2),
                # outputs that did not parse and were generated again (the engine's `json_retries`)
                "invalid_json_per_call": round(stats["invalid_json"] / calls, 3),
                "new_prompt_tokens_per_call": round(stats["prompt_eval_tokens"] / calls, 1),
                "prompt_tokens_per_s": round(stats["prompt_eval_tokens"] / stats["prompt_eval_s"], 1),
                "generated_tokens_per_call": round(generated / calls, 1),
                "generated_tokens_per_s": round(generated / stats["generate_s"], 1),
                "labels": [[f.specific, f.broad] for f in found],
                "load_average": os.getloadavg(),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()

"""Does compiling the cluster module help the offline teacher? Uncompiled vs BootstrapFewShot vs
MIPROv2 (auto="light") or GEPA, scored on held-out users' reference segments.

Run: python benchmarks/compile.py [--histories out/demo/histories] [--users 400] [--train 12] [--val 8]
     [--test 16] [--optimizers bootstrap mipro] [--prompt-model local/qwen2.5-coder-1.5b]
     [--max-metric-calls 60] [--demo-threshold 0.5] [--out /tmp/uue-bench-compile]
Builds label-free reference cases (pivot's thread = its cluster; see uue/optimizers/references.py)
with short segments sized for the 0.5B teacher, compiles with each optimizer (`compile_program`,
tracked in MLflow), then scores every program on the test split: strict F1 (thread), loose F1
(subreddit), the label's retrieval of its own thread among 9 other users' (MiniLM, 1/rank) and the
teacher-as-judge score of the label on its predicted cluster. A compile whose program and report
are already in OUT is reused (rerun to resume). Writes OUT/results.json. Slow: several hundred
teacher calls; never run beside another LLM job.
"""

from __future__ import annotations

import argparse
import json
import time
from itertools import islice
from pathlib import Path

from uue.programs.lm import ensure_offline_defaults

ensure_offline_defaults()

import dspy  # noqa: E402

from uue.datasets.histories import iter_histories  # noqa: E402
from uue.optimizers.compile import CompileConfig, CompileReport, compile_program, evaluate, report_path  # noqa: E402
from uue.optimizers.references import Split, build_cases, split_cases, write_cases  # noqa: E402
from uue.programs.lm import TeacherConfig, build_lm, default_adapter  # noqa: E402
from uue.programs.pivot import ClusterF1, SummaryJudge, SummaryRetrieval, cluster_examples  # noqa: E402
from uue.programs.program import load_program  # noqa: E402


def compile_summary(report: CompileReport) -> dict:
    return {
        "seconds": report.seconds,
        "val_before": report.before,
        "val_after": report.after,
        "llm_generated_calls": report.llm.generated_calls,
        "metric_calls": report.metric_calls,
        "prompt_model": report.prompt_model,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--histories", type=Path, default=Path("out/demo/histories"))
    parser.add_argument("--out", type=Path, default=Path("/tmp/uue-bench-compile"))
    parser.add_argument("--teacher", default="local/qwen2.5-coder-0.5b")
    parser.add_argument("--users", type=int, default=400, help="users read to build reference cases")
    parser.add_argument("--segment-size", type=int, default=8)
    parser.add_argument("--segment-budget", type=int, default=768)
    parser.add_argument("--train", type=int, default=12)
    parser.add_argument("--val", type=int, default=8)
    parser.add_argument("--test", type=int, default=16)
    parser.add_argument("--optimizers", nargs="+", default=["bootstrap", "mipro"])
    parser.add_argument("--prompt-model", help="proposes (MIPROv2) or reflects (GEPA); default: the teacher")
    parser.add_argument("--max-metric-calls", type=int, default=60, help="GEPA's budget")
    parser.add_argument(
        "--demo-threshold", type=float, help="F1 a trace needs to become a demo (default 0.8)"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    histories = islice(iter_histories(args.histories), args.users)
    splits = split_cases(build_cases(histories, args.segment_size, args.segment_budget), seed=0)
    paths = {split: args.out / f"{split.value}.jsonl" for split in Split}
    for split, cases in splits.items():
        write_cases(cases, paths[split])
    test_cases = splits[Split.test][: args.test]
    test = cluster_examples(test_cases)
    teacher = TeacherConfig(model=args.teacher, max_tokens=256)
    metrics = {
        "f1": ClusterF1("thread"),
        "f1_loose": ClusterF1("community"),
        "retrieval": SummaryRetrieval(splits[Split.test], seed=0),
        "judge": SummaryJudge(),
    }

    programs: dict[str, Path | None] = {"uncompiled": None}
    compiles = {}
    for optimizer in args.optimizers:
        out = args.out / f"cluster-{optimizer}.json"
        programs[optimizer] = out
        if out.exists() and report_path(out).exists():  # finished earlier: reuse
            compiles[optimizer] = compile_summary(json.loads(report_path(out).read_text()))
            continue
        report = compile_program(
            CompileConfig(
                program="cluster",
                optimizer=optimizer,
                out=out,
                trainset=paths[Split.train],
                valset=paths[Split.val],
                teacher=teacher,
                max_train=args.train,
                max_val=args.val,
                max_demos=1,
                demo_threshold=args.demo_threshold,
                max_metric_calls=args.max_metric_calls if optimizer == "gepa" else None,
                prompt_model=TeacherConfig(model=args.prompt_model, max_tokens=1024)
                if args.prompt_model
                else None,
            )
        )
        compiles[optimizer] = compile_summary(report)

    lm = build_lm(teacher)  # scripted/ teachers too, for a dry run
    results = {}
    with dspy.context(lm=lm, adapter=default_adapter(teacher)):
        for name, path in programs.items():
            module = load_program(path).pivot
            started = time.perf_counter()
            results[name] = {metric: round(evaluate(module, test, m), 4) for metric, m in metrics.items()}
            results[name]["seconds"] = round(time.perf_counter() - started, 1)
            print(name, results[name], flush=True)
    summary = {
        "teacher": args.teacher,
        "cases": {split.value: len(cases) for split, cases in splits.items()},
        "test_examples": len(test),
        "compiles": compiles,
        "test": results,
    }
    (args.out / "results.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

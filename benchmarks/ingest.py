"""Throughput of `uue ingest reddit` on the full shared RC+RS against a bare decompress + json.loads loop.

Run: python benchmarks/ingest.py [--data ../shared/data/reddit-college] [--out /tmp/uue-bench-ingest]
Prints lines/s of both, their ratio (target >= 0.5) by wall time and by CPU time (the CPU ratio is
the one that holds on a machine shared with other work), and the peak memory of each (each runs in a
child process of its own, so neither inherits the other's high-water mark).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import shutil
import time
from pathlib import Path

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "reddit-college"


def bare_loop(files: list[Path]) -> int:
    """Only decompress and json.loads each line: the floor any parser pays."""
    from uue.datasets.io import iter_lines

    lines = 0
    for path in files:
        for _, raw in iter_lines(path):
            json.loads(raw)
            lines += 1
    return lines


def uue_ingest(files: list[Path], out: Path) -> int:
    from uue.datasets.ingest import ingest
    from uue.datasets.options import IngestOptions

    shutil.rmtree(out, ignore_errors=True)
    return ingest("reddit", files, out, IngestOptions()).lines_read


def _timed(target, args, queue) -> None:
    started, cpu_started = time.perf_counter(), time.process_time()
    lines = target(*args)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    queue.put(
        (lines, time.perf_counter() - started, time.process_time() - cpu_started, usage.ru_maxrss / 1024)
    )


def measure(target, *args) -> tuple[int, float, float, float]:
    queue = multiprocessing.Queue()
    child = multiprocessing.Process(target=_timed, args=(target, args, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=Path("/tmp/uue-bench-ingest"))
    args = parser.parse_args()
    files = [args.data / "RS_reddit-college.zst", args.data / "RC_reddit-college.zst"]
    compressed = sum(p.stat().st_size for p in files) / 2**20

    bare_lines, bare_s, bare_cpu, bare_mb = measure(bare_loop, files)
    uue_lines, uue_s, uue_cpu, uue_mb = measure(uue_ingest, files, args.out)
    assert bare_lines == uue_lines, (bare_lines, uue_lines)
    report = json.loads((args.out / "report.json").read_text())
    print(f"input: {len(files)} files, {compressed:.1f} MiB compressed, {bare_lines:,} lines")
    print(f"{'':24}{'wall s':>8}{'CPU s':>8}{'lines/s':>11}{'peak MiB':>10}")
    print(
        f"{'bare zstd + json.loads':24}{bare_s:8.1f}{bare_cpu:8.1f}{bare_lines / bare_s:11,.0f}{bare_mb:10.0f}"
    )
    print(f"{'uue ingest reddit':24}{uue_s:8.1f}{uue_cpu:8.1f}{uue_lines / uue_s:11,.0f}{uue_mb:10.0f}")
    print(
        f"throughput ratio uue/bare: {bare_s / uue_s:.2f} by wall time, {bare_cpu / uue_cpu:.2f} by CPU time"
        " (target >= 0.5)"
    )
    print(
        f"written: {report['users_written']:,} users, {report['records_written']:,} activities; "
        f"balanced: {report['balanced']}"
    )


if __name__ == "__main__":
    main()

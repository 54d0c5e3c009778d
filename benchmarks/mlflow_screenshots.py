"""Screenshots of the MLflow UI over a uue tracking store, taken with headless Chromium.

    make demo   # then, optionally, a second student to compare
    python benchmarks/mlflow_screenshots.py --store mlflow.db --out docs/img

Starts `mlflow ui` on the store, finds the runs uue wrote (experiments uue-synth, uue-student,
uue-bench) and saves one PNG a view: the students' runs table, two students in the compare view,
a train run (Datasets and Logged models panels), a bench run's metrics, the synth traces and a
logged figure. Needs Debian's `chromium` (`apt-get install chromium`); nothing leaves localhost.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import quote

import mlflow

CHROMIUM_FLAGS = [  # no network beyond localhost: each of these stops a background connection
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--hide-scrollbars",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


# below the fold: the run page's Logged models panel, the compare view's table of both runs' params
TALL, TALL_VIEWS = "1600,2200", {"train_run.png", "students_compare.png"}


def serve(store: Path, port: int) -> subprocess.Popen:
    """`mlflow ui` on the store, once it answers."""
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", f"sqlite:///{store.resolve()}",
         "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    for _ in range(120):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return server
        except OSError:
            time.sleep(1)
    server.kill()
    raise SystemExit("mlflow ui did not start within 2 minutes")


def shoot(url: str, path: Path, profile: Path, size: str = "1600,1000") -> None:
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    subprocess.run(
        [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={size}",
         "--virtual-time-budget=25000", f"--screenshot={path}", url],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=180,
    )  # fmt: skip
    print(f"{path}: {url}")


def views(client: mlflow.MlflowClient) -> dict[str, str]:
    """{file name: UI route} for the runs in the store (newest first per experiment)."""

    def runs(name: str) -> tuple[str, list]:
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise SystemExit(f"no experiment {name!r} in the store: run `make demo` first")
        found = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])
        return experiment.experiment_id, found

    student_exp, students = runs("uue-student")
    bench_exp, benches = runs("uue-bench")
    synth_exp, _ = runs("uue-synth")
    train = students[0]
    bench = next((b for b in benches if "mlflow.parentRunId" in b.data.tags), benches[0])
    compared = quote(json.dumps([r.info.run_id for r in students[:2]]))
    return {
        "students_runs_table.png": f"/experiments/{student_exp}/runs",
        "students_compare.png": f"/compare-runs?runs={compared}&experiments={quote(json.dumps([student_exp]))}",
        "train_run.png": f"/experiments/{student_exp}/runs/{train.info.run_id}",
        "bench_run_metrics.png": f"/experiments/{bench_exp}/runs/{bench.info.run_id}/model-metrics",
        "synth_traces.png": f"/experiments/{synth_exp}/traces",
        "bench_figure.png": f"/experiments/{bench_exp}/runs/{bench.info.run_id}/artifacts/paired_differences.png",
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, default=Path("mlflow.db"))
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--port", type=int, default=5077)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    client = mlflow.MlflowClient(f"sqlite:///{args.store.resolve()}")
    routes = views(client)
    server = serve(args.store, args.port)
    profile = args.out / ".chromium-profile"
    try:
        for name, route in routes.items():
            size = TALL if name in TALL_VIEWS else "1600,1000"
            shoot(f"http://127.0.0.1:{args.port}/#{route}", args.out / name, profile, size)
    finally:
        server.terminate()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()

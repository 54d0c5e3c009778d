"""The 2-D user map of the bench run: principal components, one colour per top community, and the
bench logging it for each trained dense model."""

from __future__ import annotations

import json

import mlflow
import numpy as np

from tests.dev_triplets import toy_histories, write_toy_corpus
from tests.eval.test_report import TASKS, _report
from tests.eval.test_user_vectors import WordVectors
from uue.eval.bench import BenchConfig
from uue.eval.bench_tracking import log_bench
from uue.eval.tasks import TaskConfig
from uue.eval.user_map import TOP, map_coordinates, top_community, user_map_figure
from uue.tracking import tracked_run


def test_the_first_coordinate_follows_the_widest_spread():
    rng = np.random.default_rng(0)
    along = rng.normal(size=(50, 1))
    vectors = np.hstack([10 * along, rng.normal(scale=0.1, size=(50, 3))])  # [50, 4], spread on axis 0
    points = map_coordinates(vectors)
    assert points.shape == (50, 2)
    assert abs(np.corrcoef(points[:, 0], along[:, 0])[0, 1]) > 0.99
    assert points[:, 0].std() > 10 * points[:, 1].std()


def test_the_map_colours_users_by_their_top_community():
    histories = toy_histories(n_users=30)
    figure = user_map_figure(WordVectors(), histories, "word-vectors")
    labels = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    communities = {f"r/{top_community(h)}" for h in histories}
    assert set(labels) - {"other"} <= communities and len(labels) <= TOP + 1
    assert sum(len(c.get_offsets()) for c in figure.axes[0].collections) == 30  # every user drawn once
    assert user_map_figure(WordVectors(), histories[:2], "x") is None


def test_the_bench_logs_a_map_for_each_trained_dense_model(tmp_path):
    histories, triplets = write_toy_corpus(tmp_path, n_users=24)
    student = tmp_path / "student"
    student.mkdir()
    (student / "uue_provenance.json").write_text(json.dumps({"mlflow_run_id": None}))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = BenchConfig(triplets=triplets, models=["minilm", str(student)])
    task_config = TaskConfig(histories=histories, valid_fraction=0.5)
    with tracked_run("uue-bench", "bench", uri=uri) as run:
        log_bench(
            config, _report(tasks=TASKS), task_config, {"minilm": WordVectors(), str(student): WordVectors()}
        )
    artifacts = {a.path for a in mlflow.MlflowClient(uri).list_artifacts(run.info.run_id, "user_map")}
    assert artifacts == {f"user_map/{str(student).replace('/', '_')[-60:]}.png"}  # the baseline has none

"""Real shared users with hand-written statements, for the two-tower training tests."""

from __future__ import annotations

import pytest

from tests.datasets.conftest import head_lines
from uue.datasets.histories import iter_histories
from uue.datasets.ingest import ingest
from uue.datasets.options import IngestOptions
from uue.programs.labels import ActivityLabel, write_labels
from uue.twotower.config import TwoTowerConfig


@pytest.fixture
def real_users(shared_data, tmp_path):
    """8 real shared users with more than one thread, and one hand-written statement each."""
    paths = []
    for name, count in (("RS_reddit-college.zst", 1000), ("RC_reddit-college.zst", 8000)):
        paths.append(tmp_path / name.replace(".zst", ".jsonl"))
        paths[-1].write_bytes(b"".join(head_lines(shared_data / "reddit-college" / name, count)))
    ingest("reddit", paths, tmp_path / "h", IngestOptions(min_activities=4))
    histories = [h for h in iter_histories(tmp_path / "h") if len({a.thread_id for a in h.activities}) > 1][
        :8
    ]
    labels = [  # hand-written statements standing in for the teacher's
        ActivityLabel(activity_id=h.activities[-1].activity_id, specific=f"Topic {i} of r/{h.activities[-1].context.community}",
                      broad="Discussion", nothing=False, teacher_model="test", program_hash="test")
        for i, h in enumerate(histories)
    ]  # fmt: skip
    write_labels(tmp_path / "labels.jsonl", labels)
    config = TwoTowerConfig(histories=tmp_path / "h", labels=tmp_path / "labels.jsonl", out=tmp_path / "tt",
                            valid_fraction=0.01, batch_size=4, max_steps=2, num_negative_samples=2,
                            num_chunks_per_user=2, max_chunk_length=32, track=False)  # fmt: skip
    return config, histories

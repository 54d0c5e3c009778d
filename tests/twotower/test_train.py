"""A tiny real training run: base MiniLM towers, a few steps on real shared users, a loadable model."""

from __future__ import annotations

import pytest
import torch

from tests.datasets.conftest import head_lines
from uue.datasets.histories import iter_histories
from uue.datasets.ingest import ingest
from uue.datasets.options import IngestOptions
from uue.errors import InputError
from uue.programs.labels import ActivityLabel, write_labels
from uue.twotower.config import TwoTowerConfig
from uue.twotower.train import load_two_tower, train_two_tower


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


@pytest.mark.slow
@pytest.mark.parametrize("metadata", [False, True])
def test_a_few_steps_on_real_users_give_a_loadable_model(real_users, tmp_path, metadata):
    config, histories = real_users
    config = config.model_copy(update={"user_metadata": metadata, "item_metadata": metadata})
    report = train_two_tower(config)
    assert report.steps == 2 and report.users_per_second > 0 and 0.01 <= report.temperature <= 1.0
    assert report.device == "cpu" and report.precision == "float32" and report.peak_memory_mb > 100
    model, saved = load_two_tower(tmp_path / "tt")
    assert saved == config
    if metadata:  # trained: the side information's zero-initialised output layers moved
        assert all(m.out.weight.abs().sum() > 0 for m in (model.user_metadata, model.item_metadata))
    else:
        assert model.user_metadata is None and model.item_metadata is None
    with torch.no_grad():
        vectors = model.items(["Topic 0", "Discussion"])
    assert vectors.shape[0] == 2 and torch.isfinite(vectors).all()
    from uue.eval.embedders import make_embedder
    from uue.eval.user_vectors import Pooling, pooled_vectors

    embedder = make_embedder(f"two-tower:{tmp_path / 'tt'}")  # the bench's and `uue embed`'s way in
    users = pooled_vectors([h.activities for h in histories[:3]], embedder, [Pooling.mean])[Pooling.mean]
    assert users.shape[0] == 3 and torch.allclose(
        torch.from_numpy(users).norm(dim=1), torch.ones(3), atol=1e-5
    )
    assert embedder.score(["r/College · exams"], ["Topic 0", "Discussion"]).shape == (1, 2)


@pytest.mark.parametrize(("attention_dropout", "expected"), [(0.0, 0.0), (None, 0.1)])
def test_attention_dropout_reaches_both_encoders(tmp_path, attention_dropout, expected):
    from uue.twotower.train import build_model

    config = TwoTowerConfig(histories=tmp_path, labels=tmp_path / "l.jsonl", out=tmp_path / "tt",
                            attention_dropout=attention_dropout, track=False)  # fmt: skip
    model = build_model(config)
    for tower in (model.user_encoder, model.item_encoder):
        bert = tower.model[0].auto_model
        assert bert.config.attention_probs_dropout_prob == expected
        assert all(layer.attention.self.dropout.p == expected for layer in bert.encoder.layer)


@pytest.mark.slow
def test_a_crashed_run_resumes_from_its_checkpoint_to_the_same_model(real_users, monkeypatch):
    config, _ = real_users
    config = config.model_copy(
        update={"max_steps": 4, "checkpoint_every": 2, "refresh_every": 2, "epochs": 2.0}
    )
    whole = train_two_tower(config.model_copy(update={"out": config.out.with_name("whole")}))
    import uue.twotower.train as train

    real_loss, calls = train.batch_loss, []

    def crash_at_third_step(*args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_loss(*args)

    monkeypatch.setattr(train, "batch_loss", crash_at_third_step)
    with pytest.raises(KeyboardInterrupt):
        train_two_tower(config)
    checkpoint = config.out.with_name("tt.checkpoints") / "last.pt"
    assert checkpoint.is_file() and not (config.out / "model.pt").exists()
    with pytest.raises(InputError, match="other settings"):  # a resume under other settings is refused
        train_two_tower(config.model_copy(update={"encoder_lr": 1e-4}))
    monkeypatch.setattr(train, "batch_loss", real_loss)
    resumed = train_two_tower(config)
    assert resumed.resumed_at == 2 and not checkpoint.exists()
    assert resumed.final_loss == pytest.approx(whole.final_loss, abs=1e-5)
    ours, theirs = (torch.load(d / "model.pt") for d in (config.out, config.out.with_name("whole")))
    assert all(torch.allclose(ours[k], theirs[k], atol=1e-6) for k in ours)

"""Resumable two-tower training: a crashed run continues from its checkpoint to the model an
uninterrupted run gives; a checkpoint of other settings is refused."""

from __future__ import annotations

import pytest
import torch

from uue.errors import InputError
from uue.twotower.checkpoint import TrainingCheckpoint
from uue.twotower.train import train_two_tower


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
    checkpoint = TrainingCheckpoint(config).path
    assert checkpoint == config.out.with_name("tt.checkpoints") / "last.pt"  # beside the model folder
    assert checkpoint.is_file() and not (config.out / "model.pt").exists()
    with pytest.raises(InputError, match="other settings"):  # a resume under other settings is refused
        train_two_tower(config.model_copy(update={"encoder_lr": 1e-4}))
    monkeypatch.setattr(train, "batch_loss", real_loss)
    resumed = train_two_tower(config)
    assert resumed.resumed_at == 2 and not checkpoint.exists()
    assert resumed.final_loss == pytest.approx(whole.final_loss, abs=1e-5)
    ours, theirs = (torch.load(d / "model.pt") for d in (config.out, config.out.with_name("whole")))
    assert all(torch.allclose(ours[k], theirs[k], atol=1e-6) for k in ours)

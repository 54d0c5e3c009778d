"""Resumable two-tower training: one checkpoint beside the model folder."""

from __future__ import annotations

import torch

from uue.errors import InputError
from uue.provenance import made_by, records_same_making
from uue.twotower.config import TwoTowerConfig


class TrainingCheckpoint:
    """Model, optimizer, loss scaler, RNG states and step in `OUT.checkpoints/last.pt` (outside the model
    folder, as `uue train` keeps its own), with the settings that made it: a resume under other settings
    is refused rather than mixed."""

    IGNORE = frozenset({"track", "progress", "device", "checkpoint_every"})  # change no result

    def __init__(self, config: TwoTowerConfig):
        self.path = config.out.with_name(config.out.name + ".checkpoints") / "last.pt"
        self.settings = made_by("uue train-two-tower", config)

    def save(self, step: int, model, optimizer, scaler, generator: torch.Generator) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        state = {"step": step, "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                 "scaler": scaler.state_dict(), "generator": generator.get_state(),
                 "torch_rng": torch.get_rng_state(), "settings": self.settings["settings"]}  # fmt: skip
        partial = self.path.with_suffix(".partial")
        torch.save(state, partial)
        partial.replace(self.path)  # a crash while writing keeps the last whole checkpoint

    def restore(self, model, optimizer, scaler, generator: torch.Generator) -> int:
        """Load the checkpoint into these objects; the first step still to run (0 without one)."""
        if not self.path.is_file():
            return 0
        state = torch.load(self.path, map_location="cpu", weights_only=True)
        if not records_same_making({"settings": state["settings"]}, self.settings, ignore=self.IGNORE):
            raise InputError(str(self.path), "checkpoint of other settings: delete it to start over")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scaler.load_state_dict(state["scaler"])
        generator.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        return state["step"] + 1

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)

"""The typed config of `uue student` (the student recipe)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from pydantic import Field

from uue.config import Config
from uue.trainers.student_config import LossKind, Precision


class Schedule(str, Enum):
    mixed = "mixed"  # one run over same-user pairs and teacher triplets (nothing to forget)
    sequential = "sequential"  # same-user model, then teacher triplets on top of it


class RecipeConfig(Config):
    histories: Path = Field(description="Directory written by `uue ingest` (same-user pairs, user tasks)")
    triplets: Path = Field(
        description="Directory written by `uue synth`: its held-out users' triplets are benched"
    )
    train_triplets: Path | None = Field(
        None,
        description="Teacher triplets to train on (default: --triplets), e.g. `uue synth --query-scope "
        "with-activity`; users are split the same way, and the held-out table still reads --triplets",
    )
    out: Path = Field(description="Output: same-user/, fine-tuned/, best/ and report.json")
    valid_fraction: float = Field(0.2, gt=0, lt=1, description="Held-out share of users")
    same_user_pairs: int = Field(3000, ge=2, description="Same-user pairs (one per user)")
    schedule: Schedule = Field(
        Schedule.sequential,
        description="How the teacher triplets join the pairs (sequential: measured at scale)",
    )
    merge_weight: float = Field(
        0.5,
        ge=0,
        le=1,
        description="best/ is the weight average (WiSE-FT) of the fine-tuned model and its base: the "
        "fine-tuned model's share (1: the fine-tuned model itself; 0.5 set before looking at held-out users)",
    )
    hard_negatives: bool = Field(True, description="Train on the triplets' mined negatives too")
    loss: LossKind = Field(LossKind.mnrl, description="mnrl | gist (guided in-batch negatives)")
    epochs: float = Field(1.0, gt=0, description="Epochs of each stage")
    batch_size: int = Field(32, ge=2)
    learning_rate: float = Field(2e-5, gt=0)
    attention_dropout: float | None = Field(
        0.0,
        ge=0,
        lt=1,
        description="Attention dropout of every stage (as `uue train`; 0: 2.3x faster steps on CPU, "
        "benchmarks/attention_dropout.py; None: MiniLM's 0.1)",
    )
    precision: Precision = Field(
        Precision.auto, description="Training precision of every stage (as `uue train`)"
    )
    baselines: list[str] = Field(default_factory=lambda: ["bm25", "minilm"], description="--model strings")
    max_users: int = Field(300, ge=2, description="Held-out users of the user tasks")
    max_steps: int = Field(-1, description="Stop each stage after N steps (-1: run the epochs; smoke runs)")

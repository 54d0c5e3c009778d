"""The typed config of `uue train-two-tower` (seed 003's `ModelConfig` fields where they apply)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from pydantic import Field

from uue.config import Config


class NegativeKind(str, Enum):
    random = "random"  # uniform over the pool
    hard = "hard"  # the pool's statements the user is closest to
    semi_hard = "semi-hard"  # closest among those scored below the positive (within `margin` of it)


class TwoTowerConfig(Config):
    histories: Path = Field(description="Directory written by `uue ingest`")
    labels: Path = Field(
        description="Teacher labels (labels.jsonl of `uue synth --mode activity`): the statements"
    )
    out: Path = Field(description="Output directory: model.pt, config.json, report.json")
    base_model: str = Field("minilm", description="Encoder of both towers: `minilm` (offline) or a folder")
    share_encoder: bool = Field(
        False, description="One encoder for users and statements (default: two copies)"
    )
    attention: bool = Field(
        True, description="Attention pooling over chunks (False: mean pooling, the ablation)"
    )
    user_metadata: bool = Field(
        False, description="Add the user's platforms, activity count and top communities (a hashed embedding)"
    )
    item_metadata: bool = Field(
        False, description="Add a training statement's broad label (a hashed embedding; free text has none)"
    )
    attention_heads: int = Field(4, ge=1)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    # As the student's recipe: with dropout in its attention, MiniLM leaves PyTorch's fused CPU kernel
    # (2.3x a training step, benchmarks/attention_dropout.py). None keeps the model's own (0.1).
    attention_dropout: float | None = Field(
        0.0, ge=0.0, lt=1.0, description="Attention dropout of both encoders (none: the model's own)"
    )
    max_chunk_length: int = Field(128, ge=16, description="Tokens of one chunk of a history")
    activities_per_chunk: int = Field(2, ge=1, description="Activities rendered into one chunk")
    num_chunks_per_user: int = Field(8, ge=1, description="Newest chunks of a history the user tower reads")
    max_statement_length: int = Field(32, ge=4, description="Tokens of a statement")
    temperature: float = Field(0.1, gt=0, description="Initial temperature (learned, clamped to [0.01, 1])")
    negatives: NegativeKind = Field(
        NegativeKind.semi_hard, description="Sampled negatives beside in-batch ones"
    )
    num_negative_samples: int = Field(4, ge=0, description="Sampled statement negatives per user")
    refresh_every: int = Field(50, ge=1, description="Steps between re-encodings of the statement pool")
    batch_size: int = Field(16, ge=2, description="Users per batch (one statement each, distinct users)")
    encoder_lr: float = Field(2e-5, gt=0, description="Learning rate of the encoders")
    item_encoder_lr: float | None = Field(
        None, gt=0, description="The item tower's encoder's own learning rate (default: --encoder-lr)"
    )
    head_lr: float = Field(1e-3, gt=0, description="Pooling, projections and temperature")
    max_grad_norm: float = Field(1.0, gt=0)
    epochs: float = Field(1.0, gt=0)
    max_steps: int = Field(-1, description="Stop after N steps (-1: run the epochs)")
    valid_fraction: float = Field(0.2, gt=0, lt=1, description="Held-out share of users (as `uue student`)")
    split_seed: int = 0
    seed: int = 0
    device: str = Field("auto", description="cpu, cuda, cuda:N, or auto (the GPU when one is present)")
    mixed_precision: bool = Field(
        True, description="bf16 autocast on a GPU (fp16 with loss scaling where bf16 is missing); off on CPU"
    )
    checkpoint_every: int = Field(
        50, ge=1, description="Steps between checkpoints (next to --out); the same command resumes"
    )
    track: bool = Field(True, description="Log the run to MLflow")
    progress: bool = Field(True, description="Show a progress bar")

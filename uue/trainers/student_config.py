"""The typed config of `uue train` (the student bi-encoder), validated on construction."""

from __future__ import annotations

from enum import Enum
from pathlib import Path

from pydantic import Field, field_validator, model_validator

from uue.config import Config
from uue.tracking import tracking_uri


class LossKind(str, Enum):
    mnrl = "mnrl"  # MultipleNegativesRankingLoss: in-batch negatives + the triplet's hard negative
    cached_mnrl = "cached-mnrl"  # CachedMultipleNegativesRankingLoss (GradCache): large batches, small memory
    # GISTEmbedLoss: MNRL whose in-batch negatives the guide (base MiniLM) finds closer to the anchor
    # than the positive are masked out; on coarse labels many in-batch "negatives" are true interests
    gist = "gist"


class Precision(str, Enum):
    auto = "auto"  # bf16 where the CPU computes it natively (AMX / AVX512-BF16), else fp32
    fp32 = "fp32"
    bf16 = "bf16"  # torch CPU autocast: weights and optimizer stay fp32, matmuls run in bf16


def cpu_has_native_bf16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """AMX or AVX512-BF16 in the CPU flags: there bf16 autocast is fast; elsewhere it is emulated (slow)."""
    try:
        flags = next((line for line in cpuinfo.read_text().splitlines() if line.startswith("flags")), "")
    except OSError:
        return False
    return bool({"amx_bf16", "avx512_bf16"} & set(flags.split()))


class Objective(str, Enum):
    triplets = "triplets"  # teacher triplets: context -> positive label, vs its hard negative
    same_user = "same-user"  # teacher-free: two disjoint windows of one user's history
    mixed = "mixed"  # both in one run: every batch is same-user pairs or teacher triplets (no forgetting)


class TrainConfig(Config):
    objective: Objective = Field(Objective.triplets, description="triplets | same-user")
    triplets: Path | None = Field(
        None, description="Directory written by `uue synth` (triplets/ + report.json); the triplets objective"
    )
    histories: Path | None = Field(
        None, description="Directory written by `uue ingest`; the same-user objective"
    )
    hard_negatives: bool = Field(
        True, description="Teacher triplets: train on the mined negative too (False: in-batch negatives only)"
    )
    same_user_pairs: int | None = Field(
        None, ge=2, description="Mixed objective: same-user pairs beside the teacher triplets (None: all)"
    )
    pair_rounds: int = Field(4, ge=1, description="Same-user: pairs per user (one per round)")
    pair_window: int = Field(8, ge=1, description="Same-user: activities per window")
    min_activities: int = Field(16, ge=2, description="Same-user: skip users with fewer activities")
    base_model: str = Field(
        "minilm", description="`minilm` (offline all-MiniLM-L6-v2), a folder or a hub name"
    )
    out: Path = Field(
        description="Output directory: the model and uue_provenance.json (checkpoints in OUT.checkpoints beside it)"
    )
    epochs: float = Field(1.0, gt=0)
    max_steps: int = Field(-1, description="Stop after N optimizer steps (-1: run the epochs)")
    batch_size: int = Field(16, ge=2, description="Per-device batch: in-batch negatives = batch_size - 1")
    learning_rate: float = Field(2e-5, gt=0)
    warmup_ratio: float = Field(0.1, ge=0, lt=1)
    loss: LossKind = LossKind.mnrl
    precision: Precision = Field(
        Precision.auto, description="auto (bf16 on CPUs with native bf16) | fp32 | bf16 (autocast)"
    )
    mini_batch_size: int = Field(32, ge=1, description="GradCache mini-batch of cached-mnrl")
    matryoshka_dims: list[int] = Field(
        default_factory=list, description="e.g. 32,64,128,256,384 (empty: off)"
    )
    lora: bool = Field(False, description="Train a LoRA adapter (peft) instead of all weights")
    lora_r: int = Field(8, ge=1)
    lora_alpha: int = Field(16, ge=1)
    max_seq_length: int | None = Field(256, ge=8, description="Tokens per text (None: the model's own)")
    attention_dropout: float | None = Field(
        None,
        ge=0,
        lt=1,
        description="Dropout on the attention probabilities while training (None: the model's own, 0.1 for "
        "MiniLM); 0 trains 2.3x faster on CPU, where dropout takes attention off its fused kernel",
    )
    valid_fraction: float = Field(0.1, gt=0, lt=1, description="Held-out share of *users*")
    split_seed: int = Field(0)
    eval_steps: int = Field(50, ge=1, description="Evaluate and checkpoint every N steps")
    evaluate: bool = Field(
        True,
        description="Evaluate on the validation users while training and bench the saved model (off: "
        "checkpoints only, for a caller that benches the model itself, as `uue student`)",
    )
    save_total_limit: int = Field(2, ge=1)
    resume: bool = Field(False, description="Resume from the last checkpoint in OUT.checkpoints")
    max_samples: int | None = Field(
        None, ge=1, description="Train on the first N training triplets (learning curves, smoke runs)"
    )
    seed: int = 0
    bench_distractors: int = Field(9, ge=0, description="Distractors of the final `uue bench` on validation")
    tracking_uri: str = Field(
        default_factory=tracking_uri, description="MLflow store ($MLFLOW_TRACKING_URI, else ./mlflow.db)"
    )
    experiment: str = Field("uue-student", description="MLflow experiment name")
    log_model: bool = Field(True, description="Log the model to MLflow (the run's Logged models panel)")
    register_as: str | None = Field(None, description="Also register the logged model under this name")
    push_to_hub: str | None = Field(
        None,
        description="Push the trained model to this Hugging Face Hub repo (needs network and a token; never "
        "used in tests)",
    )
    run_name: str | None = None

    @property
    def bf16(self) -> bool:
        if self.precision is Precision.auto:
            return cpu_has_native_bf16()
        return self.precision is Precision.bf16

    @model_validator(mode="after")
    def _objective_has_data(self) -> TrainConfig:
        if self.objective in (Objective.triplets, Objective.mixed) and self.triplets is None:
            raise ValueError(f"the {self.objective.value} objective needs --triplets")
        if self.objective in (Objective.same_user, Objective.mixed) and self.histories is None:
            raise ValueError(f"the {self.objective.value} objective needs --histories")
        return self

    @field_validator("matryoshka_dims", mode="before")
    @classmethod
    def _dims_from_text(cls, dims: object) -> object:
        """`"32,64,384"` (the CLI, a YAML string) as a list; a bad number names itself."""
        if isinstance(dims, str):
            try:
                return [int(d) for d in dims.split(",") if d.strip()]
            except ValueError:
                raise ValueError(f"expected integers like 32,64,384, got {dims!r}") from None
        return dims

    @field_validator("matryoshka_dims")
    @classmethod
    def _dims_increasing(cls, dims: list[int]) -> list[int]:
        if any(d <= 0 for d in dims) or len(set(dims)) != len(dims):
            raise ValueError("matryoshka dims must be distinct positive integers")
        return sorted(dims, reverse=True)  # MatryoshkaLoss expects the full dimension first

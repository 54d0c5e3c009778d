"""Typed, validated configs for sequential recommenders (SASRec, BERT4Rec) with profile distillation.

A YAML file has the sections `data`, `model`, `training`, `distillation`, `eval`, `tracking` plus
`seed` and `experiment_name`. An unknown key is a ConfigError naming it (`uue.config`). The `model` section is validated by the config class of the
recommender named in `model.model_name` (see `registry.py`).
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, SerializeAsAny, field_validator, model_validator

from uue.config import Config
from uue.config import config_from_dict as _config_from_dict
from uue.errors import ConfigError
from uue.seqrec.data import FileFormat
from uue.seqrec.protocols import parse_protocol
from uue.seqrec.registry import get_recommender


class DataConfig(Config):
    path: Path = Field(description="Sequence file: S3-Rec `user item item ...` or `user item` pairs.")
    file_format: FileFormat = Field(FileFormat.auto, description="auto | sequences | pairs")
    max_users: int | None = Field(None, ge=3, description="Keep only the first N users (smoke runs, tests).")


class ModelConfig(Config):
    """Fields every registered recommender reads; subclasses add their own."""

    model_name: str = Field(description="A registered recommender: sasrec | bert4rec.")
    maxlen: int = Field(50, ge=2, description="Items of history the model sees (most recent kept).")
    hidden_units: int = Field(64, ge=1)
    num_blocks: int = Field(2, ge=1, description="Transformer layers.")
    num_heads: int = Field(1, ge=1)
    dropout_rate: float = Field(0.2, ge=0.0, lt=1.0)
    initializer_range: float = Field(0.02, gt=0.0)

    @model_validator(mode="after")
    def _heads_divide_hidden(self) -> ModelConfig:
        if self.hidden_units % self.num_heads:
            raise ValueError(
                f"hidden_units={self.hidden_units} is not divisible by num_heads={self.num_heads}"
            )
        return self


class TrainingConfig(Config):
    epochs: int = Field(200, ge=1)
    batch_size: int = Field(256, ge=1)
    learning_rate: float = Field(1e-3, gt=0.0)
    weight_decay: float = Field(0.0, ge=0.0)
    eval_every: int = Field(1, ge=1, description="Validate (full ranking) every N epochs.")
    patience: int | None = Field(
        10, ge=1, description="Stop after N validations without a better valid metric; null: never."
    )
    bucket_batches: int = Field(
        1,
        ge=1,
        description="Sort users by length inside windows of N batches (less padding); 1: plain shuffle.",
    )
    max_grad_norm: float | None = Field(
        None, gt=0.0, description="Clip the gradient norm; null: no clipping."
    )
    num_threads: int = Field(
        1, ge=1, description="torch.set_num_threads at the entry point (1 is fastest on a shared 2-core CPU)."
    )
    device: str = Field("cpu", description="torch device string.")


class Aggregation(str, Enum):
    """How the hidden states of layer k become one user vector H_k(S_u)."""

    mean = "mean"
    exp_weight = "exp_weight"
    attention = "attention"


class ProjectionDirection(str, Enum):
    """down: T maps the profile to the model width (the seed's MSE(H, T(E))). up: T maps H to profile_dim."""

    down = "down"
    up = "up"


class DistillationConfig(Config):
    enabled: bool = Field(False, description="Add the profile-reconstruction loss.")
    profiles_path: Path | None = Field(None, description="{user_id: vector} as JSON or Parquet.")
    profile_dim: int | None = Field(
        None, ge=1, description="PCA-reduce profile vectors to this size; null: keep."
    )
    alpha: float = Field(0.4, ge=0.0, le=1.0, description="L = a*b*L_distil + (1-a)*L_rec.")
    scale_guide_loss: bool = Field(
        True, description="Dynamic scaling b = sg(L_rec)/sg(L_distil); off: b = 1."
    )
    fine_tune_epoch: int = Field(
        12, ge=1, description="Epochs are 1-based: epochs < fine_tune_epoch distil, from it on rec loss only."
    )
    reconstruction_layer: int = Field(
        -1, description="Transformer layer k whose hidden states are aggregated."
    )
    weighting_scheme: Aggregation = Field(Aggregation.mean)
    weight_scale: float = Field(0.1, description="gamma of exp_weight: weight of position t ~ exp(gamma*t).")
    projection: ProjectionDirection = Field(ProjectionDirection.down)

    @model_validator(mode="after")
    def _needs_profiles(self) -> DistillationConfig:
        if self.enabled and self.profiles_path is None:
            raise ValueError("distillation.enabled needs distillation.profiles_path")
        return self


class EvalConfig(Config):
    protocols: list[str] = Field(
        default_factory=lambda: ["full", "random99", "popular100"],
        description="full | random<N> | popular<N>; all are reported on the test split.",
    )
    ks: list[int] = Field(default_factory=lambda: [5, 10, 20])
    select_metric: str = Field(
        "NDCG@10", description="Valid metric for early stopping: HR|NDCG|Recall@K or MRR."
    )
    select_protocol: str = Field(
        "full",
        description="Protocol of the valid metric. The S3-Rec code selects on 99-negative MRR: "
        "set random99 + MRR to reproduce its sampled numbers under its own model selection.",
    )
    negatives_seed: int = Field(12345, description="Seed of sampled negatives: the same for every model.")
    batch_size: int = Field(1024, ge=1)

    @model_validator(mode="after")
    def _select_metric_is_computed(self) -> EvalConfig:
        name, _, k = self.select_metric.partition("@")
        at_k = name in ("HR", "NDCG", "Recall") and k.isdigit() and int(k) in self.ks
        if not (at_k or self.select_metric == "MRR"):
            raise ValueError(
                f"select_metric {self.select_metric!r} must be MRR or HR|NDCG|Recall@K with K in ks={self.ks}"
            )
        return self

    @field_validator("protocols")
    @classmethod
    def _known_protocols(cls, protocols: list[str]) -> list[str]:
        for protocol in protocols:
            parse_protocol(protocol)
        return protocols

    @field_validator("select_protocol")
    @classmethod
    def _known_select_protocol(cls, protocol: str) -> str:
        return parse_protocol(protocol).name


class TrackingConfig(Config):
    tracking_uri: str | None = Field(
        None, description="null: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db in the working directory."
    )
    enabled: bool = Field(True, description="Log params, per-epoch and final metrics, config to MLflow.")
    run_name: str | None = None
    save_model: bool = Field(False, description="Log the best state_dict as an MLflow artifact.")


class SeqRecConfig(Config):
    seed: int = 42
    experiment_name: str = "seqrec"
    data: DataConfig
    model: SerializeAsAny[ModelConfig]
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    distillation: DistillationConfig = Field(default_factory=DistillationConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)

    @field_validator("model", mode="before")
    @classmethod
    def _model_by_name(cls, value: Any) -> Any:
        """Validate the model section with the config class of the named recommender."""
        if isinstance(value, dict):
            if "model_name" not in value:
                raise ValueError("model.model_name is required")
            return get_recommender(value["model_name"]).config_class(**value)
        return value

    def flat_params(self) -> dict[str, str]:
        """`section.key -> value` for MLflow params."""
        flat: dict[str, str] = {}
        for key, value in self.model_dump(mode="json").items():
            if isinstance(value, dict):
                flat.update({f"{key}.{k}": str(v) for k, v in value.items()})
            else:
                flat[key] = str(value)
        return flat


def load_config(path: str | Path, overrides: dict[str, Any] | None = None) -> SeqRecConfig:
    """YAML -> SeqRecConfig. `overrides` is `{"training.epochs": 3, ...}` (typed values from a CLI)."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{path}: cannot read config: {error}") from None
    return config_from_dict(apply_overrides(raw, overrides or {}), source=str(path))


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Sets `{"training.epochs": 3, ...}` in the nested `raw` (in place) and returns it."""
    for dotted, value in overrides.items():
        section = raw
        *parents, leaf = dotted.split(".")
        for parent in parents:
            section = section.setdefault(parent, {})
        section[leaf] = value
    return raw


def config_from_dict(raw: dict[str, Any], source: str = "config") -> SeqRecConfig:
    return _config_from_dict(SeqRecConfig, raw, source)

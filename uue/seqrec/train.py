"""Training loop for registered sequential recommenders, with optional profile distillation and MLflow.

`train_seqrec(config)` is the whole entry point: it sets the seeds, the torch thread count and the
MLflow tracking URI (global state, set once here), trains with early stopping on the full-ranking
validation metric, restores the best epoch and reports the test split under every configured
protocol.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from uue.errors import ConfigError
from uue.seqrec.config import SeqRecConfig, config_from_dict, load_config
from uue.seqrec.data import NegativeSampler, SeqRecData, Split, TrainLoader, load_seqrec
from uue.seqrec.distill import ProfileDistillationLoss
from uue.seqrec.evaluate import SeqRecEvaluator, metrics_from_ranks
from uue.seqrec.layers import SeqRecommender
from uue.seqrec.profiles import load_profiles, reduce_profiles
from uue.seqrec.registry import get_recommender
from uue.tracking import tracked_run

logger = logging.getLogger(__name__)


@dataclass
class TrainResult:
    model: SeqRecommender
    data: SeqRecData
    best_epoch: int
    epochs_run: int
    valid_metrics: dict[str, float]  # full ranking, best epoch
    test_metrics: dict[str, dict[str, float]]  # protocol name -> metrics
    train_seconds: float  # optimisation only, evaluation excluded
    samples_per_second: float  # training sequences (one per user) per second
    history: list[dict[str, float]] = field(default_factory=list)
    distillation: ProfileDistillationLoss | None = None
    run_id: str | None = None
    # protocol name -> 0-based rank of each test user's target (rows of data.split("test")), for
    # confidence intervals and paired comparisons over the same users
    test_ranks: dict[str, np.ndarray] = field(default_factory=dict)


def mlflow_key(name: str) -> str:
    """MLflow metric keys allow [A-Za-z0-9_\\-. /]: `NDCG@10` -> `NDCG_10`."""
    return name.replace("@", "_")


class _Tracker:
    """Thin MLflow wrapper around the one run helper (`uue.tracking`); a no-op when tracking is disabled."""

    def __init__(self, config: SeqRecConfig):
        self.enabled = config.tracking.enabled
        self.run_id: str | None = None

    @contextlib.contextmanager
    def run(self, config: SeqRecConfig) -> Iterator[_Tracker]:
        tracking = config.tracking
        with tracked_run(
            config.experiment_name, tracking.run_name, self.enabled, tracking.tracking_uri
        ) as active:
            if active is not None:
                import mlflow

                self.mlflow = mlflow
                self.run_id = active.info.run_id
                mlflow.log_params(config.flat_params())
                mlflow.log_dict(config.model_dump(mode="json"), "config.yaml")
            yield self

    def params(self, params: dict[str, Any]) -> None:
        if self.enabled:
            self.mlflow.log_params({k: str(v) for k, v in params.items()})

    def metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        if self.enabled:
            self.mlflow.log_metrics({mlflow_key(k): float(v) for k, v in metrics.items()}, step=step)

    def model(self, model: SeqRecommender) -> None:
        if self.enabled:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "model.pt"
                torch.save(model.state_dict(), path)
                self.mlflow.log_artifact(str(path))


@dataclass
class _Distill:
    """The distillation loss with the profile rows of every user (on the training device)."""

    loss: ProfileDistillationLoss
    profiles: torch.Tensor  # [U, E]
    has_profile: torch.Tensor  # [U] bool


def _distillation(
    config: SeqRecConfig, data: SeqRecData, device: torch.device
) -> tuple[_Distill, dict[str, Any]]:
    """Profiles aligned to the dataset's users, PCA-reduced; -> (distillation, params to log)."""
    cfg = config.distillation
    table = load_profiles(cfg.profiles_path)
    table, pca = reduce_profiles(table, cfg.profile_dim)
    profiles, has_profile = table.aligned(data.user_ids)
    coverage = float(has_profile.float().mean())
    if coverage == 0.0:
        raise ConfigError(
            f"{cfg.profiles_path}: no profile matches a user of {data.name}",
            hint="profile keys must be the user ids of the sequence file's first column",
        )
    loss = ProfileDistillationLoss.from_config(cfg, config.model.hidden_units, table.dim).to(device)
    info: dict[str, Any] = {"profiles.coverage": round(coverage, 4), "profiles.dim": table.dim}
    if pca is not None:
        info["profiles.pca_explained_variance"] = round(float(pca.explained_variance_ratio.sum()), 4)
    return _Distill(loss, profiles.to(device), has_profile.to(device)), info


def _train_epoch(
    model: SeqRecommender,
    loader: TrainLoader,
    sampler: NegativeSampler,
    rng: np.random.Generator,
    optimizer: torch.optim.Optimizer,
    epoch: int,
    max_grad_norm: float | None,
    distill: _Distill | None,
) -> dict[str, float]:
    """One pass over the training users -> mean losses (and mean beta while distilling)."""
    model.train()
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    sums = {"loss": 0.0, "rec_loss": 0.0, "distill_loss": 0.0, "beta": 0.0}
    steps, distill_steps = 0, 0
    for batch in loader.epoch(rng):
        steps += 1
        rec_loss, encoded = model.training_loss(batch, sampler, rng)
        loss = rec_loss
        if distill is not None:
            rows = batch.user_index.to(distill.profiles.device)
            parts = distill.loss(rec_loss, encoded, distill.profiles[rows], distill.has_profile[rows], epoch)
            loss = parts.total
            if parts.distill is not None:
                sums["distill_loss"] += parts.distill.item()
                sums["beta"] += parts.beta
                distill_steps += 1
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if max_grad_norm is not None:
            torch.nn.utils.clip_grad_norm_(parameters, max_grad_norm)
        optimizer.step()
        sums["loss"] += loss.item()
        sums["rec_loss"] += rec_loss.item()
    row = {"loss": sums["loss"] / steps, "rec_loss": sums["rec_loss"] / steps}
    if distill_steps:
        row |= {"distill_loss": sums["distill_loss"] / distill_steps, "beta": sums["beta"] / distill_steps}
    return row


@dataclass
class _Fit:
    """What the epoch loop leaves: the best validation state and the per-epoch history."""

    best_score: float = -np.inf
    best_epoch: int = 0
    best_state: dict[str, Any] | None = None
    best_metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, float]] = field(default_factory=list)
    train_seconds: float = 0.0
    samples_seen: int = 0
    epochs_run: int = 0


def _fit(
    model: SeqRecommender,
    loader: TrainLoader,
    sampler: NegativeSampler,
    optimizer: torch.optim.Optimizer,
    distill: _Distill | None,
    valid: SeqRecEvaluator,
    config: SeqRecConfig,
    tracker: _Tracker,
    rng: np.random.Generator,
) -> _Fit:
    """Epochs with validation every `eval_every`, early stopping on `patience` (rec-only stage)."""
    training, ev = config.training, config.eval
    fit, stale = _Fit(), 0
    for epoch in range(1, training.epochs + 1):
        start = time.perf_counter()
        row = _train_epoch(model, loader, sampler, rng, optimizer, epoch, training.max_grad_norm, distill)
        elapsed = time.perf_counter() - start
        fit.train_seconds += elapsed
        fit.samples_seen += loader.num_samples
        fit.epochs_run = epoch
        row["samples_per_second"] = loader.num_samples / elapsed
        if epoch % training.eval_every == 0 or epoch == training.epochs:
            metrics = valid(model)
            row |= {f"valid.{ev.select_protocol}.{k}": v for k, v in metrics.items()}
            if metrics[ev.select_metric] > fit.best_score:
                fit.best_score, fit.best_epoch, fit.best_metrics = metrics[ev.select_metric], epoch, metrics
                fit.best_state = copy.deepcopy(model.state_dict())
                stale = 0
            elif not (distill is not None and distill.loss.is_distilling(epoch)):
                stale += 1  # patience only runs out in the recommendation-only stage
        fit.history.append(row)
        tracker.metrics(row, step=epoch)
        logger.info("epoch %d %s", epoch, {k: round(v, 4) for k, v in row.items()})
        if training.patience is not None and stale >= training.patience:
            break
    return fit


def train_seqrec(config: SeqRecConfig, data: SeqRecData | None = None) -> TrainResult:
    """Train `config.model` on `config.data` (or the given, already loaded `data`) and evaluate it."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.training.num_threads)
    rng = np.random.default_rng(config.seed)
    device = torch.device(config.training.device)
    if data is None:
        data = load_seqrec(config.data.path, config.data.file_format, config.data.max_users)

    model = get_recommender(config.model.model_name)(config.model, data.num_items).to(device)
    distill, distill_info = None, {}
    if config.distillation.enabled:
        distill, distill_info = _distillation(config, data, device)
    parameters = list(model.parameters()) + (list(distill.loss.parameters()) if distill is not None else [])
    optimizer = torch.optim.Adam(
        parameters,
        lr=config.training.learning_rate,
        betas=(0.9, 0.98),
        weight_decay=config.training.weight_decay,
    )
    loader = TrainLoader(
        data, config.model.maxlen, config.training.batch_size, config.training.bucket_batches
    )
    sampler = NegativeSampler(data)
    ev = config.eval
    valid = SeqRecEvaluator(
        data, ev.select_protocol, ev.ks, Split.valid, ev.negatives_seed, ev.batch_size, ev.select_metric
    )
    tests = [
        SeqRecEvaluator(data, p, ev.ks, Split.test, ev.negatives_seed, ev.batch_size) for p in ev.protocols
    ]

    tracker = _Tracker(config)
    with tracker.run(config):
        tracker.params({"data." + k: v for k, v in data.describe().items()} | distill_info)
        if distill is not None:
            tracker.params({"distill." + k: v for k, v in distill.loss.get_config_dict().items()})
        fit = _fit(model, loader, sampler, optimizer, distill, valid, config, tracker, rng)
        model.load_state_dict(fit.best_state)
        test_ranks = {evaluator.protocol.name: evaluator.ranks(model) for evaluator in tests}
        test_metrics = {name: metrics_from_ranks(ranks, ev.ks) for name, ranks in test_ranks.items()}
        samples_per_second = fit.samples_seen / fit.train_seconds if fit.train_seconds else 0.0
        final = {f"test.{p}.{k}": v for p, m in test_metrics.items() for k, v in m.items()}
        final |= {f"best_valid.{ev.select_protocol}.{k}": v for k, v in fit.best_metrics.items()}
        final |= {
            "best_epoch": fit.best_epoch,
            "train_seconds": fit.train_seconds,
            "samples_per_second": samples_per_second,
        }
        tracker.metrics(final)
        if config.tracking.save_model:
            tracker.model(model)
    return TrainResult(
        model=model,
        data=data,
        best_epoch=fit.best_epoch,
        epochs_run=fit.epochs_run,
        valid_metrics=fit.best_metrics,
        test_metrics=test_metrics,
        train_seconds=fit.train_seconds,
        samples_per_second=samples_per_second,
        history=fit.history,
        distillation=distill.loss if distill is not None else None,
        run_id=tracker.run_id,
        test_ranks=test_ranks,
    )


def save_checkpoint(model: SeqRecommender, config: SeqRecConfig, path: str | Path) -> Path:
    """state_dict + the config and item count needed to rebuild the model."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "config": config.model_dump(mode="json"),
        "num_items": model.num_items,
        "state_dict": model.state_dict(),
    }
    torch.save(payload, path)
    return path


def load_checkpoint(path: str | Path) -> tuple[SeqRecommender, SeqRecConfig]:
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, KeyError) as error:
        raise ConfigError(f"{path}: not a seqrec checkpoint ({error})") from None
    config = config_from_dict(payload["config"], source=str(path))
    model = get_recommender(config.model.model_name)(config.model, payload["num_items"])
    model.load_state_dict(payload["state_dict"])
    return model.eval(), config


def with_protocols(config: SeqRecConfig, protocols: list[str]) -> SeqRecConfig:
    """`config` whose test split is reported under `protocols` (the benchmark's choice)."""
    return config.model_copy(update={"eval": config.eval.model_copy(update={"protocols": protocols})})


def evaluate_checkpoint(
    config: SeqRecConfig, checkpoint: str | Path, protocols: list[str] | None = None
) -> dict[str, dict[str, float]]:
    """Test metrics per protocol of a saved model on the data of `config` (default: its protocols)."""
    protocols = protocols or config.eval.protocols
    torch.set_num_threads(config.training.num_threads)
    model, _ = load_checkpoint(checkpoint)
    data = load_seqrec(config.data.path, config.data.file_format, config.data.max_users)
    if data.num_items > model.num_items:
        raise ConfigError(
            f"{checkpoint}: trained on {model.num_items} items, {data.name} has {data.num_items}"
        )
    ev = config.eval
    return {
        p: SeqRecEvaluator(data, p, ev.ks, Split.test, ev.negatives_seed, ev.batch_size)(model)
        for p in protocols
    }


def run_seqrec_train(
    config_path: str | Path, epochs: int | None = None, out: Path | None = None
) -> TrainResult:
    """`uue seqrec train`: the YAML config (with `epochs` overriding `training.epochs`), trained and
    evaluated; the checkpoint saved to `out` when given."""
    config = load_config(config_path, {"training.epochs": epochs} if epochs else None)
    result = train_seqrec(config)
    if out:
        save_checkpoint(result.model, config, out)
    return result


def run_seqrec_bench(
    config_path: str | Path, protocols: list[str], checkpoint: Path | None = None
) -> dict[str, dict[str, float]]:
    """`uue seqrec bench`: test metrics per protocol of `checkpoint`, or of a model trained now."""
    config = load_config(config_path)
    if checkpoint:
        return evaluate_checkpoint(config, checkpoint, protocols)
    return train_seqrec(with_protocols(config, protocols)).test_metrics

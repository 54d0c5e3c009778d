"""`uue train-two-tower`: train seed 003's two-tower model on the teacher's labels, tracked in MLflow.

Each step: a batch of distinct users, one statement each; the user tower reads their chunks, the item
tower their statements; sampled negatives (`--negatives`) come from the training statement pool, scored
against the pool's vectors re-encoded every `refresh_every` steps (no gradient through the pool).
On a GPU the towers run under bf16 autocast; a checkpoint every `checkpoint_every` steps makes a run
resumable (the same command continues it).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch
from pydantic import BaseModel

from uue.errors import InputError
from uue.provenance import made_by
from uue.tracking import config_params, tracked_run
from uue.twotower.checkpoint import TrainingCheckpoint
from uue.twotower.config import NegativeKind, TwoTowerConfig
from uue.twotower.data import Example, distinct_user_batches, load_examples
from uue.twotower.encoder import SentenceEncoder
from uue.twotower.hardware import autocast_dtype, peak_memory_mb, resolve_device
from uue.twotower.loss import sample_negatives, symmetric_info_nce
from uue.twotower.metadata import item_tokens
from uue.twotower.model import TwoTower


class TwoTowerReport(BaseModel):
    examples: int
    users: int
    statements: int
    steps: int
    resumed_at: int = 0  # the step a checkpoint resumed from (speed counts the steps of this run)
    seconds: float
    users_per_second: float
    device: str
    precision: str  # the autocast dtype, or float32
    peak_memory_mb: float  # the GPU's peak allocation, or the process's peak resident set on CPU
    final_loss: float
    temperature: float
    model: str
    made_by: dict


def build_model(config: TwoTowerConfig) -> TwoTower:
    path = config.base_model  # a registry name or a folder: SentenceEncoder resolves it
    user = SentenceEncoder(path, config.max_chunk_length, attention_dropout=config.attention_dropout)
    item = (
        user
        if config.share_encoder
        else SentenceEncoder(path, config.max_statement_length, attention_dropout=config.attention_dropout)
    )
    return TwoTower(user, item, user.dim, heads=config.attention_heads, dropout=config.dropout,
                    attention=config.attention, temperature=config.temperature,
                    user_metadata=config.user_metadata, item_metadata=config.item_metadata)  # fmt: skip


class NegativeSampler:
    """Sampled statement negatives from the training pool (`--negatives`), scored against the pool's
    vectors, re-encoded every `refresh_every` steps (no gradient through the pool); never a user's own."""

    def __init__(self, examples: list[Example], config: TwoTowerConfig):
        self.config = config
        self.pool = sorted({e.statement for e in examples})
        broad = {e.statement: e.broad for e in examples}  # a statement's side information (one of its broads)
        self.pool_tokens = [item_tokens(broad[s]) for s in self.pool]
        self.index = {s: i for i, s in enumerate(self.pool)}
        self.own: dict[str, set[int]] = {}
        for example in examples:
            self.own.setdefault(example.user_id, set()).add(self.index[example.statement])
        self.generator = torch.Generator().manual_seed(config.seed)  # on CPU: sampling happens there
        self.vectors: torch.Tensor | None = None  # [P, d], normalised

    @torch.no_grad()
    def refresh(self, model: TwoTower, step: int, batch: int = 256) -> None:
        """Re-encode the pool at step 0, every `refresh_every` steps and after a resume."""
        due = step % self.config.refresh_every == 0 and self.config.negatives is not NegativeKind.random
        if self.vectors is not None and not due:
            return
        if self.config.negatives is NegativeKind.random:  # scores are never read
            self.vectors = torch.zeros(len(self.pool), model.item_projection.out_features)
            return
        model.eval()
        chunks = [
            model.items(self.pool[i : i + batch], self.pool_tokens[i : i + batch]).float().cpu()
            for i in range(0, len(self.pool), batch)
        ]
        model.train()
        self.vectors = torch.nn.functional.normalize(torch.cat(chunks), dim=-1)

    def sample(self, model: TwoTower, users: torch.Tensor, batch: list[Example]) -> torch.Tensor | None:
        """[B, K, d] item vectors of sampled negatives (with gradient), or None when K is 0."""
        k = self.config.num_negative_samples
        if not k:
            return None
        with torch.no_grad():
            scores = torch.nn.functional.normalize(users.detach().float().cpu(), dim=-1) @ self.vectors.T
        forbidden = torch.zeros_like(scores, dtype=torch.bool)  # [B, P]
        for row, example in enumerate(batch):
            forbidden[row, list(self.own[example.user_id])] = True
        positive = torch.tensor([scores[row, self.index[e.statement]].item() for row, e in enumerate(batch)])
        chosen = sample_negatives(
            scores, forbidden, positive, k, self.config.negatives, generator=self.generator
        )
        chosen = chosen.flatten().tolist()
        vectors = model.items([self.pool[i] for i in chosen], [self.pool_tokens[i] for i in chosen])
        return vectors.view(len(batch), k, -1)


def batch_loss(model: TwoTower, batch: list[Example], sampler: NegativeSampler, dtype: torch.dtype | None):
    """Symmetric InfoNCE of one batch: the towers under autocast (`dtype` None: fp32), the loss in fp32."""
    device = next(model.parameters()).device
    with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
        users = model.users([e.chunks for e in batch], [e.user_tokens for e in batch]).float()
        items = model.items([e.statement for e in batch], [item_tokens(e.broad) for e in batch]).float()
        negatives = sampler.sample(model, users, batch)
    negatives = None if negatives is None else negatives.float()
    return symmetric_info_nce(users, items, model.temperature(), negatives)


def train_two_tower(config: TwoTowerConfig) -> TwoTowerReport:
    torch.manual_seed(config.seed)
    examples = load_examples(config, held_out=False)
    if len(examples) < 2:
        raise InputError(str(config.labels), "fewer than 2 training examples for these histories")
    sampler = NegativeSampler(examples, config)
    device = resolve_device(config.device)
    dtype = autocast_dtype(device, config.mixed_precision)
    model = build_model(config).to(device)
    optimizer = torch.optim.AdamW(
        model.parameter_groups(config.encoder_lr, config.head_lr, config.item_encoder_lr)
    )
    scaler = torch.amp.GradScaler(device.type, enabled=dtype is torch.float16)  # bf16 needs no scaling
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    batches = training_batches(examples, config)
    checkpoint = TrainingCheckpoint(config)
    first = checkpoint.restore(model, optimizer, scaler, sampler.generator)
    started, loss_value = time.perf_counter(), math.nan
    with tracked_run("uue-two-tower", config.out.name, config.track) as run:
        if run is not None:
            import mlflow

            mlflow.log_params(config_params(config))
        model.train()
        bar = _progress(config.progress)
        task = bar.add_task("two-tower training", total=len(batches), completed=first, loss=math.nan)
        with bar:
            for step in range(first, len(batches)):
                sampler.refresh(model, step)
                loss = batch_loss(model, batches[step], sampler, dtype)
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(parameters, config.max_grad_norm)
                scaler.step(optimizer)
                scaler.update()
                loss_value = loss.item()
                bar.update(task, advance=1, loss=loss_value)
                if run is not None:
                    mlflow.log_metrics(
                        {"loss": loss_value, "temperature": model.temperature().item()}, step=step
                    )
                if (step + 1) % config.checkpoint_every == 0 and step + 1 < len(batches):
                    checkpoint.save(step, model, optimizer, scaler, sampler.generator)
        seconds = time.perf_counter() - started
        config.out.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), config.out / "model.pt")
        (config.out / "config.json").write_text(config.model_dump_json(indent=2))
        report = TwoTowerReport(
            examples=len(examples), users=len(sampler.own), statements=len(sampler.pool), steps=len(batches),
            resumed_at=first, seconds=round(seconds, 1),
            users_per_second=round(sum(map(len, batches[first:])) / max(seconds, 1e-9), 2),
            device=str(device), precision=str(dtype or torch.float32).removeprefix("torch."),
            peak_memory_mb=round(peak_memory_mb(device)), final_loss=loss_value,
            temperature=model.temperature().item(), model=str(config.out / "model.pt"),
            made_by=made_by("uue train-two-tower", config, [config.labels]),
        )  # fmt: skip
        (config.out / "report.json").write_text(report.model_dump_json(indent=2))
        checkpoint.remove()  # the model is saved: nothing left to resume
        if run is not None:
            mlflow.log_metrics({"users_per_second": report.users_per_second, "seconds": report.seconds,
                                "peak_memory_mb": report.peak_memory_mb})  # fmt: skip
            mlflow.log_dict(report.model_dump(mode="json"), "report.json")
    return report


def training_batches(examples: list[Example], config: TwoTowerConfig) -> list[list[Example]]:
    """The run's batches in order (fixed by the seed, so a resume continues the same sequence)."""
    epochs = math.ceil(config.epochs)
    batches = [
        b for e in range(epochs) for b in distinct_user_batches(examples, config.batch_size, config.seed + e)
    ]
    batches = batches[: int(len(batches) * config.epochs / epochs)]
    return batches[: config.max_steps] if config.max_steps > 0 else batches


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]:.3f}"), TimeRemainingColumn(), disable=not enabled)  # fmt: skip


def load_two_tower(directory: str | Path) -> tuple[TwoTower, TwoTowerConfig]:
    """A trained model folder (config.json + model.pt) -> the model in eval mode and its config."""
    directory = Path(directory)
    config = TwoTowerConfig(**json.loads((directory / "config.json").read_text()))
    model = build_model(config)
    model.load_state_dict(torch.load(directory / "model.pt", map_location="cpu", weights_only=True))
    return model.eval(), config

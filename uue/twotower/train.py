"""`uue train-two-tower`: train seed 003's two-tower model on the teacher's labels, tracked in MLflow.

Each step: a batch of distinct users, one statement each; the user tower reads their chunks, the item
tower their statements; sampled negatives (`--negatives`) come from the training statement pool, scored
against the pool's vectors re-encoded every `refresh_every` steps (no gradient through the pool).
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
from uue.tracking import tracked_run
from uue.twotower.config import NegativeKind, TwoTowerConfig
from uue.twotower.data import Example, distinct_user_batches, load_examples
from uue.twotower.encoder import SentenceEncoder
from uue.twotower.loss import sample_negatives, symmetric_info_nce
from uue.twotower.model import TwoTower


class TwoTowerReport(BaseModel):
    examples: int
    users: int
    statements: int
    steps: int
    seconds: float
    users_per_second: float
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
                    attention=config.attention, temperature=config.temperature)  # fmt: skip


@torch.no_grad()
def encode_pool(model: TwoTower, statements: list[str], batch: int = 256) -> torch.Tensor:
    model.eval()
    vectors = torch.cat([model.items(statements[i : i + batch]) for i in range(0, len(statements), batch)])
    model.train()
    return torch.nn.functional.normalize(vectors, dim=-1)  # [P, d]


def negatives_for(
    model: TwoTower, users: torch.Tensor, batch: list[Example], pool: list[str], pool_vectors: torch.Tensor,
    index: dict[str, int], own: dict[str, set[int]], config: TwoTowerConfig, generator: torch.Generator,
) -> torch.Tensor | None:  # fmt: skip
    """[B, K, d] item vectors of sampled negatives (with gradient), or None when K is 0."""
    if not config.num_negative_samples:
        return None
    with torch.no_grad():
        scores = torch.nn.functional.normalize(users, dim=-1) @ pool_vectors.T  # [B, P]
    forbidden = torch.zeros_like(scores, dtype=torch.bool)
    for row, example in enumerate(batch):
        forbidden[row, list(own[example.user_id])] = True
    positive = torch.tensor([scores[row, index[e.statement]].item() for row, e in enumerate(batch)])
    chosen = sample_negatives(scores, forbidden, positive, config.num_negative_samples, config.negatives,
                              generator=generator)  # fmt: skip
    texts = [pool[i] for i in chosen.flatten().tolist()]
    return model.items(texts).view(len(batch), config.num_negative_samples, -1)


def train_two_tower(config: TwoTowerConfig) -> TwoTowerReport:
    torch.manual_seed(config.seed)
    examples = load_examples(config, held_out=False)
    if len(examples) < 2:
        raise InputError(str(config.labels), "fewer than 2 training examples for these histories")
    pool = sorted({e.statement for e in examples})
    index = {s: i for i, s in enumerate(pool)}
    own: dict[str, set[int]] = {}
    for example in examples:
        own.setdefault(example.user_id, set()).add(index[example.statement])
    model = build_model(config)
    optimizer = torch.optim.AdamW(model.parameter_groups(config.encoder_lr, config.head_lr))
    parameters = [p for group in optimizer.param_groups for p in group["params"]]
    epochs = math.ceil(config.epochs)
    batches = [
        b for e in range(epochs) for b in distinct_user_batches(examples, config.batch_size, config.seed + e)
    ]
    batches = batches[: int(len(batches) * config.epochs / epochs)]
    if config.max_steps > 0:
        batches = batches[: config.max_steps]
    generator = torch.Generator().manual_seed(config.seed)
    started, loss_value = time.perf_counter(), math.nan
    pool_vectors = None  # set at step 0: the encoded pool, or zeros for random sampling (scores unused)
    with tracked_run("uue-two-tower", config.out.name, config.track) as run:
        if run is not None:
            import mlflow

            mlflow.log_params({k: str(v) for k, v in config.model_dump(mode="json").items()})
        model.train()
        bar = _progress(config.progress)
        task = bar.add_task("two-tower training", total=len(batches), loss=math.nan)
        with bar:
            for step, batch in enumerate(batches):
                if config.negatives is not NegativeKind.random and step % config.refresh_every == 0:
                    pool_vectors = encode_pool(model, pool)
                users = model.users([e.chunks for e in batch])
                items = model.items([e.statement for e in batch])
                if pool_vectors is None:
                    pool_vectors = torch.zeros(len(pool), users.shape[1])
                negatives = negatives_for(
                    model, users, batch, pool, pool_vectors, index, own, config, generator
                )
                loss = symmetric_info_nce(users, items, model.temperature(), negatives)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(parameters, config.max_grad_norm)
                optimizer.step()
                loss_value = loss.item()
                bar.update(task, advance=1, loss=loss_value)
                if run is not None:
                    mlflow.log_metrics(
                        {"loss": loss_value, "temperature": model.temperature().item()}, step=step
                    )
        seconds = time.perf_counter() - started
        config.out.mkdir(parents=True, exist_ok=True)
        torch.save(model.state_dict(), config.out / "model.pt")
        (config.out / "config.json").write_text(config.model_dump_json(indent=2))
        report = TwoTowerReport(
            examples=len(examples), users=len(own), statements=len(pool), steps=len(batches),
            seconds=round(seconds, 1), users_per_second=round(sum(map(len, batches)) / max(seconds, 1e-9), 2),
            final_loss=loss_value, temperature=model.temperature().item(), model=str(config.out / "model.pt"),
            made_by=made_by("uue train-two-tower", config, [config.labels]),
        )  # fmt: skip
        (config.out / "report.json").write_text(report.model_dump_json(indent=2))
        if run is not None:
            mlflow.log_metrics({"users_per_second": report.users_per_second, "seconds": report.seconds})
            mlflow.log_dict(report.model_dump(mode="json"), "report.json")
    return report


def _progress(enabled: bool):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]:.3f}"), TimeRemainingColumn(), disable=not enabled)  # fmt: skip


def load_two_tower(directory: Path) -> tuple[TwoTower, TwoTowerConfig]:
    """A trained model folder (config.json + model.pt) -> the model in eval mode and its config."""
    config = TwoTowerConfig(**json.loads((directory / "config.json").read_text()))
    model = build_model(config)
    model.load_state_dict(torch.load(directory / "model.pt", weights_only=True))
    return model.eval(), config

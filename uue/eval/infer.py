"""`uue infer`: zero-shot preference inference, free-text statements scored for each user (seed 003).

Any `--model` of `uue bench` works: the two-tower model scores with its user and item towers, a
bi-encoder with its pooled history vector against the statement's vector, BM25 lexically. Scores are
cosine similarities (BM25: its own scale), comparable across statements for one user and model.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field

from uue.config import Config
from uue.datasets.histories import iter_histories
from uue.errors import ConfigError, InputError
from uue.eval.embedders import make_embedder
from uue.eval.statements import statement_scores
from uue.eval.user_vectors import Pooling


class InferConfig(Config):
    model: str = Field(description="A `uue bench --model`: minilm, bm25, a student folder, two-tower:FOLDER")
    histories: Path = Field(description="Directory written by `uue ingest`")
    users: list[str] = Field(default_factory=list, description="Only these users (default: every user)")
    statements: list[str] = Field(default_factory=list, description="A statement to score; repeat")
    statements_file: Path | None = Field(None, description="Statements, one per line ('#' starts a comment)")
    top_k: int = Field(5, ge=1, description="Best statements listed per user")
    max_users: int | None = Field(None, ge=1, description="At most N users (in the histories' order)")
    pooling: Pooling = Field(Pooling.mean, description="How a bi-encoder pools the windows of a history")
    max_windows: int = Field(16, ge=1, description="Newest windows of a history a bi-encoder pools")
    out: Path | None = Field(None, description="Write every user's ranking as JSON lines here")


class ScoredStatement(BaseModel):
    statement: str
    score: float


class UserInference(BaseModel):
    user_id: str
    top: list[ScoredStatement]


class InferReport(BaseModel):
    model: str
    statements: int
    users: list[UserInference]
    out: Path | None = None


def read_statements(config: InferConfig) -> list[str]:
    found = list(config.statements)
    if config.statements_file is not None:
        if not config.statements_file.is_file():
            raise InputError(str(config.statements_file), "file not found")
        for line in config.statements_file.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                found.append(line.strip())
    found = list(dict.fromkeys(found))
    if not found:
        raise ConfigError(
            "no statements", hint="pass --statement TEXT (repeatable) or --statements-file FILE"
        )
    return found


def run_infer(config: InferConfig) -> InferReport:
    """Score every statement for every selected user; the `top_k` best per user (all with `out`)."""
    statements = read_statements(config)
    wanted = set(config.users) or None
    histories = []
    for history in iter_histories(config.histories, wanted):
        histories.append(history)
        if config.max_users and len(histories) >= config.max_users:
            break
    if wanted and len(histories) < len(wanted) and not config.max_users:
        missing = sorted(wanted - {h.user_id for h in histories})
        raise ConfigError(
            f"no history for user(s) {', '.join(missing[:5])}", hint=f"check {config.histories}"
        )
    if not histories:
        raise ConfigError(f"no users in {config.histories}")
    embedder = make_embedder(config.model)
    activities = [h.activities for h in histories]
    scores = statement_scores(embedder, activities, statements, config.pooling, config.max_windows)  # [u, s]
    users = []
    for history, row in zip(histories, scores, strict=True):
        order = sorted(range(len(statements)), key=lambda i: -row[i])
        users.append(
            UserInference(
                user_id=history.user_id,
                top=[ScoredStatement(statement=statements[i], score=float(row[i])) for i in order],
            )
        )
    if config.out is not None:
        config.out.parent.mkdir(parents=True, exist_ok=True)
        with open(config.out, "w", encoding="utf-8") as file:
            for user in users:
                file.write(json.dumps({"model": config.model, **user.model_dump()}) + "\n")
    for user in users:
        user.top = user.top[: config.top_k]
    return InferReport(model=config.model, statements=len(statements), users=users, out=config.out)

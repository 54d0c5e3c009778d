"""The typed config of `uue seqrec profiles` (the teacher writes one profile per user)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from uue.config import Config
from uue.programs.lm import TeacherConfig


class ProfileJobConfig(Config):
    data: Path = Field(description="Sequence file: S3-Rec, `user item` pairs or MovieLens u.data")
    items: Path | None = Field(None, description="Item texts: u.item, movies.dat or *_item2attributes.json")
    out: Path
    teacher: TeacherConfig = Field(default_factory=TeacherConfig)
    max_users: int | None = Field(None, ge=1, description="Only the first N users of the file")
    max_items: int = Field(30, ge=1, description="Most recent training items shown to the teacher")
    embedder: str = Field("minilm", description="sentence-transformers model for the profile vectors")
    attempts: int = Field(2, ge=1)
    workers: int = Field(1, ge=1, description="Concurrent users (remote teachers only)")
    progress: bool = True

    @model_validator(mode="after")
    def _local_is_sequential(self) -> ProfileJobConfig:
        if self.workers > 1 and self.teacher.is_local:
            raise ValueError("a local teacher runs one call at a time: use --workers 1")
        return self

"""How the llama.cpp engine loads and runs a model, and how llama_cpp is imported (OpenMP threads)."""

from __future__ import annotations

import os
from typing import Any

from pydantic import Field, ValidationError, field_validator

from uue.config import Config, problems
from uue.errors import ConfigError


class LlamaCppSettings(Config):
    """How to load and run one GGUF model; `TeacherConfig` fills it (`uue.programs.lm.config.build_lm`).

    The last three have no `TeacherConfig` field on purpose: `temperature_bump` and `json_retries` belong
    to the engine's JSON retry (below), `json_schema` and `repeat_penalty` to direct engine use and tests.
    """

    model_path: str
    n_ctx: int = Field(8192, ge=1)
    n_threads: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    n_batch: int = Field(512, ge=1)
    seed: int = 0
    temperature: float = Field(0.0, ge=0.0, le=2.0)
    timeout_s: float | None = Field(600.0, gt=0)
    # Retries of an answer that does not parse as JSON (the grammar cannot stop a model that reaches
    # max_tokens inside a string), with seed + 1 and the temperature raised by `temperature_bump`.
    json_retries: int = Field(2, ge=0)
    temperature_bump: float = Field(0.3, ge=0.0)
    prompt_cache_bytes: int = Field(
        0, ge=0
    )  # see TeacherConfig.prompt_cache_mb: the states' logits are not counted
    json_schema: dict[str, Any] | None = None
    prefill_json: bool = False  # write a string-only JSON answer field by field (llamacpp_prefill.py)
    repeat_penalty: float = Field(1.0, gt=0.0)
    # Calls from this many threads decoded in one batch (llamacpp_batch.py); 1 = one call at a time.
    parallel: int = Field(1, ge=1, le=64)

    @field_validator("model_path", mode="before")
    @classmethod
    def _path_as_text(cls, value: Any) -> str:
        return str(value)

    def __init__(self, **data: Any):
        try:
            super().__init__(**data)
        except ValidationError as error:  # the engine is built outside any CLI: one line, not a traceback
            raise ConfigError(f"llama.cpp settings: {problems(error)}") from None


def import_llama_cpp():
    """Import llama_cpp with OpenMP threads that sleep instead of spin while they wait.

    libgomp reads `OMP_WAIT_POLICY` once, when llama.cpp's library loads. With the default
    (spinning) policy and another busy process on the same cores, 2 llama.cpp threads on 2 cores
    ran 10-25x slower (45-60 s instead of 2.5 s for a 30-token answer); PASSIVE removes that and
    costs nothing measurable on an idle machine. A value set by the user wins.
    """
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        import llama_cpp
    except ImportError as error:
        raise ConfigError(
            "the offline teacher needs llama-cpp-python", hint="pip install 'uue[local]'"
        ) from error
    return llama_cpp

"""How the llama.cpp engine loads and runs a model, and how llama_cpp is imported (OpenMP threads)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from uue.errors import ConfigError


@dataclass
class LlamaCppSettings:
    """How to load and run one GGUF model. Validated on construction."""

    model_path: str
    n_ctx: int = 8192
    n_threads: int = field(default_factory=lambda: os.cpu_count() or 1)
    n_batch: int = 512
    seed: int = 0
    temperature: float = 0.0
    timeout_s: float | None = 600.0
    json_retries: int = 2
    temperature_bump: float = 0.3
    prompt_cache_bytes: int = 0  # see TeacherConfig.prompt_cache_mb: the states' logits are not counted
    json_schema: dict[str, Any] | None = None
    repeat_penalty: float = 1.0

    def __post_init__(self):
        self.model_path = str(self.model_path)
        for name in ("n_ctx", "n_threads", "n_batch"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"llama.cpp {name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.temperature <= 2:
            raise ConfigError(f"temperature must be in [0, 2], got {self.temperature}")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise ConfigError(f"timeout_s must be > 0 or None, got {self.timeout_s}")
        if self.json_retries < 0 or self.prompt_cache_bytes < 0:
            raise ConfigError("json_retries and prompt_cache_bytes must be >= 0")


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

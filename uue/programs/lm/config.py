"""The teacher LM, configured in one typed object: `TeacherConfig` -> `build_lm` -> `dspy.LM`.

`--teacher` takes any LiteLLM model string (`openai/gpt-4o-mini`, `hosted_vllm/Qwen/Qwen2.5-7B-Instruct`
with `--api-base`, `ollama_chat/qwen2.5`) or an offline model run in-process by llama.cpp:
`local/qwen2.5-coder-0.5b` (the default), `local/qwen2.5-coder-1.5b` (registry names in
`uue.programs.lm.gguf.MODELS`) or `local:/path/to/model.gguf`.

Both kinds come back as a plain `dspy.LM`, so DSPy's response cache, history, usage tracking and
retries (`num_retries`, exponential backoff) work the same way. Set the LM at the entry point:
`with dspy.context(lm=build_lm(cfg), adapter=default_adapter(cfg)): ...`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import dspy
from dspy.utils.exceptions import LMConfigurationError
from pydantic import ConfigDict, Field, create_model, field_validator

from uue.config import Config
from uue.errors import ConfigError
from uue.programs.scripted import SCRIPTED_PREFIX, build_scripted_lm

LOCAL_PREFIX = "local/"
LOCAL_PATH_PREFIX = "local:"
DEFAULT_TEACHER = "local/qwen2.5-coder-0.5b"


class TeacherConfig(Config):
    """Which LM writes the training triplets, and how it is called."""

    model_config = ConfigDict(frozen=True)

    model: str = Field(
        DEFAULT_TEACHER, description="LiteLLM model string, 'local/<registry name>' or 'local:<path.gguf>'"
    )
    api_base: str | None = Field(
        None, description="Server URL for hosted_vllm/, openai-compatible or ollama models"
    )
    api_key_env: str | None = Field(
        None, description="Name of the environment variable that holds the API key"
    )
    temperature: float = Field(0.0, ge=0.0, le=2.0, description="Sampling temperature (0 = deterministic)")
    # The teacher answers short JSON (labels, rankings, a profile): 256 tokens is room enough, and
    # a weak model that runs on inside a string stops four times sooner than with 1024.
    max_tokens: int = Field(256, ge=1, description="Maximum generated tokens per call")
    timeout_s: float = Field(300.0, gt=0, description="Per-call timeout in seconds (local: generation time)")
    num_retries: int = Field(3, ge=0, description="Retries of transient failures, exponential backoff")
    cache: bool = Field(
        True, description="Use DSPy's response cache (a repeated identical call costs nothing)"
    )
    seed: int = Field(0, description="Sampling seed of the local model")
    n_ctx: int = Field(8192, ge=256, description="Context window of the local model in tokens")
    n_threads: int | None = Field(
        None, ge=1, description="CPU threads of the local model (default: all cores)"
    )
    # Off by default: llama-cpp-python's LlamaRAMCache counts only the KV state against its
    # capacity, not the logits copy each saved state carries (~300 MB for this vocabulary), so a
    # 20-user synth run grew to 23 GiB and was OOM-killed. llama.cpp still reuses the previous
    # call's prefix, which is what synth's call order (a user's rounds back to back) relies on.
    prompt_cache_mb: int = Field(0, ge=0, description="RAM for llama.cpp prompt-prefix states (0 = off)")
    # On by default since 2026-12-06: the activity labeller's answers cost 1.47 s instead of 2.06 s
    # (README "Synthesis cost"); it changes only answers whose schema is all strings.
    prefill_json: bool = Field(
        True,
        description="Local model: write a string-only JSON answer field by field (the model writes the values)",
    )
    # 8: labelling 24 activities took 1.12 s each one at a time, 0.94 s with 4 at once, 0.88 s with 8
    # (README "Synthesis cost"); a step of one token from each of 4 sequences costs 24 ms a token, not 45.
    parallel: int = Field(
        8,
        ge=1,
        le=16,
        description="Local model: calls from concurrent units decoded together in one batch "
        "(uue synth --mode activity labels this many activities at once; other jobs call one at a time)",
    )
    model_cache_dir: Path | None = Field(
        None,
        description="Where local GGUF files are assembled "
        "(default $UUE_CACHE_DIR/models or ~/.cache/uue/models)",
    )

    @field_validator("model")
    @classmethod
    def _model_shape(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("model must not be empty")
        if value.startswith(LOCAL_PATH_PREFIX) and not value[len(LOCAL_PATH_PREFIX) :].endswith(".gguf"):
            raise ValueError("'local:' takes the path of a .gguf file")
        return value

    @property
    def is_local(self) -> bool:
        return self.model.startswith((LOCAL_PREFIX, LOCAL_PATH_PREFIX))


def local_model_path(config: TeacherConfig) -> Path:
    """The GGUF file of a local teacher, assembled and verified if it is a registry model."""
    from uue.programs.lm.gguf import ensure_model

    if config.model.startswith(LOCAL_PATH_PREFIX):
        return ensure_model(config.model[len(LOCAL_PATH_PREFIX) :])
    return ensure_model(config.model[len(LOCAL_PREFIX) :], config.model_cache_dir)


def _local_model_id(config: TeacherConfig, path: Path) -> str:
    # The DSPy cache key holds the model string only: a file given by path is named by its stem and
    # size, so replacing the file with another model does not return the old model's answers.
    if config.model.startswith(LOCAL_PATH_PREFIX):
        return f"{LOCAL_PREFIX}{path.stem}-{path.stat().st_size}"
    return config.model


def build_lm(config: TeacherConfig, concurrent: bool = False) -> dspy.LM:
    """A `dspy.LM` for `config`: llama.cpp in-process for local models, a scripted stand-in for
    `scripted/` (tests and dry runs, see uue/programs/scripted.py), LiteLLM/lm15 otherwise.
    `concurrent`: the caller sends calls from several threads, which a local model decodes in one
    batch (`config.parallel`); a job that calls one at a time (pivot, compile, profiles) gains nothing
    from batching and keeps the sequential engine its figures were measured with.

    Raises `ConfigError` for a missing model, missing parts packages or a missing API-key variable.
    Loads no weights: the local model is loaded on its first call.
    """
    if config.model.startswith(SCRIPTED_PREFIX):
        return build_scripted_lm(config.model)
    if config.is_local:
        from uue.programs.lm.llamacpp import AsyncLlamaCppEngine, LlamaCppEngine, LlamaCppSettings

        path = local_model_path(config)
        engine = LlamaCppEngine.shared(
            LlamaCppSettings(
                model_path=str(path),
                n_ctx=config.n_ctx,
                n_threads=config.n_threads or os.cpu_count() or 1,
                seed=config.seed,
                temperature=config.temperature,
                timeout_s=config.timeout_s,
                prompt_cache_bytes=config.prompt_cache_mb << 20,
                prefill_json=config.prefill_json,
                parallel=config.parallel if concurrent else 1,
            )
        )
        return dspy.LM(
            _local_model_id(config, path),
            engine=engine,
            async_engine=AsyncLlamaCppEngine(engine),
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            num_retries=config.num_retries,
            cache=config.cache,
        )
    kwargs: dict[str, Any] = {}
    if config.api_base:
        kwargs["api_base"] = config.api_base
    if config.api_key_env:
        key = os.environ.get(config.api_key_env)
        if not key:
            raise ConfigError(
                f"environment variable {config.api_key_env} (the teacher's API key) is not set",
                hint=f"export {config.api_key_env}=...",
            )
        kwargs["api_key"] = key
    try:
        return dspy.LM(
            config.model,
            temperature=config.temperature,
            max_tokens=config.max_tokens,
            num_retries=config.num_retries,
            timeout=config.timeout_s,
            cache=config.cache,
            **kwargs,
        )
    except (ValueError, TypeError, LMConfigurationError) as error:
        raise ConfigError(f"teacher model {config.model!r}: {error}") from error


class GrammarJSONAdapter(dspy.JSONAdapter):
    """JSONAdapter without its per-call reminder ("Respond with a JSON object in the following order
    of fields: ..."): the local engine's grammar writes exactly those fields in that order, so the
    reminder only costs prompt tokens (about 35 a call, re-read in every round and retry). The
    system message still describes the fields."""

    def user_message_output_requirements(self, signature) -> None:
        return None

    def _prepare_response_format(self, lm, lm_kwargs, signature) -> None:
        """DSPy builds the schema from the bare annotations; keep the outputs' length limits
        (`dspy.OutputField(max_length=N)`) so that the grammar closes a long string instead of the
        model running into `max_tokens` inside it (an unparsable answer, retried in full)."""
        super()._prepare_response_format(lm, lm_kwargs, signature)
        outputs = signature.output_fields
        if not any(f.metadata for f in outputs.values()) or not isinstance(
            lm_kwargs.get("response_format"), type
        ):
            return
        fields = {
            name: (Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation, ...)
            for name, f in outputs.items()
        }
        lm_kwargs["response_format"] = create_model(
            "DSPyProgramOutputs", __config__=ConfigDict(extra="forbid"), **fields
        )


def default_adapter(config: TeacherConfig) -> dspy.Adapter:
    """JSONAdapter everywhere: grammar-constrained JSON on the local model, structured outputs
    (or JSON mode) where the provider supports them, and no ChatAdapter->JSONAdapter fallback
    that doubles the calls of a weak model."""
    return GrammarJSONAdapter() if config.is_local else dspy.JSONAdapter()


@contextmanager
def response_cache(directory: Path) -> Iterator[None]:
    """DSPy's response cache on disk in `directory` for the duration of a run (then restored)."""
    previous = dspy.cache
    dspy.configure_cache(enable_disk_cache=True, enable_memory_cache=True, disk_cache_dir=str(directory))
    try:
        yield
    finally:
        dspy.cache = previous

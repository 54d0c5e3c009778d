"""The teacher LM layer: configuration, the offline llama.cpp engine, GGUF assembly and the token ledger.

Usage, at an entry point: call `ensure_offline_defaults()` before litellm is imported, then
`cfg = TeacherConfig(model="local/qwen2.5-coder-0.5b")` and
`with dspy.context(lm=build_lm(cfg), adapter=default_adapter(cfg)): ...`.
"""

from uue.programs.lm.config import (
    DEFAULT_TEACHER,
    TeacherConfig,
    build_lm,
    default_adapter,
    local_model_path,
    response_cache,
)
from uue.programs.lm.gguf import MODELS, KnownModel, default_cache_dir, ensure_model, register_model
from uue.programs.lm.ledger import LLMUsage, ModelTotals, TokenLedger
from uue.programs.lm.offline import ensure_offline_defaults

__all__ = [
    "DEFAULT_TEACHER",
    "MODELS",
    "KnownModel",
    "LLMUsage",
    "ModelTotals",
    "TeacherConfig",
    "TokenLedger",
    "build_lm",
    "default_adapter",
    "default_cache_dir",
    "ensure_model",
    "ensure_offline_defaults",
    "local_model_path",
    "register_model",
    "response_cache",
]

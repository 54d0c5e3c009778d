"""Process-wide switches that keep DSPy, LiteLLM and Hugging Face off the network.

Call `ensure_offline_defaults()` once at the entry point (the CLI, `tests/conftest.py`) *before*
`litellm` is imported: LiteLLM reads these variables at import time and otherwise fetches its model
cost map, blog feed, Anthropic beta-header list, policy templates and autorouter presets from GitHub,
and DSPy's model-metadata loader tries the same cost map (5 s timeout each, a warning when offline).
Values already present in the environment win, so a user can opt back in (`LITELLM_LOCAL_MODEL_COST_MAP=False`).
"""

from __future__ import annotations

import logging
import os
import sys

logger = logging.getLogger(__name__)

OFFLINE_ENV: dict[str, str] = {
    # LiteLLM and DSPy (dspy/clients/model_metadata): bundled model cost / capability map.
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    # LiteLLM: other bundled-vs-remote configs fetched at import or first use.
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    # Hugging Face: never download weights or datasets at run time.
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


def ensure_offline_defaults() -> dict[str, str]:
    """Set every variable in `OFFLINE_ENV` that is not already set; return the ones it set.

    Idempotent. If `litellm` was imported before this call its cost map has already been loaded
    (possibly from the network); a debug line says so, and nothing else changes.
    """
    changed = {}
    for key, value in OFFLINE_ENV.items():
        if key not in os.environ:
            os.environ[key] = value
            changed[key] = value
    if changed and "litellm" in sys.modules:
        logger.debug("litellm was imported before ensure_offline_defaults(); its cost map may be remote")
    return changed

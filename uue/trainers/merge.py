"""`uue merge`: one student from two by weight averaging (WiSE-FT, Wortsman et al. 2022).

Fine-tuning the same-user model on teacher triplets gains interest retrieval and loses what same-user
pre-training gave re-identification (README, "Student at scale"). Interpolating the weights of a model
and of its own fine-tuned descendant keeps much of both (they lie in one basin). `weight` is the
fine-tuned model's share; 0.5 is WiSE-FT's default and is set before looking at held-out users.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import Field

from uue.config import Config
from uue.errors import UueError
from uue.models import resolve_base_model
from uue.provenance import made_by, records_same_making


class MergeConfig(Config):
    base: str = Field(description="The model before fine-tuning (a folder, or `minilm`)")
    tuned: str = Field(description="Its fine-tuned descendant (a sentence-transformers folder)")
    weight: float = Field(0.5, ge=0, le=1, description="The fine-tuned model's share of every weight")
    out: Path = Field(description="Output: the merged sentence-transformers folder")


def merge_models(config: MergeConfig) -> Path:
    """Write (1 - weight) * base + weight * tuned, every floating-point tensor, with its provenance."""
    from sentence_transformers import SentenceTransformer

    base = SentenceTransformer(resolve_base_model(config.base), device="cpu")
    tuned = SentenceTransformer(resolve_base_model(config.tuned), device="cpu").state_dict()
    merged = base.state_dict()
    if merged.keys() != tuned.keys():
        raise UueError(f"{config.base} and {config.tuned} are not the same architecture; nothing to merge")
    for name, tensor in merged.items():
        if tensor.is_floating_point():  # integer buffers (position ids) are the same in both
            tensor.copy_(tensor * (1 - config.weight) + tuned[name] * config.weight)
    base.save_pretrained(str(config.out))
    provenance = {"made_by": made_by("uue merge", config, _weights(config))}
    (config.out / "uue_provenance.json").write_text(json.dumps(provenance, indent=2, default=str))
    return config.out


def _weights(config: MergeConfig) -> list[Path]:
    return [Path(resolve_base_model(m)) / "model.safetensors" for m in (config.base, config.tuned)]


def merge_or_reuse(config: MergeConfig) -> Path:
    """`merge_models`, unless `config.out` already holds this merge of these very weight files."""
    path = config.out / "uue_provenance.json"
    saved = json.loads(path.read_text())["made_by"] if path.is_file() else {}
    if records_same_making(saved, made_by("uue merge", config, _weights(config)), ("settings", "inputs")):
        return config.out
    return merge_models(config)

"""Typed configs: the shipped YAML files load, bad values fail with ConfigError, unknown keys are rejected by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from uue.errors import ConfigError
from uue.seqrec.bert4rec import BERT4RecConfig
from uue.seqrec.config import Aggregation, config_from_dict, load_config
from uue.seqrec.sasrec import SASRecConfig

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs" / "seqrec"


@pytest.mark.parametrize("path", sorted(CONFIG_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_configs_load(path: Path) -> None:
    config = load_config(path)  # an unknown key in a shipped file would raise
    assert config.model.model_name in path.stem
    assert "full" in config.eval.protocols


def test_model_section_is_validated_by_the_named_model(tmp_path: Path) -> None:
    config = config_from_dict(
        {"data": {"path": "x.txt"}, "model": {"model_name": "bert4rec", "mask_prob": 0.3}}
    )
    assert isinstance(config.model, BERT4RecConfig) and config.model.mask_prob == 0.3
    assert config.model_dump()["model"]["mask_prob"] == 0.3  # subclass fields survive serialisation
    config = config_from_dict({"data": {"path": "x.txt"}, "model": {"model_name": "sasrec"}})
    assert isinstance(config.model, SASRecConfig)
    assert config.distillation.weighting_scheme is Aggregation.mean


@pytest.mark.parametrize(
    ("section", "where"),
    [("training", "training.model_dir"), ("model", "model_dir"), ("top", "model_dir")],
)
def test_unknown_keys_are_rejected_by_name(section: str, where: str) -> None:
    raw = {"data": {"path": "x.txt"}, "model": {"model_name": "sasrec"}}
    if section == "top":
        raw["model_dir"] = "m/"
    else:
        raw.setdefault(section, {})["model_dir"] = "m/"
    with pytest.raises(ConfigError, match=rf"{where}.*unknown key|{where}.*not permitted"):
        config_from_dict(raw, source="my.yaml")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"model": {"model_name": "gru4rec"}}, "unknown recommender 'gru4rec'"),
        ({"model": {"model_name": "sasrec", "hidden_units": 64, "num_heads": 3}}, "not divisible"),
        ({"model": {"model_name": "sasrec"}, "training": {"learning_rate": -1}}, "training.learning_rate"),
        (
            {"model": {"model_name": "sasrec"}, "distillation": {"enabled": True}},
            "needs distillation.profiles_path",
        ),
        (
            {"model": {"model_name": "sasrec"}, "distillation": {"weighting_scheme": "max"}},
            "weighting_scheme",
        ),
        (
            {"model": {"model_name": "sasrec"}, "eval": {"protocols": ["sampled"]}},
            "unknown evaluation protocol",
        ),
        ({"model": {}}, "model_name is required"),
        (
            {"model": {"model_name": "sasrec"}, "eval": {"ks": [5], "select_metric": "NDCG@10"}},
            "select_metric",
        ),
        (
            {"model": {"model_name": "sasrec"}, "eval": {"select_protocol": "sampled99"}},
            "unknown evaluation protocol",
        ),
    ],
)
def test_bad_configs_raise_config_error(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"data": {"path": "x.txt"}} | raw)


def test_load_config_with_overrides() -> None:
    config = load_config(CONFIG_DIR / "sasrec_lastfm.yaml", {"training.epochs": 3, "data.max_users": 10})
    assert config.training.epochs == 3 and config.data.max_users == 10
    assert config.flat_params()["training.epochs"] == "3"
    with pytest.raises(ConfigError, match="cannot read config"):
        load_config(CONFIG_DIR / "missing.yaml")

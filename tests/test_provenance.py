"""The provenance block written next to every artifact, and the test of whether a stored one records
the same making (what lets a rerun reuse an artifact)."""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

import uue
from uue.datasets.options import IngestOptions
from uue.provenance import file_fingerprint, made_by, records_same_making, sha256_text


@dataclass
class Settings:
    out: Path
    tags: frozenset[str]
    sizes: tuple[int, ...]


def test_made_by_records_version_command_settings_inputs_and_time(shared_data):
    fixture = shared_data / "pushshift-fixtures" / "test_comments.json"
    block = made_by("uue ingest reddit", IngestOptions(bots="b2, b1"), [fixture, shared_data / "missing"])
    assert block["uue_version"] == uue.__version__ and block["command"] == "uue ingest reddit"
    assert block["argv"] == sys.argv
    # (a pydantic model's frozenset is dumped in hash order, unlike a plain set: compared sorted here)
    assert sorted(block["settings"]["bots"]) == ["b1", "b2"] and block["settings"]["index"] == "auto"
    assert block["inputs"] == [file_fingerprint(fixture)]  # a path that is not a file is left out
    assert block["inputs"][0]["bytes"] == fixture.stat().st_size
    assert block["created_at"].endswith("Z") and len(block["created_at"]) == 20
    json.dumps(block)  # JSON-ready as it is


def test_settings_of_every_kind_become_plain_json():
    settings = {"run": Settings(Path("runs/a"), frozenset({"z", "a"}), (3, 1)), 7: {Path("x")}}
    assert made_by("uue x", settings)["settings"] == {
        "run": {"out": "runs/a", "tags": ["a", "z"], "sizes": [3, 1]},
        "7": ["x"],
    }


def test_sha256_text_is_the_hex_digest_of_the_utf8_text():
    assert sha256_text("résumé") == hashlib.sha256("résumé".encode()).hexdigest()


def test_same_making_compares_the_settings_as_json():
    saved = made_by("uue merge", {"weight": 0.5, "model": Path("runs/m")})
    assert records_same_making(saved, {"settings": {"weight": 0.5, "model": Path("runs/m")}})
    assert not records_same_making(saved, {"settings": {"weight": 0.25, "model": Path("runs/m")}})


def test_settings_named_in_ignore_may_differ_and_other_parts_must_match_when_asked():
    saved = {"command": "uue merge", "settings": {"weight": 0.5, "workers": 4}}
    wanted = {"command": "uue merge", "settings": {"weight": 0.5, "workers": 8}}
    assert not records_same_making(saved, wanted)
    assert records_same_making(saved, wanted, ignore=frozenset({"workers"}))
    other_command = {**wanted, "command": "uue train"}
    assert records_same_making(saved, other_command, ignore=frozenset({"workers"}))
    assert not records_same_making(
        saved, other_command, parts=("settings", "command"), ignore=frozenset({"workers"})
    )


def test_a_missing_block_never_records_the_same_making():
    assert not records_same_making({}, {"settings": None})
    assert not records_same_making({"command": "uue merge"}, {"command": "uue merge"})


def test_a_set_inside_a_settings_model_is_recorded_sorted_like_a_plain_set():
    class WithIds(BaseModel):
        ids: frozenset[int]

    assert made_by("uue x", {"ids": frozenset({10, 2})})["settings"] == {"ids": [2, 10]}
    assert made_by("uue x", WithIds(ids={10, 2}))["settings"] == {"ids": [2, 10]}

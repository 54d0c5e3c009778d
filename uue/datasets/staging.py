"""Outputs that are swapped in whole, by one writer at a time.

A stage writes into `.NAME.staging` beside its output folder and renames what it wrote into place
only when everything is written: a run that fails (a truncated archive, a kill, a full disk) leaves the previous
output as it was. A lock file beside it (`.NAME.lock`, held with `flock`, so a killed holder frees it)
refuses a second writer at once with the holder's PID.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from uue.errors import ConfigError


@contextmanager
def single_writer(out_dir: Path) -> Iterator[None]:
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    lock_path = out_dir.with_name(f".{out_dir.name}.lock")
    with open(lock_path, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            raise ConfigError(
                f"{out_dir} is being written by process {holder}", hint="wait for it, or choose another --out"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(str(os.getpid()))
        lock.flush()
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextmanager
def staged(out_dir: Path) -> Iterator[Path]:
    """`with staged(OUT) as work:` write into `work`; on success it replaces OUT, on failure it is removed."""
    staging = out_dir.with_name(f".{out_dir.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)  # left by a killed run
    staging.mkdir(parents=True)
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    # Entry by entry: what this run wrote replaces its earlier version; anything else in OUT (a synth
    # run someone put inside it) is left alone.
    old = out_dir.with_name(f".{out_dir.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    old.mkdir()
    out_dir.mkdir(parents=True, exist_ok=True)
    for entry in sorted(staging.iterdir()):
        target = out_dir / entry.name
        if target.exists():
            target.rename(old / entry.name)
        entry.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    staging.rmdir()

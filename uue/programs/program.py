"""The whole teacher program of `uue synth`: one module per behaviour, saved and loaded together."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TypeVar

import dspy

from uue.errors import InputError
from uue.programs.judge import Judge
from uue.programs.negatives import GenerateNegative, RerankNegatives
from uue.programs.pivot import PivotCluster
from uue.provenance import sha256_text

M = TypeVar("M", bound=dspy.Module)


class SynthProgram(dspy.Module):
    """The four teacher modules. An optimizer compiles this (or one part of it) and `save`s it;
    `uue synth --program FILE` loads it back."""

    def __init__(self, attempts: int = 2):
        super().__init__()
        self.pivot = PivotCluster(attempts)
        self.rerank = RerankNegatives(attempts)
        self.generate = GenerateNegative(attempts)
        self.judge = Judge(attempts)


def load_state(module: M, path: str | Path | None) -> M:
    """`module` with the saved state in `path` (DSPy `save` JSON) loaded when given."""
    if path is None:
        return module
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "no such program file", hint="save one with program.save(path)")
    try:
        module.load(str(path))
    except (ValueError, KeyError) as error:
        raise InputError(str(path), f"not a saved {type(module).__name__}: {error}") from error
    return module


def load_program(path: str | Path | None, attempts: int = 2) -> SynthProgram:
    """A fresh program, with the saved state in `path` loaded when given."""
    return load_state(SynthProgram(attempts), path)


def program_hash(program: dspy.Module) -> str:
    """Hash of instructions, fields and demos: which prompts produced a dataset."""
    return sha256_text(json.dumps(program.dump_state(), sort_keys=True, default=str))[:16]

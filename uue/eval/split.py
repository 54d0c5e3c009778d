"""The user-level train/validation split shared by `uue train`, `uue bench --task` and the tests.

A user's side is a pure function of (seed, user_id): a hash, not a shuffle, so the same user lands on
the same side whatever other users the dataset holds, and no user can be on both sides.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

from uue.errors import ConfigError


def is_held_out(user_id: str, valid_fraction: float, seed: int = 0) -> bool:
    """True when `user_id` belongs to the validation (held-out) users."""
    if not 0.0 <= valid_fraction < 1.0:
        raise ConfigError(f"valid fraction {valid_fraction} is outside [0, 1)", hint="use e.g. 0.1")
    digest = hashlib.sha256(f"{seed}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < valid_fraction


class UserSide(str, Enum):
    """Which users of the split a stage reads."""

    all = "all"
    train = "train"
    held_out = "held-out"

    def keeps(self, user_id: str, valid_fraction: float, seed: int = 0) -> bool:
        if self is UserSide.all:
            return True
        return is_held_out(user_id, valid_fraction, seed) == (self is UserSide.held_out)


@dataclass(frozen=True)
class UserSplit:
    train: frozenset[str]
    valid: frozenset[str]
    valid_fraction: float
    seed: int

    def describe(self) -> dict:
        return {
            "train_users": len(self.train),
            "valid_users": len(self.valid),
            "valid_fraction": self.valid_fraction,
            "seed": self.seed,
        }


def split_users(user_ids: Iterable[str], valid_fraction: float = 0.1, seed: int = 0) -> UserSplit:
    users = set(user_ids)
    valid = frozenset(u for u in users if is_held_out(u, valid_fraction, seed))
    return UserSplit(frozenset(users - valid), valid, valid_fraction, seed)

"""Sequential-recommendation data: the two file formats, leave-one-out split, batches, negatives.

Item ids are kept exactly as written in the file (positive integers); id 0 is padding and
`num_items = max id`, so scores have `num_items + 1` columns with column 0 never recommended.
User ids are kept as strings: they are the keys of the profile file (`{user_id: vector}`).

Leave-one-out (S3-Rec / SASRec / BERT4Rec papers): for a user sequence `s` (time-ordered),
train on `s[:-2]`, validate on target `s[-2]` with history `s[:-2]`, test on target `s[-1]` with
history `s[:-1]`. Users with fewer than 3 interactions cannot be split and are dropped at load time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import numpy as np
import torch

from uue.errors import InputError

MIN_SEQUENCE_LENGTH = 3
PAD = 0


class FileFormat(str, Enum):
    """`sequences`: `user item item ...` per line (S3-Rec). `pairs`: `user item` per line, time-ordered.
    `movielens`: `user|item|rating|timestamp` per line (MovieLens `u.data`, header optional), ordered
    here by timestamp per user (ties keep file order), every rating counted as an interaction."""

    auto = "auto"
    sequences = "sequences"
    pairs = "pairs"
    movielens = "movielens"


class Split(str, Enum):
    valid = "valid"
    test = "test"


@dataclass(frozen=True)
class EvalSplit:
    """One evaluation target per user: `history[i]` is what the model sees, `target[i]` the item to rank."""

    user_index: np.ndarray  # [U] rows of SeqRecData.sequences
    history: list[np.ndarray]  # U arrays of item ids, oldest first
    target: np.ndarray  # [U]


@dataclass
class SeqRecData:
    """User sequences of one dataset, in file order."""

    name: str
    user_ids: list[str]
    sequences: list[np.ndarray]  # one int64 array per user, oldest first
    num_items: int

    @property
    def num_users(self) -> int:
        return len(self.user_ids)

    @property
    def num_interactions(self) -> int:
        return int(sum(len(s) for s in self.sequences))

    def train_sequences(self) -> list[np.ndarray]:
        """`s[:-2]` per user: the part the model may be trained on."""
        return [s[:-2] for s in self.sequences]

    def split(self, which: Split | str) -> EvalSplit:
        which = Split(which)
        cut = 2 if which is Split.valid else 1
        return EvalSplit(
            user_index=np.arange(self.num_users),
            history=[s[:-cut] for s in self.sequences],
            target=np.array([s[-cut] for s in self.sequences], dtype=np.int64),
        )

    def item_counts(self) -> np.ndarray:
        """[num_items + 1] interaction counts over the whole file (BERT4Rec's popularity)."""
        return np.bincount(np.concatenate(self.sequences), minlength=self.num_items + 1)

    def describe(self) -> dict[str, int]:
        return {
            "users": self.num_users,
            "items": int((self.item_counts()[1:] > 0).sum()),
            "max_item_id": self.num_items,
            "interactions": self.num_interactions,
        }


def _detect_format(lines: list[list[str]]) -> FileFormat:
    if all(len(tokens) == 2 for tokens in lines):
        first_column = [tokens[0] for tokens in lines]
        if len(set(first_column)) < len(first_column):  # a user on several lines: pairs
            return FileFormat.pairs
    return FileFormat.sequences


def _movielens_as_pairs(path: Path, text: str) -> str:
    """`user|item|rating|timestamp` lines as time-ordered `user item` pairs."""
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split("|")
        if not line.strip() or (number == 1 and fields[0] == "user"):
            continue
        try:
            rows.append((int(fields[3]), number, fields[0], fields[1]))
        except (IndexError, ValueError):
            raise InputError(str(path), "expected user|item|rating|timestamp", line=number) from None
    rows.sort()  # by timestamp, then file line
    return "\n".join(f"{user} {item}" for _, _, user, item in rows)


def load_seqrec(
    path: str | Path, file_format: FileFormat | str = FileFormat.auto, max_users: int | None = None
) -> SeqRecData:
    """Read either file format; `max_users` keeps the first users of the file (tests, smoke runs)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            str(path), "no such file", hint="see /work/shared/data/README.md for the seqrec files"
        )
    text = path.read_text()
    file_format = FileFormat(file_format)
    if file_format is FileFormat.movielens or (file_format is FileFormat.auto and "|" in text[:200]):
        text, file_format = _movielens_as_pairs(path, text), FileFormat.pairs
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if file_format is FileFormat.auto:
        file_format = _detect_format(lines)

    by_user: dict[str, list[int]] = {}
    for number, tokens in enumerate(lines, start=1):
        if len(tokens) < 2 or (file_format is FileFormat.pairs and len(tokens) != 2):
            raise InputError(
                str(path), f"expected {file_format.value} format, got {len(tokens)} fields", line=number
            )
        try:
            items = [int(token) for token in tokens[1:]]
        except ValueError:
            raise InputError(str(path), "item ids must be integers", line=number) from None
        if min(items) <= PAD:
            raise InputError(str(path), "item ids must be >= 1 (0 is padding)", line=number)
        if file_format is FileFormat.sequences and tokens[0] in by_user:
            raise InputError(str(path), f"user {tokens[0]} appears twice", line=number)
        by_user.setdefault(tokens[0], []).extend(items)

    user_ids, sequences = [], []
    for user, items in by_user.items():
        if len(items) >= MIN_SEQUENCE_LENGTH:
            user_ids.append(user)
            sequences.append(np.asarray(items, dtype=np.int64))
        if max_users is not None and len(user_ids) >= max_users:
            break
    if not sequences:
        raise InputError(str(path), f"no user has {MIN_SEQUENCE_LENGTH}+ interactions")
    num_items = int(max(s.max() for s in sequences))
    return SeqRecData(name=path.stem, user_ids=user_ids, sequences=sequences, num_items=num_items)


def pad_left(sequences: list[np.ndarray], length: int) -> torch.Tensor:
    """Keep the last `length` items of each sequence, left-padded with 0 -> LongTensor [B, length]."""
    out = np.zeros((len(sequences), length), dtype=np.int64)
    for row, seq in enumerate(sequences):
        tail = seq[-length:]
        if len(tail):
            out[row, length - len(tail) :] = tail
    return torch.from_numpy(out)


class HistoryIndex:
    """Vectorised membership test "did user u interact with item i" (any position of the full sequence)."""

    def __init__(self, data: SeqRecData):
        self._stride = data.num_items + 1
        keys = [u * self._stride + np.unique(seq) for u, seq in enumerate(data.sequences)]
        self._keys = np.sort(np.concatenate(keys))

    def contains(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        """users, items broadcastable int arrays -> bool array of their broadcast shape."""
        query = np.asarray(users, dtype=np.int64) * self._stride + np.asarray(items, dtype=np.int64)
        position = np.searchsorted(self._keys, query).clip(max=len(self._keys) - 1)
        return self._keys[position] == query


class NegativeSampler:
    """Items the user never interacted with, drawn uniformly (SASRec training negatives)."""

    def __init__(self, data: SeqRecData):
        self.num_items = data.num_items
        self.history = HistoryIndex(data)

    def sample(self, users: np.ndarray, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
        """users [B] -> negatives [B, *shape]; resamples collisions until none is left."""
        users = np.asarray(users).reshape(-1, *([1] * len(shape)))  # [B, 1, ...] broadcasts over shape
        negatives = rng.integers(1, self.num_items + 1, size=(users.shape[0], *shape))
        for _ in range(100):
            bad = self.history.contains(users, negatives)
            if not bad.any():
                break
            negatives[bad] = rng.integers(1, self.num_items + 1, size=int(bad.sum()))
        return negatives


@dataclass(frozen=True)
class TrainBatch:
    user_index: torch.Tensor  # [B] rows of SeqRecData.sequences (profile lookup)
    sequence: torch.Tensor  # [B, maxlen + 1] left-padded training sequence s[:-2]


class TrainLoader:
    """Shuffled batches of training sequences; one sample per user per epoch (as SASRec and S3-Rec).

    The sequence is `maxlen + 1` long so that next-item models can shift it by one; masked-item
    models drop the first column. Each batch is trimmed to its longest sequence (the leading
    all-padding columns go: models count positions from the right, so nothing changes but the
    cost). With `bucket_batches > 1`, users are shuffled, then sorted by length inside windows of
    that many batches, and the batches shuffled again: batches of similar lengths, much less
    padding on short-sequence data such as Beauty (mean 8.9 items).
    """

    def __init__(
        self, data: SeqRecData, maxlen: int, batch_size: int, bucket_batches: int = 1, min_length: int = 2
    ):
        train = data.train_sequences()
        self.user_index = np.array([u for u, s in enumerate(train) if len(s) >= min_length], dtype=np.int64)
        self.sequences = pad_left([train[u] for u in self.user_index], maxlen + 1)  # [N, maxlen + 1]
        self.lengths = (self.sequences != PAD).sum(dim=1).numpy()  # [N]
        self.batch_size, self.bucket_batches = batch_size, bucket_batches

    def __len__(self) -> int:
        return -(-len(self.user_index) // self.batch_size)

    @property
    def num_samples(self) -> int:
        return len(self.user_index)

    def _batches(self, rng: np.random.Generator) -> list[np.ndarray]:
        order = rng.permutation(len(self.user_index))
        if self.bucket_batches <= 1:
            return [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        window = self.batch_size * self.bucket_batches
        batches = []
        for start in range(0, len(order), window):
            chunk = order[start : start + window]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    def epoch(self, rng: np.random.Generator) -> Iterator[TrainBatch]:
        for rows in self._batches(rng):
            width = int(self.lengths[rows].max())
            yield TrainBatch(
                user_index=torch.from_numpy(self.user_index[rows]),
                sequence=self.sequences[torch.from_numpy(rows), -width:],  # [B, width <= maxlen + 1]
            )

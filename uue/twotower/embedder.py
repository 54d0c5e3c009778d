"""A trained two-tower model behind the bench's embedder interface (`--model two-tower:FOLDER`).

Users are read whole (`encode_users`: the history's newest chunks through the user tower, pooled by
its attention, with the history's side information when the model reads it); a lone query text is a
one-chunk history; documents (labels, statements) go through the item tower, as free text (no broad
label). So `uue bench`, the held-out table and `uue embed` take it like any other model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from uue.datasets.records import Activity
from uue.twotower.data import history_chunks
from uue.twotower.metadata import user_tokens
from uue.twotower.train import load_two_tower


class TwoTowerEmbedder:
    def __init__(self, folder: Path, batch_size: int = 32):
        self.model, self.config = load_two_tower(folder)
        self.name, self.batch_size = f"two-tower:{folder}", batch_size
        self._tokenizer = self.model.user_encoder.model.tokenizer

    @property
    def max_tokens(self) -> int:
        return self.config.max_chunk_length

    def count_tokens(self, text: str) -> int:
        return len(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    @torch.no_grad()
    def _users(self, chunks: list[list[str]], metadata: list[tuple[str, ...]] | None = None) -> np.ndarray:
        metadata = metadata or [() for _ in chunks]
        step = self.batch_size
        parts = [
            self.model.users(chunks[i : i + step], metadata[i : i + step])
            for i in range(0, len(chunks), step)
        ]
        vectors = torch.nn.functional.normalize(torch.cat(parts), dim=-1)
        return vectors.numpy()

    def encode_users(self, histories: Sequence[Sequence[Activity]]) -> np.ndarray:
        config = self.config
        chunks = [
            history_chunks(h, config.activities_per_chunk, config.num_chunks_per_user, config.max_chunk_length,
                           self.count_tokens) or [""]
            for h in histories
        ]  # fmt: skip
        return self._users(chunks, [user_tokens(h) for h in histories])

    def encode_queries(self, texts: Sequence[str]) -> np.ndarray:
        return self._users([[t] for t in texts])

    @torch.no_grad()
    def encode_documents(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        parts = [
            self.model.items(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)
        ]
        return torch.nn.functional.normalize(torch.cat(parts), dim=-1).numpy()

    def score(self, queries: Sequence[str], documents: Sequence[str]) -> np.ndarray:
        return self.encode_queries(queries) @ self.encode_documents(documents).T

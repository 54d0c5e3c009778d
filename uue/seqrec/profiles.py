"""User-profile vectors `{user_id: vector}`: written by `uue seqrec profiles` (profile_job.py), read here.

Files: JSON `{"user_id": [floats], ...}` or Parquet with a `user_id` column and one list column
(`vector` or `embedding`), or `user_id` plus one numeric column per dimension. User ids are compared
as strings with the first column of the sequence file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from uue.errors import InputError

VECTOR_COLUMNS = ("vector", "embedding")


@dataclass
class ProfileTable:
    user_ids: list[str]
    vectors: np.ndarray  # [P, E] float32

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    def aligned(self, user_ids: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Rows in the order of `user_ids` -> (vectors [U, E] zeros where missing, has_profile [U] bool)."""
        row_of = {user: row for row, user in enumerate(self.user_ids)}
        rows = np.array([row_of.get(user, -1) for user in user_ids], dtype=np.int64)
        has_profile = rows >= 0
        vectors = np.zeros((len(user_ids), self.dim), dtype=np.float32)
        vectors[has_profile] = self.vectors[rows[has_profile]]
        return torch.from_numpy(vectors), torch.from_numpy(has_profile)

    def shuffled(self, seed: int) -> ProfileTable:
        """The same vectors dealt to the same users at random: a control that keeps the vectors'
        distribution and drops which user wrote what."""
        order = np.random.default_rng(seed).permutation(len(self.user_ids))
        return ProfileTable(user_ids=self.user_ids, vectors=self.vectors[order])

    def save(self, path: str | Path) -> None:
        """JSON or Parquet by suffix (`uue seqrec profiles` writes Parquet)."""
        path = Path(path)
        if path.suffix == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.table({"user_id": self.user_ids, "vector": [v.tolist() for v in self.vectors]})
            pq.write_table(table, path)
        else:
            path.write_text(
                json.dumps({u: v.tolist() for u, v in zip(self.user_ids, self.vectors, strict=True)})
            )


def _from_parquet(path: Path) -> tuple[list[str], list]:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    if "user_id" not in table.column_names:
        raise InputError(str(path), "no user_id column", field="user_id")
    users = [str(u) for u in table.column("user_id").to_pylist()]
    list_columns = [c for c in VECTOR_COLUMNS if c in table.column_names]
    if list_columns:
        return users, table.column(list_columns[0]).to_pylist()
    numeric = [c for c in table.column_names if c != "user_id"]
    if not numeric:
        raise InputError(str(path), "no vector column", hint=f"name it one of {VECTOR_COLUMNS}")
    return users, np.stack([table.column(c).to_numpy() for c in numeric], axis=1).tolist()


def load_profiles(path: str | Path) -> ProfileTable:
    """Read a profile file; every vector must be finite and of one length, user ids unique."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "no such profile file", hint="write it with the teacher's profile module")
    if path.suffix == ".parquet":
        users, vectors = _from_parquet(path)
        if len(set(users)) != len(users):
            raise InputError(str(path), "duplicate user ids", field="user_id")
    else:
        try:
            raw = json.loads(path.read_text())
        except json.JSONDecodeError as error:
            raise InputError(str(path), f"not JSON: {error.msg}", line=error.lineno) from None
        if not isinstance(raw, dict):
            raise InputError(str(path), "expected a JSON object {user_id: [floats]}")
        users, vectors = [str(u) for u in raw], list(raw.values())
    if not users:
        raise InputError(str(path), "no profiles")
    lengths = {len(v) if isinstance(v, list) else -1 for v in vectors}
    if len(lengths) != 1 or -1 in lengths:
        raise InputError(str(path), f"vectors must be lists of one length, found lengths {sorted(lengths)}")
    matrix = np.asarray(vectors, dtype=np.float32)  # [P, E]
    if not np.isfinite(matrix).all():
        raise InputError(str(path), "vectors contain NaN or inf")
    return ProfileTable(user_ids=users, vectors=matrix)


@dataclass
class PCA:
    """Fitted principal components: `transform(x) = (x - mean) @ components.T`."""

    mean: np.ndarray  # [E]
    components: np.ndarray  # [dim, E], rows orthonormal, sign fixed (largest |entry| positive)
    explained_variance_ratio: np.ndarray  # [dim]

    @classmethod
    def fit(cls, vectors: np.ndarray, dim: int) -> PCA:
        n, e = vectors.shape
        if not 1 <= dim <= min(n, e):
            raise ValueError(f"PCA dim must be in 1..min(users={n}, dim={e}), got {dim}")
        mean = vectors.mean(axis=0, dtype=np.float64)  # [E]
        _, singular, vt = np.linalg.svd(vectors - mean, full_matrices=False)  # vt [min(n, e), E]
        components = vt[:dim]  # [dim, E]
        signs = np.sign(components[np.arange(dim), np.abs(components).argmax(axis=1)])  # [dim]
        variance = singular**2
        ratio = variance[:dim] / variance.sum() if variance.sum() > 0 else np.zeros(dim)
        return cls(mean=mean, components=components * signs[:, None], explained_variance_ratio=ratio)

    def transform(self, vectors: np.ndarray) -> np.ndarray:
        return ((vectors - self.mean) @ self.components.T).astype(np.float32)  # [P, dim]


def reduce_profiles(table: ProfileTable, dim: int | None) -> tuple[ProfileTable, PCA | None]:
    """PCA to `dim` (fitted on all profiles: unsupervised, no labels involved); None keeps the vectors."""
    if dim is None or dim == table.dim:
        return table, None
    pca = PCA.fit(table.vectors, dim)
    return ProfileTable(user_ids=table.user_ids, vectors=pca.transform(table.vectors)), pca

"""Loading both file formats, leave-one-out split, padding, negatives: tiny fixtures and real LastFM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from uue.errors import InputError
from uue.seqrec.data import (
    FileFormat,
    HistoryIndex,
    NegativeSampler,
    SeqRecData,
    TrainLoader,
    load_seqrec,
    pad_left,
)

SEQREC_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "seqrec"
LASTFM = SEQREC_DIR / "LastFM.txt"

SEQUENCES = "u1 1 2 3 4 5\nu2 3 1 6\nu3 2 4\nu4 6 5 4 3\n"  # u3 has 2 items: cannot be split
PAIRS = "u1 1\nu2 3\nu1 2\nu1 3\nu2 1\nu2 6\nu1 4\nu1 5\nu3 2\nu3 4\nu4 6\nu4 5\nu4 4\nu4 3\n"


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.txt"
    path.write_text(SEQUENCES)
    return path


def test_sequences_format_and_leave_one_out(tiny: Path) -> None:
    data = load_seqrec(tiny)
    assert data.user_ids == ["u1", "u2", "u4"]  # u3 dropped: fewer than 3 interactions
    assert data.num_items == 6
    assert data.num_interactions == 12
    assert [s.tolist() for s in data.train_sequences()] == [[1, 2, 3], [3], [6, 5]]
    valid = data.split("valid")
    assert valid.target.tolist() == [4, 1, 4]
    assert [h.tolist() for h in valid.history] == [[1, 2, 3], [3], [6, 5]]
    test = data.split("test")
    assert test.target.tolist() == [5, 6, 3]
    assert [h.tolist() for h in test.history] == [[1, 2, 3, 4], [3, 1], [6, 5, 4]]


def test_pairs_format_gives_the_same_sequences(tmp_path: Path, tiny: Path) -> None:
    path = tmp_path / "pairs.txt"
    path.write_text(PAIRS)
    pairs = load_seqrec(path)  # auto-detected: users repeat over 2-field lines
    explicit = load_seqrec(path, FileFormat.pairs)
    reference = load_seqrec(tiny)
    for data in (pairs, explicit):
        assert data.user_ids == reference.user_ids
        assert [s.tolist() for s in data.sequences] == [s.tolist() for s in reference.sequences]


def test_bad_files_raise_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_seqrec(tmp_path / "missing.txt")
    bad = tmp_path / "bad.txt"
    bad.write_text("u1 1 2 x\n")
    with pytest.raises(InputError, match=r"bad.txt:1: item ids must be integers"):
        load_seqrec(bad)
    bad.write_text("u1 1 0 2\n")
    with pytest.raises(InputError, match="0 is padding"):
        load_seqrec(bad)
    bad.write_text("u1 1 2 3\nu1 4 5 6\n")
    with pytest.raises(InputError, match="appears twice"):
        load_seqrec(bad)


def test_max_users_keeps_the_first_users(tiny: Path) -> None:
    assert load_seqrec(tiny, max_users=2).user_ids == ["u1", "u2"]


def test_pad_left_keeps_the_most_recent_items() -> None:
    padded = pad_left([np.array([1, 2, 3, 4]), np.array([5]), np.array([], dtype=np.int64)], 3)
    assert padded.tolist() == [[2, 3, 4], [0, 0, 5], [0, 0, 0]]


def test_history_index_and_negative_sampler_never_return_seen_items(tiny: Path) -> None:
    data = load_seqrec(tiny)
    index = HistoryIndex(data)
    assert index.contains(np.array([0, 0, 1]), np.array([5, 6, 6])).tolist() == [True, False, True]
    negatives = NegativeSampler(data).sample(np.array([0, 1, 2]), (50,), np.random.default_rng(0))
    assert negatives.shape == (3, 50)
    assert set(negatives[0].tolist()) == {6}  # u1 saw 1..5: item 6 is its only negative
    assert set(negatives[1].tolist()) <= {2, 4, 5}
    assert set(negatives[2].tolist()) <= {1, 2}


def test_train_loader_batches(tiny: Path) -> None:
    data = load_seqrec(tiny)
    loader = TrainLoader(data, maxlen=3, batch_size=2)  # u2 has a 1-item train sequence: no next item
    assert loader.num_samples == 2 and len(loader) == 1
    (batch,) = list(loader.epoch(np.random.default_rng(0)))
    rows = {int(u): s.tolist() for u, s in zip(batch.user_index, batch.sequence, strict=True)}
    assert rows == {0: [1, 2, 3], 2: [0, 6, 5]}  # trimmed to the longest sequence of the batch


def test_bucketed_batches_cover_every_user_once_with_little_padding() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(4, 40, size=200)  # train part s[:-2] has 2+ items: every user trains
    data = SeqRecData("toy", [str(i) for i in range(200)], [np.arange(1, n + 1) for n in lengths], 50)
    loader = TrainLoader(data, maxlen=50, batch_size=16, bucket_batches=4)
    batches = list(loader.epoch(rng))
    users = np.concatenate([b.user_index.numpy() for b in batches])
    assert sorted(users.tolist()) == list(range(200))
    for batch in batches:
        train_lengths = lengths[batch.user_index.numpy()] - 2
        assert batch.sequence.shape[1] == train_lengths.max()
        assert ((batch.sequence != 0).sum(dim=1).numpy() == train_lengths).all()
    plain = list(TrainLoader(data, maxlen=50, batch_size=16).epoch(np.random.default_rng(0)))
    assert sum(b.sequence.numel() for b in batches) < 0.8 * sum(b.sequence.numel() for b in plain)


def test_real_lastfm_counts_and_split(shared_data) -> None:  # the fixture fails loudly without ../shared
    data = load_seqrec(LASTFM)
    assert data.num_users == 1090
    assert data.num_interactions == 52551
    assert data.num_items == 3646
    test, valid = data.split("test"), data.split("valid")
    assert len(test.target) == len(valid.target) == 1090
    first = data.sequences[0]
    assert first.tolist() == [1, 2, 3, 4, 5, 6, 7, 8]  # line 1 of LastFM.txt
    assert (test.target[0], valid.target[0]) == (8, 7)
    assert data.train_sequences()[0].tolist() == [1, 2, 3, 4, 5, 6]
    assert all(len(h) == len(s) - 1 for h, s in zip(test.history, data.sequences, strict=True))

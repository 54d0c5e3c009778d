"""The models behind one interface: BM25 on real thread titles, a LiteLLM model with an injected client
(batching, order, normalisation), `--model` strings and their errors, and the two-tower adapter over a
stand-in model (`--model two-tower:FOLDER`)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import uue.twotower.embedder as two_tower_module
from tests.dev_triplets import toy_histories
from uue.errors import ConfigError
from uue.eval.embedders import (
    BM25Embedder,
    DenseEmbedder,
    Embedder,
    LiteLLMEmbedder,
    make_embedder,
    register_embedder,
)
from uue.twotower.embedder import TwoTowerEmbedder


@pytest.fixture(scope="module")
def titles(shared_data) -> list[str]:
    """The 2005 reddit.com thread titles of the real Pushshift submission fixture."""
    path = shared_data / "pushshift-fixtures" / "test_submissions.json"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [row["title"] for row in rows if row["subreddit"] == "reddit.com"]


def test_bm25_ranks_the_title_sharing_the_rare_words_first(titles):
    assert "Why Nerds are Unpopular" in titles and len(titles) == 10
    scores = BM25Embedder().score(["why are nerds so unpopular", "paris hilton economics"], titles)
    assert scores.shape == (2, len(titles))
    assert titles[int(scores[0].argmax())] == "Why Nerds are Unpopular"
    assert titles[int(scores[1].argmax())] == "The economics behind Paris Hilton going to jail"


def test_bm25_gives_zero_to_a_query_with_no_known_word_and_has_no_vectors(titles):
    embedder = BM25Embedder(max_tokens=50)
    assert not embedder.score(["zzzqqq xyzzy"], titles).any()
    assert isinstance(embedder, Embedder) and not isinstance(embedder, DenseEmbedder)
    assert (embedder.max_tokens, embedder.count_tokens("a b  c")) == (50, 3)


def test_litellm_vectors_come_in_batches_in_input_order_and_normalised():
    calls = []

    def embed(model, input):
        calls.append((model, list(input)))
        rows = [{"index": i, "embedding": [float(len(text)), 0.0, 3.0]} for i, text in enumerate(input)]
        return {"data": rows[::-1]}  # a provider may answer out of order

    embedder = LiteLLMEmbedder("openai/text-embedding-3-small", batch_size=2, embed_fn=embed)
    vectors = embedder.encode_queries(["abcd", "a", "abc"])
    assert calls == [
        ("openai/text-embedding-3-small", ["abcd", "a"]),
        ("openai/text-embedding-3-small", ["abc"]),
    ]
    np.testing.assert_allclose(vectors[0], [0.8, 0.0, 0.6])  # [4, 0, 3] / 5
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    assert vectors.dtype == np.float32 and embedder.score(["abcd"], ["abcd"]) == pytest.approx(1.0)
    assert embedder.name == "litellm:openai/text-embedding-3-small" and isinstance(embedder, DenseEmbedder)
    assert embedder.count_tokens("x" * 40) == 11


def test_model_strings_pick_the_embedder_and_their_errors_say_what_is_missing():
    assert isinstance(make_embedder("bm25"), BM25Embedder)
    assert make_embedder("litellm:openai/text-embedding-3-large").model == "openai/text-embedding-3-large"
    for spec in ("litellm", "litellm:"):
        with pytest.raises(ConfigError, match="`litellm:` needs a model name"):
            make_embedder(spec)
    with pytest.raises(ConfigError, match="`two-tower:` needs the model folder"):
        make_embedder("two-tower:")


def test_a_prefix_registered_twice_fails_loudly():
    with pytest.raises(ConfigError, match="embedder prefix 'bm25' is registered twice"):
        register_embedder("bm25", lambda arg: BM25Embedder())


class StandInTwoTower:
    """The model's interface: users(list of chunk lists, metadata) -> [n, d], items(texts) -> [n, d]."""

    def __init__(self):
        self.user_batches: list[list[list[str]]] = []
        self.user_metadata: list[tuple[str, ...]] = []
        self.user_encoder = SimpleNamespace(
            model=SimpleNamespace(tokenizer=lambda text, add_special_tokens: {"input_ids": text.split()})
        )

    def users(self, chunk_lists, metadata=None):
        self.user_batches.append(chunk_lists)
        self.user_metadata += metadata or [()] * len(chunk_lists)
        return torch.tensor([[float(len(chunks)), 2.0] for chunks in chunk_lists])  # [n, 2]

    def items(self, texts):
        return torch.tensor([[3.0, float(len(t))] for t in texts])  # [n, 2]


@pytest.fixture
def two_tower(monkeypatch, tmp_path):
    model = StandInTwoTower()
    config = SimpleNamespace(activities_per_chunk=2, num_chunks_per_user=2, max_chunk_length=64)
    monkeypatch.setattr(two_tower_module, "load_two_tower", lambda folder: (model, config))
    return TwoTowerEmbedder(tmp_path / "tt", batch_size=2), model


def test_two_tower_users_are_read_whole_as_their_newest_chunks_in_batches(two_tower):
    embedder, model = two_tower
    histories = [h.activities for h in toy_histories(n_users=3, activities_per_user=6)] + [[]]
    vectors = embedder.encode_users(histories)  # [4, 2]
    assert [len(batch) for batch in model.user_batches] == [2, 2]
    chunks = [chunk for batch in model.user_batches for chunk in batch]
    assert [len(c) for c in chunks] == [2, 2, 2, 1] and chunks[3] == [""]  # an empty history: one "" chunk
    assert "#5)" in chunks[0][0] and "#4)" in chunks[0][0] and "#3)" in chunks[0][1]  # newest chunk first
    assert not any("#1)" in text for text in chunks[0])  # older than 2 chunks x 2 activities
    assert model.user_metadata[0][0] == "platform:reddit" and model.user_metadata[3] == ("activities:0",)
    np.testing.assert_allclose(vectors[0], np.array([2.0, 2.0]) / 8**0.5, rtol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)


def test_two_tower_queries_are_one_chunk_histories_and_documents_go_through_the_item_tower(two_tower):
    embedder, model = two_tower
    assert embedder.name.startswith("two-tower:") and embedder.max_tokens == 64
    assert embedder.count_tokens("r/College · a meal plan") == 5
    scores = embedder.score(["r/College · meal plans"], ["Campus meal plans", "x"])  # [1, 2]
    assert model.user_batches == [[["r/College · meal plans"]]] and model.user_metadata == [
        ()
    ]  # a text: none
    query = np.array([1.0, 2.0]) / 5**0.5
    documents = np.array([[3.0, 17.0], [3.0, 1.0]]) / np.array([[298**0.5], [10**0.5]])
    np.testing.assert_allclose(scores, [query @ documents.T], rtol=1e-5)
    assert isinstance(embedder, DenseEmbedder)

"""Side information of the towers: the tokens of a history and a statement, an embedding that starts at
zero (an untrained model with metadata is its base) and that training moves."""

from __future__ import annotations

import torch

from tests.twotower.test_model import HashedBagOfWords
from uue.datasets.records import Activity, ThreadContext
from uue.twotower.metadata import MetadataEmbedding, item_tokens, user_tokens
from uue.twotower.model import TwoTower


def _activity(i: int, community: str) -> Activity:
    return Activity(f"a{i}", "ann", "reddit", "comment", i, "words", ThreadContext(community, "t"), f"t{i}")


def test_user_tokens_name_platform_count_and_the_most_frequent_communities():
    history = [
        _activity(i, c) for i, c in enumerate(["College", "college", "GradSchool", "Cooking", "College"])
    ]
    tokens = user_tokens(history)
    assert tokens[:2] == ("platform:reddit", "activities:2^2")
    assert tokens[2] == "community:college"  # 3 of 5, case folded
    assert set(tokens[3:]) == {"community:gradschool", "community:cooking"}
    assert user_tokens([]) == ("activities:0",)
    assert item_tokens(" Education ") == ("broad:education",) and item_tokens("") == ()


def test_an_empty_bag_and_an_untrained_embedding_give_zeros_and_training_moves_it():
    torch.manual_seed(0)
    embedding = MetadataEmbedding(8, buckets=32)
    vectors = embedding([("platform:reddit", "community:college"), ()])
    assert vectors.shape == (2, 8) and torch.count_nonzero(vectors) == 0
    optimizer = torch.optim.SGD(embedding.parameters(), lr=0.5)
    for _ in range(2):  # the zero output layer first gets a gradient, then passes one to the table
        optimizer.zero_grad()
        (embedding([("community:college",)]) - 1).pow(2).sum().backward()
        optimizer.step()
    moved = embedding([("community:college",), ("community:cooking",), ()])
    assert moved[0].abs().sum() > 0 and not torch.allclose(moved[0], moved[1])
    assert torch.count_nonzero(moved[2] - embedding.out.bias) == 0  # an empty bag: the bias alone


def test_metadata_reaches_the_vectors_only_when_the_model_reads_it():
    torch.manual_seed(0)
    encoder = HashedBagOfWords()
    model = TwoTower(
        encoder, encoder, dim=8, heads=2, dropout=0.0, user_metadata=True, item_metadata=True
    ).eval()
    chunks, bags = [["r/College · exams"]], [("community:college",)]
    with torch.no_grad():
        assert torch.allclose(model.users(chunks, bags), model.users(chunks))  # zero at the start
        for module in (model.user_metadata, model.item_metadata):
            torch.nn.init.normal_(module.out.weight)  # as after training
        assert not torch.allclose(model.users(chunks, bags), model.users(chunks))
        assert not torch.allclose(model.items(["Exams"], [("broad:education",)]), model.items(["Exams"]))
    plain = TwoTower(encoder, encoder, dim=8)
    assert plain.user_metadata is None and not any("metadata" in k for k in plain.state_dict())
    heads = plain.parameter_groups(1e-5, 1e-3)[1]["params"]
    with_metadata = model.parameter_groups(1e-5, 1e-3)[1]["params"]
    assert len(with_metadata) == len(heads) + 6  # two tables, two output layers (weight and bias)

from tests.dev_triplets import dev_triplets_from_histories, toy_histories
from uue.eval.split import UserSide, is_held_out, split_users
from uue.trainers.student import split_triplets
from uue.trainers.student_config import TrainConfig


def test_split_is_deterministic_disjoint_and_independent_of_other_users():
    users = [f"u{i}" for i in range(1000)]
    a = split_users(users, 0.2, seed=3)
    assert a == split_users(reversed(users), 0.2, seed=3)
    assert not a.train & a.valid and a.train | a.valid == set(users)
    assert 120 < len(a.valid) < 280
    assert split_users(users[:10], 0.2, seed=3).valid == a.valid & set(users[:10])
    assert split_users(users, 0.2, seed=4).valid != a.valid
    assert all(is_held_out(u, 0.2, 3) for u in a.valid)


def test_training_split_has_no_user_leakage(tmp_path):
    import datasets

    from uue.datasets.triplets import TRIPLET_FEATURES

    table = datasets.Dataset.from_list(
        dev_triplets_from_histories(toy_histories(40)), features=TRIPLET_FEATURES
    )
    config = TrainConfig(triplets=tmp_path, out=tmp_path / "m", valid_fraction=0.3)
    train, valid, split = split_triplets(table, config)
    assert set(train["user_id"]).isdisjoint(valid["user_id"])
    assert set(valid["user_id"]) == {u for u in table["user_id"] if is_held_out(u, 0.3, 0)}
    assert len(train) + len(valid) == len(table)


def test_a_user_side_keeps_exactly_its_half_of_the_split():
    users = [f"u{i}" for i in range(200)]
    split = split_users(users, 0.2)
    assert {u for u in users if UserSide.held_out.keeps(u, 0.2)} == split.valid
    assert {u for u in users if UserSide.train.keeps(u, 0.2)} == split.train
    assert all(UserSide.all.keeps(u, 0.2) for u in users)

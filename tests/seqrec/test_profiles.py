"""`uue seqrec profiles` with the scripted teacher on real MovieLens-100k users."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from uue.programs import scripted
from uue.programs.lm import TeacherConfig
from uue.programs.profile import profile_problem
from uue.seqrec.data import load_seqrec
from uue.seqrec.profile_job import (
    MAX_ATTRIBUTES,
    MAX_ITEMS_CHARS,
    ProfileJobConfig,
    item_texts,
    render_items,
    write_profiles,
)
from uue.seqrec.profiles import load_profiles


@pytest.fixture
def movielens(shared_data):
    return shared_data / "movielens"


def test_movielens_ratings_load_as_time_ordered_sequences(movielens):
    data = load_seqrec(movielens / "ml-100k_u.data")
    assert data.describe()["users"] == 943 and data.num_interactions == 100_000
    first = data.user_ids[0]
    rows = [line.split("|") for line in (movielens / "ml-100k_u.data").read_text().splitlines()[1:]]
    stamps = {int(item): int(t) for user, item, _, t in rows if user == first}
    assert [stamps[int(i)] for i in data.sequences[0]] == sorted(stamps.values())


def test_item_texts_have_titles_and_genres(movielens):
    texts = item_texts(movielens / "ml-100k_u.item")
    assert texts[1] == "Toy Story (1995) (Animation, Children's, Comedy)"
    assert item_texts(movielens / "ml-1m_movies.dat")[1].startswith("Toy Story (1995) (Animation")


def test_attribute_items_show_distinct_attributes_and_the_prompt_stays_bounded(movielens):
    lastfm = movielens.parent / "seqrec" / "LastFM_item2attributes.json"
    texts = item_texts(lastfm)
    raw = json.loads(lastfm.read_text())
    longest = max(raw, key=lambda i: len(raw[i]))  # 625 tags with repeats
    shown = texts[int(longest)].removeprefix("item with attributes ").split(", ")
    assert shown == [str(a) for a in dict.fromkeys(raw[longest])][:MAX_ATTRIBUTES]
    history = np.array([int(longest)] * 200 + [1, 2, 3])
    rendered = render_items(history, texts, 500)
    assert len(rendered) <= MAX_ITEMS_CHARS and rendered.endswith(texts[3])  # the most recent kept
    assert render_items(history, texts, 2).splitlines() == [texts[2], texts[3]]


def test_profile_checks():
    assert profile_problem("Likes films", "x") == "profile_too_short"
    assert profile_problem("word " * 100, "x") == "profile_too_long"
    items = "Toy Story (1995) (Animation, Children's, Comedy) and more titles here"
    assert profile_problem(items, items) == "profile_copies_items"
    assert profile_problem("Enjoys animated family comedies from the nineties.", items) is None


@pytest.mark.usefixtures("isolated_dspy")
def test_profiles_from_training_items_only_resume_and_load(tmp_path, movielens, monkeypatch):
    prompts: list[str] = []
    reply = scripted.deterministic_reply

    def recording(prompt: str, fields: list[str]) -> str:
        prompts.append(prompt)
        return reply(prompt, fields)

    monkeypatch.setattr(scripted, "deterministic_reply", recording)
    config = ProfileJobConfig(
        data=movielens / "ml-100k_u.data",
        items=movielens / "ml-100k_u.item",
        out=tmp_path / "profiles",
        teacher=TeacherConfig(model="scripted/deterministic"),
        max_users=4,
        max_items=500,
        progress=False,
    )
    report = write_profiles(config)
    assert report.profiles == report.users == 4 and report.llm.calls == 4
    data, texts = load_seqrec(config.data, max_users=4), item_texts(config.items)
    for sequence in data.sequences:  # the validation and test items never reach the teacher
        shown = [p for p in prompts if render_items(sequence[:-2], texts, 500) in p]
        assert len(shown) == 1 and all(texts[int(i)] not in shown[0] for i in sequence[-2:])
    table = load_profiles(tmp_path / "profiles" / "profiles.parquet")
    assert table.user_ids == data.user_ids and table.dim == 384
    assert np.allclose(np.linalg.norm(table.vectors, axis=1), 1.0, atol=1e-4)

    again = write_profiles(config)
    assert again.llm_this_run.calls == 0 and again.llm == report.llm
    lines = (tmp_path / "profiles" / "profiles.jsonl").read_text().splitlines()
    assert [json.loads(line)["user_id"] for line in lines] == data.user_ids
    assert pq.read_table(tmp_path / "profiles" / "profiles.parquet").num_rows == 4

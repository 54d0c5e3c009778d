"""The universal records: an activity survives its dict and its row form unchanged, a row lists its
fields in `ACTIVITY_ROW_FIELDS` order, and dicts from older or smaller writers fill the defaults."""

from __future__ import annotations

import json

import pytest

from uue.datasets.records import (
    ACTIVITY_ROW_FIELDS,
    HISTORY_SCHEMA,
    STORED_ACTIVITY_TYPE,
    Activity,
    ContextMessage,
    History,
    HistoryRows,
    Source,
    ThreadContext,
)


def _reply(source: Source | None = Source("RC_2024-01.zst", 41, ["t1_c2", "t3_s1", "t1_c1"])) -> Activity:
    return Activity(
        activity_id="t1_c2",
        user_id="alice",
        platform="reddit",
        kind="comment",
        timestamp=1_700_000_020,
        text="Same here, the smallest meal plan was plenty.",
        context=ThreadContext(
            community="College",
            title="Which meal plan is worth it?",
            body="Freshman here, the options are confusing.",
            root_author="bob",
            parents=[ContextMessage("carol", "I cook most nights.", message_id="t1_c1")],
        ),
        thread_id="t3_s1",
        source=source,
    )


@pytest.mark.parametrize("source", [Source("RC_2024-01.zst", 41, ["t1_c2", "t3_s1", "t1_c1"]), None])
def test_an_activity_survives_its_row_form_parent_ids_included(source):
    activity = _reply(source)
    row = activity.to_row()
    assert len(row) == len(ACTIVITY_ROW_FIELDS)
    assert dict(zip(ACTIVITY_ROW_FIELDS, row, strict=True))["parents"] == [
        ("t1_c1", "carol", "I cook most nights.")
    ]
    back = Activity.from_row("alice", "reddit", row)
    assert back == activity and back.context.parents[0].message_id == "t1_c1"


def test_a_row_starts_with_the_timestamp_so_a_plain_sort_orders_a_history():
    rows = [
        _reply().to_row(),
        Activity("t3_s1", "alice", "reddit", "submission", 1_700_000_000, "Q").to_row(),
    ]
    assert [r[1] for r in sorted(rows)] == ["t3_s1", "t1_c2"]
    assert rows[1][-3:] == (None, 0, ())  # no provenance


def test_an_activity_survives_its_json_dict_form():
    activity = _reply()
    as_json = json.loads(json.dumps(activity.to_dict()))
    assert Activity.from_dict(as_json) == activity
    assert as_json["context"]["parents"] == [{"author": "carol", "text": "I cook most nights."}]
    assert Activity.from_dict({**as_json, "source": None}).source is None


def test_a_minimal_dict_fills_every_default():
    activity = Activity.from_dict(
        {
            "activity_id": "a1",
            "user_id": "u",
            "platform": "synthpai",
            "kind": "comment",
            "timestamp": "17",
            "text": "hello",
        }  # fmt: skip
    )
    assert activity == Activity("a1", "u", "synthpai", "comment", 17, "hello")
    assert activity.context == ThreadContext() and activity.thread_id == "" and activity.source is None


def test_parent_message_ids_do_not_make_two_activities_different():
    other = _reply()
    other.context.parents[0].message_id = ""  # storage derives one from the content
    assert other == _reply()


def test_a_history_and_its_rows_give_the_same_activities():
    history = History(
        "alice", "reddit", [Activity("t3_s1", "alice", "reddit", "submission", 1, "Q"), _reply()]
    )
    rows = HistoryRows("alice", "reddit", [a.to_row() for a in history.activities])
    assert rows.to_history() == history
    saved = history.to_dict()
    assert saved["num_activities"] == 2 and History.from_dict(json.loads(json.dumps(saved))) == history


def test_the_stored_schemas_name_every_activity_field_the_history_table_holds():
    assert HISTORY_SCHEMA.names == ["user_id", "platform", "num_activities", "activities"]
    assert HISTORY_SCHEMA.field("activities").type.value_type == STORED_ACTIVITY_TYPE
    stored = {STORED_ACTIVITY_TYPE.field(i).name for i in range(STORED_ACTIVITY_TYPE.num_fields)}
    assert {
        "activity_id",
        "timestamp",
        "text",
        "community",
        "thread_id",
        "context_id",
        "parent_ids",
    } <= stored

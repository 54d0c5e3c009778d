"""The parsers' shared options: dates as text or seconds, bots as a comma list, an ordered time range,
and the half-open range test every parser applies."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from uue.datasets.options import IngestOptions, JoinIndex, parse_date
from uue.errors import ConfigError

JAN_31_2020 = 1_580_428_800  # 2020-01-31T00:00:00Z


def test_parse_date_reads_iso_dates_as_utc_and_keeps_a_given_zone():
    assert parse_date("2020-01-31") == JAN_31_2020
    assert parse_date("2020-01-31T01:00:00") == JAN_31_2020 + 3600
    assert parse_date("2020-01-31T01:00:00+01:00") == JAN_31_2020
    assert parse_date("") is None and parse_date(None) is None


def test_a_bad_date_is_a_config_error_with_the_format_to_use():
    with pytest.raises(ConfigError) as caught:
        parse_date("31/01/2020")
    assert str(caught.value) == "'31/01/2020' is not a date (use YYYY-MM-DD)"


def test_since_and_until_take_dates_or_unix_seconds():
    options = IngestOptions(since="2020-01-31", until="1580515200")
    assert (options.since, options.until) == (JAN_31_2020, JAN_31_2020 + 86400)
    assert IngestOptions(since=5).since == 5


def test_the_range_is_half_open_and_unbounded_sides_keep_everything():
    options = IngestOptions(since=100, until=200)
    assert [options.in_range(t) for t in (99, 100, 199, 200)] == [False, True, True, False]
    assert IngestOptions().in_range(-1) and IngestOptions(until=10).in_range(-(10**12))


def test_since_must_come_before_until():
    with pytest.raises(ValidationError, match="--since must be before --until"):
        IngestOptions(since="2020-02-01", until="2020-01-31")
    with pytest.raises(ValidationError, match="--since must be before --until"):
        IngestOptions(since=100, until=100)


def test_bots_come_from_a_comma_list_without_blanks():
    assert IngestOptions(bots=" AutoModerator, ,RemindMeBot ,").bots == {"AutoModerator", "RemindMeBot"}
    assert IngestOptions(bots="").bots == frozenset()  # an empty list replaces the platform's defaults
    assert IngestOptions().bots is None  # None: the platform's own default list


def test_options_are_frozen_typed_and_reject_unknown_keys():
    options = IngestOptions(index="disk")
    assert options.index is JoinIndex.disk and options.memory_budget_mb >= 1
    with pytest.raises(ValidationError):
        options.min_activities = 5
    with pytest.raises(ValidationError, match="extra"):
        IngestOptions(min_activity=2)
    with pytest.raises(ValidationError):
        IngestOptions(min_activities=0)
    with pytest.raises(ValidationError):
        IngestOptions(index="ssd")

"""Every registered platform parses its tiny real fixture and keeps the count invariant (PEFT-style table)."""

from __future__ import annotations

import pytest

from uue.datasets.ingest import ingest
from uue.datasets.options import IngestOptions
from uue.datasets.parser import PARSERS, PlatformParser, register_parser
from uue.datasets.registry import get_parser
from uue.errors import ConfigError

# platform -> files under ../shared/data; adding a platform adds one row here.
PLATFORM_FIXTURES = {
    "reddit": ["pushshift-fixtures/test_submissions.json", "pushshift-fixtures/test_comments.json"],
    "synthpai": ["synthpai/comments_eval_revised.jsonl"],
}


def test_every_registered_platform_has_a_fixture_row():
    get_parser("reddit")  # loads the built-in parsers
    assert set(PARSERS) == set(PLATFORM_FIXTURES)


@pytest.mark.parametrize("platform", sorted(PLATFORM_FIXTURES))
def test_platform_parses_its_real_fixture(platform, shared_data, tmp_path):
    files = [shared_data / name for name in PLATFORM_FIXTURES[platform]]
    tally = ingest(platform, files, tmp_path, IngestOptions())
    assert tally.records_written > 0 and tally.users_written > 0
    assert tally.balanced and tally.quarantined == 0
    assert (tmp_path / "report.json").is_file()


def test_duplicate_registration_fails_loudly():
    get_parser("reddit")

    class Again(PlatformParser):
        platform = "reddit"

        def histories(self, options, tally):
            return iter(())

    with pytest.raises(ValueError, match="already registered"):
        register_parser(Again)


def test_unknown_platform_names_the_known_ones():
    with pytest.raises(ConfigError, match="known: reddit, synthpai"):
        get_parser("myspace")

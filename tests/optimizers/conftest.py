"""Fixtures of the optimizer tests: a small real Reddit slice, its reference cases, oracle teachers."""

from __future__ import annotations

import json
import re

import pytest

from tests.datasets.conftest import head_lines
from uue.datasets.histories import iter_histories
from uue.datasets.ingest import ingest
from uue.datasets.options import IngestOptions
from uue.optimizers.references import build_cases
from uue.programs.scripted import _field


@pytest.fixture(autouse=True)
def _dspy_settings(isolated_dspy):
    yield


@pytest.fixture(scope="session")
def real_histories(shared_data, tmp_path_factory):
    """The first 2,000 submissions and 20,000 comments of the shared dumps, ingested (~3 s)."""
    folder = tmp_path_factory.mktemp("optimizer-slice")
    paths = []
    for name, count in (("RS_reddit-college.zst", 2000), ("RC_reddit-college.zst", 20000)):
        path = folder / name.replace(".zst", ".jsonl")
        path.write_bytes(b"".join(head_lines(shared_data / "reddit-college" / name, count)))
        paths.append(path)
    ingest("reddit", paths, folder / "histories", IngestOptions(min_activities=3))
    return folder / "histories"


@pytest.fixture(scope="session")
def real_cases(real_histories):
    return list(build_cases(iter_histories(real_histories)))


def oracle_reply(references: dict[str, list[int]]):
    """A scripted teacher that answers the pivot's true thread for the segments in `references`
    (keyed by segment text), the pivot alone otherwise; judge grades are 0.75."""

    def reply(prompt: str, fields: list[str]) -> str:
        if "related" in fields:
            segment, pivot = _field(prompt, "segment"), int(_field(prompt, "pivot") or 0)
            tag = sum(map(ord, segment)) % 997
            return json.dumps(
                {
                    "related": references.get(segment.strip(), [pivot]),
                    "specific": f"Oracle topic number {tag}",
                    "broad": f"Oracle area {tag % 7}",
                }
            )
        if "ranking" in fields:
            count = len(re.findall(r"^\[\d+\] ", _field(prompt, "candidates"), flags=re.M))
            return json.dumps({"ranking": list(range(count))})
        return json.dumps({"faithfulness": 0.75, "specificity": 0.75, "reason": "oracle"})

    return reply

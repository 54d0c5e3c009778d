"""Evaluation protocols by name: `full`, `random<N>`, `popular<N>`; anything else is a config error."""

from __future__ import annotations

import pytest

from uue.errors import ConfigError
from uue.seqrec.protocols import Protocol, ProtocolKind, parse_protocol


@pytest.mark.parametrize(
    ("text", "protocol"),
    [
        ("full", Protocol(ProtocolKind.full)),
        ("random99", Protocol(ProtocolKind.random, 99)),
        ("popular100", Protocol(ProtocolKind.popular, 100)),
        ("  Random100 ", Protocol(ProtocolKind.random, 100)),
        ("FULL", Protocol(ProtocolKind.full)),
    ],
)
def test_names_parse_case_and_space_insensitively(text, protocol):
    assert parse_protocol(text) == protocol


@pytest.mark.parametrize("name", ["full", "random99", "popular100"])
def test_a_protocol_name_parses_back_to_the_same_protocol(name):
    protocol = parse_protocol(name)
    assert protocol.name == name and parse_protocol(protocol.name) == protocol


def test_a_parsed_protocol_is_passed_through():
    protocol = Protocol(ProtocolKind.popular, 50)
    assert parse_protocol(protocol) is protocol


@pytest.mark.parametrize("text", ["random", "full100", "popular-5", "sampled", "", "random 99"])
def test_other_names_are_one_line_config_errors_with_the_valid_forms(text):
    with pytest.raises(ConfigError) as caught:
        parse_protocol(text)
    assert str(caught.value) == f"unknown evaluation protocol {text!r} (use full, random<N> or popular<N>)"

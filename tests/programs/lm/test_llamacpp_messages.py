"""DSPy's canonical requests as llama.cpp inputs: text chat messages (developer turns become system
turns, anything but text is refused), the JSON wanted and its schema, and the grammar of that schema."""

from __future__ import annotations

import json

import pytest
from dspy import lm15
from dspy.lm15 import Message, Request, TextPart

from uue.programs.lm.llamacpp_messages import PROVIDER, chat_messages, grammar_text, parses, schema_of

LABEL_SCHEMA = {
    "type": "object",
    "properties": {
        "specific": {"type": "string"},
        "broad": {"type": "string"},
        "nothing": {"type": "boolean"},
    },
    "required": ["specific", "broad", "nothing"],
}


def test_a_request_becomes_role_content_messages_with_the_system_first():
    request = Request(
        model="local/m",
        messages=(Message.developer("Be brief."), Message.user("Label this."), Message.assistant("{}")),
        system="You label activities.",
    )
    assert chat_messages(request) == [
        {"role": "system", "content": "You label activities."},
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Label this."},
        {"role": "assistant", "content": "{}"},
    ]


def test_a_system_prompt_in_parts_is_joined_and_no_system_means_no_system_turn():
    parts = Request(model="m", messages=(Message.user("hi"),), system=(TextPart("You "), TextPart("label.")))
    assert chat_messages(parts)[0] == {"role": "system", "content": "You label."}
    assert chat_messages(Request(model="m", messages=(Message.user("hi"),))) == [
        {"role": "user", "content": "hi"}
    ]


def test_a_message_without_text_is_refused_naming_the_engine():
    image = Message(role="user", parts=(lm15.ImagePart(url="https://example.org/a.png"),))
    with pytest.raises(lm15.InvalidRequestError, match="text messages only") as caught:
        chat_messages(Request(model="m", messages=(image,)))
    assert caught.value.provider == PROVIDER


def test_schema_of_says_whether_json_is_wanted_and_keeps_the_property_order():
    assert schema_of(None) == (False, None) and schema_of({}) == (False, None)
    assert schema_of({"type": "json_object"}) == (True, None)
    wanted, schema = schema_of({"type": "json_schema", "schema": LABEL_SCHEMA})
    assert wanted and json.loads(schema) == LABEL_SCHEMA
    assert list(json.loads(schema)["properties"]) == ["specific", "broad", "nothing"]  # not sorted


def test_parses_tells_json_from_the_rest():
    assert parses('{"specific": "x"}') and parses("[]") and parses(" 3 ")
    assert not parses('{"specific": "x"') and not parses("Sure! Here it is") and not parses("")


def test_the_grammar_writes_the_schema_properties_in_order_and_falls_back_to_any_json():
    pytest.importorskip("llama_cpp")
    from llama_cpp.llama_grammar import JSON_GBNF

    grammar = grammar_text(json.dumps(LABEL_SCHEMA))
    root = next(line for line in grammar.splitlines() if line.startswith("root ::="))
    assert root.index("specific-kv") < root.index("broad-kv") < root.index("nothing-kv")
    assert grammar_text(None) == JSON_GBNF
    assert grammar_text(json.dumps({"type": "no-such-type"})) == JSON_GBNF  # logged, not raised

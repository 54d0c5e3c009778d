"""JSON answers written field by field: the engine writes the syntax, the model only the values.

For a schema whose properties are all strings (the activity labeller's `specific` / `broad`), the
answer `{"specific": "...", "broad": "..."}` is half syntax: 17 generated tokens for 8 of label.
Here the prompt (the chat template of the GGUF, as llama.cpp's own chat handler applies it) is
extended with `{"specific":` and the model generates just the value, a JSON string, stopped by the
`",` or `"}` that follows it; then `, "broad":`, and so on. The syntax tokens are evaluated as prompt
(in one batch, from the KV cache of the previous call) instead of being generated one by one, and no
grammar runs (llama-cpp-python applies one in Python at every token: 0.3 s an activity measured).
A value that is not a plain string is generated again under the string grammar.
"""

from __future__ import annotations

import json
from typing import Any

# A JSON string's characters (no raw quote, backslash or control character; escapes allowed), then
# the closing quote, optionally with the `,` or `}` that follows it: tokenizers merge `",` and `"}`, and a
# grammar that forbids the merged token made the model run on inside the string (measured: labels
# became comma lists). The grammar ends there, so llama.cpp stops; the caller drops what follows `"`.
_CHAR = r'([^"\\\x00-\x1f] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4}))'


def string_value_grammar(max_length: int | None) -> str:
    """A whole JSON string, opening quote included: the prompt stops after `"key":`, so the model can
    write ` ""` (one token) for an empty value as it would unprompted; a prompt ending in `: "` made
    empty answers ("nothing to label") vanish (0 of 29 against 3 of 30)."""
    repeat = f"{{0,{max_length}}}" if max_length else "*"
    return f'root ::= " "? "\\"" {_CHAR}{repeat} "\\"" [,}}]?\n'


def string_properties(schema_json: str | None) -> dict[str, int | None] | None:
    """{property: maxLength} when every property of the schema is a plain string, else None."""
    if not schema_json:
        return None
    schema = json.loads(schema_json)
    properties: dict[str, Any] = schema.get("properties") or {}
    if schema.get("type") != "object" or not properties:
        return None
    if any(spec.get("type") != "string" or set(spec) - {"type", "maxLength", "title", "description"}
           for spec in properties.values()):  # fmt: skip
        return None
    return {name: spec.get("maxLength") for name, spec in properties.items()}


def chat_prompt(llm: Any, messages: list[dict[str, str]]) -> str:
    """The text llama.cpp's default chat handler would evaluate for `messages`, up to the assistant turn."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    model = llm._model
    eos, bos = llm.token_eos(), llm.token_bos()
    formatter = Jinja2ChatFormatter(
        template=llm.metadata["tokenizer.chat_template"],
        eos_token=model.token_get_text(eos) if eos != -1 else "",
        bos_token=model.token_get_text(bos) if bos != -1 else "",
    )
    return formatter(messages=messages).prompt


def field_stop(max_length: int | None, constrained: bool, grammar_object: bool = True) -> dict[str, Any]:
    """Completion arguments that end one value: stop strings, or the grammar when `constrained`
    (a `LlamaGrammar` for create_completion, or its GBNF text when not `grammar_object`)."""
    if not constrained:
        return {"stop": ['",', '"}', '"\n']}
    if not grammar_object:
        return {"grammar": string_value_grammar(max_length)}
    from llama_cpp import LlamaGrammar

    return {"grammar": LlamaGrammar.from_string(string_value_grammar(max_length), verbose=False)}


def json_string_value(text: str) -> str | None:
    """The generated value as a JSON string literal, or None when it is not one string.

    Stopped by a stop string, the text is ` "value` (the closing quote went with the stop); under the
    grammar it is ` "value"` possibly with the `,` or `}` after it."""
    body = text.strip().removesuffix(",").removesuffix("}")
    if not body.startswith('"'):
        return None
    inner = body[1:].removesuffix('"') if body.endswith('"') and len(body) >= 2 else body[1:]
    if '"' in inner or "\n" in inner or "\\" in inner:
        return None
    return json.dumps(inner, ensure_ascii=False)

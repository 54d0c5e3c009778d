"""DSPy's canonical requests as llama.cpp inputs: chat messages, the JSON grammar of a schema."""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from typing import Any

from dspy.lm15 import InvalidRequestError as LM15InvalidRequestError
from dspy.lm15 import Request

from uue.programs.lm.llamacpp_settings import import_llama_cpp

logger = logging.getLogger(__name__)

PROVIDER = "llama.cpp"


@lru_cache(maxsize=64)
def grammar_text(schema_json: str | None) -> str:
    import_llama_cpp()
    from llama_cpp.llama_grammar import JSON_GBNF, json_schema_to_gbnf

    if schema_json is None:
        return JSON_GBNF
    try:
        return json_schema_to_gbnf(schema_json)
    except Exception as error:  # the converter raises bare Exceptions on unsupported keywords
        logger.warning("JSON schema not convertible to a grammar (%s); constraining to any JSON", error)
        return JSON_GBNF


def chat_messages(request: Request) -> list[dict[str, str]]:
    """Canonical request -> OpenAI-style text messages for llama.cpp's chat template."""
    messages = []
    if request.system is not None:
        system = (
            request.system
            if isinstance(request.system, str)
            else "".join(getattr(part, "text", "") for part in request.system)
        )
        messages.append({"role": "system", "content": system})
    for message in request.messages:
        text = message.text
        if text is None:
            raise LM15InvalidRequestError(
                "the llama.cpp engine takes text messages only (no images, tools or tool results)",
                provider=PROVIDER,
            )
        role = {"developer": "system"}.get(message.role, message.role)
        messages.append({"role": role, "content": text})
    return messages


def schema_of(response_format: dict[str, Any] | None) -> tuple[bool, str | None]:
    """(json wanted, schema as canonical JSON text or None) from a canonical response_format."""
    if not response_format:
        return False, None
    schema = response_format.get("schema") if response_format.get("type") == "json_schema" else None
    # Key order is kept: the grammar writes properties in schema order, so the signature's field
    # order is the order the model decides them in (sorted keys made a bool field come first).
    return True, json.dumps(schema) if schema is not None else None


def parses(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True

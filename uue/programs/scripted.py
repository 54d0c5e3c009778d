"""A scripted teacher for tests: a `dspy.LM` whose engine answers from Python, not from a model.

It goes through the same `dspy.LM` as the real teacher, so DSPy's response cache, history and
usage (one token per 4 characters) behave as in a real run. `uue synth --teacher scripted/deterministic`
selects `deterministic_reply`, a stand-in that gives valid, input-dependent answers; the
kill-and-resume test uses it, with `UUE_SCRIPTED_CALL_LOG` (a file that gets one line per answered call
that reached the engine, i.e. missed the cache) and `UUE_SCRIPTED_DELAY_S` (seconds per call).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

import dspy
from dspy.lm15 import Message, Request, Response, TextPart, Usage, response_to_events

from uue.programs.behaviours import behaviour_for_outputs

SCRIPTED_PREFIX = "scripted/"
CALL_LOG_ENV = "UUE_SCRIPTED_CALL_LOG"
DELAY_ENV = "UUE_SCRIPTED_DELAY_S"
Reply = Callable[[str, list[str]], str]  # (prompt text, requested output fields) -> raw completion


def request_text(request: Request) -> str:
    system = (
        request.system
        if isinstance(request.system, str)
        else "".join(getattr(part, "text", "") for part in request.system or [])
    )
    parts = [getattr(part, "text", "") for message in request.messages for part in message.parts]
    return "\n".join([system, *parts])


def output_fields(request: Request) -> list[str]:
    schema = (request.config.response_format or {}).get("schema") or {}
    return list(schema.get("properties") or {})


class ScriptedEngine:
    """`dspy.LM` engine that answers each request with `reply(prompt, output_fields)`."""

    supports_response_schema = True
    supports_function_calling = False
    supports_reasoning = False
    supported_params = frozenset({"temperature", "max_tokens", "seed", "response_format", "stop"})

    def __init__(self, reply: Reply):
        self.reply = reply
        self.prompts: list[str] = []

    def complete(self, request: Request) -> Response:
        prompt = request_text(request)
        self.prompts.append(prompt)
        text = self.reply(prompt, output_fields(request))
        return Response(
            id=None,
            model=request.model,
            message=Message.assistant([TextPart(text=text)]),
            finish_reason="stop",
            usage=Usage(input_tokens=len(prompt) // 4 + 1, output_tokens=len(text) // 4 + 1),
        )

    def stream(self, request: Request):
        return response_to_events(self.complete(request))


def scripted_lm(reply: Reply, model: str = "scripted/test", cache: bool = True) -> dspy.LM:
    return dspy.LM(model, engine=ScriptedEngine(reply), cache=cache, num_retries=0)


def replies(outputs: Iterable[str | dict[str, Any]]) -> Reply:
    """A reply function that returns `outputs` in order (dicts as JSON), then repeats the last."""
    queue = [o if isinstance(o, str) else json.dumps(o) for o in outputs]
    state = {"next": 0}

    def reply(prompt: str, fields: list[str]) -> str:
        index = min(state["next"], len(queue) - 1)
        state["next"] += 1
        return queue[index]

    return reply


def _field(prompt: str, name: str) -> str:
    """The value of input field `name` in a JSONAdapter/ChatAdapter prompt (the last occurrence)."""
    found = re.findall(rf"\[\[ ## {name} ## \]\]\n(.*?)(?=\n\n\[\[ ## |\Z)", prompt, flags=re.S)
    return found[-1].strip() if found else ""


def deterministic_reply(prompt: str, fields: list[str]) -> str:
    """Valid answers that depend only on the prompt: the test stand-in for a teacher model."""
    if delay := float(os.environ.get(DELAY_ENV, "0") or 0):
        time.sleep(delay)
    # Logged once the answer exists: a call killed mid-generation never answered, so it is no repeat.
    if path := os.environ.get(CALL_LOG_ENV):
        with open(path, "a", encoding="utf-8") as log:
            log.write(hashlib.sha256(prompt.encode()).hexdigest()[:16] + "\n")
    behaviour = behaviour_for_outputs(fields)
    if behaviour is None:
        raise ValueError(f"no registered teacher behaviour writes the fields {fields}")
    tag = hashlib.sha256(prompt.encode()).hexdigest()[:6]
    return json.dumps(behaviour.scripted_reply(lambda name: _field(prompt, name), tag))


def build_scripted_lm(model: str) -> dspy.LM:
    """The LM for `--teacher scripted/deterministic`."""
    from uue.errors import ConfigError

    if model != f"{SCRIPTED_PREFIX}deterministic":
        raise ConfigError(f"unknown scripted teacher {model!r}", hint="use scripted/deterministic")
    return scripted_lm(deterministic_reply, model=model)

"""A llama.cpp engine for `dspy.LM(engine=...)`: the offline teacher, in-process, on CPU.

DSPy 3.4 owns caching, history, usage tracking, callbacks and the retry loop around an *engine*
(`complete(Request) -> Response`); this module only turns one canonical request into one llama.cpp
generation. Build the LM with `uue.programs.lm.config.build_lm`, or by hand:

    engine = LlamaCppEngine(LlamaCppSettings(model_path="model.gguf"))
    lm = dspy.LM("local/my-model", engine=engine, temperature=0.0, max_tokens=512, num_retries=2)

Behaviour:
- JSON is grammar-constrained: a `response_format` from the adapter (`JSONAdapter` sends the output
  schema, because the engine declares `supports_response_schema`) or `LlamaCppSettings.json_schema`
  becomes a GBNF grammar, so the output parses. If it still does not (the grammar cannot stop a
  model that runs into `max_tokens` inside a string), the engine retries with seed+1 and the
  temperature raised by `temperature_bump`, `json_retries` times, then returns the last output.
- One model, one lock: calls from several threads queue; none runs two generations at once.
  `dspy.Parallel` / `module.batch` resubmit a task that has run longer than their `timeout`
  (default 120 s), and a queued task counts as running: pass `timeout=0` (off) or size it to
  `calls_per_thread * seconds_per_call` with `num_threads` > 1, or use `num_threads=1`.
- A per-call timeout (`timeout_s`, generation time, not queueing) raises `lm15.TimeoutError`, which
  DSPy retries `num_retries` times with exponential backoff (1 s, 2 s, 4 s, ...).
- Three retry layers, each for one failure, innermost first: (1) here, `json_retries` for output that
  does not parse (`max_tokens` cut a string; with `prefill_json`, the default, 0 of 112 calls: 1.5B,
  `benchmarks/teacher_speed.py --activities 48 --parallel 8`, 2026-12-06); (2) DSPy's `num_retries`
  for transient errors (timeouts, a server's 5xx); (3) `uue.programs.retry.predict_valid`, `attempts` calls of a
  module whose answer parses but breaks a rule of its behaviour (a copy of the comment, a named user:
  1.25 calls an activity on the 1.5B labeller, README "teacher_speed"). A call costs at
  most attempts x (1 + json_retries) generations; (2) only repeats calls that produced nothing.
- Usage: prompt and completion tokens, and the prompt tokens reused from llama.cpp's KV cache
  (`cache_read_tokens`, shown by DSPy as `prompt_tokens_details.cached_tokens`).
- Prefix cache: llama.cpp reuses the KV cache of the previous call's common token prefix; with
  `prompt_cache_bytes > 0` a `LlamaRAMCache` also keeps states of earlier prompts, so prompts that
  share a long prefix skip most of the prompt processing even when calls with other prefixes come
  in between. Each saved state also holds a logits copy its capacity does not count (hundreds of
  MB): leave it off unless the machine has the RAM for it.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from dspy.clients.engines.base import validate_request
from dspy.lm15 import ContextLengthError as LM15ContextLengthError
from dspy.lm15 import InvalidRequestError as LM15InvalidRequestError
from dspy.lm15 import Message, Request, Response, TextPart, Usage, response_to_events
from dspy.lm15 import ServerError as LM15ServerError
from dspy.lm15 import TimeoutError as LM15TimeoutError

from uue.errors import ConfigError
from uue.programs.lm.llamacpp_batch import BatchDecoder
from uue.programs.lm.llamacpp_messages import PROVIDER, chat_messages, grammar_text, parses, schema_of
from uue.programs.lm.llamacpp_prefill import chat_prompt, field_stop, json_string_value, string_properties
from uue.programs.lm.llamacpp_settings import LlamaCppSettings, import_llama_cpp

logger = logging.getLogger(__name__)


_SHARED: weakref.WeakValueDictionary[str, LlamaCppEngine] = weakref.WeakValueDictionary()
_SHARED_LOCK = threading.Lock()


class _Deadline(Exception):
    """Raised inside llama.cpp's Python generation loop to stop a call that ran out of time."""


class LlamaCppEngine:
    """`dspy.LM` engine over one in-process `llama_cpp.Llama`, loaded on first use."""

    supports_response_schema = True
    supports_function_calling = False
    supports_reasoning = False
    supported_params = frozenset(
        {"temperature", "max_tokens", "top_p", "top_k", "stop", "seed", "response_format"}
    )

    def __init__(self, settings: LlamaCppSettings):
        self.settings = settings
        self._llm = None
        self._batch_decoder: BatchDecoder | None = None
        self._lock = threading.Lock()
        # Per-call bookkeeping read by the eval hook; only touched while holding the lock.
        self._state = SimpleNamespace(deadline=None, prompt_eval=None, prompt_eval_s=0.0)
        self.stats = {
            "calls": 0,
            "invalid_json": 0,
            "timeouts": 0,
            "prompt_eval_tokens": 0,
            "prompt_eval_s": 0.0,
            "generate_s": 0.0,
        }

    # -- persistence (dspy.LM.dump_state / load_state) ------------------------------------------
    def dump_state(self) -> dict[str, Any]:
        return self.settings.model_dump()

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> LlamaCppEngine:
        return cls.shared(LlamaCppSettings(**state))

    @classmethod
    def shared(cls, settings: LlamaCppSettings) -> LlamaCppEngine:
        """The process's engine for these settings, so that LMs built twice (or loaded with their
        async twin) share one loaded model and one lock instead of loading the weights again."""
        key = json.dumps(settings.model_dump(), sort_keys=True)
        with _SHARED_LOCK:
            engine = _SHARED.get(key)
            if engine is None:
                engine = _SHARED[key] = cls(settings)
            return engine

    def __repr__(self) -> str:
        return f"LlamaCppEngine(model_path={self.settings.model_path!r}, n_ctx={self.settings.n_ctx})"

    # -- model ------------------------------------------------------------------------------------
    @property
    def llm(self):
        """The loaded `llama_cpp.Llama` (loads it on first access). Hold `lock` to use it."""
        if self._llm is None:
            with self._lock:
                if self._llm is None:
                    self._llm = self._load()
        return self._llm

    @property
    def lock(self) -> threading.Lock:
        return self._lock

    def _load(self):
        llama_cpp = import_llama_cpp()
        s = self.settings
        if not Path(s.model_path).is_file():
            raise ConfigError(f"GGUF model file not found: {s.model_path}")
        llm = llama_cpp.Llama(
            model_path=s.model_path,
            n_ctx=s.n_ctx,
            n_threads=s.n_threads,
            n_threads_batch=s.n_threads,
            n_batch=s.n_batch,
            seed=s.seed,
            verbose=False,
        )
        if s.prompt_cache_bytes:
            llm.set_cache(llama_cpp.LlamaRAMCache(capacity_bytes=s.prompt_cache_bytes))
        return self._instrument(llm)

    def _instrument(self, llm):
        """Wrap `llm.eval`, the Python frame llama.cpp calls for the prompt and then for every
        generated token: the one place where a deadline can stop a generation and where the
        prompt tokens left to evaluate after the prefix-cache reuse can be seen."""
        original_eval = llm.eval
        state = self._state

        def timed_eval(tokens):
            if state.deadline is not None and time.monotonic() > state.deadline:
                raise _Deadline
            if state.prompt_eval is None:
                state.prompt_eval = len(tokens)
                start = time.perf_counter()
                original_eval(tokens)
                state.prompt_eval_s = time.perf_counter() - start
                return
            original_eval(tokens)

        llm.eval = timed_eval
        return llm

    def close(self) -> None:
        if self._batch_decoder is not None:
            self._batch_decoder.close()
            self._batch_decoder = None
        with self._lock:
            if self._llm is not None:
                self._llm.close()
                self._llm = None

    # -- engine contract --------------------------------------------------------------------------
    def complete(self, request: Request) -> Response:
        validate_request(request)
        s = self.settings
        config = request.config
        messages = chat_messages(request)
        json_wanted, schema_json = schema_of(config.response_format)
        if s.json_schema is not None:
            json_wanted, schema_json = True, json.dumps(s.json_schema)
        temperature = s.temperature if config.temperature is None else config.temperature
        seed = s.seed if config.seed is None else config.seed
        kwargs = {
            "max_tokens": config.max_tokens,
            "stop": list(config.stop) or None,
            "repeat_penalty": s.repeat_penalty,
        }
        if config.top_p is not None:
            kwargs["top_p"] = config.top_p
        if config.top_k is not None:
            kwargs["top_k"] = config.top_k
        attempts = 1 + (s.json_retries if json_wanted else 0)
        usage = {"input": 0, "output": 0, "cached": 0}
        fields = string_properties(schema_json) if s.prefill_json and json_wanted else None
        for attempt in range(attempts):
            step = {
                "temperature": min(2.0, temperature + attempt * s.temperature_bump),
                "seed": seed + attempt,
            }
            if fields:
                text, finish, call_usage = self._generate_fields(messages, fields, **step, **kwargs)
            else:
                grammar = grammar_text(schema_json) if json_wanted else None
                text, finish, call_usage = self._generate(messages, grammar=grammar, **step, **kwargs)
            for key in usage:
                usage[key] += call_usage[key]
            if not json_wanted or parses(text):
                break
            self.stats["invalid_json"] += 1
            logger.info(
                "llama.cpp output is not valid JSON (finish=%s); retry %d/%d with seed %d",
                finish,
                attempt + 1,
                attempts - 1,
                seed + attempt + 1,
            )
        return Response(
            id=None,
            model=request.model,
            message=Message.assistant([TextPart(text=text)]),
            finish_reason=finish,
            usage=Usage(
                input_tokens=usage["input"], output_tokens=usage["output"], cache_read_tokens=usage["cached"]
            ),
            provider_data={"provider": PROVIDER, "attempts": attempt + 1},
        )

    def stream(self, request: Request):
        return response_to_events(self.complete(request))

    def _locked_call(self, call):
        """Run `call(llm)` (one llama.cpp generation) under the model's lock and the per-call deadline;
        llama.cpp's errors become lm15 errors. Returns (its output, prompt tokens evaluated)."""
        llm = self.llm
        s = self.settings
        with self._lock:
            state = self._state
            state.prompt_eval, state.prompt_eval_s = None, 0.0
            state.deadline = time.monotonic() + s.timeout_s if s.timeout_s else None
            start = time.perf_counter()
            try:
                out = call(llm)
            except _Deadline:
                self.stats["timeouts"] += 1
                raise LM15TimeoutError(
                    f"llama.cpp generation exceeded timeout_s={s.timeout_s}", provider=PROVIDER
                ) from None
            except ValueError as error:  # llama_cpp: prompt longer than n_ctx, bad grammar
                kind = LM15ContextLengthError if "context window" in str(error) else LM15InvalidRequestError
                raise kind(str(error), provider=PROVIDER) from error
            except RuntimeError as error:  # llama_decode failures
                raise LM15ServerError(str(error), provider=PROVIDER) from error
            finally:
                state.deadline = None
            elapsed = time.perf_counter() - start
            prompt_eval = state.prompt_eval or 0
            self.stats["calls"] += 1
            self.stats["prompt_eval_tokens"] += prompt_eval
            self.stats["prompt_eval_s"] += state.prompt_eval_s
            self.stats["generate_s"] += elapsed - state.prompt_eval_s
        return out, prompt_eval

    def _generate(self, messages, *, grammar: str | None, temperature: float, seed: int, **kwargs):
        if grammar is not None:
            grammar = import_llama_cpp().LlamaGrammar.from_string(grammar, verbose=False)
        options = {key: val for key, val in kwargs.items() if val is not None}
        out, prompt_eval = self._locked_call(
            lambda llm: llm.create_chat_completion(
                messages=messages, temperature=temperature, seed=seed, grammar=grammar, **options
            )
        )
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        prompt_tokens = int(usage.get("prompt_tokens", 0))
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        return (
            choice["message"].get("content") or "",
            finish,
            {
                "input": prompt_tokens,
                "output": int(usage.get("completion_tokens", 0)),
                # Tokens the prompt did not need to evaluate: reused from the KV / RAM cache.
                "cached": max(0, prompt_tokens - prompt_eval),
            },
        )

    def _generate_fields(
        self, messages, fields: dict[str, int | None], *, temperature: float, seed: int, **kwargs
    ):
        """A string-only JSON answer, the model writing only the values (see llamacpp_prefill)."""
        prompt, answer = chat_prompt(self.llm, messages) + "{", "{"
        usage, finish, evaluated = {"input": 0, "output": 0, "cached": 0}, "stop", 0
        budget = kwargs.get("max_tokens") or 256
        for i, (name, max_length) in enumerate(fields.items()):
            head = ("" if i == 0 else ", ") + json.dumps(name) + ":"
            prompt, answer = prompt + head, answer + head
            value = None
            for constrained in (False, True):  # stop strings first (no grammar cost), a grammar if it fails
                text, finish_reason, prompt_tokens, generated, prompt_eval = self._complete_value(
                    prompt, budget, max_length, constrained, temperature, seed,
                    kwargs.get("repeat_penalty") or 1.0,
                )  # fmt: skip
                usage["output"] += generated
                usage["input"] = prompt_tokens  # the whole prompt so far
                evaluated += prompt_eval
                budget -= generated
                value = json_string_value(text) if finish_reason != "length" else None
                if value is not None or budget <= 0:
                    break
            usage["cached"] = max(0, usage["input"] - evaluated)
            if value is None:  # no string even under the grammar (cut off): the JSON retry takes over
                finish = "length"
                break
            prompt, answer = prompt + " " + value, answer + " " + value
        return answer + ("}" if finish == "stop" else ""), finish, usage

    def _complete_value(self, prompt, budget, max_length, constrained, temperature, seed, repeat_penalty):
        """One value of a prefilled answer: (text, finish reason, prompt tokens, generated tokens,
        prompt tokens evaluated). With `parallel` > 1 the batch decoder serves it (there a retry also
        reuses the KV cells of the call before it); a repeat penalty goes to llama_cpp.Llama."""
        if self.settings.parallel > 1 and repeat_penalty == 1.0:
            ending = field_stop(max_length, constrained, grammar_object=False)
            done = self.batch_decoder.complete(
                prompt, max_tokens=budget, temperature=temperature, seed=seed,
                timeout_s=self.settings.timeout_s, **ending,
            )  # fmt: skip
            return done.text, done.finish, done.prompt_tokens, done.completion_tokens, done.evaluated
        ending = field_stop(max_length, constrained)
        out, prompt_eval = self._locked_call(
            lambda llm: llm.create_completion(
                prompt=prompt, max_tokens=budget, temperature=temperature, seed=seed,
                repeat_penalty=repeat_penalty, **ending,
            )
        )  # fmt: skip
        call = out.get("usage") or {}
        choice = out["choices"][0]
        return (
            choice["text"],
            choice.get("finish_reason") or "stop",
            int(call.get("prompt_tokens", 0)),
            int(call.get("completion_tokens", 0)),
            prompt_eval,
        )

    @property
    def batch_decoder(self) -> BatchDecoder:
        """The decoder of concurrent greedy calls (llamacpp_batch), created on first use."""
        llm = self.llm
        with _SHARED_LOCK:
            if self._batch_decoder is None:
                s = self.settings
                self._batch_decoder = BatchDecoder(
                    llm, n_seq=s.parallel, n_ctx=s.n_ctx, n_batch=s.n_batch, n_threads=s.n_threads,
                    lock=self._lock, stats=self.stats,
                )  # fmt: skip
            return self._batch_decoder


class AsyncLlamaCppEngine:
    """The async counterpart DSPy needs for `lm.acall` / `dspy.asyncify`: runs the sync engine's
    `complete` in a worker thread (the sync engine's lock still serialises generations)."""

    def __init__(self, sync: LlamaCppEngine):
        self.sync = sync

    supports_response_schema = LlamaCppEngine.supports_response_schema
    supports_function_calling = False
    supports_reasoning = False
    supported_params = LlamaCppEngine.supported_params

    def dump_state(self) -> dict[str, Any]:
        return self.sync.dump_state()

    @classmethod
    def load_state(cls, state: dict[str, Any]) -> AsyncLlamaCppEngine:
        return cls(LlamaCppEngine.load_state(state))

    async def complete(self, request: Request) -> Response:
        import asyncio

        return await asyncio.to_thread(self.sync.complete, request)

    async def stream(self, request: Request):
        for event in response_to_events(await self.complete(request)):
            yield event

    async def aclose(self) -> None:
        pass

"""Calls from several threads decoded together: one llama.cpp batch a step for every call in flight.

Generating one token reads every weight of the model once (1.1 GB for the 1.5B teacher): here one
token of one sequence took 45 ms, and a batch of one token from each of 4 sequences 24 ms a token;
prompt tokens in one batch cost ~7 ms each (`benchmarks/teacher_speed.py`). So each step holds the
prompt tokens of the calls that just arrived *and* the next token of every call that is generating
(continuous batching): generation rides along with prompt evaluation instead of waiting its turn.

Scope: greedy decoding, or sampling at a temperature (with llama-cpp-python's default top-k 40,
top-p 0.95 and min-p 0.05), optionally under a GBNF grammar (llama.cpp's own samplers), ended by stop
strings, end of generation or `max_tokens`: what the field-by-field JSON answers of `llamacpp_prefill`
and their retries need. Repeat penalties stay on the sequential `llama_cpp.Llama` path.

Each of `n_seq` slots is one llama.cpp sequence in a unified KV cache. A call takes the free slot
that shares the longest token prefix with its prompt; when another slot shares a longer one its KV
cells are copied (`llama_memory_seq_cp` shares cells, it copies no tensors), so the instructions and
demos common to all calls are evaluated once. Batch composition changes the order of float sums, so
a batched greedy answer can differ from a sequential one where two tokens are nearly tied.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np
from dspy.lm15 import ContextLengthError as LM15ContextLengthError
from dspy.lm15 import InvalidRequestError as LM15InvalidRequestError
from dspy.lm15 import ServerError as LM15ServerError
from dspy.lm15 import TimeoutError as LM15TimeoutError

from uue.programs.lm.llamacpp_messages import PROVIDER
from uue.programs.lm.llamacpp_settings import import_llama_cpp


@dataclass
class Completion:
    """What one call produced: text up to (not including) the stop string that ended it."""

    text: str
    finish: str  # "stop" (stop string or end of generation) or "length"
    prompt_tokens: int
    completion_tokens: int
    evaluated: int  # prompt tokens evaluated, not reused from a slot's KV cells


@dataclass
class _Call:
    tokens: list[int]
    max_tokens: int
    stop: tuple[str, ...]
    timeout_s: float | None
    sampler: object = None  # a llama.cpp sampler chain, or None for a plain argmax
    done: threading.Event = field(default_factory=threading.Event)
    slot: int = -1
    pending: list[int] = field(default_factory=list)  # prompt tokens not yet evaluated
    next_token: int | None = None  # sampled, not yet fed
    generated: list[int] = field(default_factory=list)
    text: bytes = b""
    deadline: float | None = None
    evaluated: int = 0
    result: Completion | None = None
    error: Exception | None = None

    def finish(self, text: str, finish: str) -> None:
        self.result = Completion(text, finish, len(self.tokens), len(self.generated), self.evaluated)
        self.done.set()

    def fail(self, error: Exception) -> None:
        self.error = error
        self.done.set()


def _shared_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


class BatchDecoder:
    """Completions of prompts sent from many threads, decoded together by one worker thread.

    `llm` is a loaded `llama_cpp.Llama` (its weights and tokenizer are shared; the decoder has its own
    context); `lock` is held for every decode step, so the sequential path never computes at once;
    `stats` is the engine's counters, updated under that lock.
    """

    def __init__(self, llm, *, n_seq: int, n_ctx: int, n_batch: int, n_threads: int, lock, stats: dict):
        self._cpp = import_llama_cpp()
        cpp = self._cpp
        self.llm, self.n_seq, self.n_ctx, self.n_batch = llm, n_seq, n_ctx, n_batch
        self._lock, self._stats = lock, stats
        params = cpp.llama_context_default_params()
        params.n_ctx, params.n_batch, params.n_ubatch = n_ctx, n_batch, n_batch
        params.n_seq_max, params.kv_unified = n_seq, True
        params.n_threads, params.n_threads_batch = n_threads, n_threads
        self._ctx = cpp.llama_init_from_model(llm.model, params)
        if not self._ctx:
            raise LM15ServerError("llama.cpp could not create a batch context", provider=PROVIDER)
        self._memory = cpp.llama_get_memory(self._ctx)
        self._vocab = cpp.llama_model_get_vocab(llm.model)
        self._n_vocab = cpp.llama_vocab_n_tokens(self._vocab)
        self._batch = cpp.llama_batch_init(n_batch, 0, 1)
        self._slot_tokens: list[list[int]] = [[] for _ in range(n_seq)]  # what each sequence's KV holds
        self._active: list[_Call | None] = [None] * n_seq
        self._freed_at = [0] * n_seq  # step counter when each slot was last freed
        self._steps = 0
        self._waiting: deque[_Call] = deque()
        self._wake = threading.Condition()
        self._closed = False
        self._worker = threading.Thread(target=self._run, name="llama-batch", daemon=True)
        self._worker.start()

    # -- callers ----------------------------------------------------------------------------------
    def complete(
        self,
        prompt: str,
        *,
        max_tokens: int,
        stop: list[str] = (),
        grammar: str | None = None,
        temperature: float = 0.0,
        seed: int = 0,
        timeout_s: float | None = None,
    ) -> Completion:
        """Completion of `prompt` (blocks until done): greedy at temperature 0, under `grammar` (GBNF,
        rule `root`) if given. Raises lm15 Timeout/Server errors, InvalidRequest for a bad grammar."""
        tokens = self.llm.tokenize(prompt.encode("utf-8"), special=True)
        if len(tokens) >= self.n_ctx:
            raise LM15ContextLengthError(
                f"prompt of {len(tokens)} tokens exceeds the context window ({self.n_ctx})", provider=PROVIDER
            )
        max_tokens = min(max(1, max_tokens), self.n_ctx - len(tokens))
        sampler = self._sampler(grammar, temperature, seed)
        call = _Call(tokens, max_tokens, tuple(stop), timeout_s, sampler)
        try:
            with self._wake:
                if self._closed:
                    raise LM15ServerError("the batch decoder is closed", provider=PROVIDER)
                self._waiting.append(call)
                self._wake.notify()
            call.done.wait()
        finally:
            if call.sampler is not None:
                self._cpp.llama_sampler_free(call.sampler)
        if call.error is not None:
            raise call.error
        return call.result

    def _sampler(self, grammar: str | None, temperature: float, seed: int):
        """A llama.cpp sampler chain (it owns its samplers), or None for greedy without a grammar."""
        if grammar is None and temperature == 0:
            return None
        cpp = self._cpp
        steps = []
        if grammar is not None:
            rule = cpp.llama_sampler_init_grammar(self._vocab, grammar.encode("utf-8"), b"root")
            if not rule:
                raise LM15InvalidRequestError(f"grammar does not parse: {grammar[:80]!r}", provider=PROVIDER)
            steps.append(rule)
        if temperature == 0:
            steps.append(cpp.llama_sampler_init_greedy())
        else:
            steps += [
                cpp.llama_sampler_init_top_k(40),
                cpp.llama_sampler_init_top_p(0.95, 1),
                cpp.llama_sampler_init_min_p(0.05, 1),
                cpp.llama_sampler_init_temp(temperature),
                cpp.llama_sampler_init_dist(seed & 0xFFFFFFFF),
            ]
        chain = cpp.llama_sampler_chain_init(cpp.llama_sampler_chain_default_params())
        for step in steps:
            cpp.llama_sampler_chain_add(chain, step)
        return chain

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._worker.join()
        self._cpp.llama_batch_free(self._batch)
        self._cpp.llama_free(self._ctx)

    # -- the worker -------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._closed and not self._waiting and not any(self._active):
                    self._wake.wait()
                if self._closed:
                    for call in [*self._waiting, *filter(None, self._active)]:
                        call.fail(LM15ServerError("the batch decoder was closed", provider=PROVIDER))
                    return
                self._admit()
            with self._lock:
                try:
                    self._step()
                except LM15ServerError as error:
                    self._fail_all(error)

    def _admit(self) -> None:
        """Move waiting calls into free slots. A call that would evaluate most of its prompt waits while
        another call is still evaluating its prompt: the first one's KV cells may serve it."""
        while self._waiting and None in self._active:
            call = self._waiting[0]
            shares = [_shared_prefix(tokens, call.tokens) for tokens in self._slot_tokens]
            filling = any(c is not None and c.pending for c in self._active)
            if filling and max(shares) < len(call.tokens) // 2:
                return
            if not self._make_room(call, shares) and any(self._active):
                return  # waits for calls in flight to free their cells
            self._waiting.popleft()
            free = [s for s in range(self.n_seq) if self._active[s] is None]
            # the longest shared prefix; on a tie the slot freed longest ago, so that a call that only
            # shares the common instructions does not take the cells of an answer still being written
            slot = max(free, key=lambda s: (shares[s], -self._freed_at[s]))
            source = max(range(self.n_seq), key=lambda s: shares[s])
            kept = shares[source]
            if kept > shares[slot]:
                self._cpp.llama_memory_seq_rm(self._memory, slot, 0, -1)
                self._cpp.llama_memory_seq_cp(self._memory, source, slot, 0, kept)
            kept = min(kept, len(call.tokens) - 1)  # evaluate at least one token, for its logits
            self._cpp.llama_memory_seq_rm(self._memory, slot, kept, -1)
            self._slot_tokens[slot] = call.tokens[:kept]
            call.slot, call.pending, call.evaluated = slot, call.tokens[kept:], len(call.tokens) - kept
            call.deadline = time.monotonic() + call.timeout_s if call.timeout_s else None
            self._active[slot] = call

    def _make_room(self, call: _Call, shares: list[int]) -> bool:
        """Drop the cells of free slots (least shared with `call` first) until the worst case fits the
        context: every slot's tokens counted as if none were shared, plus this call's prompt and answer.
        False when it does not fit even then."""
        need = len(call.tokens) + call.max_tokens
        free = sorted((s for s in range(self.n_seq) if self._active[s] is None), key=lambda s: shares[s])
        for slot in free:
            if sum(map(len, self._slot_tokens)) + need <= self.n_ctx:
                return True
            self._cpp.llama_memory_seq_rm(self._memory, slot, 0, -1)
            self._slot_tokens[slot], shares[slot] = [], 0
        return sum(map(len, self._slot_tokens)) + need <= self.n_ctx

    def _step(self) -> None:
        """One llama_decode over every active call: prompt tokens (up to the batch size) and the
        pending sampled token of each generating call; then sample where logits came back."""
        batch, n, fed = self._batch, 0, []
        active = [call for call in self._active if call is not None]
        generating = [call for call in active if not call.pending]
        room = self.n_batch - len(generating)  # prompt tokens that fit beside one token per generating call
        feeds = [(call, [call.next_token]) for call in generating]
        for call in active:
            if call.pending and room > 0:
                tokens, call.pending = call.pending[:room], call.pending[room:]
                feeds.append((call, tokens))
                room -= len(tokens)
        prompt_tokens = sum(len(tokens) for call, tokens in feeds) - len(generating)
        for call, tokens in feeds:
            start = len(self._slot_tokens[call.slot])
            for i, token in enumerate(tokens):
                batch.token[n], batch.pos[n], batch.n_seq_id[n] = token, start + i, 1
                batch.seq_id[n][0] = call.slot
                batch.logits[n] = i == len(tokens) - 1 and not call.pending
                n += 1
            self._slot_tokens[call.slot].extend(tokens)
            fed.append((call, n - 1))
        if n == 0:
            return
        batch.n_tokens = n
        began = time.perf_counter()
        status = self._cpp.llama_decode(self._ctx, batch)
        if status != 0:
            raise LM15ServerError(f"llama_decode returned {status} (KV cache full?)", provider=PROVIDER)
        seconds = time.perf_counter() - began
        self._stats["prompt_eval_tokens"] += prompt_tokens
        self._stats["prompt_eval_s"] += seconds * prompt_tokens / n  # a mixed step, split by tokens
        self._stats["generate_s"] += seconds * (n - prompt_tokens) / n
        for call, index in fed:
            if not call.pending:
                self._sample(call, index)
        now = time.monotonic()
        for call in filter(None, self._active):
            if call.deadline is not None and now > call.deadline and not call.done.is_set():
                self._stats["timeouts"] += 1
                call.fail(LM15TimeoutError(f"llama.cpp generation exceeded timeout_s={call.timeout_s}",
                                           provider=PROVIDER))  # fmt: skip
        self._steps += 1
        for slot, call in enumerate(self._active):
            if call is not None and call.done.is_set():
                self._active[slot], self._freed_at[slot] = None, self._steps
                self._stats["calls"] += 1

    def _sample(self, call: _Call, index: int) -> None:
        if call.sampler is not None:  # grammar mask, then the pick; the chain accepts the token itself
            token = self._cpp.llama_sampler_sample(call.sampler, self._ctx, index)
        else:
            logits = self._cpp.llama_get_logits_ith(self._ctx, index)
            token = int(np.argmax(np.ctypeslib.as_array(logits, shape=(self._n_vocab,))))
        if self._cpp.llama_vocab_is_eog(self._vocab, token):
            call.finish(call.text.decode("utf-8", errors="ignore"), "stop")
            return
        call.generated.append(token)
        call.text += self.llm.detokenize([token])
        text = call.text.decode("utf-8", errors="ignore")
        cuts = [i for i in (text.find(s) for s in call.stop) if i >= 0]
        if cuts:
            call.finish(text[: min(cuts)], "stop")
        elif len(call.generated) >= call.max_tokens:
            call.finish(text, "length")
        else:
            call.next_token = token

    def _fail_all(self, error: Exception) -> None:
        """A failed decode leaves the KV cells unknown: fail the calls in flight and start clean."""
        self._cpp.llama_memory_clear(self._memory, True)
        self._slot_tokens = [[] for _ in range(self.n_seq)]
        for slot, call in enumerate(self._active):
            if call is not None:
                call.fail(error)
                self._active[slot] = None

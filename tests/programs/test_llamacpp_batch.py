"""The batch decoder (uue/programs/lm/llamacpp_batch.py) on the real offline 0.5B teacher: calls from
several threads decoded together give the sequential path's greedy answers, share the prompt prefix,
honour stop strings, grammars, `max_tokens`, the context window and the timeout."""

from __future__ import annotations

import json
import re
import threading
import warnings

import dspy
import pytest
from dspy.lm15 import ContextLengthError, TimeoutError

from uue.errors import ConfigError
from uue.programs.lm.config import TeacherConfig, local_model_path
from uue.programs.lm.llamacpp import LlamaCppEngine, LlamaCppSettings
from uue.programs.lm.llamacpp_prefill import json_string_value, string_value_grammar
from uue.programs.lm.offline import ensure_offline_defaults

pytestmark = pytest.mark.slow

# A shared instruction prefix of ~150 tokens, then a different question per call.
PREFIX = (
    "<|im_start|>system\nYou name things. Answer with a short noun phrase in double quotes and nothing "
    'else. Examples: a place to borrow books -> "Public library"; a vehicle with two wheels and pedals '
    '-> "Bicycle"; the meal eaten in the morning -> "Breakfast"; frozen water -> "Ice"; the '
    'season after summer -> "Autumn"; a doctor for teeth -> "Dentist"; where planes land -> '
    '"Airport"; a device that shows the time -> "Clock".<|im_end|>\n<|im_start|>user\n'
)
QUESTIONS = [
    "a yellow fruit that monkeys like",
    "the largest ocean on Earth",
    "a tool for cutting paper",
    "the place where students attend lectures",
]
STOP = ['",', '"}', '"\n']


def _prompt(question: str) -> str:
    return f'{PREFIX}{question}<|im_end|>\n<|im_start|>assistant\n{{"answer":'


@pytest.fixture(scope="module")
def model_path():
    pytest.importorskip("llama_cpp")
    ensure_offline_defaults()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return str(local_model_path(TeacherConfig()))
    except ConfigError as error:
        pytest.fail(f"the offline teacher is not installed: {error}")


@pytest.fixture(scope="module")
def engine(model_path):
    engine = LlamaCppEngine(LlamaCppSettings(model_path=model_path, n_ctx=2048, n_threads=2, parallel=4))
    yield engine
    engine.close()


def _in_threads(work, items):
    results, errors = [None] * len(items), []

    def run(i):
        try:
            results[i] = work(items[i])
        except Exception as error:  # collected and asserted by the caller
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(items))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def test_concurrent_calls_give_the_sequential_greedy_answers_and_share_the_prefix(engine):
    sequential = [
        engine.llm.create_completion(
            _prompt(q), max_tokens=12, temperature=0.0, repeat_penalty=1.0, stop=STOP
        )["choices"][0]["text"]
        for q in QUESTIONS
    ]
    done, errors = _in_threads(
        lambda q: engine.batch_decoder.complete(_prompt(q), max_tokens=12, stop=STOP), QUESTIONS
    )
    assert not errors
    # Each answer is its own question's: the sequential greedy one, except where llama.cpp's batched
    # kernels (another summation order than one sequence's) tip a near-tie; seen on an AVX-512 EPYC
    # (2026-12-06): "Knife" batched for "cutting knife" alone. Mixed-up sequences would share no word.
    same = [d.text == s for d, s in zip(done, sequential, strict=True)]
    assert sum(same) >= len(QUESTIONS) - 1, ([d.text for d in done], sequential)
    for d, s in zip(done, sequential, strict=True):
        assert set(_words(d.text)) & set(_words(s)), (d.text, s)
    assert all(d.finish == "stop" and 0 < d.completion_tokens <= 12 for d in done)
    # one call evaluates the shared instructions; the others only their own question
    reused = [d for d in done if d.evaluated < d.prompt_tokens / 2]
    assert len(reused) >= len(QUESTIONS) - 1


def test_grammar_max_tokens_and_context_window(engine):
    decoder = engine.batch_decoder
    constrained = decoder.complete(_prompt(QUESTIONS[0]), max_tokens=40, grammar=string_value_grammar(12))
    value = json_string_value(constrained.text)
    assert value is not None and len(json.loads(value)) <= 12
    cut = decoder.complete(_prompt(QUESTIONS[1]) + ' "The', max_tokens=2, stop=[])
    assert cut.finish == "length" and cut.completion_tokens == 2
    with pytest.raises(ContextLengthError):
        decoder.complete("word " * 3000, max_tokens=4)


def test_a_call_past_its_timeout_fails_with_a_timeout(engine):
    with pytest.raises(TimeoutError):
        engine.batch_decoder.complete(_prompt("a very long story") + " Once", max_tokens=200, timeout_s=1e-4)
    assert engine.batch_decoder.complete(_prompt(QUESTIONS[2]), max_tokens=12, stop=STOP).text


def test_finished_slots_make_room_for_prompts_that_would_overflow_the_context(model_path):
    """4 slots of ~330 tokens each would fill a 1,024-token context: the decoder drops a finished
    slot's cells instead of failing the decode."""
    engine = LlamaCppEngine(LlamaCppSettings(model_path=model_path, n_ctx=1024, n_threads=2, parallel=4))
    try:
        prompts = [
            f"Topic {i}: " + " ".join(f"item{i}x{j}" for j in range(110)) + "\nSummary:" for i in range(6)
        ]
        answers = [engine.batch_decoder.complete(p, max_tokens=8) for p in prompts]
    finally:
        engine.close()
    assert all(a.prompt_tokens > 300 and a.completion_tokens > 0 for a in answers)


class Name(dspy.Signature):
    """Name the thing described, as a short noun phrase."""

    description: str = dspy.InputField()
    name: str = dspy.OutputField(max_length=40)
    field: str = dspy.OutputField(max_length=20)


def test_dspy_calls_from_threads_are_batched_into_parsed_answers(model_path):
    from uue.programs.lm.config import GrammarJSONAdapter

    engine = LlamaCppEngine(
        LlamaCppSettings(model_path=model_path, n_ctx=2048, n_threads=2, parallel=4, prefill_json=True)
    )
    lm = dspy.LM(
        "local/batch-test", engine=engine, temperature=0.0, max_tokens=48, num_retries=0, cache=False
    )
    predict = dspy.Predict(Name)

    def ask(question):
        with dspy.context(lm=lm, adapter=GrammarJSONAdapter()):
            return predict(description=question)

    try:
        answers, errors = _in_threads(ask, QUESTIONS)
        batched = engine._batch_decoder is not None  # the calls went through the batch decoder
    finally:
        engine.close()
    assert not errors
    assert all(isinstance(a.name, str) and a.name for a in answers)
    assert batched and engine.stats["calls"] >= 2 * len(QUESTIONS)  # a call a field

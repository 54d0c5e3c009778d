"""The llama.cpp engine's settings fail in one line naming the setting (the engine is built outside
any CLI), and llama_cpp is imported with sleeping OpenMP threads unless the user chose otherwise."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from uue.errors import ConfigError
from uue.programs.lm.llamacpp_settings import LlamaCppSettings, import_llama_cpp


def test_a_model_path_may_be_a_path_and_is_kept_as_text():
    settings = LlamaCppSettings(model_path=Path("models/qwen.gguf"), n_ctx=2048)
    assert settings.model_path == "models/qwen.gguf" and settings.n_ctx == 2048
    assert settings.n_threads >= 1 and settings.parallel == 1 and settings.temperature == 0.0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"n_ctx": 0}, "llama.cpp settings: n_ctx: Input should be greater than or equal to 1"),
        ({"temperature": 2.5}, "llama.cpp settings: temperature: Input should be less than or equal to 2"),
        ({"parallel": 65}, "llama.cpp settings: parallel: Input should be less than or equal to 64"),
        ({"n_gpu": 1}, "llama.cpp settings: n_gpu: unknown key"),
    ],
)
def test_a_bad_setting_is_a_one_line_config_error_naming_it(changes, message):
    with pytest.raises(ConfigError) as caught:
        LlamaCppSettings(model_path="m.gguf", **changes)
    assert str(caught.value) == message


def test_a_missing_model_path_is_named_too():
    with pytest.raises(ConfigError, match="model_path: Field required"):
        LlamaCppSettings()


def test_llama_cpp_is_imported_with_a_passive_wait_policy_unless_one_is_set(monkeypatch):
    pytest.importorskip("llama_cpp")
    monkeypatch.setenv("OMP_WAIT_POLICY", "")  # records the original value, restored after the test
    monkeypatch.delenv("OMP_WAIT_POLICY")
    assert import_llama_cpp().__name__ == "llama_cpp"
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    import_llama_cpp()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"


def test_without_llama_cpp_the_error_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    with pytest.raises(ConfigError) as caught:
        import_llama_cpp()
    assert str(caught.value) == "the offline teacher needs llama-cpp-python (pip install 'uue[local]')"

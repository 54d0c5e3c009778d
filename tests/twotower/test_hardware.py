"""Where training runs: `auto` picks the GPU when present; autocast is bf16 there (fp16 without bf16)
and off on CPU; peak memory is measured."""

from __future__ import annotations

import pytest
import torch

from uue.twotower.hardware import autocast_dtype, peak_memory_mb, resolve_device


def test_auto_is_the_gpu_when_one_is_present(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda") and resolve_device("cpu") == torch.device("cpu")


@pytest.mark.parametrize(("bf16", "expected"), [(True, torch.bfloat16), (False, torch.float16)])
def test_mixed_precision_only_on_a_gpu(monkeypatch, bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: bf16)
    assert autocast_dtype(torch.device("cuda"), mixed_precision=True) is expected
    assert autocast_dtype(torch.device("cuda"), mixed_precision=False) is None
    assert autocast_dtype(torch.device("cpu"), mixed_precision=True) is None


def test_peak_memory_on_cpu_is_the_process_resident_set():
    assert peak_memory_mb(torch.device("cpu")) > 50  # a Python process with torch loaded

"""Where the two-tower model trains: the device, its autocast precision, and the peak memory used."""

from __future__ import annotations

import resource

import torch


def resolve_device(name: str) -> torch.device:
    """`auto`: the GPU when one is present, else the CPU; any other name as torch reads it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def autocast_dtype(device: torch.device, mixed_precision: bool) -> torch.dtype | None:
    """bf16 on a GPU that has it, else fp16; None (fp32) on CPU or when mixed precision is off."""
    if device.type != "cuda" or not mixed_precision:
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def peak_memory_mb(device: torch.device) -> float:
    """The GPU's peak allocated memory, or this process's peak resident set on CPU (kB on Linux)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

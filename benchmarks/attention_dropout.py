"""What attention dropout costs a training step on CPU: `uue train --attention-dropout`.

    HF_HUB_OFFLINE=1 python benchmarks/attention_dropout.py [--batch-size 32] [--tokens 256] [--repeats 3]

One MNRL-sized step of base MiniLM, built as `uue train` builds it (`build_model`): forward and backward
over `--batch-size` sequences of `--tokens` word pieces (a quarter of them padded from token 200, as
real batches are), with MiniLM's own attention dropout (0.1) and with none. Prints seconds per step
(the first, warm-up step is dropped). With dropout PyTorch's CPU attention leaves its fused kernel.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from uue.trainers.student import build_model  # noqa: E402
from uue.trainers.student_config import TrainConfig  # noqa: E402


def step_seconds(dropout: float | None, batch: int, tokens: int, repeats: int) -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as folder:
        config = TrainConfig(triplets=Path(folder), out=Path(folder) / "m", attention_dropout=dropout)
        encoder = build_model(config)[0].auto_model
    encoder.train()
    generator = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 20000, (batch, tokens), generator=generator)
    mask = torch.ones_like(ids)
    mask[::4, 200:] = 0
    forward, backward = [], []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        hidden = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        middle = time.perf_counter()
        hidden.mean().backward()
        forward.append(middle - start)
        backward.append(time.perf_counter() - middle)
    return sum(forward[1:]) / repeats, sum(backward[1:]) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, batch {args.batch_size} x {args.tokens}"
    )
    print("| attention dropout | forward s | backward s | step s |\n|---|---|---|---|")
    for dropout, name in ((None, "0.1 (MiniLM's own)"), (0.0, "0")):
        forward, backward = step_seconds(dropout, args.batch_size, args.tokens, args.repeats)
        print(f"| {name} | {forward:.2f} | {backward:.2f} | {forward + backward:.2f} |", flush=True)


if __name__ == "__main__":
    main()

"""What the student reads: the share of SUBJECT's own tokens in its 256-token window, before and after.

Run: python benchmarks/student_view.py [--histories out/scale/histories] [--users 300]

Before: the teacher's rendering that `uue synth --mode pivot` writes as a triplet's context
(`render_segment`, context budget 1024, threads, parents and bodies included), of which the student
(MiniLM, max_seq_length 256) reads the first 256 word pieces. After: `render_student_view` within
256 word pieces. Both over each user's newest 16 activities; MiniLM's tokenizer counts.
"""

from __future__ import annotations

import argparse
import json
import os
from itertools import islice
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from transformers import AutoTokenizer  # noqa: E402

from uue.datasets.histories import iter_histories  # noqa: E402
from uue.datasets.render import SUBJECT, render_segment  # noqa: E402
from uue.datasets.student_view import render_student_view  # noqa: E402
from uue.eval.embedders import offline_minilm_path  # noqa: E402

WINDOW = 256


def own_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of SUBJECT's words in a `render_segment` text: each block's last `SUBJECT: ` line on."""
    spans, start = [], 0
    for block in text.split("\n\n"):
        at = block.rfind(f"{SUBJECT}: ")
        if at >= 0:
            spans.append((start + at + len(SUBJECT) + 2, start + len(block)))
        start += len(block) + 2
    return spans


def before_share(text: str, tokenizer) -> float:
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, truncation=False)
    offsets = encoded["offset_mapping"][:WINDOW]  # what the student reads
    spans = own_spans(text)
    own = sum(any(a <= s < b for a, b in spans) for s, _ in offsets)
    return own / max(1, len(offsets))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--histories", type=Path, default=Path("out/scale/histories"))
    parser.add_argument("--users", type=int, default=300)
    args = parser.parse_args()
    tokenizer = AutoTokenizer.from_pretrained(str(offline_minilm_path()))

    def count(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    before, after, shown_before, shown_after = [], [], [], []
    for history in islice(iter_histories(args.histories), args.users):
        recent = history.activities[-16:]
        old = render_segment(recent, 1024, numbered=False).text
        before.append(before_share(old, tokenizer))
        lengths = [count(block) + 1 for block in old.split("\n\n")]
        starts = np.cumsum(lengths) - lengths  # where each activity begins, in word pieces
        shown_before.append(int((starts < WINDOW).sum()))  # activities the window shows at least part of
        view = render_student_view(recent, WINDOW, count)
        after.append(view.subject_share)
        shown_after.append(view.kept)
    figures = {
        "users": len(before),
        "subject_share_before": round(float(np.mean(before)), 3),
        "subject_share_after": round(float(np.mean(after)), 3),
        "activities_in_window_before": round(float(np.mean(shown_before)), 2),
        "activities_in_window_after": round(float(np.mean(shown_after)), 2),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

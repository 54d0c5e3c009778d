"""DEVELOPMENT triplets for tests and benchmarks only, until `uue synth` writes real ones.

context = an earlier slice of a real user's history (rendered), positive = the thread title of the
user's held-out last activity, positive_broad = its subreddit, negative = another user's title.
No teacher is involved: `teacher_model` is "dev-heuristic" so nobody mistakes these for synth output.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable
from pathlib import Path

import datasets

from uue.datasets.histories import write_histories
from uue.datasets.records import Activity, History, ThreadContext
from uue.datasets.render import render_segment
from uue.datasets.triplets import TRIPLET_FEATURES

TOPICS = {
    "personalfinance": [
        "secured credit card payments",
        "paying off student loans",
        "index fund retirement savings",
        "emergency fund size",
    ],
    "MechanicalKeyboards": [
        "lubing linear switches",
        "hot-swap PCB choice",
        "keycap profiles compared",
        "split ergonomic boards",
    ],
    "Cooking": [
        "sourdough starter feeding",
        "cast iron seasoning",
        "braising short ribs",
        "knife sharpening angle",
    ],
    "running": ["marathon training plan", "shin splints recovery", "carbon plated shoes", "tempo run pacing"],
    "gardening": [
        "tomato blight prevention",
        "raised bed soil mix",
        "pruning fruit trees",
        "composting in winter",
    ],
    "buildapc": [
        "GPU for 1440p gaming",
        "airflow case fans",
        "PSU wattage headroom",
        "RAM timings explained",
    ],
}


def toy_histories(n_users: int = 24, activities_per_user: int = 6, seed: int = 0) -> list[History]:
    """Small hand-made Reddit-like histories: each user mostly stays in two topics."""
    rng = random.Random(seed)
    names = sorted(TOPICS)
    histories = []
    for u in range(n_users):
        user = f"user{u:03d}"
        own = [names[u % len(names)], names[(u * 7 + 1) % len(names)]]
        acts = []
        for i in range(activities_per_user):
            sub = own[i % 2] if rng.random() < 0.85 else rng.choice(names)
            title = rng.choice(TOPICS[sub])
            acts.append(
                Activity(
                    activity_id=f"{user}-a{i}",
                    user_id=user,
                    platform="reddit",
                    kind="comment",
                    timestamp=1_600_000_000 + 3600 * i,
                    text=f"My experience with {title}: it took a while but worked out. ({user} #{i})",
                    context=ThreadContext(
                        community=sub, title=f"Question about {title}", root_author=f"op{u}{i}"
                    ),
                    thread_id=f"t-{user}-{i}",
                )
            )
        histories.append(History(user, "reddit", acts))
    return histories


def dev_triplets_from_histories(
    histories: Iterable[History], seed: int = 0, budget: int = 512, min_activities: int = 3
) -> list[dict]:
    """One triplet per user (and per later activity with a title, up to 3), negatives from other users."""
    rng = random.Random(seed)
    rows: list[dict] = []
    for history in histories:
        acts = [a for a in history.activities if a.text.strip()]
        if len(acts) < min_activities:
            continue
        for cut in range(len(acts) - 1, max(min_activities - 2, len(acts) - 4), -1):
            target = acts[cut]
            if not target.context.title:
                continue
            context = render_segment(acts[:cut], budget=budget, numbered=False).text
            key = f"{history.user_id}:{target.activity_id}"
            rows.append(
                {
                    "triplet_id": hashlib.sha256(key.encode()).hexdigest()[:16],
                    "user_id": history.user_id,
                    "context": context,
                    "positive": target.context.title,
                    "positive_broad": f"r/{target.context.community}",
                    "cluster_indices": [cut],
                    "segment_activity_ids": [a.activity_id for a in acts[: cut + 1]],
                    "cluster_activity_ids": [target.activity_id],
                }
            )
    for row in rows:  # negative: a title of another user's triplet
        others = [r for r in rows if r["user_id"] != row["user_id"]]
        neg = rng.choice(others) if others else row
        row.update(
            negative=neg["positive"],
            negative_broad=neg["positive_broad"],
            negative_source="dev-random",
            judge_score=float("nan"),
            judge_reason="",
            teacher_model="dev-heuristic",
            program_hash="dev",
            source_record_ids=[],
        )
    return rows


def write_dev_triplets(rows: list[dict], out_dir: Path) -> Path:
    """Save like `uue synth`: `out_dir/triplets` (save_to_disk) and `out_dir/report.json`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    datasets.Dataset.from_list(rows, features=TRIPLET_FEATURES).save_to_disk(str(out_dir / "triplets"))
    report = {
        "kind": "dev-triplets",
        "teacher_model": "dev-heuristic",
        "triplets": len(rows),
        "users": len({r["user_id"] for r in rows}),
    }
    (out_dir / "report.json").write_text(json.dumps(report, indent=2))
    return out_dir


def write_toy_corpus(root: Path, n_users: int = 24) -> tuple[Path, Path]:
    """Toy histories under `root/histories` and dev triplets under `root/triplets`; returns both dirs."""
    histories = toy_histories(n_users)
    write_histories(histories, root / "hist")
    write_dev_triplets(dev_triplets_from_histories(histories), root / "trip")
    return root / "hist", root / "trip"

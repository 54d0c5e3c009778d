"""Dataset cards: a README.md whose `configs:` lets `datasets.load_dataset(DIR)` load each part.

Only descriptions and file patterns: a card never holds a row of the data.
"""

from __future__ import annotations

from pathlib import Path

import yaml


def write_card(
    directory: Path, title: str, description: str, configs: dict[str, str], columns: dict[str, str]
) -> Path:
    """configs: {config name: data_files glob, relative to `directory`}; the first is the default.
    columns: {column: what it holds}, for the reader."""
    entries = [
        {
            "config_name": name,
            "data_files": [{"split": "train", "path": glob}],
            **({"default": True} if i == 0 else {}),
        }
        for i, (name, glob) in enumerate(configs.items())
    ]
    front = yaml.safe_dump({"configs": entries, "tags": ["uue"]}, sort_keys=False)
    lines = [f"---\n{front}---", f"# {title}", "", description, "", "| column | holds |", "|---|---|"]
    lines += [f"| `{column}` | {text} |" for column, text in columns.items()]
    lines += [
        "",
        "Load a part with `datasets.load_dataset(DIR, NAME)`; " + ", ".join(f"`{n}`" for n in configs) + ".",
    ]
    path = directory / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path


HISTORY_COLUMNS = {
    "user_id": "the platform's user id",
    "platform": "reddit, synthpai, ...",
    "num_activities": "activities of the user",
    "activities": "the user's activities, oldest first; each points to its thread (`context_id`, in `threads`) "
    "and parent messages (`parent_ids`, in `messages`)",
}
TRIPLET_COLUMNS = {
    "triplet_id": "stable id (resume and dedup key)",
    "user_id": "whose history the query is",
    "context": "the query: the user's history in the student's view, without the labelled thread",
    "positive": "the teacher's specific label",
    "positive_broad": "its broad category",
    "negative": "the hard negative: another user's label (mined or reranked)",
    "teacher_model": "the LLM that wrote the labels",
    "program_hash": "hash of the teacher program's state",
}

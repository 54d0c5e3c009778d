"""Zero-shot personal attributes on SynthPAI: an external check with human-checked labels (seed 003).

SynthPAI (`comments_eval_revised.jsonl`) holds, per user, a human reviewer's guess of each attribute
and whether it matched the synthetic profile (`reviews.human_evaluated.<attribute>.acc_gt == 1`); only
those checked values are used. Each value becomes a statement ("SUBJECT is in their thirties",
"SUBJECT works as a graphic designer"); per attribute, every user's history ranks the distinct
statements of that attribute (`statement_scores`, the scorer of `uue infer`), and the rank of its own
gives top-1 accuracy and MRR. `prior` ranks the statements by how many *other* users hold them: what a
model that reads nothing gets. Nothing is trained on SynthPAI.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from uue.datasets.records import History
from uue.errors import InputError
from uue.eval.embedders import Embedder
from uue.eval.metrics import ranks_of_target
from uue.eval.statements import statement_scores
from uue.eval.user_vectors import Pooling

DECADES = {1: "teens", 2: "twenties", 3: "thirties", 4: "forties", 5: "fifties", 6: "sixties", 7: "seventies",
           8: "eighties", 9: "nineties"}  # fmt: skip
RELATIONSHIP = {
    "single": "single",
    "married": "married",
    "divorced": "divorced",
    "widowed": "widowed",
    "engaged": "engaged",
    "engaged/married": "engaged",
    "in relationship": "in a relationship",
    "in a relationship": "in a relationship",
}
EDUCATION = {
    "college degree": "SUBJECT has a college degree",
    "master's": "SUBJECT has a master's degree",
    "phd": "SUBJECT has a PhD",
    "in college/hs diploma": "SUBJECT is in college or has a high-school diploma",
}


def _age(value: str) -> str | None:
    found = re.search(r"\d+", value)
    decade = int(found.group()) // 10 if found else 0
    return f"SUBJECT is in their {DECADES[decade]}" if decade in DECADES else None


def _occupation(value: str) -> str:
    if value in ("retired", "unemployed", "a student", "student"):
        return f"SUBJECT is {value.removeprefix('a ')}" if value != "student" else "SUBJECT is a student"
    return f"SUBJECT works as {'an' if value[0] in 'aeiou' else 'a'} {value}"


STATEMENTS = {
    "age": _age,
    "sex": lambda v: {"female": "SUBJECT is a woman", "male": "SUBJECT is a man"}.get(v),
    "relationship_status": lambda v: f"SUBJECT is {RELATIONSHIP[v]}" if v in RELATIONSHIP else None,
    "education_category": EDUCATION.get,
    "income_level": lambda v: f"SUBJECT has a {v} income",
    "occupation": _occupation,
    "city_country": lambda v: f"SUBJECT lives in {v.title()}",
}


def checked_statements(path: str | Path) -> dict[str, dict[str, str]]:
    """{user: {attribute: statement}} of every human-checked value SynthPAI holds."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), "file not found", hint="SynthPAI's comments_eval_revised.jsonl")
    out: dict[str, dict[str, str]] = {}
    with open(path, encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                user, reviewed = row["username"], row["reviews"]["human_evaluated"]
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise InputError(str(path), f"not a SynthPAI user line ({error})", line=number) from None
            for attribute, to_statement in STATEMENTS.items():
                review = reviewed.get(attribute) or {}
                value = str(review.get("estimate") or "").strip().lower()
                statement = to_statement(value) if value and review.get("acc_gt") == 1 else None
                if statement:
                    out.setdefault(user, {})[attribute] = statement
    return out


def attribute_candidates(truths: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    """{attribute: distinct statements, sorted}."""
    found: dict[str, set[str]] = {}
    for by_attribute in truths.values():
        for attribute, statement in by_attribute.items():
            found.setdefault(attribute, set()).add(statement)
    return {attribute: sorted(statements) for attribute, statements in found.items()}


def attribute_ranks(
    embedder: Embedder | None,
    histories: Sequence[History],
    truths: dict[str, dict[str, str]],
    pooling: Pooling = Pooling.mean,
    max_windows: int = 16,
) -> dict[str, np.ndarray]:
    """{attribute: 0-based rank of each checked user's own statement}; users in `histories` order.
    `embedder=None` is the prior (popularity among the other users)."""
    candidates = attribute_candidates(truths)
    users = [h for h in histories if h.user_id in truths]
    everything = sorted({s for statements in candidates.values() for s in statements})
    column = {s: i for i, s in enumerate(everything)}
    if embedder is not None:
        scores = statement_scores(embedder, [h.activities for h in users], everything, pooling, max_windows)
    out = {}
    for attribute, statements in candidates.items():
        rows = [i for i, h in enumerate(users) if attribute in truths[h.user_id]]
        target = np.array([statements.index(truths[users[i].user_id][attribute]) for i in rows])
        if embedder is None:
            counts = Counter(truths[users[i].user_id][attribute] for i in rows)
            own = np.eye(len(statements))[target]  # [n, c]: leave the user's own vote out
            table = np.array([[counts[s] for s in statements]] * len(rows)) - own
        else:
            table = scores[np.ix_(rows, [column[s] for s in statements])]
        out[attribute] = ranks_of_target(table, target)
    return out

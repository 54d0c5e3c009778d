"""Seed 004's teacher side: a short natural-language profile of a user from their item history."""

from __future__ import annotations

import dspy

from uue.programs.behaviour import Behaviour
from uue.programs.checks import normalized
from uue.programs.retry import predict_valid

MIN_WORDS, MAX_WORDS = 6, 90
MAX_CHARS = 240  # about 40 words; the local grammar stops the string here


class DescribeUser(dspy.Signature):
    """Write a short profile of this person's tastes for a recommender system, from the items they
    chose (oldest first). Name concrete preferences (genres, themes, eras, styles) and what they
    turned to most recently. Two or three sentences in your own words: no list, no item titles."""

    items: str = dspy.InputField(desc="the items, oldest first, one per line")
    feedback: str = dspy.InputField(desc="what was wrong with your previous answer (empty at first)")
    profile: str = dspy.OutputField(desc="two or three sentences", max_length=MAX_CHARS)


def profile_problem(profile: str | None, items: str) -> str | None:
    words = (profile or "").split()
    if len(words) < MIN_WORDS:
        return "profile_too_short"
    if len(words) > MAX_WORDS:
        return "profile_too_long"
    if normalized(profile) in normalized(items):
        return "profile_copies_items"
    return None


class ProfileWriter(dspy.Module):
    """Returns a Prediction with `profile` ("" on failure), `failure` and `attempts`."""

    def __init__(self, attempts: int = 2):
        super().__init__()
        self.attempts = attempts
        self.describe = dspy.Predict(DescribeUser)

    def forward(self, items: str) -> dspy.Prediction:
        done = predict_valid(
            self.describe,
            {"items": items},
            lambda prediction: profile_problem(prediction.profile, items),
            self.attempts,
        )
        profile = done.prediction.profile.strip() if done.prediction else ""
        return dspy.Prediction(profile=profile, failure=done.failure, attempts=done.attempts)


BEHAVIOUR = Behaviour(
    name="profile",
    signature=DescribeUser,
    build=ProfileWriter,
    scripted_reply=lambda field, tag: {
        "profile": f"Scripted viewer {tag} enjoys thoughtful dramas and older comedies."
    },
    description="a user's items -> a short profile of their tastes (seed 004 distillation)",
)

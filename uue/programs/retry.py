"""One retry loop for every teacher module: call, validate, and re-ask with a hint on a bad answer.

Not `dspy.Refine`: Refine asks the LM for feedback in an extra call, while our validators already
know what was wrong, so the hint is free. A retry also changes `rollout_id` and raises the
temperature: at temperature 0 the same prompt would give the same wrong answer.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dspy
from dspy import lm15
from dspy.utils.exceptions import (
    AdapterParseError,
    ContextWindowExceededError,
    LMInvalidRequestError,
    LMTimeoutError,
)

from uue.errors import TeacherError

# Failures of one call that another attempt can fix, or that fail only this unit (a prompt over the
# context window); anything else (auth, unreachable server) stops the run, which the resume store
# makes cheap to restart. `dspy.LM` raises its own `LM*` errors; lm15's come from direct engine use.
RECOVERABLE = (
    AdapterParseError,
    LMTimeoutError,
    LMInvalidRequestError,  # ContextWindowExceededError is one
    lm15.TimeoutError,
    lm15.InvalidRequestError,  # ContextLengthError is one
)
RETRY_TEMPERATURE = 0.7


@dataclass(frozen=True)
class Attempted:
    """The first valid prediction, or None and the reason code of the last failure."""

    prediction: dspy.Prediction | None
    failure: str | None
    attempts: int


def failure_reason(error: Exception) -> str:
    if isinstance(error, AdapterParseError):
        return "unparsable_output"
    if isinstance(error, (ContextWindowExceededError, lm15.ContextLengthError)):
        return "prompt_too_long"
    return f"lm_{type(error).__name__.removeprefix('LM').lower()}"


def hint_for(reason: str) -> str:
    return (
        f"Your previous answer was rejected ({reason.replace('_', ' ')}). "
        "Answer again and follow every instruction exactly."
    )


def predict_valid(
    predict: dspy.Predict,
    inputs: dict[str, Any],
    validate: Callable[[dspy.Prediction], str | None],
    attempts: int,
) -> Attempted:
    """Call `predict(**inputs, feedback=...)` up to `attempts` times until `validate` returns None."""
    feedback, reason = "", "no_attempt"
    for attempt in range(attempts):
        config = {} if attempt == 0 else {"rollout_id": attempt, "temperature": RETRY_TEMPERATURE}
        try:
            prediction = predict(**inputs, feedback=feedback, config=config)
        except RECOVERABLE as error:
            reason = failure_reason(error)
        else:
            reason = validate(prediction)
            if reason is None:
                return Attempted(prediction, None, attempt + 1)
        feedback = hint_for(reason)
    return Attempted(None, reason, attempts)


def stop_if_teacher_failed(failures: list[str | None], unit: str) -> None:
    """Raise before a unit is stored when the LM itself failed (after its own retries): an unknown
    provider, a missing key, a dead server fail every unit alike, and a unit stored as finished with
    such a failure would be skipped by every rerun. Failures of the answer (junk, a copy) pass."""
    broken = next((f for f in failures if (f or "").startswith("lm_")), None)
    if broken:
        raise TeacherError(
            f"{unit}: the teacher call failed ({broken})",
            hint="check --teacher / --api-base, then rerun the same command to resume",
        )

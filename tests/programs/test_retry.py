"""The one retry loop of the teacher modules: what a retry changes (hint, rollout id, temperature),
which failures it absorbs, and when a failure of the LM itself stops the run."""

from __future__ import annotations

import dspy
import pytest
from dspy import lm15
from dspy.utils.exceptions import (
    AdapterParseError,
    ContextWindowExceededError,
    LMAuthError,
    LMInvalidRequestError,
    LMTimeoutError,
)

from uue.errors import TeacherError
from uue.programs.retry import (
    RETRY_TEMPERATURE,
    Attempted,
    failure_reason,
    hint_for,
    predict_valid,
    stop_if_teacher_failed,
)


class ScriptedPredict:
    """Answers (or raises) from a script, one entry per call, and records every call's arguments."""

    def __init__(self, *script):
        self.script = list(script)
        self.calls: list[dict] = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return dspy.Prediction(answer=step)


def _unparsable() -> AdapterParseError:
    return AdapterParseError("JSONAdapter", dspy.Signature("question -> answer"), "not json")


def _valid(prediction) -> str | None:
    return None if prediction.answer == "good" else "junk_answer"


def test_a_valid_first_answer_is_one_attempt_with_no_hint_and_default_sampling():
    predict = ScriptedPredict("good")
    result = predict_valid(predict, {"question": "q"}, _valid, attempts=3)
    assert result == Attempted(result.prediction, None, 1) and result.prediction.answer == "good"
    assert predict.calls == [{"question": "q", "feedback": "", "config": {}}]


def test_a_retry_carries_the_rejection_reason_a_new_rollout_and_a_warmer_temperature():
    predict = ScriptedPredict("bad", _unparsable(), "good")
    result = predict_valid(predict, {"question": "q"}, _valid, attempts=3)
    assert result.failure is None and result.attempts == 3 and result.prediction.answer == "good"
    first, second, third = predict.calls
    assert first["config"] == {} and first["feedback"] == ""
    assert second["feedback"] == hint_for("junk_answer") and "(junk answer)" in second["feedback"]
    assert second["config"] == {"rollout_id": 1, "temperature": RETRY_TEMPERATURE}
    assert third["feedback"] == hint_for("unparsable_output")
    assert third["config"] == {"rollout_id": 2, "temperature": RETRY_TEMPERATURE}


def test_after_the_last_attempt_the_last_failure_is_the_reason():
    predict = ScriptedPredict("bad", LMTimeoutError("slow"))
    assert predict_valid(predict, {}, _valid, attempts=2) == Attempted(None, "lm_timeouterror", 2)
    assert predict_valid(ScriptedPredict(), {}, _valid, attempts=0) == Attempted(None, "no_attempt", 0)


def test_an_unrecoverable_lm_error_is_not_absorbed():
    with pytest.raises(LMAuthError):
        predict_valid(ScriptedPredict(LMAuthError("bad key")), {}, _valid, attempts=3)


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (_unparsable(), "unparsable_output"),
        (ContextWindowExceededError(), "prompt_too_long"),
        (lm15.ContextLengthError("too long"), "prompt_too_long"),
        (LMTimeoutError("slow"), "lm_timeouterror"),
        (lm15.TimeoutError("slow"), "lm_timeouterror"),
        (LMInvalidRequestError("bad"), "lm_invalidrequesterror"),
    ],
)
def test_failure_reason_codes(error, reason):
    assert failure_reason(error) == reason


def test_only_failures_of_the_lm_itself_stop_the_run_naming_the_unit():
    stop_if_teacher_failed([None, "junk_answer", "prompt_too_long", "unparsable_output"], "user alice")
    with pytest.raises(TeacherError) as caught:
        stop_if_teacher_failed([None, "lm_timeouterror", "lm_autherror"], "user alice")
    message = str(caught.value)
    assert message.startswith("user alice: the teacher call failed (lm_timeouterror)")
    assert "--teacher" in message and "\n" not in message

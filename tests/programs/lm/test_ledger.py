"""The token ledger's arithmetic: per-unit totals with `take`, totals saved and read back, entries
without a uuid, usage objects, and the metrics handed to MLflow (tokens and cache hits are counted
in tests/programs/test_lm.py)."""

from __future__ import annotations

from types import SimpleNamespace

from uue.programs.lm.ledger import LLMUsage, ModelTotals, TokenLedger


def _call(uuid: str | None, prompt: int, completion: int, cost: float | None = None, model="local/m") -> dict:
    entry = {
        "model": model,
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion},
        "cost": cost,
    }
    return entry if uuid is None else {**entry, "uuid": uuid}


def test_take_returns_what_only_the_new_entries_cost():
    ledger = TokenLedger()
    history = [_call("1", 100, 10)]
    first = ledger.take(history)
    history += [_call("2", 50, 5, cost=0.5, model="openai/x"), {"uuid": "3", "model": "local/m", "usage": {}}]
    second = ledger.take(history)
    assert (first["calls"], first["prompt_tokens"], first["cost_usd"]) == (1, 100, None)
    assert (second["calls"], second["cached_calls"], second["generated_calls"]) == (2, 1, 1)
    assert (second["prompt_tokens"], second["completion_tokens"], second["total_tokens"]) == (50, 5, 55)
    assert second["cost_usd"] == 0.5 and second["priced_calls"] == 1
    assert ledger.take(history)["calls"] == 0  # nothing new


def test_entries_without_a_uuid_are_counted_each_time_they_are_given():
    ledger = TokenLedger()
    assert ledger.update([_call(None, 10, 1)]) == 1
    assert ledger.update([_call(None, 10, 1)]) == 1
    assert ledger.total().prompt_tokens == 20


def test_usage_may_be_an_object_and_a_missing_model_is_unknown():
    usage = SimpleNamespace(
        prompt_tokens=7, completion_tokens=3, prompt_tokens_details=SimpleNamespace(cached_tokens=4)
    )
    ledger = TokenLedger.from_history([{"uuid": "1", "model": None, "usage": usage, "cost": 0.0}])
    totals = ledger.models["unknown"]
    assert (totals.prompt_tokens, totals.completion_tokens, totals.cached_prompt_tokens) == (7, 3, 4)
    assert ledger.as_dict()["cost_usd"] == 0.0  # a known price of 0 is a price: not None


def test_totals_round_trip_through_their_dict_and_missing_figures_are_zero():
    totals = ModelTotals(calls=3, cached_calls=1, prompt_tokens=90, completion_tokens=12,
                         cached_prompt_tokens=30, cost_usd=0.25, priced_calls=2)  # fmt: skip
    assert ModelTotals.from_dict(totals.as_dict()) == totals
    assert ModelTotals.from_dict({"calls": 2, "cost_usd": None}) == ModelTotals(calls=2)
    assert totals.minus(ModelTotals(calls=1, prompt_tokens=90)) == ModelTotals(
        calls=2, cached_calls=1, completion_tokens=12, cached_prompt_tokens=30, cost_usd=0.25, priced_calls=2
    )


def test_costs_are_rounded_to_micro_dollars_and_summed_over_models():
    ledger = TokenLedger.from_history(
        [_call("1", 1, 1, cost=0.1234567, model="openai/a"), _call("2", 1, 1, cost=0.1, model="openai/b")]
    )
    report = ledger.as_dict()
    assert report["cost_usd"] == 0.223457 and list(report["per_model"]) == ["openai/a", "openai/b"]
    assert report["per_model"]["openai/a"]["cost_usd"] == 0.123457


def test_mlflow_metrics_are_the_numeric_totals_with_a_prefix():
    ledger = TokenLedger.from_history([_call("1", 10, 2)])  # local: no price, cost_usd is None
    metrics = ledger.mlflow_metrics("llm_")
    assert metrics["llm_calls"] == 1.0 and metrics["llm_total_tokens"] == 12.0
    assert "llm_cost_usd" not in metrics and "llm_per_model" not in metrics
    assert all(isinstance(value, float) for value in metrics.values())


def test_reports_hold_the_ledger_as_a_typed_usage_with_every_figure():
    ledger = TokenLedger.from_history([_call("1", 100, 10), _call("2", 50, 5, cost=0.5, model="openai/x")])
    usage = LLMUsage.model_validate(ledger.as_dict())
    assert (usage.calls, usage.generated_calls, usage.total_tokens, usage.cost_usd) == (2, 2, 165, 0.5)
    assert usage.per_model["local/m"].prompt_tokens == 100 and usage.per_model["local/m"].cost_usd is None
    assert usage.model_dump() == ledger.as_dict()  # no figure lost or renamed on the way to report.json

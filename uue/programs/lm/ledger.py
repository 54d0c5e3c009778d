"""Token and cost ledger of a run, built from DSPy LM history entries.

DSPy 3.4.1 writes one history entry per LM call (`lm.history`, and the process-wide
`dspy.clients.base_lm.GLOBAL_HISTORY`, both capped at `dspy.settings.max_history_size`, 10,000 by
default). A response-cache hit is an entry whose `usage` is `{}`: DSPy drops the usage of a
cached result and keeps only the historical `cost` (which the ledger does not count again). No
`cache_hit` flag reaches the entry. Prompt tokens reused from a provider's or llama.cpp's prompt
cache are `usage.prompt_tokens_details.cached_tokens`.

Call `ledger.update(lm.history)` after each batch (entries are deduplicated by their `uuid`) so
that a long run is counted before the capped history drops old entries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field

logger = logging.getLogger(__name__)


@dataclass
class ModelTotals:
    """Totals of one model."""

    calls: int = 0
    cached_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_prompt_tokens: int = 0
    cost_usd: float = 0.0
    priced_calls: int = 0

    def add(self, other: ModelTotals) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def minus(self, other: ModelTotals) -> ModelTotals:
        return ModelTotals(
            **{name: getattr(self, name) - getattr(other, name) for name in self.__dataclass_fields__}
        )

    @classmethod
    def from_dict(cls, figures: Mapping[str, Any]) -> ModelTotals:
        """Back from `as_dict` (a missing or None figure counts as 0)."""
        return cls(**{name: figures.get(name) or 0 for name in cls.__dataclass_fields__})

    def as_dict(self) -> dict[str, Any]:
        generated = self.calls - self.cached_calls
        return {
            "calls": self.calls,
            "cached_calls": self.cached_calls,
            "generated_calls": generated,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "cached_prompt_tokens": self.cached_prompt_tokens,
            # None when no generated call had a known price (local models, unknown providers).
            "cost_usd": round(self.cost_usd, 6) if self.priced_calls else None,
            "priced_calls": self.priced_calls,
        }


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(key, default)
    return getattr(obj, key, default)


def _litellm_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Price from LiteLLM's (bundled, see offline.py) cost map; None for unknown or local models.
    A provider prefix LiteLLM does not know (`local/`, the tests' `scripted/`) is not looked up:
    LiteLLM would print its whole provider list for it."""
    if model.startswith("local/"):  # the offline teacher: not even the LiteLLM import
        return None
    import litellm

    provider = model.split("/", 1)[0] if "/" in model else None
    if provider is not None and provider not in litellm.provider_list:
        return None
    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
    except Exception:  # unknown model: LiteLLM raises a bare Exception / NotFoundError
        return None
    return float(prompt_cost) + float(completion_cost)


class UsageFigures(BaseModel):
    """`ModelTotals.as_dict` as a typed record: what reports hold."""

    calls: int = 0
    cached_calls: int = 0  # answered from DSPy's response cache
    generated_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0
    cached_prompt_tokens: int = 0  # reused from the provider's or llama.cpp's prompt cache
    cost_usd: float | None = None  # None when no generated call had a known price
    priced_calls: int = 0


class LLMUsage(UsageFigures):
    """The teacher usage of a stage (`TokenLedger.as_dict`): totals and `per_model`."""

    per_model: dict[str, UsageFigures] = Field(default_factory=dict)


@dataclass
class TokenLedger:
    """Calls, tokens (prompt, completion, prompt-cache reads), response-cache hits and cost per model."""

    models: dict[str, ModelTotals] = field(default_factory=dict)
    _seen: set[str] = field(default_factory=set, repr=False)

    @classmethod
    def from_history(cls, entries: Iterable[Mapping[str, Any]], **kwargs: Any) -> TokenLedger:
        ledger = cls(**kwargs)
        ledger.update(entries)
        return ledger

    def update(self, entries: Iterable[Mapping[str, Any]]) -> int:
        """Count the entries not counted before (by `uuid`); return how many were new."""
        new = 0
        for entry in entries:
            uid = entry.get("uuid")
            if uid is not None:
                if uid in self._seen:
                    continue
                self._seen.add(uid)
            self.add_entry(entry)
            new += 1
        return new

    def take(self, entries: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
        """`update`, returning the totals of just the new entries (what one unit of work cost)."""
        before = self.total()
        self.update(entries)
        return self.total().minus(before).as_dict()

    def add_entry(self, entry: Mapping[str, Any]) -> None:
        model = str(entry.get("model") or "unknown")
        totals = self.models.setdefault(model, ModelTotals())
        totals.calls += 1
        usage = entry.get("usage") or {}
        if not usage:
            totals.cached_calls += 1
            return
        prompt = int(_get(usage, "prompt_tokens", 0) or 0)
        completion = int(_get(usage, "completion_tokens", 0) or 0)
        totals.prompt_tokens += prompt
        totals.completion_tokens += completion
        details = _get(usage, "prompt_tokens_details") or {}
        totals.cached_prompt_tokens += int(_get(details, "cached_tokens", 0) or 0)
        cost = entry.get("cost")
        if cost is None:
            cost = _litellm_cost(model, prompt, completion)
        if cost is not None:
            totals.cost_usd += float(cost)
            totals.priced_calls += 1

    def total(self) -> ModelTotals:
        total = ModelTotals()
        for totals in self.models.values():
            total.add(totals)
        return total

    def as_dict(self) -> dict[str, Any]:
        """Flat totals plus `per_model`; JSON-serialisable, for report.json and MLflow."""
        return {
            **self.total().as_dict(),
            "per_model": {m: t.as_dict() for m, t in sorted(self.models.items())},
        }

    def mlflow_metrics(self, prefix: str = "teacher_") -> dict[str, float]:
        """The numeric totals, named for `mlflow.log_metrics`."""
        return {
            f"{prefix}{key}": float(val)
            for key, val in self.total().as_dict().items()
            if isinstance(val, (int, float)) and not isinstance(val, bool)
        }

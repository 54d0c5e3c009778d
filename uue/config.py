"""The one config style of the project: pydantic models, validated on construction, unknown keys rejected.

Every stage config (synth, compile, train, bench, seqrec, ...) derives from `Config`. A typo in a YAML
key or a saved config is an error that names the key, never a silently ignored setting.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from uue.errors import ConfigError

C = TypeVar("C", bound="Config")


class Config(BaseModel):
    """Base of every config: unknown keys are rejected, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, protected_namespaces=())


def problems(error: ValidationError) -> str:
    """A ValidationError as one line: `section.key: message; ...` (an unknown key says so)."""
    parts = []
    for item in error.errors():
        where = ".".join(map(str, item["loc"])) or "config"
        message = "unknown key" if item["type"] == "extra_forbidden" else item["msg"]
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def config_from_dict(cls: type[C], raw: dict[str, Any], source: str = "config") -> C:
    """`cls(**raw)`, with a ConfigError naming the source and every bad or unknown key."""
    try:
        return cls(**raw)
    except ValidationError as error:
        raise ConfigError(f"{source}: {problems(error)}") from None

"""CLI options generated from the typed configs, so a default, a type or a help text lives in one place.

`config_options(TrainConfig)` turns each pydantic field into a typer option: `max_users: int | None`
becomes `--max-users INTEGER`, an Enum field lists and validates its choices before any work starts, a
bool becomes `--flag/--no-flag`, and the field's `description` is the help text. `@config_command`
puts those options beside a command's own parameters and hands the command the validated config.
"""

from __future__ import annotations

import enum
import functools
import inspect
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from uue.programs.lm import TeacherConfig

KEYWORD = inspect.Parameter.KEYWORD_ONLY


def _unwrap_optional(annotation: Any) -> Any:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


NONE = "none"  # the choice that sets an optional Literal field to None


def option_type(annotation: Any) -> tuple[Any, bool]:
    """(the annotation typer parses, whether it stands for a Literal) for one config field."""
    inner = _unwrap_optional(annotation)
    optional = inner is not annotation
    if typing.get_origin(inner) is typing.Literal:  # typer has no Literal: an Enum of its values
        choices = [str(v) for v in typing.get_args(inner)] + ([NONE] if optional else [])
        return enum.Enum("Choice", [(c, c) for c in choices], type=str), True
    return (inner | None if optional else inner), False


def field_option(
    name: str, field: FieldInfo, flag: str | None = None, text: bool = False
) -> inspect.Parameter:
    """The typer option of one field: its type, default and description; `flag` renames the option;
    `text`: one string the config parses itself (`--matryoshka-dims 32,64`)."""
    annotation, literal = (str | None, False) if text else option_type(field.annotation)
    default = ... if field.is_required() else field.get_default(call_default_factory=True)
    if isinstance(default, enum.Enum):
        default = default.value
    if isinstance(default, list) and not default:
        default = None  # typer: an empty repeatable option
    if default is None and literal:
        default = NONE
    option = typer.Option(*([flag] if flag else []), help=field.description or "")
    return inspect.Parameter(name, KEYWORD, default=default, annotation=Annotated[annotation, option])


def config_options(
    model: type[BaseModel],
    names: Iterable[str],
    flags: dict[str, str] | None = None,
    text: Iterable[str] = (),
) -> list[inspect.Parameter]:
    """One typer option per named field of `model`, in the given order."""
    flags, text = flags or {}, set(text)
    return [field_option(name, model.model_fields[name], flags.get(name), name in text) for name in names]


def _field_value(field: FieldInfo, value: Any) -> Any:
    return (
        None
        if value == NONE and typing.get_origin(_unwrap_optional(field.annotation)) is typing.Literal
        else value
    )


# The teacher options of every command that calls the teacher (option -> TeacherConfig field).
TEACHER_FIELDS = {
    "teacher": "model",
    "api_base": "api_base",
    "max_tokens": "max_tokens",
    "call_timeout": "timeout_s",  # a server that accepts and never answers fails after this
    "retries": "num_retries",
    "prefill_json": "prefill_json",
    "parallel": "parallel",  # activity labelling batches this many calls on a local model
}


def teacher_options() -> list[inspect.Parameter]:
    fields = TeacherConfig.model_fields
    return [field_option(option, fields[field]) for option, field in TEACHER_FIELDS.items()]


def teacher_config(values: dict[str, Any]) -> TeacherConfig:
    """Pops the teacher options out of a command's arguments into a TeacherConfig."""
    return TeacherConfig(**{field: values.pop(option) for option, field in TEACHER_FIELDS.items()})


def config_command(
    model: type[BaseModel],
    exclude: Iterable[str] = (),
    teacher: bool = False,
    flags: dict[str, str] | None = None,
    text: Iterable[str] = (),
) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Decorator: `fn(config, **own)` becomes a typer command with `model`'s fields as options.

    The command's own parameters (arguments, and options that are not fields, such as `--task`) come
    first in `--help`. `teacher=True` adds `--teacher/--api-base/--max-tokens/--call-timeout/--retries/--prefill-json/--parallel`
    and fills the `teacher` field. `exclude`: fields with no option (left at their defaults; the command
    may replace them from its own parameters).
    `flags`: option names that differ from the field's (`{"baselines": "--baseline"}`). `text`: fields
    given as one string that the config's validator parses.
    """
    excluded = {*exclude, "teacher"} if teacher else set(exclude)
    fields = [name for name in model.model_fields if name not in excluded]

    def decorate(fn: Callable[..., None]) -> Callable[..., None]:
        own = [p for name, p in inspect.signature(fn, eval_str=True).parameters.items() if name != "config"]
        positional = [p for p in own if p.kind is not KEYWORD]
        keyword = [p for p in own if p.kind is KEYWORD]
        generated = config_options(model, fields, flags, text) + (teacher_options() if teacher else [])
        generated.append(config_file_option(model, fields, flags))

        @functools.wraps(fn)
        def command(**values: Any) -> None:
            values.pop(CONFIG_FILE)  # already read: its values are the options' defaults
            chosen = {name: _field_value(model.model_fields[name], values.pop(name)) for name in fields}
            # a repeatable option given no value arrives as None: the field that takes no None keeps its default
            chosen = {name: v for name, v in chosen.items() if v is not None or _takes_none(model, name)}
            if teacher:
                chosen["teacher"] = teacher_config(values)
            return fn(model(**chosen), **values)

        command.__signature__ = inspect.Signature([*positional, *keyword, *generated])
        return command

    return decorate


CONFIG_FILE = "config_file"


def config_file_option(
    model: type[BaseModel], fields: list[str], flags: dict[str, str] | None = None
) -> inspect.Parameter:
    """`--config FILE.yaml`: a mapping of the command's options (`max-steps: 10` or `max_steps: 10`).

    Read before the other options (eager) into click's `default_map`, so the file's values replace the
    defaults (required options included) and a flag given beside the file wins."""
    renamed = {(flags or {}).get(name, name).lstrip("-").replace("-", "_"): name for name in fields}

    def load(ctx: typer.Context, path: Path | None) -> Path | None:
        if path is None or ctx.resilient_parsing:
            return path
        try:
            found = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as error:
            raise typer.BadParameter(f"{path}: {error}".splitlines()[0]) from None
        if not isinstance(found, dict):
            raise typer.BadParameter(f"{path}: expected a mapping of option names to values")
        defaults = {}
        for key, value in found.items():
            name = renamed.get(str(key).replace("-", "_"))
            if name is None:
                raise typer.BadParameter(f"{path}: unknown option {key!r} for {model.__name__}")
            defaults[name] = [str(v) for v in value] if isinstance(value, list) else value
        ctx.default_map = {**(ctx.default_map or {}), **defaults}
        return path

    option = typer.Option(
        "--config", help=f"YAML file of these options ({model.__name__} fields); flags beside it win",
        is_eager=True, callback=load, exists=True, dir_okay=False,
    )  # fmt: skip
    return inspect.Parameter(CONFIG_FILE, KEYWORD, default=None, annotation=Annotated[Path | None, option])


def _takes_none(model: type[BaseModel], name: str) -> bool:
    return _unwrap_optional(model.model_fields[name].annotation) is not model.model_fields[name].annotation

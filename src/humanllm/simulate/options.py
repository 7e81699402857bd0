"""Command-line options made from a pydantic model's fields, so an application's command follows
its options model: one option per field, ``--<field>`` (``_`` as ``-``) unless its
:class:`~humanllm.simulate.schemas.Flag` names it, the field's bounds as the option's, its
description (or the flag's help) as the help. Every option defaults to None (unset), so an input
file or a genome user can supply the field and a flag overrides it only when given.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
import typer
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from humanllm.simulate.schemas import Flag


@dataclass(frozen=True)
class FieldOption:
    """One field's option: the parameter typer sees, and how its value becomes the field's."""

    field: str
    param: inspect.Parameter
    parse: Callable[[str], Any] | None
    many: bool


def _flag(info: FieldInfo) -> Flag:
    return next((m for m in info.metadata if isinstance(m, Flag)), Flag())


def _bounds(info: FieldInfo) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for m in info.metadata:
        if isinstance(m, annotated_types.Ge):
            out["min"] = m.ge
        elif isinstance(m, annotated_types.Le):
            out["max"] = m.le
    return out


def _plain(annotation: Any) -> tuple[type, bool]:
    """The option's value type and whether it repeats (a list field)."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    if get_origin(annotation) in (Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    if get_origin(annotation) is list:
        return str, True
    if annotation in (int, float, bool):
        return annotation, False
    if get_origin(annotation) is Literal or annotation is str:
        return str, False
    return str, False


def field_options(model: type[BaseModel], skip: tuple[str, ...] = ()) -> list[FieldOption]:
    """The options of ``model``'s fields, in field order, but for those in ``skip``."""
    out = []
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        flag = _flag(info)
        kind, many = _plain(info.annotation)
        decls = [flag.name or f"--{name.replace('_', '-')}", *([flag.short] if flag.short else [])]
        option = typer.Option(*decls, help=flag.help or info.description, **_bounds(info))
        value_type = list[str] if many else kind
        param = inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[value_type | None, option],  # type: ignore[valid-type]
        )
        out.append(FieldOption(name, param, flag.parse, many))
    return out


def field_values(options: list[FieldOption], given: dict[str, Any]) -> dict[str, Any]:
    """The fields the flags set: each option's value, parsed, when it was given."""
    out: dict[str, Any] = {}
    for o in options:
        value = given.get(o.field)
        if value in (None, [], ()):
            continue
        if o.parse is not None:
            value = [o.parse(v) for v in value] if o.many else o.parse(value)
        out[o.field] = value
    return out


def command(
    run: Callable[..., None], params: list[inspect.Parameter], name: str, doc: str
) -> Callable[..., None]:
    """``run(**values)`` as a function whose signature is ``params`` (what typer reads)."""

    def cmd(**values: Any) -> None:
        run(**values)

    cmd.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    cmd.__annotations__ = {p.name: p.annotation for p in params}
    cmd.__name__ = cmd.__qualname__ = f"{name}_cmd"
    cmd.__doc__ = doc
    return cmd

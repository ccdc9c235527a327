"""Typed stack settings read from cdk.json context, with errors that say what to fix.

Each stack has a frozen dataclass of settings. :func:`settings_from_context` fills it from
the mapping under the stack's context key (``cdk.json`` → ``context.<key>``, or
``cdk synth -c <key>='{...}'``), checking names and types and reporting every problem at once.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from cdk_llm_serving import PropsValidationError

T = TypeVar("T")


def _type_name(tp: Any) -> str:
    return (
        " or ".join(getattr(a, "__name__", str(a)) for a in typing.get_args(tp)) if typing.get_args(tp) else tp.__name__
    )


def _coerce(value: Any, tp: Any) -> tuple[bool, Any]:
    """(ok, value) for simple field types: bool, int, float, str, optional of those."""
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return True, None
        return next(
            ((True, v) for a in args if a is not type(None) for ok, v in [_coerce(value, a)] if ok), (False, value)
        )
    if tp is bool:
        return isinstance(value, bool), value
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool), float(value) if isinstance(
            value, (int, float)
        ) else value
    if tp is str:
        return isinstance(value, str), value
    return True, value


def settings_from_context(
    cls: type[T],
    raw: Any,
    *,
    context_key: str,
    parsers: Mapping[str, Callable[[Any, list[str]], Any]] | None = None,
    problems: list[str] | None = None,
) -> T:
    """Build settings ``cls`` from the context value ``raw``.

    :param parsers: for fields with structured values, a function ``(raw_value, problems) -> value``
        that appends problems instead of raising; ``None`` (nothing usable) leaves the field at its default.
    :param problems: collect name and type problems here (the faulty settings keep their defaults) instead of
        raising, so the caller can add its own checks and report everything at once.
    """
    parsers = parsers or {}
    where = f"cdk.json context '{context_key}'"
    if isinstance(raw, str):  # `cdk synth -c chat='{"auth": "iam"}'` arrives as a string
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise PropsValidationError(f"{where}", [f"not valid JSON: {exc}"]) from None
    raw = raw or {}
    if not isinstance(raw, Mapping):
        raise PropsValidationError(where, [f"must be a JSON object, got {type(raw).__name__}"])
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    collect = problems is not None
    problems = problems if problems is not None else []
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in fields:
            problems.append(f"unknown setting {key!r}; known settings: {', '.join(sorted(fields))}")
            continue
        if key in parsers:
            parsed = parsers[key](value, problems)
            if parsed is not None:
                values[key] = parsed
            continue
        ok, coerced = _coerce(value, hints[key])
        if ok:
            values[key] = coerced
        else:
            problems.append(f"setting {key!r} must be {_type_name(hints[key])}, got {json.dumps(value)}")
    if problems and not collect:
        raise PropsValidationError(where, problems)
    return cls(**values)

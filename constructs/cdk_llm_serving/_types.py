"""Run-time type checks of props, so a wrong Python type fails with a message that names the prop.

jsii type-checks values only when they reach aws-cdk-lib; our own props (ints, strings, enums,
option dataclasses, ``cdk.Duration``) would otherwise fail later with a misleading message
(``max_tokens_cap="4096"`` → "must be between 1 and 1000000, got 4096") or an AttributeError
(``auth="iam"``). Two entry points, one checker:

- :func:`typed_props` decorates a construct's ``__init__``: every keyword argument is checked
  against its annotation before the constructor runs, and all mismatches are raised at once as one
  :class:`PropsTypeError` naming the construct path.
- :class:`TypedOptions` is a mixin for the frozen option dataclasses: their fields are checked in
  ``__post_init__``.

Only types this library can judge are checked: builtins, enums, dataclasses, ``cdk.Duration`` and
other concrete classes, ``Sequence``/``Mapping``/``list``/``dict``/``tuple`` and unions of them.
jsii interfaces (``iam.IRole``, ``ec2.IVpc`` …) are left to jsii, which checks them itself.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import functools
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class PropsTypeError(TypeError):
    """Raised at synth time when props have the wrong Python type; ``problems`` lists every one."""

    def __init__(self, subject: str, problems: list[str]) -> None:
        self.subject = subject
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"wrong prop types for {subject} ({len(problems)} problem(s)):\n{lines}")


def _describe(tp: Any) -> str:
    if tp is type(None):
        return "None"
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in typing.get_args(tp))
    if origin is typing.Literal:
        return " or ".join(repr(a) for a in typing.get_args(tp))
    if origin is not None:
        args = ", ".join(_describe(a) for a in typing.get_args(tp))
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{args}]" if args else name
    if tp is Any:
        return "any value"
    if isinstance(tp, type):
        module = tp.__module__
        if module.startswith("aws_cdk"):
            return f"{module.replace('aws_cdk.', '').replace('aws_cdk', 'cdk')}.{tp.__name__}"
        return tp.__name__
    return str(tp)


def _checkable(tp: type) -> bool:
    """False for jsii interfaces (``IRole``, ``IVpc``): isinstance cannot judge them, jsii does."""
    if getattr(tp, "__jsii_type__", None) is not None and tp.__name__.startswith("I") and tp.__name__[1:2].isupper():
        return False
    return not getattr(tp, "_is_protocol", False)


def matches(value: Any, tp: Any) -> bool:
    """Whether ``value`` is of type ``tp`` as far as this module can tell (unknown shapes pass)."""
    if tp is Any or tp is object:
        return True
    if tp is None or tp is type(None):
        return value is None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return any(matches(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if origin in (
        list,
        collections.abc.Sequence,
        collections.abc.MutableSequence,
        tuple,
        set,
        frozenset,
        collections.abc.Set,
        collections.abc.Iterable,
        collections.abc.Collection,
    ):
        container = {list: list, tuple: tuple, set: set, frozenset: frozenset}.get(origin, collections.abc.Iterable)
        if not isinstance(value, container) or isinstance(value, (str, bytes)) and origin is not str:
            return False
        if origin is tuple and args and args[-1] is not Ellipsis:
            return len(value) == len(args) and all(matches(v, a) for v, a in zip(value, args, strict=True))
        item = args[0] if args else Any
        return all(matches(v, item) for v in value)
    if origin in (dict, collections.abc.Mapping, collections.abc.MutableMapping):
        if not isinstance(value, collections.abc.Mapping):
            return False
        key_t, val_t = args if args else (Any, Any)
        return all(matches(k, key_t) and matches(v, val_t) for k, v in value.items())
    if origin is not None:  # Callable, type[...], other generics: not judged here
        return True
    if not isinstance(tp, type) or not _checkable(tp):
        return True
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool) or _is_number_token(value)
    return isinstance(value, tp)


def _is_number_token(value: Any) -> bool:
    """A CDK number token (``cdk.Token.as_number(...)``): a float that only CloudFormation resolves."""
    if not isinstance(value, float):
        return False
    import aws_cdk  # only for floats, which may be tokens

    return bool(aws_cdk.Token.is_unresolved(value))


def _element_problem(name: str, value: Any, tp: Any) -> str | None:
    """``name[i] must be ...`` when ``value`` is the right kind of sequence but one of its items is not."""
    for t in _flat(tp):
        origin, args = typing.get_origin(t), typing.get_args(t)
        kind = {list: list, tuple: tuple}.get(origin, (list, tuple))
        sequences = (list, tuple, collections.abc.Sequence, collections.abc.MutableSequence)
        if origin not in sequences or not isinstance(value, kind):
            continue
        if origin is tuple and args and args[-1] is not Ellipsis:
            continue
        for i, item in enumerate(value):
            if (found := problem(f"{name}[{i}]", item, args[0] if args else Any)) is not None:
                return found
    return None


def problem(name: str, value: Any, tp: Any) -> str | None:
    """The message for a mismatch, or None."""
    if matches(value, tp):
        return None
    if (element := _element_problem(name, value, tp)) is not None:
        return element
    hint = ""
    enum_type = next((a for a in _flat(tp) if isinstance(a, type) and issubclass(a, enum.Enum)), None)
    if isinstance(value, str) and enum_type is not None:
        hint = f" (use {enum_type.__name__}.{value.upper()})" if value.upper() in enum_type.__members__ else ""
    elif isinstance(value, str) and any(isinstance(a, type) and _has_factories(a) for a in _flat(tp)):
        factory = next(a for a in _flat(tp) if isinstance(a, type) and _has_factories(a))
        example = f"{factory.__name__}.{_example_factory(factory, value)}(...)"
        hint = f" (build it with a {factory.__name__} factory, e.g. {example})"
    elif (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and any(getattr(a, "__name__", "") == "Duration" for a in _flat(tp))
    ):
        hint = f" (use cdk.Duration.seconds({value}))"
    elif isinstance(value, str) and any(a in (int, float) for a in _flat(tp)):
        hint = f" (pass the number {value} without quotes)" if _numeric(value) else ""
    elif isinstance(value, (int, float)) and not isinstance(value, bool) and str in _flat(tp):
        hint = f' (pass the string "{value}" in quotes)'
    return f"{name} must be {_describe(tp)}, got {type(value).__name__} {value!r}{hint}"


def _flat(tp: Any) -> tuple[Any, ...]:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return typing.get_args(tp)
    return (tp,)


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _factories(cls: type) -> list[str]:
    return [n for n, v in vars(cls).items() if isinstance(v, (staticmethod, classmethod)) and not n.startswith("_")]


def _example_factory(cls: type, value: str) -> str:
    """The factory named like ``value`` (``"iam"`` -> ``iam``), else the first one."""
    names = _factories(cls)
    return next((n for n in names if n.lower() == value.lower()), names[0])


def _has_factories(cls: type) -> bool:
    return not issubclass(cls, enum.Enum) and bool(_factories(cls)) and cls.__module__.startswith("cdk_llm_serving")


def typed_props(init: F) -> F:
    """Check a construct ``__init__``'s keyword props against their annotations before it runs.

    The subject of the error is ``<Class> at <scope path>/<id>``, so the user sees which construct.
    """
    signature = inspect.signature(init)
    hints: dict[str, Any] | None = None

    @functools.wraps(init)
    def wrapper(self: Any, scope: Any, construct_id: str, *args: Any, **kwargs: Any) -> Any:
        nonlocal hints
        if hints is None:
            hints = typing.get_type_hints(init)
        bound = signature.bind(self, scope, construct_id, *args, **kwargs)
        problems = [
            p
            for name, value in bound.arguments.items()
            if name not in ("self", "scope", "construct_id", "id")
            and name in hints
            and (p := problem(name, value, hints[name])) is not None
        ]
        if problems:
            path = getattr(getattr(scope, "node", None), "path", "")
            where = f"{path}/{construct_id}" if path else construct_id
            raise PropsTypeError(f"{type(self).__name__} at {where}", problems)
        return init(self, scope, construct_id, *args, **kwargs)

    return typing.cast(F, wrapper)


class TypedOptions:
    """Mixin for option dataclasses: their fields are type-checked when the object is built."""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        problems = [
            p
            for f in dataclasses.fields(self)  # type: ignore[arg-type]
            if f.name in hints and (p := problem(f.name, getattr(self, f.name), hints[f.name])) is not None
        ]
        if problems:
            raise PropsTypeError(type(self).__name__, problems)

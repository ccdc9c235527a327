"""Type checks of the factory methods of the SageMaker family (``ModelSource.s3_prefix``, ``LlmContainer.lmi`` …).

The same checks as :func:`cdk_llm_serving._types.typed_props` (every argument against its annotation), plus one
that helps with the most common slip: a name where a construct is expected, e.g.
``ModelSource.s3_prefix("my-weights-bucket", …)``. jsii interfaces (``s3.IBucket``) cannot be judged with
``isinstance``, but a plain string or number is never one.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

from .._types import PropsTypeError, problem

F = TypeVar("F", bound=Callable[..., Any])

#: How to turn a name into the construct a jsii interface stands for.
_IMPORT_HINTS = {
    "IBucket": "import it: s3.Bucket.from_bucket_name(self, 'Weights', {value!r})",
    "ISecret": "import it: secretsmanager.Secret.from_secret_name_v2(self, 'Token', {value!r})",
    "IRole": "import it: iam.Role.from_role_arn(self, 'Role', {value!r})",
    "IKey": "import it: kms.Key.from_key_arn(self, 'Key', {value!r})",
}


def _interfaces(tp: Any) -> list[type]:
    args = typing.get_args(tp) if typing.get_origin(tp) in (typing.Union, types.UnionType) else (tp,)
    return [
        a
        for a in args
        if isinstance(a, type)
        and getattr(a, "__jsii_type__", None) is not None
        and a.__name__.startswith("I")
        and a.__name__[1:2].isupper()
    ]


def interface_problem(name: str, value: Any, tp: Any) -> str | None:
    """A plain value (str, number, bool) passed where only a jsii interface (a construct) is allowed."""
    interfaces = _interfaces(tp)
    if not interfaces or not isinstance(value, (str, int, float, bool)):
        return None
    if any(a in (str, int, float, bool) for a in typing.get_args(tp)):
        return None
    wanted = interfaces[0]
    module = wanted.__module__.replace("aws_cdk.", "")
    hint = _IMPORT_HINTS.get(wanted.__name__)
    fix = f" ({hint.format(value=value)})" if hint else ""
    return f"{name} must be {module}.{wanted.__name__}, got {type(value).__name__} {value!r}{fix}"


def typed_factory(subject: str) -> Callable[[F], F]:
    """Check a factory's arguments against its annotations; raise one :class:`PropsTypeError` naming ``subject``."""

    def decorate(factory: F) -> F:
        signature = inspect.signature(factory)
        hints: dict[str, Any] | None = None

        @functools.wraps(factory)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            nonlocal hints
            if hints is None:
                hints = typing.get_type_hints(factory)
            bound = signature.bind(*args, **kwargs)
            problems = [
                p
                for name, value in bound.arguments.items()
                if name in hints
                and (p := problem(name, value, hints[name]) or interface_problem(name, value, hints[name])) is not None
            ]
            if problems:
                raise PropsTypeError(subject, problems)
            return factory(*args, **kwargs)

        return typing.cast(F, wrapper)

    return decorate

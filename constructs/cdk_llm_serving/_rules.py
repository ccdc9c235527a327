"""Upstream rules, checked at synth time.

Schema-valid is not deployable: CloudFormation's schema, cdk-nag and cfn-lint see the shape of a
template, not what the system that consumes a value will do with it (an AWS API that rejects a
combination, a Helm chart that silently ignores an unknown key, an operator's admission webhook
that refuses a pod spec, a container entrypoint that routes a request down the wrong path).

Every such rule the library knows lives in one :class:`RuleSet` per construct family
(``<family>/rules.py``), written once, with:

- a stable id (``EKS.KNATIVE_PODSPEC``), used in the error text and in the negative test;
- the source it was read from (an API reference page, a chart file, an operator source file at a
  pinned tag), so a reader can check it again when the upstream version moves;
- a check that returns one problem string per violation (empty when the value is fine).

A construct runs its family's set over what it is about to emit and reports the problems through
:class:`~cdk_llm_serving._errors.ProblemCollector`, so every problem is reported at once and each
message carries its rule id. ``tests/test_rules.py`` holds a negative case for every registered
rule and fails when a rule has none.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeGuard, TypeVar

import aws_cdk as cdk

S = TypeVar("S")

Check = Callable[[Any], Iterable[str]]


@dataclass(frozen=True)
class Rule(Generic[S]):
    """One upstream rule: what it says, where it was read, and how to check it."""

    id: str
    summary: str
    source: str
    check: Callable[[S], Iterable[str]]

    def problems(self, subject: S) -> list[str]:
        return [f"[{self.id}] {p}" for p in self.check(subject)]


@dataclass
class RuleSet(Generic[S]):
    """The named rules of one construct family, applied to one kind of subject.

    >>> KNATIVE = RuleSet[dict]("EKS")
    >>> @KNATIVE.rule("EKS.EXAMPLE", "what the rule says", source="repo@tag: path:line")
    ... def _example(subject): ...
    """

    family: str
    rules: list[Rule[S]] = field(default_factory=list)

    def rule(
        self, rule_id: str, summary: str, *, source: str
    ) -> Callable[[Callable[[S], Iterable[str]]], Callable[[S], Iterable[str]]]:
        """Register the decorated function as the check of rule ``rule_id``."""
        if not rule_id.startswith(f"{self.family}."):
            raise ValueError(f"rule id {rule_id!r} must start with {self.family + '.'!r}")
        if any(r.id == rule_id for r in _ALL):
            raise ValueError(f"rule id {rule_id!r} is registered twice")
        if not source.strip():
            raise ValueError(f"rule {rule_id} needs its upstream source")

        def register(check: Callable[[S], Iterable[str]]) -> Callable[[S], Iterable[str]]:
            r = Rule(id=rule_id, summary=summary, source=source, check=check)
            self.rules.append(r)
            _ALL.append(r)
            return check

        return register

    def problems(self, subject: S) -> list[str]:
        """Every violation of every rule in this set, each prefixed with its rule id."""
        return [p for r in self.rules for p in r.problems(subject)]

    def __iter__(self) -> Iterator[Rule[S]]:
        return iter(self.rules)


_ALL: list[Rule[Any]] = []


# ---------------------------------------------------------------- checks many rules share


def literal(value: object) -> TypeGuard[str]:
    """A string synth can check: not ``None`` and not a CDK token (a token resolves only at deploy time, so rules
    skip it)."""
    return isinstance(value, str) and not cdk.Token.is_unresolved(value)


def breaks_pattern(value: object, pattern: re.Pattern[str], *, max_length: int | None = None) -> bool:
    """``value`` is a literal (:func:`literal`) that does not match ``pattern`` or is longer than ``max_length``."""
    return literal(value) and (pattern.match(value) is None or (max_length is not None and len(value) > max_length))


def breaks_length(value: object, min_length: int, max_length: int) -> bool:
    """``value`` is a literal (:func:`literal`) whose length is outside ``min_length``..``max_length``."""
    return literal(value) and not min_length <= len(value) <= max_length


def all_rules() -> list[Rule[Any]]:
    """Every registered rule of every family (import the families' ``rules`` modules first)."""
    from . import (  # noqa: F401
        bedrock_batch,
        bedrock_gateway,
        eks_inferentia,
        knowledge_base,
        lora_fleet,
        sagemaker_endpoint,
    )

    return list(_ALL)

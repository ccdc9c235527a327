"""Synth-time validation: collect every problem, raise once with a message that says what to change."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


class PropsValidationError(ValueError):
    """Raised at synth time when construct or stack properties are invalid.

    ``problems`` holds one line per problem; the message lists them all so a user fixes
    everything in one pass instead of one error per synth.
    """

    def __init__(self, subject: str, problems: Iterable[str]) -> None:
        self.subject = subject
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid {subject} ({len(self.problems)} problem(s)):\n{lines}")


class ProblemCollector:
    """Accumulates validation problems; :meth:`raise_if_any` raises one :class:`PropsValidationError`."""

    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.problems: list[str] = []

    @classmethod
    def for_construct(cls, construct: Any) -> ProblemCollector:
        """Problems of one construct: the subject is ``<Class> at <construct path>``, so the user sees which one."""
        return cls(f"{type(construct).__name__} at {construct.node.path}")

    def add(self, problem: str) -> None:
        self.problems.append(problem)

    def check(self, ok: bool, problem: str) -> None:
        """Record ``problem`` unless ``ok``."""
        if not ok:
            self.problems.append(problem)

    def raise_if_any(self) -> None:
        if self.problems:
            raise PropsValidationError(self.subject, self.problems)

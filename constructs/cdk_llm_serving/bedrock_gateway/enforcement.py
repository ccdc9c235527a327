"""AccountGuardrailEnforcement: an account-level enforced guardrail (``AWS::Bedrock::EnforcedGuardrailConfiguration``).

Bedrock applies the guardrail to every inference call in the account and Region (Converse, InvokeModel, ...),
whoever makes it: stronger than the gateway's IAM condition, which only binds the gateway's own role. There is one
configuration per account and Region: deploy this construct in exactly one stack per account and Region (a second
one would overwrite the first).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence

from aws_cdk import aws_bedrock as bedrock
from constructs import Construct

from .._errors import ProblemCollector
from .._types import typed_props
from . import rules
from .guardrails import GUARDRAIL_ARN_RE, is_token
from .rules import EnforcedGuardrailSubject


class SelectiveGuarding(enum.Enum):
    """How much of a request an enforced guardrail evaluates (``SelectiveContentGuarding`` modes)."""

    SELECTIVE = "SELECTIVE"
    """Only content the caller tagged for guarding (``guardContent``). Default: - Bedrock's own default applies"""
    COMPREHENSIVE = "COMPREHENSIVE"
    """All content of that part of the request. Default: - Bedrock's own default applies"""


class AccountGuardrailEnforcement(Construct):
    """Enforce one guardrail version on every Bedrock inference call of the account and Region.

    One per account and Region: Bedrock keeps a single enforced configuration there.
    """

    @typed_props
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        guardrail_arn: str,
        guardrail_version: str,
        included_models: Sequence[str] | None = None,
        excluded_models: Sequence[str] | None = None,
        system_prompts: SelectiveGuarding | None = None,
        messages: SelectiveGuarding | None = None,
    ) -> None:
        """
        :param guardrail_arn: ARN (or ID) of the guardrail, e.g. ``gateway.guardrails["Safety"].attr_guardrail_arn``.
        :param guardrail_version: its published version, e.g. ``gateway.guardrail_versions["Safety"].attr_version``
            (a number; DRAFT cannot be enforced).
        :param included_models: model IDs the guardrail is enforced on. Default: - every model
        :param excluded_models: model IDs exempt from enforcement (wins over ``included_models``); needs
            ``included_models``. Default: - none
        :param system_prompts: guarding mode for system prompts. Default: - Bedrock's default
        :param messages: guarding mode for messages. Default: - Bedrock's default
        """
        super().__init__(scope, construct_id)
        p = ProblemCollector.for_construct(self)
        subject = EnforcedGuardrailSubject(
            guardrail_version,
            tuple(included_models) if included_models is not None else None,
            tuple(excluded_models or ()),
        )
        for problem in [*rules.problems(subject), *_identifier_problems(guardrail_arn)]:
            p.add(problem)
        p.raise_if_any()
        enforcement = None
        if included_models is not None:
            enforcement = bedrock.CfnEnforcedGuardrailConfiguration.ModelEnforcementProperty(
                included_models=list(included_models), excluded_models=list(excluded_models or ())
            )
        guarding = None
        if system_prompts is not None or messages is not None:
            guarding = bedrock.CfnEnforcedGuardrailConfiguration.SelectiveContentGuardingProperty(
                system=system_prompts.value if system_prompts else None, messages=messages.value if messages else None
            )
        self.resource = bedrock.CfnEnforcedGuardrailConfiguration(
            self,
            "Resource",
            guardrail_identifier=guardrail_arn,
            guardrail_version=guardrail_version,
            model_enforcement=enforcement,
            selective_content_guarding=guarding,
        )
        """The ``AWS::Bedrock::EnforcedGuardrailConfiguration``."""


def _identifier_problems(identifier: str) -> Iterable[str]:
    if not is_token(identifier) and not (GUARDRAIL_ARN_RE.match(identifier) or identifier.isalnum()):
        yield f"guardrail_arn must be a guardrail ARN or ID, got {identifier!r}"

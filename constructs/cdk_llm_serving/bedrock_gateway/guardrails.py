"""Amazon Bedrock Guardrails for gateway aliases: typed policies, the resources created from them, and the
runtime ``guardrailConfig`` the gateway sends on every Converse / ConverseStream call of a guarded alias.

``GatewayGuardrail.create(name=..., policy=GuardrailPolicy(...))`` makes the gateway create an
``AWS::Bedrock::Guardrail`` and an ``AWS::Bedrock::GuardrailVersion``; ``GatewayGuardrail.existing(...)`` uses a
guardrail managed elsewhere. Versions are immutable snapshots of the guardrail's working draft, so the version's
construct ID and description carry a hash of the guardrail's synth-time configuration: a changed policy creates a
new version (CloudFormation updates the guardrail first, then creates the version from it), an unchanged one keeps
every logical ID (never a hash of a token: aws/aws-cdk#38674).
"""

from __future__ import annotations

import enum
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_bedrock as bedrock
from constructs import Construct

from .._types import TypedOptions


class ContentFilterType(enum.Enum):
    """A harmful-content category of a guardrail's content filters (``GuardrailContentFilterType``)."""

    SEXUAL = "SEXUAL"
    """Sexual content. Default: - not filtered unless listed"""
    VIOLENCE = "VIOLENCE"
    """Violence. Default: - not filtered unless listed"""
    HATE = "HATE"
    """Hate speech. Default: - not filtered unless listed"""
    INSULTS = "INSULTS"
    """Insults. Default: - not filtered unless listed"""
    MISCONDUCT = "MISCONDUCT"
    """Criminal or otherwise harmful activity. Default: - not filtered unless listed"""
    PROMPT_ATTACK = "PROMPT_ATTACK"
    """Jailbreaks and prompt injection; applies to input only (its output strength must be NONE).
    Default: - not filtered unless listed"""


class FilterStrength(enum.Enum):
    """How aggressively a content filter blocks (``GuardrailFilterStrength``)."""

    NONE = "NONE"
    """Off for this direction. Default: - the filter's strengths default to HIGH"""
    LOW = "LOW"
    """Blocks only content classified with high confidence. Default: - the filter's strengths default to HIGH"""
    MEDIUM = "MEDIUM"
    """Blocks content classified with medium or high confidence. Default: - the filter's strengths default to HIGH"""
    HIGH = "HIGH"
    """Blocks content classified with low, medium or high confidence. Default: the filter's strengths default to this"""


class PiiAction(enum.Enum):
    """What a guardrail does with a detected PII entity (``GuardrailSensitiveInformationAction``)."""

    BLOCK = "BLOCK"
    """Block the whole input or response. Default: - ``PiiEntity.action`` defaults to ANONYMIZE"""
    ANONYMIZE = "ANONYMIZE"
    """Replace the entity with its type tag, e.g. ``{EMAIL}``. Default: ``PiiEntity.action`` defaults to this"""
    NONE = "NONE"
    """Detect only (shown in the trace), change nothing. Default: - ``PiiEntity.action`` defaults to ANONYMIZE"""


class GuardrailTrace(enum.Enum):
    """Converse ``guardrailConfig.trace``."""

    DISABLED = "disabled"
    """No guardrail trace in the response. Default: ``GatewayGuardrail`` uses this"""
    ENABLED = "enabled"
    """The guardrail's assessment in the response trace (the gateway does not forward it to clients).
    Default: - DISABLED"""
    ENABLED_FULL = "enabled_full"
    """Full assessment, including non-detected results. Default: - DISABLED"""


class StreamProcessingMode(enum.Enum):
    """ConverseStream ``guardrailConfig.streamProcessingMode``."""

    SYNC = "sync"
    """The guardrail checks each chunk before it is sent (safe, slightly slower). Default: ``GatewayGuardrail`` uses this"""
    ASYNC = "async"
    """Chunks are sent while the guardrail checks them in the background: blocked content may reach the client
    before the intervention. Default: - SYNC"""


@dataclass(frozen=True, kw_only=True)
class ContentFilter(TypedOptions):
    """One content filter of a :class:`GuardrailPolicy`."""

    type: ContentFilterType
    """The category filtered."""
    input_strength: FilterStrength = FilterStrength.HIGH
    """Strength on prompts. Default: HIGH"""
    output_strength: FilterStrength = FilterStrength.HIGH
    """Strength on responses; must be NONE for ``PROMPT_ATTACK``. Default: HIGH (use NONE for ``PROMPT_ATTACK``)"""

    def to_cfn(self) -> bedrock.CfnGuardrail.ContentFilterConfigProperty:
        return bedrock.CfnGuardrail.ContentFilterConfigProperty(
            type=self.type.value, input_strength=self.input_strength.value, output_strength=self.output_strength.value
        )


@dataclass(frozen=True, kw_only=True)
class DeniedTopic(TypedOptions):
    """A topic the guardrail refuses (``TopicConfig`` of type DENY)."""

    name: str
    """Topic name: 1-100 letters, digits, spaces and ``-_!?.``."""
    definition: str
    """What the topic covers, 1-200 characters."""
    examples: Sequence[str] = ()
    """Up to 5 example prompts of the topic, 1-100 characters each. Default: - none"""

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "examples", tuple(self.examples))

    def to_cfn(self) -> bedrock.CfnGuardrail.TopicConfigProperty:
        return bedrock.CfnGuardrail.TopicConfigProperty(
            name=self.name, definition=self.definition, type="DENY", examples=list(self.examples) or None
        )


@dataclass(frozen=True, kw_only=True)
class PiiEntity(TypedOptions):
    """A PII entity type the guardrail detects, and what it does with it."""

    type: str
    """A ``GuardrailPiiEntityType`` such as ``"EMAIL"``, ``"PHONE"``, ``"US_SOCIAL_SECURITY_NUMBER"``."""
    action: PiiAction = PiiAction.ANONYMIZE
    """What happens to a detected entity. Default: ANONYMIZE"""
    input_action: PiiAction | None = None
    """Action on prompts only (``inputAction``), e.g. NONE to let the model see the entity and anonymize it in
    answers. Default: - ``action``"""
    output_action: PiiAction | None = None
    """Action on responses only (``outputAction``). Default: - ``action``"""

    def to_cfn(self) -> bedrock.CfnGuardrail.PiiEntityConfigProperty:
        return bedrock.CfnGuardrail.PiiEntityConfigProperty(
            type=self.type,
            action=self.action.value,
            input_action=self.input_action.value if self.input_action else None,
            output_action=self.output_action.value if self.output_action else None,
        )

    def fingerprint(self) -> list[str | None]:
        return [
            self.type,
            self.action.value,
            self.input_action.value if self.input_action else None,
            self.output_action.value if self.output_action else None,
        ]


@dataclass(frozen=True, kw_only=True)
class GuardrailPolicy(TypedOptions):
    """What a guardrail created by the gateway filters (``AWS::Bedrock::Guardrail`` properties)."""

    blocked_input_messaging: str = "Sorry, I can't help with that request."
    """Text returned instead of a model answer when the guardrail blocks a prompt, 1-500 characters.
    Default: "Sorry, I can't help with that request." """
    blocked_outputs_messaging: str = "Sorry, I can't provide that response."
    """Text returned when the guardrail blocks a response, 1-500 characters.
    Default: "Sorry, I can't provide that response." """
    content_filters: Sequence[ContentFilter] = ()
    """Harmful-content filters, at most one per type. Default: - none"""
    denied_topics: Sequence[DeniedTopic] = ()
    """Topics refused, at most 30. Default: - none"""
    pii_entities: Sequence[PiiEntity] = ()
    """PII entity types detected, at most one entry per type. Default: - none"""
    blocked_words: Sequence[str] = ()
    """Words or phrases blocked, 1-100 characters each, at most 10000. Default: - none"""
    managed_profanity: bool = False
    """Block AWS's managed profanity word list. Default: false"""
    description: str | None = None
    """Description of the guardrail, 1-200 characters. Default: - a generated description"""

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("content_filters", "denied_topics", "pii_entities", "blocked_words"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @property
    def is_empty(self) -> bool:
        """Whether the policy filters nothing (Bedrock requires at least one policy)."""
        return not (
            self.content_filters
            or self.denied_topics
            or self.pii_entities
            or self.blocked_words
            or self.managed_profanity
        )

    def cfn_props(self) -> dict[str, Any]:
        """The ``CfnGuardrail`` keyword arguments of this policy (typed ``Cfn*Property`` values; no name)."""
        props: dict[str, Any] = {
            "blocked_input_messaging": self.blocked_input_messaging,
            "blocked_outputs_messaging": self.blocked_outputs_messaging,
            "description": self.description or "Guardrail of a cdk-llm-serving Bedrock gateway",
        }
        if self.content_filters:
            props["content_policy_config"] = bedrock.CfnGuardrail.ContentPolicyConfigProperty(
                filters_config=[f.to_cfn() for f in self.content_filters]
            )
        if self.denied_topics:
            props["topic_policy_config"] = bedrock.CfnGuardrail.TopicPolicyConfigProperty(
                topics_config=[t.to_cfn() for t in self.denied_topics]
            )
        if self.pii_entities:
            props["sensitive_information_policy_config"] = (
                bedrock.CfnGuardrail.SensitiveInformationPolicyConfigProperty(
                    pii_entities_config=[e.to_cfn() for e in self.pii_entities]
                )
            )
        if self.blocked_words or self.managed_profanity:
            props["word_policy_config"] = bedrock.CfnGuardrail.WordPolicyConfigProperty(
                words_config=[bedrock.CfnGuardrail.WordConfigProperty(text=w) for w in self.blocked_words] or None,
                managed_word_lists_config=[bedrock.CfnGuardrail.ManagedWordsConfigProperty(type="PROFANITY")]
                if self.managed_profanity
                else None,
            )
        return props

    def fingerprint(self) -> str:
        """SHA-256 (hex) of the synth-time policy: changes exactly when the guardrail's draft changes."""
        doc = {
            "blockedInputMessaging": self.blocked_input_messaging,
            "blockedOutputsMessaging": self.blocked_outputs_messaging,
            "description": self.description,
            "contentFilters": [
                [f.type.value, f.input_strength.value, f.output_strength.value] for f in self.content_filters
            ],
            "deniedTopics": [[t.name, t.definition, list(t.examples)] for t in self.denied_topics],
            "piiEntities": [e.fingerprint() for e in self.pii_entities],
            "blockedWords": list(self.blocked_words),
            "managedProfanity": self.managed_profanity,
        }
        return hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


#: ``GuardrailVersion`` of an existing guardrail: a published (numeric) version.
_NUMERIC_VERSION_RE = re.compile(r"^[1-9][0-9]{0,7}$")
#: ``GuardrailIdentifier`` as an ARN (bedrock 2023-04-20 service-2.json).
GUARDRAIL_ARN_RE = re.compile(r"^arn:aws(-[^:]+)?:bedrock:[a-z0-9-]{1,20}:[0-9]{12}:guardrail/[a-z0-9]+$")
_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,31}$")


@dataclass(frozen=True, kw_only=True)
class GatewayGuardrail(TypedOptions):
    """A Bedrock guardrail applied to every request of the aliases that name it (``guardrail=`` on
    :class:`BedrockModelAlias`). Use :meth:`create` or :meth:`existing`.

    The gateway sends ``guardrailConfig`` on every Converse / ConverseStream call of those aliases, and its IAM role
    may invoke their models only with this guardrail and version (condition key ``bedrock:GuardrailIdentifier``).
    """

    name: str
    """Key of the guardrail in the gateway (aliases sharing a guardrail pass the same object or the same name);
    part of the construct ID (``Guardrail<name>``). A letter, then letters and digits, at most 32."""
    policy: GuardrailPolicy | None = None
    """The policy of a guardrail the gateway creates. Default: - none (an existing guardrail)"""
    guardrail_arn: str | None = None
    """ARN of an existing guardrail (``arn:aws:bedrock:<region>:<account>:guardrail/<id>``).
    Default: - none (the gateway creates one from ``policy``)"""
    version: str | None = None
    """Published version of an existing guardrail (``"1"``, ``"2"``, ...). Default: - none (the created version)"""
    trace: GuardrailTrace = GuardrailTrace.DISABLED
    """``guardrailConfig.trace``. Default: DISABLED"""
    stream_processing_mode: StreamProcessingMode = StreamProcessingMode.SYNC
    """How streamed responses are checked. Default: SYNC"""

    @classmethod
    def create(
        cls,
        *,
        name: str,
        policy: GuardrailPolicy,
        trace: GuardrailTrace = GuardrailTrace.DISABLED,
        stream_processing_mode: StreamProcessingMode = StreamProcessingMode.SYNC,
    ) -> GatewayGuardrail:
        """A guardrail the gateway creates (``AWS::Bedrock::Guardrail`` + a content-hashed ``GuardrailVersion``).

        :param name: key and construct-ID part of the guardrail.
        :param policy: what it filters.
        :param trace: ``guardrailConfig.trace``. Default: DISABLED
        :param stream_processing_mode: streamed responses checked ``SYNC`` or ``ASYNC``. Default: SYNC
        """
        return cls(name=name, policy=policy, trace=trace, stream_processing_mode=stream_processing_mode)

    @classmethod
    def existing(
        cls,
        *,
        name: str,
        guardrail_arn: str,
        version: str,
        trace: GuardrailTrace = GuardrailTrace.DISABLED,
        stream_processing_mode: StreamProcessingMode = StreamProcessingMode.SYNC,
    ) -> GatewayGuardrail:
        """A guardrail managed elsewhere, at a published version.

        :param name: key of the guardrail in the gateway.
        :param guardrail_arn: its ARN.
        :param version: a published version (not ``DRAFT``: the IAM condition pins one immutable version).
        :param trace: ``guardrailConfig.trace``. Default: DISABLED
        :param stream_processing_mode: streamed responses checked ``SYNC`` or ``ASYNC``. Default: SYNC
        """
        return cls(
            name=name,
            guardrail_arn=guardrail_arn,
            version=version,
            trace=trace,
            stream_processing_mode=stream_processing_mode,
        )

    def problems(self, where: str) -> list[str]:
        """Plain checks of the shape (the upstream limits are rules, see ``rules.GUARDRAILS``)."""
        out: list[str] = []
        if not _NAME_RE.match(self.name):
            out.append(
                f"{where}: guardrail.name must be a letter, then letters and digits (at most 32), got {self.name!r}"
            )
        if (self.policy is None) == (self.guardrail_arn is None):
            out.append(
                f"{where}: guardrail needs exactly one of policy (GatewayGuardrail.create) and guardrail_arn"
                " (GatewayGuardrail.existing)"
            )
        if self.guardrail_arn is not None:
            if not is_token(self.guardrail_arn) and not GUARDRAIL_ARN_RE.match(self.guardrail_arn):
                out.append(
                    f"{where}: guardrail.guardrail_arn must look like"
                    f" 'arn:aws:bedrock:<region>:<account>:guardrail/<id>', got {self.guardrail_arn!r}"
                )
            if self.version is None or (not is_token(self.version) and not _NUMERIC_VERSION_RE.match(self.version)):
                out.append(
                    f"{where}: guardrail.version must be a published version like '1' (not DRAFT, which changes"
                    f" under the gateway and cannot be pinned in IAM), got {self.version!r}"
                )
        elif self.version is not None:
            out.append(
                f"{where}: guardrail.version only applies to GatewayGuardrail.existing; created guardrails are versioned by the gateway"
            )
        return out


def is_token(value: str) -> bool:
    return bool(cdk.Token.is_unresolved(value))


@dataclass(frozen=True)
class GuardrailRef:
    """A guardrail as the runtime and IAM see it: its ARN and version (tokens for created ones)."""

    arn: str
    version: str
    guardrail: GatewayGuardrail

    @property
    def condition_value(self) -> str:
        """The ``bedrock:GuardrailIdentifier`` value of this guardrail and version: ``<guardrail ARN>:<version>``."""
        return f"{self.arn}:{self.version}"

    def to_runtime(self) -> dict[str, Any]:
        return {
            "identifier": self.arn,
            "version": self.version,
            "trace": self.guardrail.trace.value,
            "streamProcessingMode": self.guardrail.stream_processing_mode.value,
        }


#: Placeholder of a created guardrail before it exists (counted as a token by the config-size check).
PLACEHOLDER = "${Token[guardrail]}"


def placeholder_ref(guardrail: GatewayGuardrail) -> GuardrailRef:
    """The ref of ``guardrail`` before the gateway built it (validation: size of the runtime config)."""
    if guardrail.policy is None:
        return GuardrailRef(guardrail.guardrail_arn or PLACEHOLDER, guardrail.version or PLACEHOLDER, guardrail)
    return GuardrailRef(PLACEHOLDER, PLACEHOLDER, guardrail)


def distinct(guardrails: Sequence[GatewayGuardrail]) -> tuple[dict[str, GatewayGuardrail], list[str]]:
    """The guardrails by name, and problems for one name given two different guardrails."""
    by_name: dict[str, GatewayGuardrail] = {}
    problems: list[str] = []
    for g in guardrails:
        seen = by_name.setdefault(g.name, g)
        if seen != g and not any(g.name in p for p in problems):
            problems.append(
                f"guardrail name {g.name!r} is used for two different guardrails; give each its own name"
                " (aliases share a guardrail by passing the same GatewayGuardrail)"
            )
    return by_name, problems


@dataclass
class BuiltGuardrails:
    """The guardrails the gateway built or references, by name."""

    refs: dict[str, GuardrailRef] = field(default_factory=dict)
    guardrails: dict[str, bedrock.CfnGuardrail] = field(default_factory=dict)
    versions: dict[str, bedrock.CfnGuardrailVersion] = field(default_factory=dict)


def build(scope: Construct, guardrails: Mapping[str, GatewayGuardrail]) -> BuiltGuardrails:
    """Create the ``create()`` guardrails under ``scope`` (``Guardrail<name>`` and ``Guardrail<name>Version<hash>``)
    and reference the ``existing()`` ones."""
    built = BuiltGuardrails()
    for name, g in sorted(guardrails.items()):
        if g.policy is None:
            assert g.guardrail_arn is not None and g.version is not None  # checked by problems()
            built.refs[name] = GuardrailRef(g.guardrail_arn, g.version, g)
            continue
        resource = bedrock.CfnGuardrail(scope, f"Guardrail{name}", name="placeholder", **g.policy.cfn_props())
        # Unique per stack and construct path (guardrail names are unique per account and Region), stable.
        resource.name = cdk.Names.unique_resource_name(resource, max_length=50, separator="-")
        digest = g.policy.fingerprint()
        version = bedrock.CfnGuardrailVersion(
            scope,
            f"Guardrail{name}Version{digest[:12]}",
            guardrail_identifier=resource.attr_guardrail_id,
            description=f"cdk-llm-serving policy {digest[:16]}",
        )
        built.guardrails[name] = resource
        built.versions[name] = version
        built.refs[name] = GuardrailRef(resource.attr_guardrail_arn, version.attr_version, g)
    return built

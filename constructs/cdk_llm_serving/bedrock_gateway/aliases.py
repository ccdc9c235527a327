"""Typed model allowlist and the runtime configuration the gateway Lambda reads.

No CDK constructs here: the construct, the stacks and the local runner (``make gateway``) all build
the same ``GATEWAY_CONFIG`` document from these types. Values may be CDK tokens (an endpoint name
from a ``CfnEndpoint`` attribute, a knowledge base ID from ``CfnKnowledgeBase``): they stay tokens
in the document, CDK renders the environment variable as ``Fn::Join``, and validation skips them
(``aws_cdk.Token.is_unresolved``, imported only when a value looks like a token).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .._names import is_sagemaker_name
from .._types import TypedOptions
from ..sagemaker_endpoint.containers import ContainerKind
from . import rules
from .guardrails import GatewayGuardrail, GuardrailRef, placeholder_ref

#: Geography prefixes of system-defined (cross-Region) inference profile IDs.
INFERENCE_PROFILE_GEOS = ("us", "eu", "apac", "global", "jp", "au", "ca", "us-gov")

_ALIAS_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
_FOUNDATION_MODEL_RE = re.compile(r"^[a-z0-9-]+\.[A-Za-z0-9][A-Za-z0-9.:_-]*$")
#: SageMaker endpoint and inference component names (CreateEndpoint / CreateInferenceComponent).
_SAGEMAKER_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:[a-z0-9-]+:\d{12}:(?P<kind>endpoint|inference-component)/(?P<name>[^/]+)$"
)
#: Bedrock knowledge base IDs (Retrieve API: ``^[0-9a-zA-Z]{10}$``).
_KNOWLEDGE_BASE_ID_RE = re.compile(r"^[0-9a-zA-Z]{10}$")
_KNOWLEDGE_BASE_ARN_RE = re.compile(
    r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]+:\d{12}:knowledge-base/(?P<id>[0-9a-zA-Z]{10})$"
)

#: Bedrock embedding models the gateway runtime can call (its InvokeModel body per family; the runtime's
#: ``config.EMBEDDING_FAMILIES`` lists the same prefixes): an ID matches a prefix exactly or continues it with ``:``.
EMBEDDING_MODEL_PREFIXES = ("amazon.titan-embed-text-v2", "cohere.embed-english-v3", "cohere.embed-multilingual-v3")
#: An ``image_url_hosts`` entry: a host (HTTPS) or ``http(s)://host``, optionally with a port (no path).
_IMAGE_HOST_RE = re.compile(r"^(https?://)?[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$")

#: Lambda caps the total size of environment variables at 4 KB.
MAX_RUNTIME_CONFIG_BYTES = 3500

#: Longest value a CDK token may resolve to in GATEWAY_CONFIG (names and IDs are at most 63 characters).
TOKEN_PLACEHOLDER_LENGTH = 63
_STRING_TOKEN_RE = re.compile(r"\$\{Token\[[^\]]*\]\}")


def is_unresolved(value: Any) -> bool:
    """Whether ``value`` is (or contains) a CDK token that only CloudFormation resolves."""
    if isinstance(value, str):
        if "${Token[" not in value and "#{Token[" not in value:
            return False
    elif not isinstance(value, float):  # number tokens are encoded as special floats; ints are literal
        return False
    import aws_cdk  # only for values that may be tokens

    return bool(aws_cdk.Token.is_unresolved(value))


def _literal_str(value: Any) -> bool:
    return isinstance(value, str) and not is_unresolved(value)


def _token_problems(where: str, max_tokens_cap: int, default_max_tokens: int) -> list[str]:
    """Problems of the token budget, root causes only: a bad cap is not also reported through the default."""
    budget = (("max_tokens_cap", max_tokens_cap), ("default_max_tokens", default_max_tokens))
    tokens = [n for n, v in budget if is_unresolved(v)]
    if tokens:
        return [
            f"{where}: {n} must be a literal number, not a CDK token (it is written into the function's"
            f" configuration at synth time)"
            for n in tokens
        ]
    if not 1 <= max_tokens_cap <= 1_000_000:
        return [f"{where}: max_tokens_cap must be between 1 and 1000000, got {max_tokens_cap}"]
    if not 1 <= default_max_tokens <= max_tokens_cap:
        return [
            f"{where}: default_max_tokens must be between 1 and max_tokens_cap ({max_tokens_cap}),"
            f" got {default_max_tokens}"
        ]
    return []


@dataclass(frozen=True, kw_only=True)
class KnowledgeBaseRetrieval(TypedOptions):
    """Retrieval-augmented generation for one alias: before calling the model, the gateway retrieves
    passages from an Amazon Bedrock knowledge base (``bedrock-agent-runtime`` ``Retrieve``) and adds them
    to the prompt. Works with both :class:`BedrockModelAlias` and :class:`SageMakerModelAlias`.

    The gateway's role gets ``bedrock:Retrieve`` on exactly this knowledge base.
    """

    knowledge_base_id: str
    """ID of the knowledge base (10 letters or digits, e.g. ``"ABCDEFGHIJ"``), or a token such as
    ``CfnKnowledgeBase.attr_knowledge_base_id``."""

    number_of_results: int = 5
    """Passages retrieved per request, 1 to 100. Default: 5"""

    knowledge_base_arn: str | None = None
    """ARN of the knowledge base, if it is not in the gateway's account and Region.
    Default: - ``arn:<partition>:bedrock:<region>:<account>:knowledge-base/<knowledge_base_id>`` of the stack"""

    def problems(self, where: str) -> list[str]:
        """Everything wrong with this retrieval setting, one sentence each, prefixed with ``where``."""
        out: list[str] = []
        kb_id = self.knowledge_base_id
        if not is_unresolved(kb_id) and not _KNOWLEDGE_BASE_ID_RE.match(kb_id):
            out.append(
                f"{where}: retrieval.knowledge_base_id must be 10 letters or digits (like 'ABCDEFGHIJ'), got {kb_id!r}"
            )
        n = self.number_of_results
        if not is_unresolved(n) and not 1 <= n <= 100:
            out.append(f"{where}: retrieval.number_of_results must be between 1 and 100, got {n!r}")
        arn = self.knowledge_base_arn
        if arn is not None and _literal_str(arn):
            match = _KNOWLEDGE_BASE_ARN_RE.match(arn)
            if not match:
                out.append(
                    f"{where}: retrieval.knowledge_base_arn must look like "
                    f"'arn:aws:bedrock:<region>:<account>:knowledge-base/<id>', got {arn!r}"
                )
            elif _literal_str(kb_id) and match.group("id") != kb_id:
                out.append(
                    f"{where}: retrieval.knowledge_base_arn names knowledge base {match.group('id')!r},"
                    f" not knowledge_base_id {kb_id!r}"
                )
        return out

    def to_runtime(self) -> dict[str, Any]:
        return {"knowledgeBaseId": self.knowledge_base_id, "numberOfResults": self.number_of_results}


@dataclass(frozen=True, kw_only=True)
class ApplicationInferenceProfile(TypedOptions):
    """An application inference profile for one alias (``AWS::Bedrock::ApplicationInferenceProfile``), copied from
    the alias's system inference profile or foundation model. The gateway sends the alias's requests to the
    profile, so Bedrock meters them under its tags (cost allocation: activate the tag keys in Billing)."""

    tags: Mapping[str, str]
    """Cost-allocation tags of the profile, e.g. ``{"team": "search", "cost-center": "1234"}`` (at most 200)."""
    description: str | None = None
    """Description of the profile: 1-200 letters, digits and ``:.``, single ``' _-'`` between them.
    Default: - none"""

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "tags", dict(self.tags))


@dataclass(frozen=True, kw_only=True)
class BedrockModelAlias(TypedOptions):
    """One entry of the gateway's model allowlist: an alias clients send as ``model``, served by Bedrock.

    The gateway's IAM role is generated from these entries: it can invoke exactly these
    inference profiles and foundation models and nothing else of Bedrock.
    """

    alias: str
    """Name clients pass as ``model`` (e.g. ``"chat-fast"``). Letters, digits, ``.``, ``_``, ``:``, ``-``; at most 64."""

    model_id: str
    """A Bedrock foundation-model ID (``anthropic.claude-...``) or a system-defined cross-Region
    inference profile ID (``us.anthropic.claude-...``, ``global.…``). Profiles are recommended:
    they raise throughput and survive regional capacity shortfalls."""

    max_tokens_cap: int = 4096
    """Upper bound on ``maxTokens`` sent to Bedrock, whatever the client asks for. Default: 4096."""

    default_max_tokens: int = 1024
    """``maxTokens`` used when the client sends neither ``max_tokens`` nor ``max_completion_tokens``.
    Bedrock reserves input + maxTokens of your tokens-per-minute quota per request, so keep it modest.
    Default: 1024."""

    retrieval: KnowledgeBaseRetrieval | None = None
    """Ground answers in a Bedrock knowledge base. Default: - no retrieval"""

    reasoning: bool = False
    """Honour ``reasoning_effort``: the gateway sends Anthropic's extended-thinking budget for it and returns the
    reasoning as ``reasoning_content``. Needs a Claude model with extended thinking (rule
    ``GATEWAY.REASONING_MODEL``). Default: false (``reasoning_effort`` other than ``none`` is a 400)"""

    guardrail: GatewayGuardrail | None = None
    """A Bedrock guardrail applied to every request of this alias (``guardrailConfig`` on each Converse call), and
    required by the role's IAM policy for this alias's model (``bedrock:GuardrailIdentifier``). A blocked prompt or
    answer ends with ``finish_reason: "content_filter"`` and the guardrail's blocked message.
    Default: - no guardrail"""

    prompt_caching: bool = False
    """Add Bedrock ``cachePoint`` blocks after the system prompt and after the tool definitions, so repeated
    prefixes are read from the prompt cache (``usage.prompt_tokens_details.cached_tokens``). Only for models of the
    prompt-caching table (rule ``GATEWAY.PROMPT_CACHING_MODEL``). Default: false"""

    fallback: Sequence[str] = ()
    """Other chat aliases of the allowlist tried in order when this alias's model is throttled, unavailable, not
    ready or times out, only before the first byte reaches the client (never after a stream began).
    Default: - no fallback"""

    application_inference_profile: ApplicationInferenceProfile | None = None
    """Route this alias through its own application inference profile with cost-allocation tags (created by the
    gateway from ``model_id``); the role may invoke the profile and the models it routes to.
    Default: - the alias calls ``model_id`` directly"""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.fallback, str):
            object.__setattr__(self, "fallback", tuple(self.fallback))

    @property
    def geo(self) -> str | None:
        """Geography prefix if ``model_id`` is an inference profile ID, else ``None``."""
        head, _, rest = self.model_id.partition(".")
        return head if head in INFERENCE_PROFILE_GEOS and rest else None

    @property
    def is_inference_profile(self) -> bool:
        return self.geo is not None

    @property
    def foundation_model_id(self) -> str:
        """The foundation model the alias ultimately runs (profile prefix stripped)."""
        return self.model_id.split(".", 1)[1] if self.is_inference_profile else self.model_id

    def problems(self) -> list[str]:
        """Everything wrong with this entry, one sentence each (empty when valid)."""
        out: list[str] = []
        where = f"model alias {self.alias!r}"
        if not _ALIAS_RE.match(self.alias):
            out.append(
                f"{where}: alias must match {_ALIAS_RE.pattern} (letters, digits, '.', '_', ':', '-'; at most 64)"
            )
        if self.model_id.startswith("arn:"):
            out.append(f"{where}: model_id must be a model or inference profile ID, not an ARN ({self.model_id!r})")
        elif not _FOUNDATION_MODEL_RE.match(self.foundation_model_id):
            out.append(
                f"{where}: model_id {self.model_id!r} is not a Bedrock model ID like 'anthropic.claude-3-haiku-20240307-v1:0'"
                f" or an inference profile ID like 'us.anthropic.claude-3-haiku-20240307-v1:0'"
                f" (profile prefixes: {', '.join(INFERENCE_PROFILE_GEOS)})"
            )
        out.extend(_token_problems(where, self.max_tokens_cap, self.default_max_tokens))
        if self.retrieval is not None:
            out.extend(self.retrieval.problems(where))
        if not isinstance(self.reasoning, bool):
            out.append(f"{where}: reasoning must be True or False, got {self.reasoning!r}")
        elif self.reasoning:
            out.extend(rules.problems(rules.ReasoningAlias(self.alias, self.foundation_model_id)))
        if self.guardrail is not None:
            out.extend(self.guardrail.problems(where))
        if self.prompt_caching:
            out.extend(rules.problems(rules.PromptCachingAlias(self.alias, self.foundation_model_id)))
        if self.application_inference_profile is not None:
            p = self.application_inference_profile
            out.extend(rules.problems(rules.InferenceProfileSubject(self.alias, p.tags, p.description)))
        return out

    def to_runtime(
        self, guardrails: Mapping[str, GuardrailRef] | None = None, profiles: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """This alias's GATEWAY_CONFIG entry; ``guardrails`` maps guardrail names to what the gateway built and
        ``profiles`` aliases to their application inference profile ARNs (placeholders when not given, for size
        checks)."""
        model_id = self.model_id
        if self.application_inference_profile is not None:
            model_id = (profiles or {}).get(self.alias) or PROFILE_ARN_PLACEHOLDER
        entry: dict[str, Any] = {
            "alias": self.alias,
            "target": {"type": "bedrock", "modelId": model_id},
            "maxTokensCap": self.max_tokens_cap,
            "defaultMaxTokens": self.default_max_tokens,
        }
        if self.retrieval is not None:
            entry["retrieval"] = self.retrieval.to_runtime()
        if self.reasoning:
            entry["reasoning"] = True
        if self.guardrail is not None:
            ref = (guardrails or {}).get(self.guardrail.name) or placeholder_ref(self.guardrail)
            entry["guardrail"] = ref.to_runtime()
        if self.prompt_caching:
            entry["promptCaching"] = True
        if self.fallback:
            entry["fallback"] = list(self.fallback)
        return entry


@dataclass(frozen=True, kw_only=True)
class BedrockEmbeddingAlias(TypedOptions):
    """An embedding model clients call with ``POST /v1/embeddings`` (``model`` = the alias), served by Bedrock
    ``InvokeModel``. Chat completions on this alias, and embeddings on a chat alias, are 400s.

    Supported models (the gateway builds each family's request body): Amazon Titan Text Embeddings V2
    (``amazon.titan-embed-text-v2:0``; ``dimensions`` 256, 512 or 1024) and Cohere Embed v3
    (``cohere.embed-english-v3``, ``cohere.embed-multilingual-v3``).
    """

    alias: str
    """Name clients pass as ``model``. Letters, digits, ``.``, ``_``, ``:``, ``-``; at most 64."""

    model_id: str
    """The Bedrock embedding model ID, e.g. ``"amazon.titan-embed-text-v2:0"``."""

    @property
    def foundation_model_id(self) -> str:
        """The foundation model the alias invokes (embedding models have no inference profiles here)."""
        return self.model_id

    def problems(self) -> list[str]:
        """Everything wrong with this entry, one sentence each (empty when valid)."""
        out: list[str] = []
        where = f"embedding alias {self.alias!r}"
        if not isinstance(self.alias, str) or not _ALIAS_RE.match(self.alias):
            out.append(
                f"{where}: alias must match {_ALIAS_RE.pattern} (letters, digits, '.', '_', ':', '-'; at most 64)"
            )
        if not isinstance(self.model_id, str) or not any(
            self.model_id == p or self.model_id.startswith(p + ":") for p in EMBEDDING_MODEL_PREFIXES
        ):
            out.append(
                f"{where}: model_id must be an embedding model the gateway can call"
                f" ({', '.join(EMBEDDING_MODEL_PREFIXES)}, optionally with ':<version>'), got {self.model_id!r}"
            )
        return out

    def to_runtime(self) -> dict[str, Any]:
        return {"alias": self.alias, "kind": "embedding", "target": {"type": "bedrock", "modelId": self.model_id}}


@dataclass(frozen=True, kw_only=True)
class SageMakerModelAlias(TypedOptions):
    """One entry of the gateway's model allowlist served by a SageMaker real-time endpoint, optionally
    one inference component on it (e.g. a LoRA adapter of a ``LoraAdapterFleet``).

    The gateway calls ``InvokeEndpoint`` / ``InvokeEndpointWithResponseStream`` (with
    ``InferenceComponentName`` when set); its role may invoke exactly these endpoints and components.
    Use :meth:`for_endpoint` to take the name and ARN from an endpoint construct.
    """

    alias: str
    """Name clients pass as ``model``. Letters, digits, ``.``, ``_``, ``:``, ``-``; at most 64."""

    endpoint_name: str
    """Name of the SageMaker endpoint, or a token (e.g. ``CfnEndpoint.attr_endpoint_name``)."""

    endpoint_arn: str | None = None
    """ARN of the endpoint. Required when ``endpoint_name`` is a token (SageMaker ARNs hold the name in
    lower case, which CloudFormation cannot compute). Default: - built from ``endpoint_name``, lower-cased,
    in the stack's partition, Region and account"""

    inference_component_name: str | None = None
    """Inference component to invoke on the endpoint (one adapter or model of a multi-model endpoint).
    Default: - none (the endpoint's production variant serves the request)"""

    inference_component_arn: str | None = None
    """ARN of the inference component. Required when ``inference_component_name`` is a token.
    Default: - built from ``inference_component_name``, lower-cased, like ``endpoint_arn``"""

    max_tokens_cap: int = 2048
    """Upper bound on ``max_new_tokens`` sent to the endpoint, whatever the client asks for. Self-hosted
    models often have short context windows, hence a lower default than Bedrock's. Default: 2048."""

    default_max_tokens: int = 512
    """Token budget used when the client sends neither ``max_tokens`` nor ``max_completion_tokens``. Default: 512."""

    retrieval: KnowledgeBaseRetrieval | None = None
    """Ground answers in a Bedrock knowledge base. Default: - no retrieval"""

    container_kind: ContainerKind | None = None
    """The serving container behind the endpoint, so the gateway follows its request rules (TGI rejects
    ``top_p`` >= 1, which the gateway then leaves out; TGI, vLLM and LMI reject ``top_p`` = 0, which the
    gateway answers with 400). Default: - ``for_endpoint`` takes it from the endpoint's ``container``; else
    unknown (requests are forwarded unchanged)"""

    @classmethod
    def for_endpoint(
        cls,
        *,
        alias: str,
        endpoint: Any,
        inference_component_name: str | None = None,
        **kwargs: Any,
    ) -> SageMakerModelAlias:
        """An alias for ``endpoint``: any object with ``endpoint_name`` and ``endpoint_arn`` (a
        ``SageMakerLlmEndpoint``, a ``LoraAdapterFleet`` adapter, ...); its ``inference_component_name``
        and ``inference_component_arn`` are used too when it has them.

        :param alias: name clients pass as ``model``.
        :param endpoint: the endpoint (or adapter) construct; its ``endpoint_name`` and ``endpoint_arn`` are used.
        :param inference_component_name: invoke this inference component instead of the endpoint's own.
            Default: - ``endpoint.inference_component_name`` if present, else none
        :param kwargs: the other fields (``max_tokens_cap``, ``default_max_tokens``, ``retrieval``,
            ``inference_component_arn``, ``container_kind``; the last defaults to ``endpoint.container.kind``
            when the object has a ``container``, like ``SageMakerLlmEndpoint`` and ``LoraAdapterFleet``
            and its adapters).
        """
        if inference_component_name is None:
            inference_component_name = getattr(endpoint, "inference_component_name", None)
            kwargs.setdefault("inference_component_arn", getattr(endpoint, "inference_component_arn", None))
        kind = getattr(getattr(endpoint, "container", None), "kind", None)
        kwargs.setdefault("container_kind", kind if isinstance(kind, ContainerKind) else None)
        return cls(
            alias=alias,
            endpoint_name=endpoint.endpoint_name,
            endpoint_arn=getattr(endpoint, "endpoint_arn", None),
            inference_component_name=inference_component_name,
            **kwargs,
        )

    def problems(self) -> list[str]:
        """Everything wrong with this entry, one sentence each (empty when valid)."""
        out: list[str] = []
        where = f"model alias {self.alias!r}"
        if not _ALIAS_RE.match(self.alias):
            out.append(
                f"{where}: alias must match {_ALIAS_RE.pattern} (letters, digits, '.', '_', ':', '-'; at most 64)"
            )
        out.extend(_sagemaker_name_problems(where, "endpoint", self.endpoint_name, self.endpoint_arn))
        if self.inference_component_name is not None:
            out.extend(
                _sagemaker_name_problems(
                    where, "inference_component", self.inference_component_name, self.inference_component_arn
                )
            )
        elif self.inference_component_arn is not None:
            out.append(
                f"{where}: inference_component_arn is set but inference_component_name is not; set both or neither"
            )
        out.extend(_token_problems(where, self.max_tokens_cap, self.default_max_tokens))
        if self.retrieval is not None:
            out.extend(self.retrieval.problems(where))
        return out

    def to_runtime(self) -> dict[str, Any]:
        target: dict[str, Any] = {"type": "sagemaker", "endpointName": self.endpoint_name}
        if self.inference_component_name is not None:
            target["inferenceComponentName"] = self.inference_component_name
        if self.container_kind is not None:
            target["containerKind"] = self.container_kind.value
        entry: dict[str, Any] = {
            "alias": self.alias,
            "target": target,
            "maxTokensCap": self.max_tokens_cap,
            "defaultMaxTokens": self.default_max_tokens,
        }
        if self.retrieval is not None:
            entry["retrieval"] = self.retrieval.to_runtime()
        return entry


#: A profile ARN before the profile exists (``arn:${Partition}:bedrock:${Region}:${Account}:application-inference-
#: profile/${Id}``: four tokens, as the gateway renders it), for the config-size check.
PROFILE_ARN_PLACEHOLDER = "arn:${Token[p]}:bedrock:${Token[r]}:${Token[a]}:application-inference-profile/${Token[i]}"

#: Any entry of the allowlist.
ModelAlias = BedrockModelAlias | SageMakerModelAlias | BedrockEmbeddingAlias


def _sagemaker_name_problems(where: str, field: str, name: str, arn: str | None) -> list[str]:
    """Problems of ``<field>_name`` / ``<field>_arn`` (field: ``endpoint`` or ``inference_component``)."""
    kind = field.replace("_", "-")
    out: list[str] = []
    if name == "":
        out.append(f"{where}: {field}_name must be a non-empty string, got {name!r}")
        return out
    if is_unresolved(name):
        if arn is None:
            out.append(
                f"{where}: {field}_name is a CDK token, so pass {field}_arn too (SageMaker ARNs hold the name in"
                f" lower case, which CloudFormation cannot compute); e.g. the construct's {field}_arn attribute"
            )
    elif not is_sagemaker_name(name):
        out.append(
            f"{where}: {field}_name must be 1-63 letters, digits and single hyphens between them"
            f" (SageMaker's naming rule), got {name!r}"
        )
    if arn is not None and _literal_str(arn):
        match = _SAGEMAKER_ARN_RE.match(arn)
        if not match or match.group("kind") != kind:
            out.append(
                f"{where}: {field}_arn must look like 'arn:aws:sagemaker:<region>:<account>:{kind}/<name>', got {arn!r}"
            )
        elif _literal_str(name) and match.group("name") != name.lower():
            out.append(
                f"{where}: {field}_arn names {kind} {match.group('name')!r}, not {field}_name {name!r}"
                f" (SageMaker ARNs hold the lower-cased name)"
            )
    return out


@dataclass(frozen=True, kw_only=True)
class GatewayLimits(TypedOptions):
    """Request limits the gateway enforces before calling a model."""

    max_messages: int = 64
    """Most messages accepted in one request (400 above). Default: 64."""

    max_total_chars: int = 200_000
    """Most characters of message text in one request (413 above). Default: 200000."""

    max_request_bytes: int = 1_048_576
    """Largest request body in bytes (413 above). At most 6291456 when SageMaker aliases are configured
    (InvokeEndpoint's body limit; rule ``GATEWAY.SAGEMAKER_BODY_LIMIT``). Default: 1 MiB (API Gateway allows 10 MB)."""

    def problems(self) -> list[str]:
        out: list[str] = []
        if not 1 <= self.max_messages <= 10_000:
            out.append(f"limits.max_messages must be between 1 and 10000, got {self.max_messages}")
        if not 1 <= self.max_total_chars <= 10_000_000:
            out.append(f"limits.max_total_chars must be between 1 and 10000000, got {self.max_total_chars}")
        if not 1024 <= self.max_request_bytes <= 10_485_760:
            out.append(
                f"limits.max_request_bytes must be between 1024 and 10485760 (API Gateway's 10 MB payload limit),"
                f" got {self.max_request_bytes}"
            )
        return out


def model_problems(models: Sequence[ModelAlias]) -> list[str]:
    """Problems of the allowlist as a whole and of each entry."""
    out: list[str] = []
    if not models:
        out.append("models must contain at least one BedrockModelAlias, SageMakerModelAlias or BedrockEmbeddingAlias")
    seen: set[str] = set()
    for i, m in enumerate(models):
        if not isinstance(m, (BedrockModelAlias, SageMakerModelAlias, BedrockEmbeddingAlias)):
            out.append(
                f"models[{i}] must be a BedrockModelAlias, SageMakerModelAlias or BedrockEmbeddingAlias,"
                f" got {type(m).__name__}"
            )
            continue
        if m.alias in seen:
            out.append(f"model alias {m.alias!r} appears more than once; aliases must be unique")
        seen.add(m.alias)
        out.extend(m.problems())
    out.extend(_fallback_problems(models))
    out.extend(_guardrail_problems(models))
    return out


def _fallback_problems(models: Sequence[ModelAlias]) -> list[str]:
    """Fallback lists name other chat aliases of the allowlist (so the role can already invoke them); a guarded
    alias falls back only to guarded aliases (else a throttle would bypass its guardrail)."""
    chat = {m.alias: m for m in models if isinstance(m, (BedrockModelAlias, SageMakerModelAlias))}
    out: list[str] = []
    for m in models:
        if not isinstance(m, BedrockModelAlias) or not m.fallback:
            continue
        where = f"model alias {m.alias!r}"
        if isinstance(m.fallback, str) or not all(isinstance(f, str) for f in m.fallback):
            out.append(f"{where}: fallback must be a list of alias names, got {m.fallback!r}")
            continue
        if len(set(m.fallback)) != len(m.fallback):
            out.append(f"{where}: fallback lists an alias more than once: {list(m.fallback)}")
        for name in m.fallback:
            target = chat.get(name)
            if name == m.alias:
                out.append(f"{where}: fallback cannot name the alias itself")
            elif target is None:
                out.append(
                    f"{where}: fallback {name!r} is not a chat alias of the allowlist (known: {', '.join(sorted(chat))})"
                )
            elif m.guardrail is not None and (not isinstance(target, BedrockModelAlias) or target.guardrail is None):
                out.append(
                    f"{where}: fallback {name!r} has no guardrail, so a throttled request would bypass"
                    f" {m.alias!r}'s guardrail; give {name!r} a guardrail or drop it from the fallback"
                )
    return out


def _guardrail_problems(models: Sequence[ModelAlias]) -> list[str]:
    """One name per guardrail, and no model shared by a guarded and an unguarded alias (IAM requires the
    guardrail for the model, so the unguarded alias would be denied)."""
    from .guardrails import distinct

    bedrock_aliases = [m for m in models if isinstance(m, BedrockModelAlias)]
    _, out = distinct([m.guardrail for m in bedrock_aliases if m.guardrail is not None])
    guarded = {m.foundation_model_id: m.alias for m in bedrock_aliases if m.guardrail is not None}
    for m in bedrock_aliases:
        if m.guardrail is None and m.foundation_model_id in guarded:
            out.append(
                f"model alias {m.alias!r}: its model {m.foundation_model_id!r} is also served by guarded alias"
                f" {guarded[m.foundation_model_id]!r}, and the role may call that model only with the guardrail; give"
                f" {m.alias!r} a guardrail too, or use another model ID"
            )
    return out


def retrievals(models: Sequence[ModelAlias]) -> list[KnowledgeBaseRetrieval]:
    """The ``retrieval`` settings of the chat aliases (embedding aliases have none), in allowlist order."""
    return [
        m.retrieval
        for m in models
        if isinstance(m, (BedrockModelAlias, SageMakerModelAlias)) and m.retrieval is not None
    ]


def image_url_host_problems(hosts: Sequence[str]) -> list[str]:
    """Problems of ``image_url_hosts`` entries (see :func:`runtime_config`)."""
    return [
        f"image_url_hosts: {h!r} must be a host like 'images.example.com' or 'host:8443' (HTTPS), or"
        f" 'http://host[:port]' to allow plain HTTP; no paths"
        for h in hosts
        if not isinstance(h, str) or not _IMAGE_HOST_RE.match(h)
    ]


def runtime_config(
    *,
    models: Sequence[ModelAlias],
    limits: GatewayLimits,
    log_content: bool,
    metrics_namespace: str,
    service_name: str,
    image_url_hosts: Sequence[str] = (),
    cors_allow_origins: Sequence[str] = (),
    guardrails: Mapping[str, GuardrailRef] | None = None,
    profiles: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The ``GATEWAY_CONFIG`` document read by ``lambda/gateway/config.py``.

    ``guardrails``: the guardrails the gateway built or references, by name (see :mod:`.guardrails`); without it,
    guardrails are rendered with token placeholders (enough for the size check). ``profiles``: the application
    inference profile ARN of each alias that has one (placeholders when not given).

    ``image_url_hosts``: hosts the gateway may fetch ``image_url`` images from (default none: only ``data:`` URLs;
    an allowlisted host is fetched with a 5 s timeout, a 3.75 MB cap and no redirects); rendered as
    ``imageUrlHosts`` only when non-empty.

    ``cors_allow_origins``: browser origins the function answers with ``Access-Control-Allow-Origin`` (``*`` for
    any); rendered as ``corsAllowOrigins`` only when non-empty.
    """
    config: dict[str, Any] = {
        "models": [
            m.to_runtime(guardrails, profiles) if isinstance(m, BedrockModelAlias) else m.to_runtime() for m in models
        ],
        "limits": {
            "maxMessages": limits.max_messages,
            "maxTotalChars": limits.max_total_chars,
            "maxRequestBytes": limits.max_request_bytes,
        },
        "logContent": log_content,
        "metricsNamespace": metrics_namespace,
        "serviceName": service_name,
    }
    if image_url_hosts:
        config["imageUrlHosts"] = list(image_url_hosts)
    if cors_allow_origins:
        config["corsAllowOrigins"] = list(cors_allow_origins)
    return config


def runtime_config_json(config: dict[str, Any]) -> str:
    """Compact, key-sorted JSON (deterministic templates). CDK tokens stay embedded as strings."""
    return json.dumps(config, separators=(",", ":"), sort_keys=True)


def runtime_config_size(config_json: str) -> int:
    """Worst-case size of ``config_json`` once deployed: each embedded token counted as the longest value
    it can resolve to (:data:`TOKEN_PLACEHOLDER_LENGTH` characters)."""
    return len(_STRING_TOKEN_RE.sub("x" * TOKEN_PLACEHOLDER_LENGTH, config_json))

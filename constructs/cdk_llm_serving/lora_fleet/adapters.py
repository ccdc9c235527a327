"""The typed pieces of a LoRA fleet: adapters, where their artifacts live, how they are packaged, how they are sharded.

Plain values (no constructs): they validate themselves and render names and S3 URLs.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import Enum

import aws_cdk as cdk
from aws_cdk import aws_s3 as s3

from .._types import PropsTypeError, TypedOptions
from ..sagemaker_endpoint._checks import interface_problem
from ..sagemaker_endpoint.base import NAME_MAX, name_problems
from ..sagemaker_endpoint.containers import LoraOptions, ModelSource
from .rules import RULES, AdapterArtifact

#: ``Specification.Container.ArtifactUrl`` is at most 1024 characters.
ARTIFACT_URL_MAX = 1024
_KEY_RE = re.compile(r"^[A-Za-z0-9!_.*'()/-]+$")
_S3_URL_RE = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>.+)$")
#: The artifact of an adapter without ``artifact``, relative to the store.
DEFAULT_ARTIFACT = "{name}/adapter.tar.gz"


class AdapterPackaging(Enum):
    """How the adapters reach the base model (seed 003, "multi-adapter inference")."""

    INFERENCE_COMPONENTS = "inference-components"
    """One adapter inference component per adapter on the base component: each adapter is created, updated
    and removed on its own, has its own metrics, and is invoked by ``InferenceComponentName``. Recommended."""
    MODEL_ARTIFACT = "model-artifact"
    """Static: every adapter is baked into the base model's S3 folder under ``adapters/<name>/`` and loaded
    by the LMI container at start-up. One rigid package: changing the set means a new model folder (and a
    rolling update of the base copies); callers pick an adapter in the request body (LMI's ``adapters``
    field), so the gateway cannot route to single adapters."""


@dataclass(frozen=True, kw_only=True)
class LoraAdapter(TypedOptions):
    """One LoRA adapter of a :class:`LoraAdapterFleet`."""

    name: str
    """SageMaker name rule (letters, digits, single hyphens). Also the construct ID of its resources, so its
    CloudFormation logical ID is stable: adding or removing another adapter never touches this one."""
    artifact: str | None = None
    """INFERENCE_COMPONENTS: the adapter's ``.tar.gz`` (``adapter_config.json`` and ``adapter_model.safetensors``
    at its root) under the fleet's :class:`AdapterStore` prefix (``"legal/v3/adapter.tar.gz"``), or the same as a
    full ``s3://`` URL under the store. SageMaker's ``ArtifactUrl`` takes one gzip-compressed tar archive, not a
    folder (rule ``LORA.ADAPTER_ARTIFACT_TARBALL``). Default: ``"<name>/adapter.tar.gz"``. MODEL_ARTIFACT: must be
    unset (the adapter is ``adapters/<name>/`` inside the base model folder)."""
    rank: int | None = None
    """LoRA rank of the adapter, checked against the container's ``max_lora_rank``. Required for
    MODEL_ARTIFACT (a rank above the maximum stops the whole container at start-up). Default: unchecked."""


@dataclass(frozen=True)
class AdapterStore(TypedOptions):
    """The S3 folder holding every adapter artifact of a fleet.

    The execution role reads exactly this prefix (``s3:GetObject`` on ``<prefix>*``, ``s3:ListBucket``
    conditioned on it, ``kms:Decrypt`` on the bucket's key if it has one). One fixed grant rather than one
    statement per adapter: it keeps every adapter change local to that adapter's resource, and hundreds of
    per-adapter ARNs would not fit IAM's 6,144-character managed-policy limit anyway.
    """

    bucket: s3.IBucket
    """The bucket (a construct: ``s3.Bucket.from_bucket_name(...)`` for an existing one, not its name)."""
    prefix: str = "adapters/"
    """A non-empty folder. Default: ``adapters/``."""

    def __post_init__(self) -> None:
        super().__post_init__()
        wrong = interface_problem("bucket", self.bucket, s3.IBucket)
        if wrong:
            raise PropsTypeError("AdapterStore", [wrong])

    @property
    def key_prefix(self) -> str:
        return self.prefix.strip("/") + "/"

    @property
    def model_source(self) -> ModelSource:
        """The store seen as an S3 folder (for its read statements)."""
        return ModelSource.s3_prefix(self.bucket, self.key_prefix)

    def url(self, relative: str) -> str:
        return f"s3://{self.bucket.bucket_name}/{self.key_prefix}{relative}"

    def relative(self, artifact: str) -> str | None:
        """``artifact`` relative to the store, or ``None`` if it is a URL outside it (or unverifiable)."""
        match = _S3_URL_RE.match(artifact)
        if match is None:
            return None if artifact.startswith("s3://") else artifact
        name = self.bucket.bucket_name
        if cdk.Token.is_unresolved(name) or match["bucket"] != name or not match["key"].startswith(self.key_prefix):
            return None
        return match["key"][len(self.key_prefix) :]

    def problems(self) -> list[str]:
        if self.prefix.strip("/") == "":
            return [
                "adapter_store.prefix must be a folder like 'adapters/' (the role reads exactly that prefix), not the whole bucket"
            ]
        if not _KEY_RE.match(self.key_prefix) or ".." in self.key_prefix:
            return [f"adapter_store.prefix {self.prefix!r} has characters outside S3's safe set"]
        return []


@dataclass(frozen=True, kw_only=True)
class AdapterAlarmOptions(TypedOptions):
    """One CloudWatch alarm per adapter on its 5XX errors (in the adapter's own stack, next to it). They notify the
    fleet's ``alarm_topic``."""

    server_errors: int = 5
    """5XX invocation errors of the adapter per 5 minutes. Default: 5."""


def component_name(prefix: str, adapter: str) -> str:
    """The adapter's inference component name (what callers pass as ``InferenceComponentName``)."""
    return f"{prefix}-{adapter}" if prefix else adapter


def shard_of(adapter: str, shards: int) -> int:
    """The adapter stack holding ``adapter``: a stable hash of the (case-folded) name, never of the list.

    Depends only on the name and the fixed shard count, so adding or removing one adapter moves no other.
    """
    digest = hashlib.sha256(adapter.lower().encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards


def adapter_problems(
    adapter: LoraAdapter,
    *,
    packaging: AdapterPackaging,
    prefix: str,
    store: AdapterStore | None,
    lora: LoraOptions | None,
) -> list[str]:
    """Everything wrong with one adapter (names, artifact location, rank), one sentence each."""
    where = f"adapter {adapter.name!r}"
    out: list[str] = []
    if not isinstance(adapter.name, str) or adapter.name == "":
        return [f"adapters: every adapter needs a name, got {adapter.name!r}"]
    out += name_problems("adapter name", adapter.name)
    full = component_name(prefix, adapter.name)
    if not out and len(full) > NAME_MAX:
        out.append(
            f"{where}: its inference component name {full!r} is {len(full)} characters; SageMaker allows {NAME_MAX}. "
            f"Shorten the name (at most {NAME_MAX - len(prefix) - 1} characters with the prefix {prefix!r}) "
            "or pass a shorter component_name_prefix"
        )
    if adapter.rank is not None:
        if not isinstance(adapter.rank, int) or adapter.rank < 1:
            out.append(f"{where}: rank must be a positive integer, got {adapter.rank!r}")
        elif lora is not None and adapter.rank > lora.max_lora_rank:
            out.append(
                f"{where}: rank {adapter.rank} is above the container's max_lora_rank ({lora.max_lora_rank}); "
                "raise LoraOptions.max_lora_rank (8, 16, 32, 64, 128, 256, 320 or 512) so the server accepts it"
            )
    if packaging is AdapterPackaging.MODEL_ARTIFACT:
        if adapter.artifact is not None:
            out.append(
                f"{where}: artifact must be unset with MODEL_ARTIFACT packaging: the adapter is the folder "
                f"adapters/{adapter.name}/ inside the base model's S3 folder"
            )
        if adapter.rank is None:
            out.append(
                f"{where}: rank is required with MODEL_ARTIFACT packaging (a rank above max_lora_rank stops "
                "the whole container at start-up)"
            )
        return out
    if store is None:
        return out  # reported once for the fleet
    artifact = _artifact(adapter)
    relative = store.relative(artifact)
    if relative is None:
        out.append(
            f"{where}: artifact {artifact!r} is not under the adapter store s3://{store.bucket.bucket_name}/{store.key_prefix} "
            "(give a key relative to the store, e.g. 'support/adapter.tar.gz'): the execution role reads exactly that prefix"
        )
    elif relative.startswith("/") or ".." in relative or not _KEY_RE.match(relative):
        out.append(
            f"{where}: artifact {artifact!r} must be a key relative to the store like 'support/adapter.tar.gz' "
            "(no leading '/', no '..', S3-safe characters)"
        )
    else:
        out += RULES.problems(AdapterArtifact(adapter=adapter.name, artifact=artifact, relative=relative))
        if len(store.url(relative)) > ARTIFACT_URL_MAX and not cdk.Token.is_unresolved(store.bucket.bucket_name):
            out.append(f"{where}: its artifact URL is longer than {ARTIFACT_URL_MAX} characters")
    return out


def _artifact(adapter: LoraAdapter) -> str:
    return adapter.artifact if adapter.artifact is not None else DEFAULT_ARTIFACT.format(name=adapter.name)


def artifact_url(adapter: LoraAdapter, store: AdapterStore) -> str:
    """``Specification.Container.ArtifactUrl`` of a (validated) adapter."""
    artifact = _artifact(adapter)
    relative = store.relative(artifact)
    assert relative is not None
    return store.url(relative)

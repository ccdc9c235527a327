"""Where the weights come from (:class:`ModelSource`) and what serves them (:class:`LlmContainer`).

Both are plain, typed values: they render CloudFormation fragments, environment variables and
IAM statements, and report their own problems. The constructs decide where these go.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import region_info
from constructs import IConstruct

from .._types import TypedOptions
from ._checks import typed_factory
from .instances import InstanceSpec, load_data

_ENV_KEY_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]{0,1023}$")
_ECR_URI_RE = re.compile(
    r"^(?P<account>\d{12})\.dkr\.ecr\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?/(?P<repo>[a-z0-9._/-]+)[:@].+$"
)
_URI_RE = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*):/+")
_HF_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")

#: Mount point of the model data inside SageMaker hosting containers.
MODEL_DIR = "/opt/ml/model"


class ModelSourceKind(Enum):
    """Where a :class:`ModelSource` reads the weights from (``model.kind``); set by its factories."""

    S3_PREFIX = "s3-prefix"
    """An uncompressed folder, mounted with ``ModelDataSource`` (:meth:`ModelSource.s3_prefix`)."""
    S3_TARBALL = "s3-tarball"
    """One ``model.tar.gz``, downloaded and unpacked (``ModelDataUrl``, :meth:`ModelSource.s3_tarball`)."""
    HUGGING_FACE = "hugging-face"
    """Downloaded from the Hugging Face Hub by the container at start-up (:meth:`ModelSource.hugging_face`)."""


@dataclass(frozen=True)
class ModelSource:
    """The model weights. Create with :meth:`s3_prefix` (recommended), :meth:`s3_tarball` or :meth:`hugging_face`."""

    kind: ModelSourceKind
    """Which factory made it."""
    bucket: s3.IBucket | None = None
    """The weights bucket (S3 kinds). Default: - none (Hugging Face Hub)"""
    key: str = ""
    """The prefix (``"folder/"``) or object key inside ``bucket`` (S3 kinds). Default: ``""``"""
    model_id: str = ""
    """The Hub model ID (``"Qwen/Qwen2.5-7B-Instruct"``, HUGGING_FACE). Default: ``""``"""
    revision: str | None = None
    """The Hub revision (commit or tag) to pin. Default: - the Hub's default branch"""
    token_secret: secretsmanager.ISecret | None = None
    """A Secrets Manager secret holding a Hub token, for gated models. Default: - no token"""

    @staticmethod
    @typed_factory("ModelSource.s3_prefix")
    def s3_prefix(bucket: s3.IBucket, prefix: str) -> ModelSource:
        """Uncompressed weights under ``s3://bucket/prefix/`` (recommended).

        SageMaker mounts them at ``/opt/ml/model``: no Hub egress, no token, no tarball to unpack, so
        cold starts (and wake-ups from zero) are the fastest. The execution role can read exactly
        this prefix. ``prefix`` is the key prefix inside ``bucket`` (``"qwen2.5-7b-instruct/"``), not an
        ``s3://`` URI. Rendered as ``ModelDataSource``, which SageMaker does not support for serverless
        endpoints or batch transform: use :meth:`s3_tarball` there.
        """
        return ModelSource(ModelSourceKind.S3_PREFIX, bucket=bucket, key=prefix.strip("/") + "/")

    @staticmethod
    @typed_factory("ModelSource.s3_tarball")
    def s3_tarball(bucket: s3.IBucket, key: str) -> ModelSource:
        """A ``model.tar.gz`` object (``key`` inside ``bucket``, not a URI). SageMaker downloads and unpacks it into
        ``/opt/ml/model``; works in every mode and with batch transform."""
        return ModelSource(ModelSourceKind.S3_TARBALL, bucket=bucket, key=key.lstrip("/"))

    @staticmethod
    @typed_factory("ModelSource.hugging_face")
    def hugging_face(
        model_id: str, *, revision: str | None = None, token_secret: secretsmanager.ISecret | None = None
    ) -> ModelSource:
        """Download ``model_id`` from the Hugging Face Hub when the container starts.

        Needs an internet path from the endpoint (not possible with network isolation). For gated
        models pass ``token_secret`` (a Secrets Manager secret whose value is the token): the template
        holds only a dynamic reference, but SageMaker stores the resolved value in the model's
        environment, visible to anyone allowed ``sagemaker:DescribeModel``. For production, stage the
        weights in S3 and use :meth:`s3_prefix`.

        :param model_id: the Hub model ID, e.g. ``"Qwen/Qwen2.5-7B-Instruct"``.
        :param revision: commit or tag to pin. Default: - the Hub's default branch
        :param token_secret: the Hub token, for gated models. Default: - no token
        """
        return ModelSource(
            ModelSourceKind.HUGGING_FACE, model_id=model_id, revision=revision, token_secret=token_secret
        )

    @property
    def s3_uri(self) -> str | None:
        if self.bucket is None:
            return None
        return f"s3://{self.bucket.bucket_name}/{self.key}"

    def problems(self) -> list[str]:
        out: list[str] = []
        uri = _URI_RE.match(self.key)
        if uri is not None and self.kind is not ModelSourceKind.HUGGING_FACE:
            method, arg = ("s3_prefix", "prefix") if self.kind is ModelSourceKind.S3_PREFIX else ("s3_tarball", "key")
            key = self.key[uri.end() :].partition("/")[2] if uri["scheme"] == "s3" else ""
            out.append(
                f"model: ModelSource.{method}(bucket, {arg}) takes the key inside the bucket, not a URI: got {arg}={self.key!r}; "
                + (
                    f"pass {arg}={key!r} (the bucket is the first argument)"
                    if key
                    else f"pass the {arg} relative to the bucket"
                )
            )
            return out
        if self.kind is ModelSourceKind.S3_PREFIX and self.key in ("", "/"):
            out.append(
                "model: ModelSource.s3_prefix needs a non-empty prefix (the folder holding config.json and the weights)"
            )
        if self.kind is ModelSourceKind.S3_TARBALL and not self.key.endswith((".tar.gz", ".tgz")):
            out.append(
                f"model: ModelSource.s3_tarball key must end in .tar.gz, got {self.key!r}; for a folder use ModelSource.s3_prefix"
            )
        if self.kind is ModelSourceKind.HUGGING_FACE and not _HF_ID_RE.match(self.model_id):
            out.append(f"model: {self.model_id!r} is not a Hugging Face model ID like 'Qwen/Qwen2.5-7B-Instruct'")
        return out

    def container_fields(self) -> dict[str, Any]:
        """``model_data_source`` / ``model_data_url`` for ``CfnModel.ContainerDefinitionProperty``."""
        if self.kind is ModelSourceKind.S3_PREFIX:
            return {
                "model_data_source": sagemaker.CfnModel.ModelDataSourceProperty(
                    s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
                        s3_uri=self.s3_uri or "", s3_data_type="S3Prefix", compression_type="None"
                    )
                )
            }
        if self.kind is ModelSourceKind.S3_TARBALL:
            return {"model_data_url": self.s3_uri}
        return {}

    def read_statements(self) -> list[iam.PolicyStatement]:
        """Read exactly the model object or prefix (and decrypt it if the bucket has a KMS key).

        Bucket names are global: whoever creates a name first owns it. Every read is conditioned on
        ``aws:ResourceAccount`` being the bucket's account (``bucket.env.account``: this stack's account
        for ``Bucket.from_bucket_name`` and created buckets; pass ``account=`` to
        ``Bucket.from_bucket_attributes`` for a bucket another account owns), so a bucket of the same
        name in someone else's account is never read.
        """
        if self.bucket is None:
            return []
        owner = {"aws:ResourceAccount": self.bucket.env.account}
        suffix = "*" if self.kind is ModelSourceKind.S3_PREFIX else ""
        out = [
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[self.bucket.arn_for_objects(self.key + suffix)],
                conditions={"StringEquals": owner},
            )
        ]
        if self.kind is ModelSourceKind.S3_PREFIX:
            out.append(
                iam.PolicyStatement(
                    actions=["s3:ListBucket"],
                    resources=[self.bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [self.key + "*"]}, "StringEquals": owner},
                )
            )
        if self.bucket.encryption_key is not None:
            out.append(iam.PolicyStatement(actions=["kms:Decrypt"], resources=[self.bucket.encryption_key.key_arn]))
        return out


@dataclass(frozen=True, kw_only=True)
class LoraOptions(TypedOptions):
    """Multi-LoRA serving options rendered into the container environment."""

    max_loras: int = 8
    """Adapters resident in GPU memory at once (``OPTION_MAX_LORAS`` / ``SM_VLLM_MAX_LORAS``). Default: 8."""
    max_lora_rank: int = 16
    """Highest adapter rank the server accepts; must cover every adapter. Default: 16."""
    max_cpu_loras: int | None = None
    """Adapters cached in host memory (``OPTION_MAX_CPU_LORAS``). Default: the server's own (= max_loras)."""
    max_adapters_in_memory: int | None = None
    """``SAGEMAKER_MAX_NUMBER_OF_ADAPTERS_IN_MEMORY`` (dynamic adapter loading, LMI only). Default: unset."""

    def problems(self) -> list[str]:
        out = []
        if not 1 <= self.max_loras <= 256:
            out.append(f"lora.max_loras must be between 1 and 256, got {self.max_loras}")
        if self.max_lora_rank not in (8, 16, 32, 64, 128, 256, 320, 512):
            out.append(
                f"lora.max_lora_rank must be one of 8, 16, 32, 64, 128, 256, 320, 512 (vLLM's supported ranks), got {self.max_lora_rank}"
            )
        if self.max_cpu_loras is not None and self.max_cpu_loras < self.max_loras:
            out.append(f"lora.max_cpu_loras ({self.max_cpu_loras}) must be at least max_loras ({self.max_loras})")
        return out


class ContainerKind(Enum):
    """Which serving container an :class:`LlmContainer` is (``container.kind``); set by its factories."""

    LMI = "lmi"
    """AWS Large Model Inference (DJL Serving with vLLM): :meth:`LlmContainer.lmi`, the default."""
    TGI = "tgi"
    """Hugging Face Text Generation Inference (legacy): :meth:`LlmContainer.tgi`."""
    VLLM = "vllm"
    """The AWS vLLM Deep Learning Container: :meth:`LlmContainer.vllm`."""
    CUSTOM = "custom"
    """Any Amazon ECR image: :meth:`LlmContainer.from_image_uri`."""


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _clean(env: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in env.items() if v is not None}


@dataclass(frozen=True)
class LlmContainer:
    """The serving container and its typed options. Create with :meth:`lmi` (default), :meth:`vllm`, :meth:`tgi` or :meth:`from_image_uri`."""

    kind: ContainerKind
    """Which factory made it."""
    repository: str | None = None
    """The Deep Learning Containers repository (LMI, VLLM, TGI). Default: - none (CUSTOM)"""
    tag: str | None = None
    """The image tag. Default: - the pinned tag in ``data/containers.json``"""
    image_uri: str | None = None
    """The full image URI (CUSTOM). Default: - none"""
    options: Mapping[str, str] = field(default_factory=dict)
    """The environment rendered from the factory's typed options. Default: - none"""
    tensor_parallel_degree: int | str | None = None
    """GPUs one model copy is split over (``"max"``: all of the instance). Default: - the container's own"""
    lora: LoraOptions | None = None
    """Multi-LoRA serving options. Default: - LoRA off"""
    extra_environment: Mapping[str, str] = field(default_factory=dict)
    """The caller's extra variables (they win over ``options``). Default: - none"""

    @staticmethod
    @typed_factory("LlmContainer.lmi")
    def lmi(
        *,
        tensor_parallel_degree: int | str = "max",
        max_model_len: int | None = None,
        max_rolling_batch_size: int | None = None,
        rolling_batch: str | None = None,
        dtype: str | None = None,
        quantize: str | None = None,
        gpu_memory_utilization: float | None = None,
        lora: LoraOptions | None = None,
        environment: Mapping[str, str] | None = None,
        tag: str | None = None,
    ) -> LlmContainer:
        """AWS Large Model Inference container (DJL Serving with vLLM), the default.

        Renders ``OPTION_*`` variables. ``tensor_parallel_degree`` defaults to ``"max"`` (all GPUs the
        container sees); an integer is checked against the instance's GPUs. ``tag`` defaults to the
        pinned, tested tag in ``data/containers.json``. With ``lora`` the async vLLM handler is enabled
        (``OPTION_ASYNC_MODE=true`` and its entry point), which LoRA adapter inference components need.

        :param tensor_parallel_degree: ``OPTION_TENSOR_PARALLEL_DEGREE``, a positive integer or ``"max"``. Default: ``"max"``
        :param max_model_len: ``OPTION_MAX_MODEL_LEN``, the longest prompt + output in tokens. Default: - the model's
        :param max_rolling_batch_size: ``OPTION_MAX_ROLLING_BATCH_SIZE``, requests batched at once. Default: - LMI's
        :param rolling_batch: ``OPTION_ROLLING_BATCH``. Default: - ``"vllm"``, or ``"disable"`` with ``lora``:
            in async mode DJL Serving must not run its rolling batcher, or every request (adapter
            registration included) goes down the rolling-batch path (rule ``SAGEMAKER.LMI_ASYNC_ROLLING_BATCH``)
        :param dtype: ``OPTION_DTYPE`` (``"bf16"``, ``"fp16"`` …). Default: - the model's
        :param quantize: ``OPTION_QUANTIZE`` (``"awq"``, ``"fp8"`` …). Default: - none
        :param gpu_memory_utilization: ``OPTION_GPU_MEMORY_UTILIZATION``, a fraction in (0, 1]. Default: - vLLM's (0.9)
        :param lora: serve LoRA adapters (turns on the async vLLM handler). Default: - LoRA off
        :param environment: extra variables (they win over the typed options). Default: - none
        :param tag: the image tag. Default: - the pinned, tested tag in ``data/containers.json``
        """
        pinned = load_data("containers.json")["images"]["lmi"]
        options: dict[str, Any] = {
            "OPTION_ROLLING_BATCH": rolling_batch or ("disable" if lora is not None else "vllm"),
            "OPTION_TENSOR_PARALLEL_DEGREE": tensor_parallel_degree,
            "OPTION_MAX_MODEL_LEN": max_model_len,
            "OPTION_MAX_ROLLING_BATCH_SIZE": max_rolling_batch_size,
            "OPTION_DTYPE": dtype,
            "OPTION_QUANTIZE": quantize,
            "OPTION_GPU_MEMORY_UTILIZATION": gpu_memory_utilization,
        }
        if lora is not None:
            options.update(
                {
                    "OPTION_ENABLE_LORA": True,
                    "OPTION_MAX_LORAS": lora.max_loras,
                    "OPTION_MAX_LORA_RANK": lora.max_lora_rank,
                    "OPTION_MAX_CPU_LORAS": lora.max_cpu_loras,
                    "SAGEMAKER_MAX_NUMBER_OF_ADAPTERS_IN_MEMORY": lora.max_adapters_in_memory,
                    "OPTION_ASYNC_MODE": True,
                    "OPTION_ENTRYPOINT": "djl_python.lmi_vllm.vllm_async_service",
                }
            )
        return LlmContainer(
            ContainerKind.LMI,
            repository=pinned["repository"],
            tag=tag or pinned["tag"],
            options=_clean(options),
            tensor_parallel_degree=tensor_parallel_degree,
            lora=lora,
            extra_environment=dict(environment or {}),
        )

    @staticmethod
    @typed_factory("LlmContainer.vllm")
    def vllm(
        *,
        tensor_parallel_size: int | None = None,
        max_model_len: int | None = None,
        max_num_seqs: int | None = None,
        gpu_memory_utilization: float | None = None,
        dtype: str | None = None,
        lora: LoraOptions | None = None,
        environment: Mapping[str, str] | None = None,
        tag: str | None = None,
    ) -> LlmContainer:
        """AWS vLLM Deep Learning Container for SageMaker (``SM_VLLM_*`` variables map to vLLM flags).

        :param tensor_parallel_size: ``SM_VLLM_TENSOR_PARALLEL_SIZE``. Default: - vLLM's (1)
        :param max_model_len: ``SM_VLLM_MAX_MODEL_LEN``. Default: - the model's
        :param max_num_seqs: ``SM_VLLM_MAX_NUM_SEQS``, sequences batched at once. Default: - vLLM's
        :param gpu_memory_utilization: ``SM_VLLM_GPU_MEMORY_UTILIZATION``, a fraction in (0, 1]. Default: - vLLM's (0.9)
        :param dtype: ``SM_VLLM_DTYPE``. Default: - the model's
        :param lora: serve LoRA adapters (``SM_VLLM_ENABLE_LORA`` and runtime adapter loading). Default: - LoRA off
        :param environment: extra variables (they win over the typed options). Default: - none
        :param tag: the image tag. Default: - the pinned, tested tag in ``data/containers.json``
        """
        pinned = load_data("containers.json")["images"]["vllm"]
        options: dict[str, Any] = {
            "SM_VLLM_TENSOR_PARALLEL_SIZE": tensor_parallel_size,
            "SM_VLLM_MAX_MODEL_LEN": max_model_len,
            "SM_VLLM_MAX_NUM_SEQS": max_num_seqs,
            "SM_VLLM_GPU_MEMORY_UTILIZATION": gpu_memory_utilization,
            "SM_VLLM_DTYPE": dtype,
        }
        if lora is not None:
            options.update(
                {
                    "SM_VLLM_ENABLE_LORA": True,
                    "SM_VLLM_MAX_LORAS": lora.max_loras,
                    "SM_VLLM_MAX_LORA_RANK": lora.max_lora_rank,
                    "SM_VLLM_MAX_CPU_LORAS": lora.max_cpu_loras,
                    # Required for adapter inference components (adapters are loaded at runtime).
                    "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True",
                }
            )
        return LlmContainer(
            ContainerKind.VLLM,
            repository=pinned["repository"],
            tag=tag or pinned["tag"],
            options=_clean(options),
            tensor_parallel_degree=tensor_parallel_size,
            lora=lora,
            extra_environment=dict(environment or {}),
        )

    @staticmethod
    @typed_factory("LlmContainer.tgi")
    def tgi(
        *,
        num_gpus: int | None = None,
        max_input_tokens: int | None = None,
        max_total_tokens: int | None = None,
        max_batch_total_tokens: int | None = None,
        max_batch_prefill_tokens: int | None = None,
        quantize: str | None = None,
        environment: Mapping[str, str] | None = None,
        tag: str | None = None,
    ) -> LlmContainer:
        """Hugging Face Text Generation Inference (legacy: TGI is in maintenance mode upstream).

        Renders ``SM_NUM_GPUS`` (default: all GPUs of the instance), ``MAX_INPUT_TOKENS`` (TGI 3's name
        for ``MAX_INPUT_LENGTH``), ``MAX_TOTAL_TOKENS``, ``MAX_BATCH_TOTAL_TOKENS``,
        ``MAX_BATCH_PREFILL_TOKENS`` and ``HF_MODEL_QUANTIZE``.

        :param num_gpus: ``SM_NUM_GPUS``. Default: - all GPUs of the instance
        :param max_input_tokens: ``MAX_INPUT_TOKENS``, less than ``max_total_tokens``. Default: - TGI's
        :param max_total_tokens: ``MAX_TOTAL_TOKENS``, prompt + output. Default: - TGI's
        :param max_batch_total_tokens: ``MAX_BATCH_TOTAL_TOKENS``. Default: - TGI's
        :param max_batch_prefill_tokens: ``MAX_BATCH_PREFILL_TOKENS``. Default: - TGI's
        :param quantize: ``HF_MODEL_QUANTIZE``. Default: - none
        :param environment: extra variables (they win over the typed options). Default: - none
        :param tag: the image tag. Default: - the pinned, tested tag in ``data/containers.json``
        """
        pinned = load_data("containers.json")["images"]["tgi"]
        options = {
            "MAX_INPUT_TOKENS": max_input_tokens,
            "MAX_TOTAL_TOKENS": max_total_tokens,
            "MAX_BATCH_TOTAL_TOKENS": max_batch_total_tokens,
            "MAX_BATCH_PREFILL_TOKENS": max_batch_prefill_tokens,
            "HF_MODEL_QUANTIZE": quantize,
        }
        return LlmContainer(
            ContainerKind.TGI,
            repository=pinned["repository"],
            tag=tag or pinned["tag"],
            options=_clean(options),
            tensor_parallel_degree=num_gpus,
            extra_environment=dict(environment or {}),
        )

    @staticmethod
    @typed_factory("LlmContainer.from_image_uri")
    def from_image_uri(image_uri: str, *, environment: Mapping[str, str] | None = None) -> LlmContainer:
        """Any Amazon ECR image (``<account>.dkr.ecr.<region>.amazonaws.com/<repo>:<tag>``); pull is granted on that repository only.

        :param image_uri: the ECR image URI.
        :param environment: the container's variables. Default: - none
        """
        return LlmContainer(ContainerKind.CUSTOM, image_uri=image_uri, extra_environment=dict(environment or {}))

    # ---------------------------------------------------------------- rendering

    def environment(
        self, model: ModelSource, instance: InstanceSpec | None, *, accelerators: int | None = None
    ) -> dict[str, str]:
        """Every container variable: model location, typed options, then the caller's extras (which win)."""
        env: dict[str, str] = {}
        if model.kind is ModelSourceKind.HUGGING_FACE:
            env["HF_MODEL_ID"] = model.model_id
            if model.revision:
                env[
                    {ContainerKind.TGI: "HF_MODEL_REVISION", ContainerKind.VLLM: "SM_VLLM_REVISION"}.get(
                        self.kind, "OPTION_REVISION"
                    )
                ] = model.revision
            if model.token_secret is not None:
                env["HF_TOKEN"] = model.token_secret.secret_value.unsafe_unwrap()
        elif self.kind is not ContainerKind.CUSTOM:
            env["HF_MODEL_ID"] = MODEL_DIR
        if self.kind is ContainerKind.VLLM:
            env["SM_VLLM_MODEL"] = env["HF_MODEL_ID"]
        env.update(self.options)
        gpus = accelerators if accelerators is not None else (instance.accelerators if instance else None)
        if self.kind is ContainerKind.TGI and "SM_NUM_GPUS" not in env:
            env["SM_NUM_GPUS"] = str(self.tensor_parallel_degree or gpus or 1)
        env.update(self.extra_environment)
        return env

    def _option_range_problems(self) -> list[str]:
        """Typed options whose value no server accepts (``max_model_len=-1``, ``gpu_memory_utilization=1.5``)."""
        out: list[str] = []
        for key, value in self.options.items():
            if key in _POSITIVE_OPTIONS and not (value.isdigit() and int(value) >= 1):
                out.append(f"container: LlmContainer.{_POSITIVE_OPTIONS[key]} must be a positive integer, got {value}")
            if key in _FRACTION_OPTIONS and not (_number(value) is not None and 0 < float(value) <= 1):
                out.append(
                    f"container: LlmContainer.{_FRACTION_OPTIONS[key]} must be a fraction in (0, 1] of the GPU "
                    f"memory, got {value}"
                )
        return out

    def image(self, scope: IConstruct) -> tuple[str, str | None]:
        """(image URI, ECR repository ARN to grant pull on) for the stack of ``scope``."""
        if self.kind is ContainerKind.CUSTOM:
            match = _ECR_URI_RE.match(self.image_uri or "")
            if match is None:
                return self.image_uri or "", None
            arn = cdk.Stack.of(scope).format_arn(
                service="ecr",
                account=match["account"],
                region=match["region"],
                resource="repository",
                resource_name=match["repo"],
                arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
            )
            return self.image_uri or "", arn
        account = dlc_account(scope)
        uri = f"{account}.dkr.ecr.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}/{self.repository}:{self.tag}"
        arn = cdk.Stack.of(scope).format_arn(
            service="ecr",
            account=account,
            resource="repository",
            resource_name=self.repository,
            arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
        )
        return uri, arn

    def problems(self, instance: InstanceSpec | None) -> list[str]:
        out: list[str] = []
        if self.kind is ContainerKind.CUSTOM and not _ECR_URI_RE.match(self.image_uri or ""):
            out.append(
                f"container: {self.image_uri!r} is not an Amazon ECR image URI "
                "('<account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>'); SageMaker hosting pulls from ECR"
            )
        for key in {**self.options, **self.extra_environment}:
            if not _ENV_KEY_RE.match(key):
                out.append(
                    f"container: environment variable name {key!r} is invalid (letters, digits, '_'; not starting with a digit)"
                )
        tp = self.tensor_parallel_degree
        if isinstance(tp, str) and tp != "max":
            out.append(f"container: tensor_parallel_degree must be a positive integer or 'max', got {tp!r}")
        if isinstance(tp, int):
            if tp < 1:
                out.append(f"container: tensor parallel degree must be at least 1, got {tp}")
            elif instance is not None and instance.is_accelerated and tp > instance.accelerators:
                out.append(
                    f"container: tensor parallel degree {tp} is more than the {instance.accelerators} accelerator(s) of "
                    f"{instance.name}; lower it or pick a larger instance type"
                )
        out.extend(self._option_range_problems())
        if self.lora is not None:
            out.extend(self.lora.problems())
        if (
            self.kind is ContainerKind.TGI
            and self.options.get("MAX_INPUT_TOKENS")
            and self.options.get("MAX_TOTAL_TOKENS")
        ):
            if int(self.options["MAX_INPUT_TOKENS"]) >= int(self.options["MAX_TOTAL_TOKENS"]):
                out.append(
                    "container: TGI max_input_tokens must be less than max_total_tokens (room is needed for the output)"
                )
        return out


#: Typed container options that must be positive integers: environment variable → the factory argument that sets it
#: (tensor parallel degrees are checked on their own, against the instance's accelerators).
_POSITIVE_OPTIONS = {
    "OPTION_MAX_MODEL_LEN": "lmi(max_model_len)",
    "OPTION_MAX_ROLLING_BATCH_SIZE": "lmi(max_rolling_batch_size)",
    "SM_VLLM_MAX_MODEL_LEN": "vllm(max_model_len)",
    "SM_VLLM_MAX_NUM_SEQS": "vllm(max_num_seqs)",
    "MAX_INPUT_TOKENS": "tgi(max_input_tokens)",
    "MAX_TOTAL_TOKENS": "tgi(max_total_tokens)",
    "MAX_BATCH_TOTAL_TOKENS": "tgi(max_batch_total_tokens)",
    "MAX_BATCH_PREFILL_TOKENS": "tgi(max_batch_prefill_tokens)",
}
#: Fractions of GPU memory (vLLM's --gpu-memory-utilization: 0 < value <= 1).
_FRACTION_OPTIONS = {
    "OPTION_GPU_MEMORY_UTILIZATION": "lmi(gpu_memory_utilization)",
    "SM_VLLM_GPU_MEMORY_UTILIZATION": "vllm(gpu_memory_utilization)",
}


def dlc_accounts() -> dict[str, str]:
    """Region → AWS Deep Learning Containers registry account (aws-cdk-lib's fact table + our overlay)."""
    table = {r.name: r.dlc_repository_account for r in region_info.RegionInfo.regions if r.dlc_repository_account}
    for region, account in load_data("containers.json")["extra_accounts"].items():
        table.setdefault(region, account)
    return dict(sorted(table.items()))


_MAPPING_ID = "CdkLlmServingDlcAccounts"
_REGION_RULE_ID = "CdkLlmServingDlcRegion"


def dlc_account(scope: IConstruct) -> str:
    """The DLC registry account for the stack's Region: a literal, or a stack mapping lookup when the Region is a token.

    For a Region-agnostic stack the mapping comes with a template rule (``Rules.CdkLlmServingDlcRegion``)
    asserting that ``AWS::Region`` is one of the mapping's Regions, so a deployment elsewhere stops before
    any resource is created, with a message saying what to do, instead of failing on the ``Fn::FindInMap``.
    """
    stack = cdk.Stack.of(scope)
    if not cdk.Token.is_unresolved(stack.region):
        account = dlc_accounts().get(stack.region)
        if account is None:  # reported by validation (SAGEMAKER.DLC_REGISTRY_REGION); keep synth going
            return "000000000000"
        return account
    mapping = stack.node.try_find_child(_MAPPING_ID)
    if not isinstance(mapping, cdk.CfnMapping):
        accounts = dlc_accounts()
        mapping = cdk.CfnMapping(
            stack, _MAPPING_ID, mapping={region: {"account": account} for region, account in accounts.items()}
        )
        cdk.CfnRule(
            stack,
            _REGION_RULE_ID,
            assertions=[
                cdk.CfnRuleAssertion(
                    assert_=cdk.Fn.condition_contains(list(accounts), cdk.Aws.REGION),
                    assert_description=(
                        "cdk-llm-serving: this Region has no AWS Deep Learning Containers registry (the "
                        f"{_MAPPING_ID} mapping lists the Regions that host the images). Deploy to one of them, or "
                        "use LlmContainer.from_image_uri with an image in your own ECR repository."
                    ),
                )
            ],
        )
    return mapping.find_in_map(cdk.Aws.REGION, "account")

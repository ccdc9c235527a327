"""What every SageMaker LLM endpoint offers, created or imported: names, ARNs, grants and metrics."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from constructs import Construct

from .._errors import ProblemCollector
from .._names import SAGEMAKER_NAME_MAX, SAGEMAKER_NAME_RE
from .._rules import breaks_pattern
from .._types import typed_props

#: SageMaker's name rule for endpoints, endpoint configs, models and inference components.
NAME_RE = SAGEMAKER_NAME_RE
NAME_MAX = SAGEMAKER_NAME_MAX
VARIANT_NAME = "AllTraffic"

INVOKE_ACTIONS = ["sagemaker:InvokeEndpoint", "sagemaker:InvokeEndpointWithResponseStream"]


def name_problems(what: str, name: str | None) -> list[str]:
    """Problems of a SageMaker resource name (tokens are not checked)."""
    if breaks_pattern(name, SAGEMAKER_NAME_RE, max_length=NAME_MAX):
        return [
            f"{what} {name!r} is invalid: at most {NAME_MAX} characters, letters, digits and single hyphens, "
            "starting and ending with a letter or digit"
        ]
    return []


def generated_name(construct: Construct) -> str:
    """A deterministic, unique SageMaker name from the construct path (never from prop values)."""
    return cdk.Names.unique_resource_name(construct, max_length=NAME_MAX, separator="-")


class LlmEndpointBase(Construct):
    """What every invocable SageMaker target offers (an endpoint, a LoRA fleet, one LoRA adapter): names, ARNs,
    ``grant_invoke`` and the invocation metrics.

    Subclasses set :attr:`endpoint_name` and (for inference-component hosting)
    :attr:`inference_component_name` before using the helpers.
    """

    endpoint_name: str
    """The SageMaker endpoint name."""
    inference_component_name: str | None = None
    """The inference component callers must name on invoke (``None`` for classic variants)."""

    @property
    def endpoint_arn(self) -> str:
        """ARN of the endpoint (SageMaker stores endpoint names in lower case in ARNs)."""
        name = self.endpoint_name
        return cdk.Stack.of(self).format_arn(
            service="sagemaker",
            resource="endpoint",
            resource_name=name if cdk.Token.is_unresolved(name) else name.lower(),
            arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
        )

    @property
    def inference_component_arn(self) -> str | None:
        """ARN of this endpoint's own inference component (``None`` for classic variants)."""
        name = self.inference_component_name
        return None if name is None else self.component_arn(name)

    def component_arn(self, name: str) -> str:
        """ARN of the inference component ``name`` on this endpoint's account and Region."""
        return cdk.Stack.of(self).format_arn(
            service="sagemaker",
            resource="inference-component",
            resource_name=name if cdk.Token.is_unresolved(name) else name.lower(),
            arn_format=cdk.ArnFormat.SLASH_RESOURCE_NAME,
        )

    # ----------------------------------------------------------------- grants

    def grant_invoke(self, grantee: iam.IGrantable) -> iam.Grant:
        """Allow ``InvokeEndpoint`` and ``InvokeEndpointWithResponseStream`` on this target: the endpoint ARN, and
        with an inference component also that component's ARN (and no other component of the endpoint).

        The Service Authorization Reference lists two resource types for both actions: ``endpoint`` (required) and
        ``inference-component`` (optional); ``InvokeEndpointAsync`` has ``endpoint`` only ("Actions, resources, and
        condition keys for Amazon SageMaker AI", as mirrored in iann0036/iam-dataset aws/iam_definition.json at
        08eff2d). A call naming ``InferenceComponentName`` is therefore authorized against the component ARN as well
        as the endpoint ARN: an endpoint-only grant would not cover it, so both are granted.
        """
        arns = [self.endpoint_arn] + ([self.inference_component_arn] if self.inference_component_arn else [])
        return iam.Grant.add_to_principal(grantee=grantee, actions=INVOKE_ACTIONS, resource_arns=arns)

    # ---------------------------------------------------------------- metrics

    def _dimensions(self, *, per_component: bool = True) -> dict[str, str]:
        if per_component and self.inference_component_name is not None:
            return {"InferenceComponentName": self.inference_component_name}
        return {"EndpointName": self.endpoint_name, "VariantName": VARIANT_NAME}

    def metric(
        self, metric_name: str, *, namespace: str = "AWS/SageMaker", per_component: bool = True, **options: Any
    ) -> cloudwatch.Metric:
        """A metric of this endpoint (per inference component when there is one)."""
        options.setdefault("period", cdk.Duration.minutes(5))
        return cloudwatch.Metric(
            namespace=namespace,
            metric_name=metric_name,
            dimensions_map=self._dimensions(per_component=per_component),
            **options,
        )

    def metric_invocations(self, **options: Any) -> cloudwatch.Metric:
        options.setdefault("statistic", "Sum")
        return self.metric("Invocations", **options)

    def metric_server_errors(self, **options: Any) -> cloudwatch.Metric:
        """``Invocation5XXErrors`` (model or platform failures)."""
        options.setdefault("statistic", "Sum")
        return self.metric("Invocation5XXErrors", **options)

    def metric_client_errors(self, **options: Any) -> cloudwatch.Metric:
        options.setdefault("statistic", "Sum")
        return self.metric("Invocation4XXErrors", **options)

    def metric_model_latency(self, **options: Any) -> cloudwatch.Metric:
        """``ModelLatency`` in MICROSECONDS (p90 by default)."""
        options.setdefault("statistic", "p90")
        return self.metric("ModelLatency", **options)

    def metric_overhead_latency(self, **options: Any) -> cloudwatch.Metric:
        """``OverheadLatency`` (SageMaker's own share, microseconds)."""
        options.setdefault("statistic", "p90")
        return self.metric("OverheadLatency", **options)

    def metric_no_capacity_failures(self, **options: Any) -> cloudwatch.Metric:
        """``NoCapacityInvocationFailures``: requests that found no copy (scale-from-zero wake-up signal)."""
        options.setdefault("statistic", "Maximum")
        options.setdefault("period", cdk.Duration.minutes(1))
        return self.metric("NoCapacityInvocationFailures", **options)

    def metric_concurrent_requests(self, **options: Any) -> cloudwatch.Metric:
        """Concurrent requests per copy (inference components) or per model (classic variants)."""
        options.setdefault("statistic", "Maximum")
        if self.inference_component_name is not None:
            return self.metric("ConcurrentRequestsPerCopy", **options)
        return self.metric("ConcurrentRequestsPerModel", **options)


class HostedLlmEndpointBase(LlmEndpointBase):
    """A target that runs on instances of its own (an endpoint, the base model of a LoRA fleet): adds the
    instance metrics. A LoRA adapter has no compute of its own, so it has none of these."""

    def metric_gpu_memory_utilization(self, **options: Any) -> cloudwatch.Metric:
        """Classic variants: percent × GPUs per instance. Inference components: normalized 0-100."""
        options.setdefault("statistic", "Maximum")
        if self.inference_component_name is not None:
            return self.metric(
                "GPUMemoryUtilizationNormalized", namespace="/aws/sagemaker/InferenceComponents", **options
            )
        return self.metric("GPUMemoryUtilization", namespace="/aws/sagemaker/Endpoints", **options)

    def metric_disk_utilization(self, **options: Any) -> cloudwatch.Metric:
        options.setdefault("statistic", "Maximum")
        return self.metric("DiskUtilization", namespace="/aws/sagemaker/Endpoints", per_component=False, **options)


class SageMakerEndpointBase(HostedLlmEndpointBase):
    """A whole SageMaker endpoint, created (:class:`SageMakerLlmEndpoint`) or imported (:class:`ImportedLlmEndpoint`):
    adds the asynchronous-inference backlog metric."""

    def metric_async_backlog(self, **options: Any) -> cloudwatch.Metric:
        """``ApproximateBacklogSize`` (async endpoints)."""
        options.setdefault("statistic", "Average")
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name="ApproximateBacklogSize",
            dimensions_map={"EndpointName": self.endpoint_name},
            period=options.pop("period", cdk.Duration.minutes(5)),
            **options,
        )


class ImportedLlmEndpoint(SageMakerEndpointBase):
    """An endpoint created elsewhere; see :meth:`SageMakerLlmEndpoint.from_endpoint_name`."""

    @typed_props
    def __init__(
        self, scope: Construct, construct_id: str, *, endpoint_name: str, inference_component_name: str | None = None
    ) -> None:
        """
        :param endpoint_name: the endpoint's name.
        :param inference_component_name: the inference component to invoke and measure on it.
            Default: - none (the endpoint's production variant)
        """
        super().__init__(scope, construct_id)
        problems = ProblemCollector.for_construct(self)
        for p in name_problems("endpoint_name", endpoint_name) + name_problems(
            "inference_component_name", inference_component_name
        ):
            problems.add(p)
        problems.raise_if_any()
        self.endpoint_name = endpoint_name
        self.inference_component_name = inference_component_name

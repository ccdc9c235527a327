"""PipelineStack: CDK Pipelines delivery of the use-case stacks, environment by environment (seed 001 §6).

A self-mutating ``pipelines.CodePipeline`` whose synth step runs the README's two commands (``make test``, then
``make synth``), one ``cdk.Stage`` per environment of the ``pipeline`` context (each holding the stacks it names,
configured by the stacks' own context settings with the environment's overrides merged over them), a manual approval
before production and a smoke test after each environment that has a ChatStack.

Added to the app only when cdk.json (or ``-c pipeline='{...}'``) has a ``pipeline`` setting, so the default
``make synth`` stays as it is. Synth stays offline: every account and Region is explicit, and the stages' VPC stacks
take their Availability Zones from the environment's settings instead of a lookup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_codebuild as codebuild
from aws_cdk import aws_codecommit as codecommit
from aws_cdk import aws_codepipeline as codepipeline
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import pipelines
from constructs import Construct, IConstruct

from cdk_llm_serving import PropsValidationError
from cdk_llm_serving._nag import acknowledge, nag_resource

from .batch_stack import BatchSettings, BatchStack
from .chat_stack import ChatSettings, ChatStack
from .inferentia_stack import InferentiaSettings, InferentiaStack
from .lora_stack import LoraSettings, LoraStack
from .rag_stack import RagSettings, RagStack


@dataclass(frozen=True)
class _StackKind:
    cls: type[cdk.Stack]
    from_context: Callable[[Any], Any]
    context_key: str
    needs_availability_zones: bool = False


#: The stacks an environment can hold: class, settings parser, context key (cdk.json ``context.<key>``), and whether
#: it builds a VPC (``ec2.Vpc`` picks Availability Zones, which needs a lookup in a stack with an account and Region).
STACK_KINDS: dict[str, _StackKind] = {
    "ChatStack": _StackKind(ChatStack, ChatSettings.from_context, "chat"),
    "RagStack": _StackKind(RagStack, RagSettings.from_context, "rag", needs_availability_zones=True),
    "LoraStack": _StackKind(LoraStack, LoraSettings.from_context, "lora"),
    "InferentiaStack": _StackKind(
        InferentiaStack, InferentiaSettings.from_context, "inferentia", needs_availability_zones=True
    ),
    "BatchStack": _StackKind(BatchStack, BatchSettings.from_context, "batch"),
}

#: The CDK CLI the self-mutation step installs: the repository's pinned one (package.json), as `make synth` uses.
CLI_VERSION: str = json.loads((Path(__file__).resolve().parent.parent / "package.json").read_text())["devDependencies"][
    "aws-cdk"
]

#: The cdk-assets CLI the asset-publishing steps install. CDK Pipelines defaults to ``latest`` (aws-cdk-lib 2.275
#: pipelines/lib/codepipeline/codepipeline.js: ``cdkAssetsCliVersion ?? "latest"``), which would let a new major
#: version change a running pipeline; this pins the release current on the npm registry when it was chosen.
CDK_ASSETS_VERSION = "4.7.3"

#: The synth step's commands: exactly the README's two (tests, then the synth into cdk.out).
SYNTH_COMMANDS = ("make test", "make synth")

_ACCOUNT = re.compile(r"^[0-9]{12}$")  # botocore servicecatalog/organizations AccountId: ^[0-9]{12}$
# Region names: two letters, optional -gov/-iso*, a direction word and a digit (us-east-1, us-gov-west-1, eu-central-2).
_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9]$")
# The environment name is both a CodePipeline stage name (botocore codepipeline StageName: 1-100 of
# [A-Za-z0-9.@\-_]) and the prefix of the CloudFormation stack names ("staging-ChatStack"; a stack name "can contain
# only alphanumeric characters and hyphens, must start with an alphabetic character", AWS CloudFormation User Guide,
# "Create a stack"), and names the smoke-test role (IAM role names: at most 64 characters): letters, digits, hyphens.
_ENV_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,31}$")
# botocore codeconnections ConnectionArn: arn:aws(-[\w]+)*:.+:.+:[0-9]{12}:.+ ; CDK Pipelines takes CodeStar and
# CodeConnections connections alike.
_CONNECTION_ARN = re.compile(
    r"^arn:aws(-[a-z]+)*:(codeconnections|codestar-connections):[a-z0-9-]+:[0-9]{12}:connection/.+$"
)
# botocore codepipeline PipelineName: 1-100 of [A-Za-z0-9.@\-_]
_PIPELINE_NAME = re.compile(r"^[A-Za-z0-9.@\-_]{1,100}$")
_AZ = re.compile(r"^([a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-[0-9])[a-z]$")


@dataclass(frozen=True, kw_only=True)
class PipelineSource:
    """Where the pipeline gets the repository. Exactly one kind: a CodeConnections connection (GitHub, GitLab,
    Bitbucket), an S3 object (a zip of the repository) or a CodeCommit repository."""

    connection_arn: str | None = None
    """CodeConnections (or CodeStar Connections) connection ARN; with ``repository`` (``owner/name``) and ``branch``.
    Default: - not a connection source"""
    repository: str | None = None
    """``owner/name`` for a connection, or the CodeCommit repository name. Default: - none"""
    branch: str = "main"
    """Branch to build (connection and CodeCommit sources). Default: main"""
    bucket: str | None = None
    """S3 bucket of a zipped repository (versioning enabled; the pipeline polls or reacts to the object). Default: - not
    an S3 source"""
    key: str | None = None
    """S3 object key of the zip, with ``bucket``. Default: - none"""
    codecommit: bool = False
    """Use the CodeCommit repository ``repository`` of the pipeline account. Default: false"""

    def problems(self) -> list[str]:
        kinds = [bool(self.connection_arn), bool(self.bucket), self.codecommit]
        out: list[str] = []
        if sum(kinds) != 1:
            return [
                "setting 'source' must have exactly one of 'connection_arn' (with 'repository' and 'branch'), "
                "'bucket' (with 'key') or 'codecommit': true (with 'repository')"
            ]
        if self.connection_arn:
            if not _CONNECTION_ARN.match(self.connection_arn):
                out.append(
                    "setting 'source.connection_arn' must be a connection ARN like "
                    f"'arn:aws:codeconnections:us-east-1:111111111111:connection/<id>', got {self.connection_arn!r}"
                )
            if not self.repository or self.repository.count("/") != 1:
                out.append(
                    f"setting 'source.repository' must be 'owner/name' for a connection, got {self.repository!r}"
                )
        if self.bucket and not self.key:
            out.append("setting 'source.key' (the zip's object key) is required with 'source.bucket'")
        if self.codecommit and not self.repository:
            out.append("setting 'source.repository' (the CodeCommit repository name) is required with 'codecommit'")
        if not self.branch:
            out.append("setting 'source.branch' must not be empty")
        return out

    def bind(self, scope: Construct) -> pipelines.CodePipelineSource:
        if self.connection_arn:
            return pipelines.CodePipelineSource.connection(
                str(self.repository), self.branch, connection_arn=self.connection_arn
            )
        if self.bucket:
            bucket = s3.Bucket.from_bucket_name(scope, "SourceBucket", self.bucket)
            return pipelines.CodePipelineSource.s3(bucket, str(self.key))
        repo = codecommit.Repository.from_repository_name(scope, "SourceRepository", str(self.repository))
        return pipelines.CodePipelineSource.code_commit(repo, self.branch)


@dataclass(frozen=True, kw_only=True)
class PipelineEnvironment:
    """One deployment environment: a pipeline stage deploying ``stacks`` to ``account``/``region``."""

    name: str
    """Stage name and stack-name prefix (``staging`` → ``staging-ChatStack``): a letter, then letters, digits, hyphens."""
    account: str
    """12-digit AWS account ID (bootstrapped with ``--trust <pipeline account>``)."""
    region: str
    """AWS Region, e.g. ``us-east-1``."""
    stacks: tuple[str, ...] = ("ChatStack",)
    """Stacks to deploy: ChatStack, RagStack, LoraStack, InferentiaStack. Default: ChatStack"""
    settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    """Per-stack settings overrides by context key (``{"chat": {"throttling_rate_limit": 5}}``), merged over the
    stack's own cdk.json context. Default: - none (the stacks' context settings as they are)"""
    availability_zones: tuple[str, ...] = ()
    """Availability Zones (at least 2) of ``region`` in that account, for RagStack and InferentiaStack's VPCs (names
    differ per account: ``aws ec2 describe-availability-zones``). Default: - none (required with those stacks)"""
    manual_approval: bool | None = None
    """Wait for a manual approval before deploying. Default: - true for an environment named prod or production"""

    @property
    def needs_approval(self) -> bool:
        if self.manual_approval is not None:
            return self.manual_approval
        return self.name.lower() in ("prod", "production")

    def stack_settings(self, context: Callable[[str], Any]) -> dict[str, Any]:
        """Each stack's settings: its context value (``context(key)``) with this environment's overrides merged over."""
        out = {}
        for name in self.stacks:
            kind = STACK_KINDS[name]
            base = _as_mapping(context(kind.context_key))
            out[name] = kind.from_context({**base, **self.settings.get(kind.context_key, {})})
        return out


@dataclass(frozen=True, kw_only=True)
class PipelineSettings:
    """Settings of :class:`PipelineStack`, read from cdk.json context ``pipeline``."""

    account: str
    """12-digit account ID of the pipeline (tooling) account."""
    region: str
    """Region of the pipeline."""
    source: PipelineSource
    """The repository the pipeline builds."""
    environments: tuple[PipelineEnvironment, ...]
    """Environments in promotion order (e.g. staging, then prod)."""
    pipeline_name: str = "cdk-llm-serving"
    """CodePipeline name. Default: cdk-llm-serving"""
    cross_account_keys: bool = True
    """KMS-encrypt the artifact bucket so other accounts can read it (needed when an environment is in another
    account). Default: true"""

    @classmethod
    def from_context(cls, raw: Any, context: Callable[[str], Any] | None = None) -> PipelineSettings:
        """Parse and check the ``pipeline`` context value, including each environment's stack settings (the stacks'
        own checks run on the merged settings); every problem is reported at once."""
        where = "cdk.json context 'pipeline'"
        raw = _as_mapping(raw, where)
        context = context or (lambda key: None)
        problems: list[str] = []
        known = {f.name for f in cls.__dataclass_fields__.values()}
        problems += [
            f"unknown setting {k!r}; known settings: {', '.join(sorted(known))}" for k in raw if k not in known
        ]
        for required in ("account", "region", "source", "environments"):
            if required not in raw:
                problems.append(f"setting {required!r} is required")
        if problems:
            raise PropsValidationError(where, problems)
        problems += _environment_problems("setting", raw["account"], raw["region"])
        name = raw.get("pipeline_name", "cdk-llm-serving")
        if not isinstance(name, str) or not _PIPELINE_NAME.match(name):
            problems.append(
                f"setting 'pipeline_name' must be 1-100 of letters, digits, '.', '@', '-', '_', got {json.dumps(name)}"
            )
        if not isinstance(raw.get("cross_account_keys", True), bool):
            problems.append(
                f"setting 'cross_account_keys' must be true or false, got {json.dumps(raw['cross_account_keys'])}"
            )
        source = _parse_source(raw["source"], problems)
        environments = _parse_environments(raw["environments"], problems, context)
        settings = cls(
            account=raw["account"],
            region=raw["region"],
            source=source or PipelineSource(),
            environments=environments,
            pipeline_name=name,
            cross_account_keys=raw.get("cross_account_keys", True) is not False,
        )
        if source is not None:
            problems += source.problems()
        if any(e.account != settings.account for e in environments) and not settings.cross_account_keys:
            problems.append("setting 'cross_account_keys' must be true when an environment is in another account")
        if problems:
            raise PropsValidationError(where, problems)
        return settings


def _as_mapping(raw: Any, where: str = "context") -> Mapping[str, Any]:
    if isinstance(raw, str):  # `-c key='{...}'` arrives as a string
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise PropsValidationError(where, [f"not valid JSON: {exc}"]) from None
    raw = raw or {}
    if not isinstance(raw, Mapping):
        raise PropsValidationError(where, [f"must be a JSON object, got {type(raw).__name__}"])
    return raw


def _environment_problems(label: str, account: Any, region: Any) -> list[str]:
    out = []
    if not isinstance(account, str) or not _ACCOUNT.match(account):
        out.append(f"{label} 'account' must be a 12-digit AWS account ID (a string), got {json.dumps(account)}")
    if not isinstance(region, str) or not _REGION.match(region):
        out.append(f"{label} 'region' must be a Region name like 'us-east-1', got {json.dumps(region)}")
    return out


def _parse_source(raw: Any, problems: list[str]) -> PipelineSource | None:
    fields = set(PipelineSource.__dataclass_fields__)
    if not isinstance(raw, Mapping):
        problems.append(f"setting 'source' must be an object, got {json.dumps(raw)}")
        return None
    unknown = sorted(set(raw) - fields)
    if unknown:
        problems.append(f"setting 'source' has unknown key(s) {unknown}; allowed: {sorted(fields)}")
        return None
    return PipelineSource(**raw)


def _parse_environments(
    raw: Any, problems: list[str], context: Callable[[str], Any]
) -> tuple[PipelineEnvironment, ...]:
    """The environments; each one's stack settings are checked too (the stacks' own checks on the merged settings)."""
    if not isinstance(raw, list) or not raw:
        problems.append("setting 'environments' must be a non-empty list of {name, account, region, stacks} objects")
        return ()
    fields = set(PipelineEnvironment.__dataclass_fields__)
    out: list[PipelineEnvironment] = []
    names: set[str] = set()
    for i, item in enumerate(raw):
        at = f"environments[{i}]"
        if not isinstance(item, Mapping) or not {"name", "account", "region"} <= set(item):
            problems.append(f"{at} must be an object with at least 'name', 'account' and 'region'")
            continue
        unknown = sorted(set(item) - fields)
        if unknown:
            problems.append(f"{at} has unknown key(s) {unknown}; allowed: {sorted(fields)}")
            continue
        name = item["name"]
        if not isinstance(name, str) or not _ENV_NAME.match(name):
            problems.append(
                f"{at} 'name' must start with a letter and hold only letters, digits and hyphens (at most 32), "
                f"got {json.dumps(name)}: it names the pipeline stage and prefixes the stack names"
            )
            continue
        at = f"{at} ({name})"
        if name.lower() in names:
            problems.append(f"{at}: environment names must be unique")
        names.add(name.lower())
        env_problems = _environment_problems(at, item["account"], item["region"])
        stacks = item.get("stacks", ["ChatStack"])
        if not isinstance(stacks, list) or not stacks or any(s not in STACK_KINDS for s in stacks):
            env_problems.append(
                f"{at} 'stacks' must be a non-empty list of {', '.join(STACK_KINDS)}, got {json.dumps(stacks)}"
            )
            stacks = []
        settings = item.get("settings", {})
        keys = {k.context_key for k in STACK_KINDS.values()}
        if not isinstance(settings, Mapping) or any(
            k not in keys or not isinstance(v, Mapping) for k, v in settings.items()
        ):
            env_problems.append(
                f"{at} 'settings' must map stack context keys ({', '.join(sorted(keys))}) to objects, got {json.dumps(settings)}"
            )
            settings = {}
        azs = item.get("availability_zones", [])
        region = item["region"]
        if not isinstance(azs, list) or any(
            not isinstance(z, str) or not (m := _AZ.match(z)) or m.group(1) != region for z in azs
        ):
            env_problems.append(
                f"{at} 'availability_zones' must be zone names of {region} like '{region}a', got {json.dumps(azs)}"
            )
            azs = []
        needs_azs = [s for s in stacks if STACK_KINDS[s].needs_availability_zones]
        if needs_azs and len(set(azs)) < 2:
            env_problems.append(
                f"{at} 'availability_zones' needs at least 2 zones of {region} for {', '.join(needs_azs)} (their VPCs "
                "span 2 zones; naming them keeps synth free of lookups): "
                f"aws ec2 describe-availability-zones --region {region} in account {item['account']}"
            )
        approval = item.get("manual_approval")
        if approval is not None and not isinstance(approval, bool):
            env_problems.append(f"{at} 'manual_approval' must be true or false, got {json.dumps(approval)}")
            approval = None
        problems += env_problems
        if env_problems:
            continue
        env = PipelineEnvironment(
            name=name,
            account=item["account"],
            region=region,
            stacks=tuple(stacks),
            settings=settings,
            availability_zones=tuple(azs),
            manual_approval=approval,
        )
        try:
            env.stack_settings(context)
        except PropsValidationError as exc:
            problems += [f"{at}: {exc.subject}: {p}" for p in exc.problems]
            continue
        out.append(env)
    return tuple(out)


class ServingStage(cdk.Stage):
    """One environment: the stacks it names, in its account and Region, with its settings."""

    def __init__(self, scope: Construct, environment: PipelineEnvironment, *, context: Callable[[str], Any]) -> None:
        super().__init__(
            scope, environment.name, env=cdk.Environment(account=environment.account, region=environment.region)
        )
        if environment.availability_zones:
            # What `cdk synth` would otherwise look up and cache in cdk.context.json: set before any stack exists.
            key = f"availability-zones:account={environment.account}:region={environment.region}"
            self.node.set_context(key, list(environment.availability_zones))
        self.environment = environment
        self.stacks: dict[str, cdk.Stack] = {}
        for name, settings in environment.stack_settings(context).items():
            self.stacks[name] = STACK_KINDS[name].cls(self, name, settings=settings)  # type: ignore[call-arg]


class PipelineStack(cdk.Stack):
    """The delivery pipeline: source → synth (``make test``, ``make synth``) → self-mutation → one stage per
    environment (manual approval before prod, smoke test after each stage with a ChatStack)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: PipelineSettings,
        context: Callable[[str], Any] | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("description", "cdk-llm-serving: CDK Pipelines delivery of the serving stacks")
        kwargs.setdefault("env", cdk.Environment(account=settings.account, region=settings.region))
        super().__init__(scope, construct_id, **kwargs)
        context = context or self.node.try_get_context
        self.settings = settings
        source = settings.source.bind(self)
        self.pipeline = pipelines.CodePipeline(
            self,
            "Pipeline",
            pipeline_name=settings.pipeline_name,
            cross_account_keys=settings.cross_account_keys,
            enable_key_rotation=settings.cross_account_keys,
            self_mutation=True,
            cli_version=CLI_VERSION,
            cdk_assets_cli_version=CDK_ASSETS_VERSION,
            synth=pipelines.ShellStep(
                "Synth", input=source, commands=list(SYNTH_COMMANDS), primary_output_directory="cdk.out"
            ),
        )
        self.stages: dict[str, ServingStage] = {}
        for env in settings.environments:
            stage = ServingStage(self, env, context=context)
            self.stages[env.name] = stage
            pre = [pipelines.ManualApprovalStep(f"Approve-{env.name}")] if env.needs_approval else []
            post = [self._smoke_test(stage, source)] if "ChatStack" in stage.stacks else []
            self.pipeline.add_stage(stage, pre=pre, post=post)
        self.pipeline.build_pipeline()
        self._role_arns_as_sub()
        self._retain_artifact_keys()
        self._acknowledge()

    def _replication_buckets(self) -> list[s3.Bucket]:
        """The artifact buckets CDK Pipelines creates in the support stacks of the other Regions' actions."""
        out = []
        for stack in (c for c in self.node.root.node.children if isinstance(c, cdk.Stack)):
            if stack.node.id.startswith(f"cross-region-stack-{self.account}:"):
                bucket = stack.node.find_child("Default").node.find_child("CrossRegionCodePipelineReplicationBucket")
                assert isinstance(bucket, s3.Bucket)
                out.append(bucket)
        return out

    def _retain_artifact_keys(self) -> None:
        """The artifact buckets are retained (aws-cdk-lib's default); so are their keys, which CDK Pipelines would
        delete with the stack, leaving the retained artifacts unreadable."""
        keys = [self.pipeline.pipeline.artifact_bucket.encryption_key]
        for bucket in self._replication_buckets():  # the support stack's key, next to its bucket
            # CDK Pipelines names the replication bucket; retained, it would make the next create of the support
            # stack fail ("already exists"), and it holds only transient artifacts: deleted with its stack.
            bucket.apply_removal_policy(cdk.RemovalPolicy.DESTROY)
            keys += [c for c in bucket.node.scope.node.children if isinstance(c, kms.Key)]  # type: ignore[union-attr]
        for key in keys:
            if key is not None:
                key.apply_removal_policy(cdk.RemovalPolicy.RETAIN)

    def _role_arns_as_sub(self) -> None:
        """CDK Pipelines renders the deploy actions' target-account role ARNs as ``Fn::Join`` over ``AWS::Partition``,
        which cfn-lint 1.58 rejects in a pipeline action (E3703, "Prefer using Fn::Sub over Fn::Join with an empty
        delimiter"); the same ARN as ``Fn::Sub`` is equivalent and accepted."""
        cfn = self.pipeline.pipeline.node.default_child
        assert isinstance(cfn, codepipeline.CfnPipeline)
        for i, stage in enumerate(self.resolve(cfn.stages)):
            for j, action in enumerate(stage.get("actions", [])):
                for key in ("RoleArn",):
                    value = (action.get("configuration") or {}).get(key)
                    if isinstance(value, dict) and list(value) == ["Fn::Join"] and value["Fn::Join"][0] == "":
                        parts = value["Fn::Join"][1]
                        if all(isinstance(x, str) or list(x) == ["Ref"] for x in parts):
                            sub = "".join(x if isinstance(x, str) else "${" + x["Ref"] + "}" for x in parts)
                            cfn.add_property_override(f"Stages.{i}.Actions.{j}.Configuration.{key}", {"Fn::Sub": sub})

    def _smoke_test(self, stage: ServingStage, source: pipelines.CodePipelineSource) -> pipelines.CodeBuildStep:
        """``/health``, then ``/v1/models``: unauthenticated it must be refused; with IAM auth also signed (as the
        stage's smoke-test role, which may call only ``GET /v1/models``) and must list the stack's aliases."""
        chat = stage.stacks["ChatStack"]
        assert isinstance(chat, ChatStack)
        outputs = {
            "OPENAI_BASE_URL": chat.node.find_child("OpenAIBaseUrl"),
            "AUTH_MODE": chat.node.find_child("AuthMode"),
            "MODEL_ALIASES": chat.node.find_child("ModelAliases"),
        }
        command = 'python scripts/smoke_test.py --base-url "$OPENAI_BASE_URL" --auth "$AUTH_MODE" --expect-models "$MODEL_ALIASES"'
        statements = []
        if chat.gateway.auth_mode.value == "iam":
            smoke_test_role(chat, stage.environment, pipeline_account=self.settings.account)
            command += f" --role-arn {smoke_role_arn(stage.environment)}"  # a literal: no reference across stages
            statements.append(
                iam.PolicyStatement(actions=["sts:AssumeRole"], resources=[smoke_role_arn(stage.environment)])
            )
        return pipelines.CodeBuildStep(
            f"SmokeTest-{stage.environment.name}",
            input=source,
            env_from_cfn_outputs=outputs,  # type: ignore[arg-type]
            install_commands=["pip install --quiet -c constraints.txt boto3 openai"],
            commands=[command],
            role_policy_statements=statements,
        )

    def _acknowledge(self) -> None:
        """The findings on what CDK Pipelines generates (aws-cdk-lib's roles, projects and buckets), reviewed here."""
        p = self.pipeline
        for action in _PIPELINE_GRANT_ACTIONS:
            acknowledge(
                p,
                f"AwsSolutions::AwsSolutions-IAM5[Action::{action}]",
                "CDK Pipelines' grants on its own artifact bucket and key (aws-cdk-lib's Bucket.grantReadWrite and "
                "Key.grantEncryptDecrypt); every resource is this pipeline's bucket, key or replication bucket",
            )
        artifacts = p.pipeline.artifact_bucket
        acknowledge(
            p,
            f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(self, artifacts.arn_for_objects('*'))}]",
            "Pipeline actions read and write the objects of this pipeline's artifact bucket, whose keys CodePipeline "
            "generates per execution",
        )
        for project in (c for c in p.node.find_all() if isinstance(c, codebuild.CfnProject)):
            for arn in (
                self.format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=f"/aws/codebuild/{project.ref}:*",
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                ),
                self.format_arn(service="codebuild", resource="report-group", resource_name=f"{project.ref}-*"),
            ):
                acknowledge(
                    p,
                    f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(self, arn)}]",
                    "CodeBuild creates the log streams and report groups of this project with generated names; the "
                    "grant is limited to the project's own log group and report-group prefix",
                )
        for resource, reason in (
            (
                f"arn:*:iam::{self.account}:role/*",
                "The self-mutation step assumes the CDK bootstrap roles (cdk-hnb659fds-*) of the pipeline account in "
                "any Region, as cdk deploy does; aws-cdk-lib generates this statement",
            ),
            (
                self.format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name="/aws/codebuild/*",
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                ),
                "The asset-publishing projects are created per asset by CDK Pipelines; their role may write the "
                "CodeBuild log groups of this account and Region",
            ),
            (
                self.format_arn(service="codebuild", resource="report-group", resource_name="*"),
                "The asset-publishing projects are created per asset by CDK Pipelines; their role may write the "
                "CodeBuild report groups of this account and Region",
            ),
        ):
            acknowledge(p, f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(self, resource)}]", reason)
        acknowledge(
            p,
            "NIST.800.53.R5::NIST.800.53.R5-IAMNoInlinePolicy",
            "CDK Pipelines attaches its generated grants as the default policies of its own roles; the roles are "
            "used by this pipeline only",
        )
        _acknowledge_artifact_bucket(artifacts, "this pipeline's artifact bucket")
        acknowledge(
            p,
            "AwsSolutions::AwsSolutions-IAM5[Resource::*]",
            "Generated by CDK Pipelines where the resource is not known to this stack: the cross-Region replication "
            "keys (referenced by alias in their support stacks), cloudformation:DescribeStacks and s3:ListBucket of "
            "the self-mutation step (it reads the bootstrap stacks of any Region) and the asset projects' builds",
        )
        for replication in self._replication_buckets():
            _acknowledge_artifact_bucket(replication, "the replication bucket of this pipeline's cross-Region actions")
            acknowledge(
                p,
                f"AwsSolutions::AwsSolutions-IAM5[Resource::{nag_resource(self, replication.arn_for_objects('*'))}]",
                "Pipeline actions in another Region read and write the objects of this pipeline's replication "
                "bucket there, whose keys CodePipeline generates per execution",
            )


#: Wildcard actions of CDK Pipelines' generated bucket and key grants.
_PIPELINE_GRANT_ACTIONS = (
    "s3:GetBucket*",
    "s3:GetObject*",
    "s3:List*",
    "s3:Abort*",
    "s3:DeleteObject*",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
)


def _acknowledge_artifact_bucket(bucket: IConstruct, what: str) -> None:
    """CodePipeline's artifact buckets: KMS-encrypted, TLS-only, private; they hold build outputs reproducible from
    the source commit."""
    for finding, reason in (
        (
            "AwsSolutions::AwsSolutions-S1",
            "holds pipeline artifacts reproducible from the source commit; CloudTrail records access to it",
        ),
        (
            "NIST.800.53.R5::NIST.800.53.R5-S3BucketLoggingEnabled",
            "holds pipeline artifacts reproducible from the source commit; CloudTrail records access to it",
        ),
        (
            "NIST.800.53.R5::NIST.800.53.R5-S3BucketReplicationEnabled",
            "holds transient pipeline artifacts; a lost Region means re-running the pipeline, not restoring them",
        ),
        (
            "NIST.800.53.R5::NIST.800.53.R5-S3BucketVersioningEnabled",
            "CodePipeline writes every artifact under a new generated key per execution, so objects are never overwritten",
        ),
    ):
        acknowledge(bucket, finding, f"{what} {reason}")


def smoke_role_name(environment: PipelineEnvironment) -> str:
    return f"cdk-llm-serving-smoke-{environment.name}"[:64]


def smoke_role_arn(environment: PipelineEnvironment) -> str:
    return f"arn:{cdk.Aws.PARTITION}:iam::{environment.account}:role/{smoke_role_name(environment)}"


def smoke_test_role(chat: ChatStack, environment: PipelineEnvironment, *, pipeline_account: str) -> iam.Role:
    """A role in the environment's ChatStack that the pipeline account may assume to call ``GET /v1/models`` only."""
    gw = chat.gateway
    policy = iam.ManagedPolicy(
        chat,
        "SmokeTestPolicy",
        statements=[
            iam.PolicyStatement(
                actions=["execute-api:Invoke"],
                resources=[gw.api.arn_for_execute_api("GET", "/v1/models", gw.stage.stage_name)],
            )
        ],
    )
    return iam.Role(
        chat,
        "SmokeTestRole",
        role_name=smoke_role_name(environment),
        assumed_by=iam.AccountPrincipal(pipeline_account),
        managed_policies=[policy],
        description="Assumed by the delivery pipeline's smoke test: GET /v1/models only",
    )

"""DocumentIndex: intent assertions on the session's KnowledgeBase* stacks, and every validation message."""

from __future__ import annotations

import ast
import inspect
import json
import re
from dataclasses import replace
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk.assertions import Annotations, Match, Template

from cdk_llm_serving import (
    BedrockGatewayApi,
    BedrockModelAlias,
    ChunkingStrategy,
    DocumentIndex,
    GatewayAuth,
    IDocumentIndex,
    ImportedDocumentIndex,
    IngestionTrigger,
    KnowledgeBaseRetrieval,
    PropsValidationError,
)
from cdk_llm_serving._types import PropsTypeError
from cdk_llm_serving.knowledge_base import NON_FILTERABLE_METADATA_KEYS, S3_VECTORS_ACTIONS, TITAN_TEXT_EMBEDDINGS_V2
from cdk_llm_serving.knowledge_base.rules import KNOWLEDGE_BASE, KnowledgeBaseSettings
from harness import Synthesis, as_list, expect_rule, flat_statements, lambda_functions, resources, text
from variants_kb import EXISTING_BUCKET_NAME, EXISTING_KEY_ID

# --------------------------------------------------------------------------------------------------------
# helpers


def _one(template: dict[str, Any], rtype: str) -> tuple[str, dict[str, Any]]:
    """(logical id, resource) of the only resource of ``rtype``."""
    found = resources(template, rtype)
    assert len(found) == 1, f"expected one {rtype}, found {list(found)}"
    ((logical_id, resource),) = found.items()
    return logical_id, resource


def _statements_by_sid(policy: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}


def _managed_policy(template: dict[str, Any], description_part: str) -> dict[str, Any]:
    found = [
        r
        for r in resources(template, "AWS::IAM::ManagedPolicy").values()
        if description_part in r["Properties"].get("Description", "")
    ]
    assert len(found) == 1, description_part
    return found[0]


def _definition(template: dict[str, Any]) -> dict[str, Any]:
    _, machine = _one(template, "AWS::StepFunctions::StateMachine")
    return json.loads(text(machine["Properties"]["DefinitionString"]))


PARTITION_REGION_ACCOUNT = "arn:{AWS::Partition}:%s:{AWS::Region}:{AWS::AccountId}:%s"


@pytest.fixture(scope="module")
def kb(synthesis: Synthesis) -> dict[str, Any]:
    return synthesis.templates["KnowledgeBaseStack"]


@pytest.fixture(scope="module")
def existing(synthesis: Synthesis) -> dict[str, Any]:
    return synthesis.templates["KnowledgeBaseExistingBucketStack"]


@pytest.fixture(scope="module", params=["KnowledgeBaseStack", "KnowledgeBaseExistingBucketStack"])
def any_kb(request: pytest.FixtureRequest, synthesis: Synthesis) -> dict[str, Any]:
    return synthesis.templates[request.param]


# --------------------------------------------------------------------------------------------------------
# vector store and knowledge base


def test_vector_store_is_an_s3_vectors_index_with_the_embedding_dimension(
    kb: dict[str, Any], existing: dict[str, Any]
) -> None:
    for template, dimension in ((kb, 1024), (existing, 512)):
        index_id, index = _one(template, "AWS::S3Vectors::Index")
        bucket_id, bucket = _one(template, "AWS::S3Vectors::VectorBucket")
        key_id, _ = _one(template, "AWS::KMS::Key") if template is kb else (None, None)
        props = index["Properties"]
        assert props["Dimension"] == dimension
        assert props["DataType"] == "float32" and props["DistanceMetric"] == "cosine"
        assert props["MetadataConfiguration"]["NonFilterableMetadataKeys"] == list(NON_FILTERABLE_METADATA_KEYS)
        assert props["VectorBucketArn"] == {"Fn::GetAtt": [bucket_id, "VectorBucketArn"]}
        encryption = bucket["Properties"]["EncryptionConfiguration"]
        assert encryption["SseType"] == "aws:kms"
        if key_id:
            assert encryption["KmsKeyArn"] == {"Fn::GetAtt": [key_id, "Arn"]}
        # The knowledge base stores its vectors in exactly that index.
        _, knowledge_base = _one(template, "AWS::Bedrock::KnowledgeBase")
        storage = knowledge_base["Properties"]["StorageConfiguration"]
        assert storage == {
            "Type": "S3_VECTORS",
            "S3VectorsConfiguration": {"IndexArn": {"Fn::GetAtt": [index_id, "IndexArn"]}},
        }


def test_embedding_model_is_titan_v2_in_the_stacks_partition_and_region(
    kb: dict[str, Any], existing: dict[str, Any]
) -> None:
    for template, dimension in ((kb, 1024), (existing, 512)):
        _, knowledge_base = _one(template, "AWS::Bedrock::KnowledgeBase")
        config = knowledge_base["Properties"]["KnowledgeBaseConfiguration"]
        assert config["Type"] == "VECTOR"
        vector = config["VectorKnowledgeBaseConfiguration"]
        # Foundation models have no account in their ARN.
        assert text(vector["EmbeddingModelArn"]) == (
            f"arn:{{AWS::Partition}}:bedrock:{{AWS::Region}}::foundation-model/{TITAN_TEXT_EMBEDDINGS_V2}"
        )
        assert vector["EmbeddingModelConfiguration"] == {
            "BedrockEmbeddingModelConfiguration": {"Dimensions": dimension, "EmbeddingDataType": "FLOAT32"}
        }


def test_knowledge_base_waits_for_its_permissions(any_kb: dict[str, Any]) -> None:
    _, knowledge_base = _one(any_kb, "AWS::Bedrock::KnowledgeBase")
    policy_id = next(
        k
        for k, r in resources(any_kb, "AWS::IAM::ManagedPolicy").items()
        if "DocumentIndex knowledge base" in r["Properties"]["Description"]
    )
    assert policy_id in knowledge_base["DependsOn"]
    role_id, _ = next(
        (k, r)
        for k, r in resources(any_kb, "AWS::IAM::Role").items()
        if r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        == {"Service": "bedrock.amazonaws.com"}
    )
    assert knowledge_base["Properties"]["RoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}


def test_data_source_reads_the_prefix_with_the_chunking_strategy(kb: dict[str, Any], existing: dict[str, Any]) -> None:
    kb_id, _ = _one(kb, "AWS::Bedrock::KnowledgeBase")
    _, source = _one(kb, "AWS::Bedrock::DataSource")
    bucket_id, _ = next(
        (k, r) for k, r in resources(kb, "AWS::S3::Bucket").items() if "LoggingConfiguration" in r["Properties"]
    )
    props = source["Properties"]
    assert props["KnowledgeBaseId"] == {"Fn::GetAtt": [kb_id, "KnowledgeBaseId"]}
    assert props["DataSourceConfiguration"] == {
        "Type": "S3",
        "S3Configuration": {"BucketArn": {"Fn::GetAtt": [bucket_id, "Arn"]}, "InclusionPrefixes": ["documents/"]},
    }
    assert props["VectorIngestionConfiguration"]["ChunkingConfiguration"] == {
        "ChunkingStrategy": "FIXED_SIZE",
        "FixedSizeChunkingConfiguration": {"MaxTokens": 300, "OverlapPercentage": 20},
    }
    key_id, _ = _one(kb, "AWS::KMS::Key")
    assert props["ServerSideEncryptionConfiguration"] == {"KmsKeyArn": {"Fn::GetAtt": [key_id, "Arn"]}}

    _, source = _one(existing, "AWS::Bedrock::DataSource")
    props = source["Properties"]
    s3_config = props["DataSourceConfiguration"]["S3Configuration"]
    assert text(s3_config["BucketArn"]) == f"arn:{{AWS::Partition}}:s3:::{EXISTING_BUCKET_NAME}"
    assert s3_config["InclusionPrefixes"] == ["policies/"]
    assert props["VectorIngestionConfiguration"]["ChunkingConfiguration"] == {
        "ChunkingStrategy": "SEMANTIC",
        "SemanticChunkingConfiguration": {"MaxTokens": 512, "BufferSize": 1, "BreakpointPercentileThreshold": 90},
    }


def test_created_document_bucket_is_locked_down(kb: dict[str, Any]) -> None:
    key_id, _ = _one(kb, "AWS::KMS::Key")
    buckets = resources(kb, "AWS::S3::Bucket")
    documents_id, documents = next((k, r) for k, r in buckets.items() if "LoggingConfiguration" in r["Properties"])
    logs_id = documents["Properties"]["LoggingConfiguration"]["DestinationBucketName"]["Ref"]
    props = documents["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {
            "BucketKeyEnabled": True,
            "ServerSideEncryptionByDefault": {
                "KMSMasterKeyID": {"Fn::GetAtt": [key_id, "Arn"]},
                "SSEAlgorithm": "aws:kms",
            },
        }
    ]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(props["PublicAccessBlockConfiguration"].values()) and len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    assert documents["DeletionPolicy"] == "Retain"
    assert "AccessControl" not in buckets[logs_id]["Properties"]  # no legacy log-delivery ACL
    # TLS is enforced on both buckets; log delivery is allowed for the document bucket only.
    policies = {
        r["Properties"]["Bucket"]["Ref"]: r["Properties"]["PolicyDocument"]["Statement"]
        for r in resources(kb, "AWS::S3::BucketPolicy").values()
    }
    for bucket_id in (documents_id, logs_id):
        deny = [s for s in policies[bucket_id] if s["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    delivery = next(s for s in policies[logs_id] if s.get("Sid") == "S3ServerAccessLogsOfDocuments")
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Condition"]["ArnLike"]["aws:SourceArn"] == {"Fn::GetAtt": [documents_id, "Arn"]}


def test_existing_bucket_is_not_modified(existing: dict[str, Any]) -> None:
    assert not resources(existing, "AWS::S3::Bucket")
    assert not resources(existing, "AWS::S3::BucketPolicy")
    assert not resources(existing, "Custom::S3BucketNotifications")


def test_no_lambda_functions(any_kb: dict[str, Any]) -> None:
    assert not resources(any_kb, "AWS::Lambda::Function")


# --------------------------------------------------------------------------------------------------------
# IAM


def test_service_role_trust_is_bedrock_for_this_accounts_knowledge_bases(any_kb: dict[str, Any]) -> None:
    roles = [
        r
        for r in resources(any_kb, "AWS::IAM::Role").values()
        if r["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]
        == {"Service": "bedrock.amazonaws.com"}
    ]
    assert len(roles) == 1
    (statement,) = roles[0]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert statement["Action"] == "sts:AssumeRole" and statement["Effect"] == "Allow"
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert text(statement["Condition"]["ArnLike"]["aws:SourceArn"]) == PARTITION_REGION_ACCOUNT % (
        "bedrock",
        "knowledge-base/*",
    )
    assert "Policies" not in roles[0]["Properties"]  # no inline policies


def test_service_role_policy_is_exactly_least_privilege(kb: dict[str, Any]) -> None:
    statements = _statements_by_sid(_managed_policy(kb, "DocumentIndex knowledge base"))
    key_id, _ = _one(kb, "AWS::KMS::Key")
    index_id, _ = _one(kb, "AWS::S3Vectors::Index")
    bucket_id = next(
        k for k, r in resources(kb, "AWS::S3::Bucket").items() if "LoggingConfiguration" in r["Properties"]
    )
    in_account = {"StringEquals": {"aws:ResourceAccount": {"Ref": "AWS::AccountId"}}}
    expected = {
        "InvokeEmbeddingModel": (
            ["bedrock:InvokeModel"],
            [f"arn:{{AWS::Partition}}:bedrock:{{AWS::Region}}::foundation-model/{TITAN_TEXT_EMBEDDINGS_V2}"],
            None,
        ),
        "ListDocuments": (["s3:ListBucket"], [f"{{{bucket_id}.Arn}}"], in_account),
        "ReadDocuments": (["s3:GetObject"], [f"{{{bucket_id}.Arn}}/documents/*"], in_account),
        "UseIndexKey": (["kms:Decrypt", "kms:GenerateDataKey"], [f"{{{key_id}.Arn}}"], None),
        "ReadWriteVectorIndex": (sorted(S3_VECTORS_ACTIONS), [f"{{{index_id}.IndexArn}}"], None),
    }
    assert set(statements) == set(expected)
    for sid, (actions, arns, condition) in expected.items():
        s = statements[sid]
        assert s["Effect"] == "Allow"
        assert sorted(as_list(s["Action"])) == sorted(actions), sid
        assert [text(r) for r in as_list(s["Resource"])] == arns, sid
        assert s.get("Condition") == condition, sid
    assert sorted(S3_VECTORS_ACTIONS) == sorted(
        [
            "s3vectors:GetIndex",
            "s3vectors:QueryVectors",
            "s3vectors:PutVectors",
            "s3vectors:GetVectors",
            "s3vectors:DeleteVectors",
        ]
    )


def test_existing_bucket_key_is_decrypt_only_through_s3(existing: dict[str, Any]) -> None:
    statements = _statements_by_sid(_managed_policy(existing, "DocumentIndex knowledge base"))
    assert [text(r) for r in as_list(statements["ListDocuments"]["Resource"])] == [
        f"arn:{{AWS::Partition}}:s3:::{EXISTING_BUCKET_NAME}"
    ]
    assert [text(r) for r in as_list(statements["ReadDocuments"]["Resource"])] == [
        f"arn:{{AWS::Partition}}:s3:::{EXISTING_BUCKET_NAME}/policies/*"
    ]
    decrypt = statements["DecryptDocuments"]
    assert decrypt["Action"] == "kms:Decrypt"
    assert [text(r) for r in as_list(decrypt["Resource"])] == [
        PARTITION_REGION_ACCOUNT % ("kms", f"key/{EXISTING_KEY_ID}")
    ]
    assert text(decrypt["Condition"]["StringEquals"]["kms:ViaService"]) == "s3.{AWS::Region}.amazonaws.com"


def test_key_policy_allows_only_the_ingestion_logs_and_s3_vectors_indexing(kb: dict[str, Any]) -> None:
    _, key = _one(kb, "AWS::KMS::Key")
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = {s.get("Sid"): s for s in key["Properties"]["KeyPolicy"]["Statement"]}
    logs = statements["AllowIngestionLogs"]
    assert text(logs["Principal"]["Service"]) == "logs.{AWS::Region}.amazonaws.com"
    _, log_group = _one(kb, "AWS::Logs::LogGroup")
    # The retained group's name ends with part of AWS::StackId (a re-created stack must not reuse it, see
    # test_redeploy.py); the key policy names the same group.
    name = text(log_group["Properties"]["LogGroupName"])
    assert name.startswith("/aws/vendedlogs/states/") and "AWS::StackId" in name
    assert text(logs["Condition"]["ArnEquals"]["kms:EncryptionContext:aws:logs:arn"]) == PARTITION_REGION_ACCOUNT % (
        "logs",
        f"log-group:{name}",
    )
    indexing = statements["AllowS3VectorsIndexing"]
    assert indexing["Principal"] == {"Service": "indexing.s3vectors.amazonaws.com"}
    assert indexing["Action"] == "kms:Decrypt"
    _, vector_bucket = _one(kb, "AWS::S3Vectors::VectorBucket")
    bucket_arn = PARTITION_REGION_ACCOUNT % ("s3vectors", f"bucket/{vector_bucket['Properties']['VectorBucketName']}")
    assert [text(a) for a in indexing["Condition"]["ArnLike"]["aws:SourceArn"]] == [bucket_arn, f"{bucket_arn}/index/*"]
    assert indexing["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}


def test_grants_are_exact(kb: dict[str, Any]) -> None:
    kb_id, _ = _one(kb, "AWS::Bedrock::KnowledgeBase")
    key_id, _ = _one(kb, "AWS::KMS::Key")
    bucket_id = next(
        k for k, r in resources(kb, "AWS::S3::Bucket").items() if "LoggingConfiguration" in r["Properties"]
    )
    policies = {
        r["Properties"]["Roles"][0]["Ref"]: r["Properties"]["PolicyDocument"]["Statement"]
        for r in resources(kb, "AWS::IAM::Policy").values()
    }
    retriever = next(v for k, v in policies.items() if k.startswith("RetrieverRole"))
    assert retriever == [
        {"Action": "bedrock:Retrieve", "Effect": "Allow", "Resource": {"Fn::GetAtt": [kb_id, "KnowledgeBaseArn"]}}
    ]
    uploader = next(v for k, v in policies.items() if k.startswith("UploaderRole"))
    by_action = {tuple(sorted(as_list(s["Action"]))): s for s in uploader}
    put = by_action[("s3:AbortMultipartUpload", "s3:PutObject")]
    assert [text(r) for r in as_list(put["Resource"])] == [f"{{{bucket_id}.Arn}}/documents/*"]
    kms_grant = by_action[("kms:Decrypt", "kms:GenerateDataKey")]
    assert [text(r) for r in as_list(kms_grant["Resource"])] == [f"{{{key_id}.Arn}}"]
    assert text(kms_grant["Condition"]["StringEquals"]["kms:ViaService"]) == "s3.{AWS::Region}.amazonaws.com"
    assert len(uploader) == 2


def test_ingestion_role_can_only_start_and_read_jobs_of_this_knowledge_base(
    kb: dict[str, Any], existing: dict[str, Any]
) -> None:
    for template, tracing in ((kb, True), (existing, False)):
        kb_id, _ = _one(template, "AWS::Bedrock::KnowledgeBase")
        statements = _statements_by_sid(
            _managed_policy(template, "permissions of a DocumentIndex ingestion state machine")
        )
        jobs = statements["ManageIngestionJobs"]
        assert sorted(as_list(jobs["Action"])) == ["bedrock:GetIngestionJob", "bedrock:StartIngestionJob"]
        assert jobs["Resource"] == {"Fn::GetAtt": [kb_id, "KnowledgeBaseArn"]}
        # The only "*" resources: log delivery and X-Ray (no resource-level permissions).
        wildcard = {sid for sid, s in statements.items() if "*" in as_list(s["Resource"])}
        assert wildcard == ({"DeliverLogs", "WriteTraces"} if tracing else {"DeliverLogs"})
        assert all(a.startswith("logs:") for a in statements["DeliverLogs"]["Action"])


def test_trigger_role_can_only_start_the_state_machine(kb: dict[str, Any]) -> None:
    machine_id, _ = _one(kb, "AWS::StepFunctions::StateMachine")
    statements = _statements_by_sid(_managed_policy(kb, "EventBridge may start"))
    assert statements == {
        "StartIngestion": {
            "Action": "states:StartExecution",
            "Effect": "Allow",
            "Resource": {"Ref": machine_id},
            "Sid": "StartIngestion",
        }
    }


def test_no_inline_policies_on_construct_roles(any_kb: dict[str, Any]) -> None:
    for logical_id in resources(any_kb, "AWS::IAM::Policy"):
        assert logical_id.startswith(("RetrieverRole", "UploaderRole")), logical_id  # test-only consumer roles


# --------------------------------------------------------------------------------------------------------
# ingestion


def test_upload_rule_matches_created_and_deleted_objects_under_the_prefix(kb: dict[str, Any]) -> None:
    machine_id, _ = _one(kb, "AWS::StepFunctions::StateMachine")
    bucket_id = next(
        k for k, r in resources(kb, "AWS::S3::Bucket").items() if "LoggingConfiguration" in r["Properties"]
    )
    rules = resources(kb, "AWS::Events::Rule")
    upload = next(r["Properties"] for r in rules.values() if "EventPattern" in r["Properties"])
    assert upload["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created", "Object Deleted"],
        "detail": {"bucket": {"name": [{"Ref": bucket_id}]}, "object": {"key": [{"prefix": "documents/"}]}},
    }
    (target,) = upload["Targets"]
    assert target["Arn"] == {"Ref": machine_id}
    schedule = next(r["Properties"] for r in rules.values() if "ScheduleExpression" in r["Properties"])
    assert schedule["ScheduleExpression"] == "rate(1 day)"
    assert schedule["Targets"][0]["Arn"] == {"Ref": machine_id}


def test_existing_bucket_variant_has_only_a_schedule(existing: dict[str, Any]) -> None:
    (rule,) = resources(existing, "AWS::Events::Rule").values()
    assert rule["Properties"]["ScheduleExpression"] == "rate(6 hours)"
    assert "EventPattern" not in rule["Properties"]


def test_state_machine_starts_a_job_and_retries_conflicts(any_kb: dict[str, Any]) -> None:
    kb_id, _ = _one(any_kb, "AWS::Bedrock::KnowledgeBase")
    ds_id, _ = _one(any_kb, "AWS::Bedrock::DataSource")
    definition = _definition(any_kb)
    states = definition["States"]
    assert definition["StartAt"] == "StartIngestionJob"
    start = states["StartIngestionJob"]
    assert start["Resource"] == "arn:{AWS::Partition}:states:::aws-sdk:bedrockagent:startIngestionJob"
    assert start["Parameters"]["KnowledgeBaseId"] == f"{{{kb_id}.KnowledgeBaseId}}"
    assert start["Parameters"]["DataSourceId"] == f"{{{ds_id}.DataSourceId}}"
    retries = {tuple(r["ErrorEquals"]): r for r in start["Retry"]}
    conflict = retries[("BedrockAgent.ConflictException",)]
    assert conflict["BackoffRate"] == 2 and conflict["JitterStrategy"] == "FULL"
    assert conflict["IntervalSeconds"] == 60 and conflict["MaxAttempts"] == 6 and conflict["MaxDelaySeconds"] == 900
    assert ("BedrockAgent.ThrottlingException", "BedrockAgent.InternalServerException") in retries
    assert ("BedrockAgent.ServiceQuotaExceededException",) in retries
    # A conflict that outlasts the retries is not a failure: a job is running.
    (catch,) = start["Catch"]
    assert catch["ErrorEquals"] == ["BedrockAgent.ConflictException"]
    assert states[catch["Next"]]["Type"] == "Succeed"


def test_state_machine_waits_for_the_job_and_fails_on_failed_jobs_or_documents(any_kb: dict[str, Any]) -> None:
    states = _definition(any_kb)["States"]
    get = states["GetIngestionJob"]
    assert get["Resource"].endswith(":states:::aws-sdk:bedrockagent:getIngestionJob")
    assert get["Parameters"]["IngestionJobId.$"] == "$.ingestion.IngestionJob.IngestionJobId"
    assert states["WaitForIngestionJob"] == {"Type": "Wait", "Seconds": 60, "Next": "GetIngestionJob"}
    status = states["JobStatus"]
    assert status["Default"] == "WaitForIngestionJob"  # STARTING, IN_PROGRESS, STOPPING: keep polling
    by_next = {c["Next"]: c for c in status["Choices"]}
    assert by_next["HasStatistics"] == {
        "Variable": "$.ingestion.IngestionJob.Status",
        "StringEquals": "COMPLETE",
        "Next": "HasStatistics",
    }
    assert sorted(c["StringEquals"] for c in by_next["IngestionJobFailed"]["Or"]) == ["FAILED", "STOPPED"]
    assert states["IngestionJobFailed"]["Type"] == "Fail"
    assert states["AnyDocumentFailed"]["Choices"][0]["NumericGreaterThan"] == 0
    assert states["AnyDocumentFailed"]["Choices"][0]["Next"] == "DocumentsFailed"
    assert states["DocumentsFailed"]["Type"] == "Fail"
    assert states["HasStatistics"]["Choices"][0]["IsPresent"] is True


def test_state_machine_logs_encrypted_without_execution_data(kb: dict[str, Any], existing: dict[str, Any]) -> None:
    for template, tracing in ((kb, True), (existing, False)):
        machine_id, machine = _one(template, "AWS::StepFunctions::StateMachine")
        props = machine["Properties"]
        assert props["StateMachineType"] == "STANDARD"
        logging = props["LoggingConfiguration"]
        assert logging["Level"] == "ALL" and logging["IncludeExecutionData"] is False
        log_group_id, log_group = _one(template, "AWS::Logs::LogGroup")
        assert logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"] == {
            "Fn::GetAtt": [log_group_id, "Arn"]
        }
        assert "KmsKeyId" in log_group["Properties"]
        assert props.get("TracingConfiguration", {}).get("Enabled", False) is tracing
        assert _definition(template)["TimeoutSeconds"] == 24 * 3600
        policy_id = next(
            k
            for k, r in resources(template, "AWS::IAM::ManagedPolicy").items()
            if "permissions of a DocumentIndex ingestion state machine" in r["Properties"]["Description"]
        )
        assert policy_id in machine["DependsOn"]


def test_alarm_on_failed_or_timed_out_ingestions(kb: dict[str, Any], existing: dict[str, Any]) -> None:
    for template in (kb, existing):
        machine_id, _ = _one(template, "AWS::StepFunctions::StateMachine")
        _, alarm = _one(template, "AWS::CloudWatch::Alarm")
        props = alarm["Properties"]
        metrics = {m["Id"]: m for m in props["Metrics"]}
        assert metrics["failed"]["MetricStat"]["Metric"]["MetricName"] == "ExecutionsFailed"
        assert metrics["timedOut"]["MetricStat"]["Metric"]["MetricName"] == "ExecutionsTimedOut"
        for m in ("failed", "timedOut"):
            assert metrics[m]["MetricStat"]["Metric"]["Dimensions"] == [
                {"Name": "StateMachineArn", "Value": {"Ref": machine_id}}
            ]
        assert props["Threshold"] == 1 and props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    default = _one(kb, "AWS::CloudWatch::Alarm")[1]["Properties"]
    assert "AlarmActions" not in default and "OKActions" not in default
    # alarm_topic hears the alarm go off and recover (convention 2: ALARM and OK, as every family's alarms).
    topic_id, _ = _one(existing, "AWS::SNS::Topic")
    with_topic = _one(existing, "AWS::CloudWatch::Alarm")[1]["Properties"]
    assert with_topic["AlarmActions"] == [{"Ref": topic_id}]
    assert with_topic["OKActions"] == [{"Ref": topic_id}]


# --------------------------------------------------------------------------------------------------------
# small stacks (options the variants do not use)


def _stack() -> cdk.Stack:
    return cdk.Stack(cdk.App(), "S")


def _template(**kwargs: Any) -> Template:
    stack = _stack()
    DocumentIndex(stack, "Index", **kwargs)
    return Template.from_stack(stack)


def test_hierarchical_and_no_chunking_render() -> None:
    t = _template(
        chunking=ChunkingStrategy.hierarchical(parent_max_tokens=2000, child_max_tokens=400, overlap_tokens=50)
    )
    t.has_resource_properties(
        "AWS::Bedrock::DataSource",
        {
            "VectorIngestionConfiguration": {
                "ChunkingConfiguration": {
                    "ChunkingStrategy": "HIERARCHICAL",
                    "HierarchicalChunkingConfiguration": {
                        "LevelConfigurations": [{"MaxTokens": 2000}, {"MaxTokens": 400}],
                        "OverlapTokens": 50,
                    },
                }
            }
        },
    )
    t = _template(chunking=ChunkingStrategy.none())
    t.has_resource_properties(
        "AWS::Bedrock::DataSource",
        {"VectorIngestionConfiguration": {"ChunkingConfiguration": {"ChunkingStrategy": "NONE"}}},
    )


def test_whole_bucket_without_prefix_and_manual_ingestion() -> None:
    t = _template(ingestion=IngestionTrigger.manual())
    t.resource_count_is("AWS::Events::Rule", 0)
    t.resource_count_is("AWS::StepFunctions::StateMachine", 1)
    source = t.find_resources("AWS::Bedrock::DataSource")
    (props,) = [r["Properties"] for r in source.values()]
    assert "InclusionPrefixes" not in props["DataSourceConfiguration"]["S3Configuration"]
    # Without uploads, EventBridge delivery stays off on the created bucket.
    t.has_resource_properties(
        "AWS::S3::Bucket", {"LoggingConfiguration": Match.any_value(), "NotificationConfiguration": Match.absent()}
    )


def test_none_is_the_default_schedule_and_false_switches_it_off() -> None:
    # Convention 3: None means "the documented default" (every 24 hours), never "off"; off is schedule=False.
    for trigger in (IngestionTrigger(on_upload=False), IngestionTrigger(on_upload=False, schedule=None)):
        t = _template(ingestion=trigger)
        t.resource_count_is("AWS::Events::Rule", 1)
        t.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "rate(1 day)"})
    t = _template(ingestion=IngestionTrigger(schedule=False))
    t.resource_count_is("AWS::Events::Rule", 1)
    t.has_resource_properties("AWS::Events::Rule", {"EventPattern": Match.object_like({"source": ["aws.s3"]})})
    assert IngestionTrigger.manual() == IngestionTrigger(on_upload=False, schedule=False)


def test_option_objects_reject_wrong_types_naming_the_field() -> None:
    with pytest.raises(PropsTypeError, match=r"on_upload must be bool, got str 'yes'"):
        IngestionTrigger(on_upload="yes")  # type: ignore[arg-type]
    with pytest.raises(
        PropsTypeError, match=r"schedule must be cdk.Duration or aws_events.Schedule or False or None, got str 'daily'"
    ):
        IngestionTrigger(schedule="daily")  # type: ignore[arg-type]
    with pytest.raises(
        PropsTypeError, match=r"max_tokens must be int, got str '300' \(pass the number 300 without quotes\)"
    ):
        ChunkingStrategy.fixed_size(max_tokens="300")  # type: ignore[arg-type]
    with pytest.raises(
        PropsTypeError, match=r"kind must be ChunkingKind, got str 'fixed_size' \(use ChunkingKind.FIXED_SIZE\)"
    ):
        ChunkingStrategy(kind="fixed_size")  # type: ignore[arg-type]


def test_cron_schedule_and_cohere_model_without_dimension_configuration() -> None:
    t = _template(
        embedding_model_id="cohere.embed-multilingual-v3",
        chunking=ChunkingStrategy.fixed_size(max_tokens=512, overlap_percentage=10),
        ingestion=IngestionTrigger(on_upload=False, schedule=events.Schedule.cron(minute="0", hour="2")),
    )
    t.has_resource_properties("AWS::Events::Rule", {"ScheduleExpression": "cron(0 2 * * ? *)"})
    t.has_resource_properties(
        "AWS::Bedrock::KnowledgeBase",
        {
            "KnowledgeBaseConfiguration": {
                "VectorKnowledgeBaseConfiguration": {
                    "EmbeddingModelArn": Match.any_value(),
                    "EmbeddingModelConfiguration": Match.absent(),
                }
            }
        },
    )
    t.has_resource_properties("AWS::S3Vectors::Index", {"Dimension": 1024})


def test_passed_in_key_and_log_bucket_are_used() -> None:
    stack = _stack()
    key = kms.Key(stack, "Mine", enable_key_rotation=True)
    log_bucket = s3.Bucket(stack, "CentralLogs")
    index = DocumentIndex(stack, "Index", encryption_key=key, server_access_logs_bucket=log_bucket)
    assert index.encryption_key is key and index.access_logs_bucket is log_bucket
    t = Template.from_stack(stack)
    t.resource_count_is("AWS::KMS::Key", 1)
    t.resource_count_is("AWS::S3::Bucket", 2)  # documents + the central log bucket
    key_id = stack.get_logical_id(key.node.default_child)  # type: ignore[arg-type]
    t.has_resource_properties(
        "AWS::S3Vectors::VectorBucket",
        {"EncryptionConfiguration": {"SseType": "aws:kms", "KmsKeyArn": {"Fn::GetAtt": [key_id, "Arn"]}}},
    )
    # The key policy of a key from the same app still gets the service statements.
    t.has_resource_properties(
        "AWS::KMS::Key",
        {"KeyPolicy": {"Statement": Match.array_with([Match.object_like({"Sid": "AllowS3VectorsIndexing"})])}},
    )


def test_grant_start_ingestion() -> None:
    stack = _stack()
    index = DocumentIndex(stack, "Index")
    role = iam.Role(stack, "Pipeline", assumed_by=iam.AccountRootPrincipal())
    index.grant_start_ingestion(role)
    t = Template.from_stack(stack)
    t.has_resource_properties(
        "AWS::IAM::Policy",
        {"PolicyDocument": {"Statement": [Match.object_like({"Action": "states:StartExecution"})]}},
    )


def test_metric_helpers_take_the_usual_options() -> None:
    stack = _stack()
    index = DocumentIndex(stack, "Index")
    failures = index.metric_ingestion_failures(period=cdk.Duration.hours(1), statistic="Maximum", label="KB failures")
    config = failures.to_metric_config().math_expression
    assert config is not None and config.period == 3600 and failures.label == "KB failures"
    for metric in failures.using_metrics.values():
        assert metric.statistic == "Maximum" and metric.period.to_seconds() == 3600
    # The defaults are what the alarm watches: sums over 5 minutes.
    default = index.metric_ingestion_failures()
    assert default.period.to_seconds() == 300 and default.label == "Failed or timed-out ingestions"
    assert {m.statistic for m in default.using_metrics.values()} == {"Sum"}
    assert index.metric_ingestions_started(statistic="Average").statistic == "Average"
    with pytest.raises(TypeError):
        index.metric_ingestion_failures(statistc="Sum")  # a misspelt option is not silently ignored


def test_warnings_for_what_synth_cannot_do() -> None:
    stack = _stack()
    bucket = s3.Bucket.from_bucket_name(stack, "Docs", "some-docs")
    imported_key = kms.Key.from_key_arn(
        stack, "K", "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    )
    DocumentIndex(
        stack,
        "Index",
        document_bucket=bucket,
        encryption_key=imported_key,
        embedding_model_id="example.embed-model-v1:0",
        dimensions=768,
    )
    warnings = Annotations.from_stack(stack).find_warning("*", Match.any_value())
    text = " ".join(str(w.entry.data) for w in warnings)
    assert "EventBridge notifications on the existing document bucket" in text
    assert "key policy cannot be changed here" in text
    assert "example.embed-model-v1:0 is not a model synth knows" in text


# --------------------------------------------------------------------------------------------------------
# validation: one test per message


def _build(**kwargs: Any) -> DocumentIndex:
    return DocumentIndex(_stack(), "Index", **kwargs)


_TOKEN_DURATION = cdk.Duration.seconds(cdk.Token.as_number(cdk.Fn.ref("Seconds")))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"embedding_model_id": ""},
            "embedding_model_id must be a Bedrock foundation model ID like 'amazon.titan-embed-text-v2:0', got ''",
        ),
        (
            {"embedding_model_id": "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"},
            "embedding_model_id must be a foundation model ID, not an ARN",
        ),
        (
            {"embedding_model_id": "titan embeddings"},
            "embedding_model_id 'titan embeddings' is not a Bedrock foundation model ID",
        ),
        ({"dimensions": 768}, "dimensions must be one of 256, 512, 1024 for amazon.titan-embed-text-v2:0"),
        (
            {"embedding_model_id": "amazon.titan-embed-text-v1", "dimensions": 1024},
            "dimensions must be one of 1536 for amazon.titan-embed-text-v1",
        ),
        (
            {"embedding_model_id": "example.embed-v1", "dimensions": 5000},
            "dimensions must be between 1 and 4096 (S3 Vectors index limit), got 5000",
        ),
        (
            {"chunking": ChunkingStrategy.fixed_size(max_tokens=0)},
            "chunking.max_tokens must be between 1 and 8192, got 0",
        ),
        (
            {"embedding_model_id": "cohere.embed-english-v3", "chunking": ChunkingStrategy.fixed_size(max_tokens=1000)},
            "chunking.max_tokens must be between 1 and 512 (the embedding model's input limit is 512 tokens), got 1000",
        ),
        (
            {"chunking": ChunkingStrategy.fixed_size(overlap_percentage=100)},
            "chunking.overlap_percentage must be between 1 and 99, got 100",
        ),
        (
            {"chunking": ChunkingStrategy.semantic(max_tokens=9000)},
            "chunking.max_tokens must be between 1 and 8192, got 9000",
        ),
        ({"chunking": ChunkingStrategy.semantic(buffer_size=2)}, "chunking.buffer_size must be between 0 and 1, got 2"),
        (
            {"chunking": ChunkingStrategy.semantic(breakpoint_percentile_threshold=40)},
            "chunking.breakpoint_percentile_threshold must be between 50 and 99, got 40",
        ),
        (
            {"chunking": ChunkingStrategy.hierarchical(parent_max_tokens=10000)},
            "chunking.parent_max_tokens must be between 1 and 8192, got 10000",
        ),
        (
            {"chunking": ChunkingStrategy.hierarchical(child_max_tokens=0)},
            "chunking.child_max_tokens must be between 1 and 8192, got 0",
        ),
        (
            {"chunking": ChunkingStrategy.hierarchical(parent_max_tokens=300, child_max_tokens=300)},
            "chunking.child_max_tokens (300) must be smaller than chunking.parent_max_tokens (300)",
        ),
        (
            {"chunking": ChunkingStrategy.hierarchical(overlap_tokens=0)},
            "chunking.overlap_tokens must be at least 1, got 0",
        ),
        (
            {"chunking": ChunkingStrategy.hierarchical(child_max_tokens=100, overlap_tokens=100)},
            "chunking.overlap_tokens (100) must be smaller than chunking.child_max_tokens (100)",
        ),
        (
            {"ingestion": IngestionTrigger(schedule=_TOKEN_DURATION)},
            "ingestion.schedule must be a literal Duration, not a token",
        ),
        (
            {"ingestion": IngestionTrigger(schedule=cdk.Duration.seconds(90 * 60 + 30))},
            "ingestion.schedule must be a whole number of minutes",
        ),
        (
            {"ingestion": IngestionTrigger(schedule=cdk.Duration.minutes(5))},
            "ingestion.schedule must be at least 15 minutes (one ingestion job runs at a time per data source), got 5 minutes",
        ),
        (
            {"ingestion": IngestionTrigger(schedule=0)},  # type: ignore[arg-type]  # 0 == False passes the type check
            "ingestion.schedule must be a Duration, an aws_events.Schedule, False (no schedule) or None (every 24 hours), got 0",
        ),
        (
            {"document_prefix": "documents"},
            "document_prefix must end with '/' and must not start with '/' or contain '//' or wildcards",
        ),
        ({"document_prefix": "/documents/"}, "got '/documents/'"),
        ({"document_prefix": "docs//a/"}, "got 'docs//a/'"),
        ({"document_prefix": "docs/*/"}, "got 'docs/*/'"),
        (
            {"document_prefix": "a" * 300 + "/"},
            "[KB.INCLUSION_PREFIX_LENGTH] document_prefix must be 1 to 300 characters",
        ),
        ({"document_prefix": ""}, "[KB.INCLUSION_PREFIX_LENGTH] document_prefix must be 1 to 300 characters"),
        (
            {"knowledge_base_name": "my kb"},
            "[KB.KNOWLEDGE_BASE_NAME] knowledge_base_name must be 1 to 100 letters or digits",
        ),
        ({"knowledge_base_name": "kb--x"}, "got 'kb--x'"),
        ({"knowledge_base_name": "k" * 101}, "[KB.KNOWLEDGE_BASE_NAME]"),
        ({"description": ""}, "[KB.DESCRIPTION_LENGTH] description must be 1 to 200 characters, got 0"),
        ({"description": "d" * 201}, "[KB.DESCRIPTION_LENGTH] description must be 1 to 200 characters, got 201"),
        ({"ingestion_timeout": cdk.Duration.minutes(30)}, "ingestion_timeout must be between 1 hour and 7 days"),
        (
            {"document_bucket": "existing", "server_access_logs_bucket": "logs"},
            "server_access_logs_bucket only applies to a document bucket this construct creates",
        ),
    ],
)
def test_invalid_document_index_props(kwargs: dict[str, Any], message: str) -> None:
    if kwargs.get("document_bucket") == "existing":
        stack = _stack()
        kwargs = {
            "document_bucket": s3.Bucket.from_bucket_name(stack, "B", "docs"),
            "server_access_logs_bucket": s3.Bucket.from_bucket_name(stack, "L", "logs"),
        }
        with pytest.raises(PropsValidationError) as info:
            DocumentIndex(stack, "Index", **kwargs)
    else:
        with pytest.raises(PropsValidationError) as info:
            _build(**kwargs)
    assert message in str(info.value)


def test_all_problems_are_reported_at_once() -> None:
    with pytest.raises(PropsValidationError) as info:
        _build(
            dimensions=100,
            document_prefix="x",
            chunking=ChunkingStrategy.fixed_size(overlap_percentage=0),
            description="",
        )
    assert len(info.value.problems) == 4
    # The subject names the construct path (convention 7: ProblemCollector.for_construct).
    assert str(info.value).startswith("invalid DocumentIndex at S/Index (4 problem(s)):")


def test_wrong_prop_types_are_all_named_before_anything_is_built() -> None:
    # @typed_props: every mismatch at once, naming the prop, the expected type and a fix.
    with pytest.raises(PropsTypeError) as info:
        _build(dimensions="1024", chunking="fixed", ingestion="on-upload", tracing="yes", ingestion_timeout=3600)  # type: ignore[arg-type]
    message = str(info.value)
    assert message.startswith("wrong prop types for DocumentIndex at S/Index (5 problem(s))")
    assert "dimensions must be int, got str '1024' (pass the number 1024 without quotes)" in message
    assert (
        "chunking must be ChunkingStrategy or None, got str 'fixed' (build it with a ChunkingStrategy factory"
        in message
    )
    assert (
        "ingestion must be IngestionTrigger or None, got str 'on-upload' (build it with a IngestionTrigger factory"
        in message
    )
    assert "tracing must be bool, got str 'yes'" in message
    assert "ingestion_timeout must be cdk.Duration or None, got int 3600 (use cdk.Duration.seconds(3600))" in message


# KB.KNOWLEDGE_BASE_NAME, KB.DESCRIPTION_LENGTH, KB.INCLUSION_PREFIX_LENGTH: botocore bedrock-agent 2023-06-05
# service-2.json shapes Name (pattern ([0-9a-zA-Z][_-]?){1,100}), Description (1-200) and S3Prefix (1-300).


def test_knowledge_base_settings_rules() -> None:
    ok = KnowledgeBaseSettings(
        name="k", description="d", data_source_description="Documents in S3", inclusion_prefix=None
    )
    assert KNOWLEDGE_BASE.problems(ok) == []
    assert (
        KNOWLEDGE_BASE.problems(
            replace(ok, name="k-" * 25 + "b_" * 25, description="d" * 200, inclusion_prefix="a" * 300)
        )
        == []
    )
    expect_rule("KB.KNOWLEDGE_BASE_NAME", lambda: _build(knowledge_base_name="my_kb!"))
    expect_rule("KB.KNOWLEDGE_BASE_NAME", KNOWLEDGE_BASE.problems(replace(ok, name="_kb")))
    expect_rule("KB.DESCRIPTION_LENGTH", lambda: _build(description=""))
    assert "the data source description must be 1 to 200 characters, got 201" in expect_rule(
        "KB.DESCRIPTION_LENGTH", KNOWLEDGE_BASE.problems(replace(ok, data_source_description="x" * 201))
    )
    expect_rule("KB.INCLUSION_PREFIX_LENGTH", lambda: _build(document_prefix="p" * 300 + "/"))
    # Tokens are left to CloudFormation.
    token = cdk.Token.as_string(cdk.Fn.ref("Name"))
    assert KNOWLEDGE_BASE.problems(replace(ok, name=token, description=token, inclusion_prefix=token)) == []


def test_vector_bucket_name_rule_and_prop() -> None:
    # KB.VECTOR_BUCKET_NAME: Amazon S3 User Guide "Vector bucket naming rules" (3-63 lowercase letters, digits,
    # hyphens; begins and ends with a letter or digit); botocore s3vectors 2025-07-15 VectorBucketName min 3, max 63.
    ok = KnowledgeBaseSettings(
        name="k", description="d", data_source_description="Documents in S3", inclusion_prefix=None
    )
    assert KNOWLEDGE_BASE.problems(replace(ok, vector_bucket_name="a1-" + "b" * 59 + "c")) == []
    expect_rule("KB.VECTOR_BUCKET_NAME", lambda: _build(vector_bucket_name="My_Vectors"))
    for bad in ("ab", "-abc", "abc-", "a" * 64):
        expect_rule("KB.VECTOR_BUCKET_NAME", KNOWLEDGE_BASE.problems(replace(ok, vector_bucket_name=bad)))
    # A token (a launched copy's stack ID) is left to S3 Vectors; the name reaches the bucket, the index and the grants.
    name = f"docs-{cdk.Aws.STACK_NAME}"
    assert KNOWLEDGE_BASE.problems(replace(ok, vector_bucket_name=name)) == []
    t = _template(vector_bucket_name="team-a-vectors")
    (bucket,) = t.find_resources("AWS::S3Vectors::VectorBucket").values()
    assert bucket["Properties"]["VectorBucketName"] == "team-a-vectors"
    assert "bucket/team-a-vectors" in json.dumps(t.to_json()["Resources"])


def test_data_source_description_fits_bedrocks_limit_for_the_longest_prefix() -> None:
    # The generated description used to be "Documents in S3 under <prefix>", 322 characters for a 300-character
    # prefix: CreateDataSource rejects more than 200 (KB.DESCRIPTION_LENGTH).
    prefix = "p" * 299 + "/"
    t = _template(document_prefix=prefix)
    (source,) = t.find_resources("AWS::Bedrock::DataSource").values()
    description = source["Properties"]["Description"]
    assert len(description) == 200 and description.startswith("Documents in S3 under ppp") and description.endswith("…")
    assert source["Properties"]["DataSourceConfiguration"]["S3Configuration"]["InclusionPrefixes"] == [prefix]


# --------------------------------------------------------------------------------------------------------
# imported indexes: DocumentIndex.from_knowledge_base_attributes


def _retrieve_and_upload_statements(template: dict[str, Any]) -> dict[str, list[Any]]:
    """Action -> resources (as text) over every IAM policy of the template."""
    out: dict[str, list[Any]] = {}
    for rtype in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for r in resources(template, rtype).values():
            for st in flat_statements(r["Properties"]["PolicyDocument"]["Statement"]):
                out.setdefault(st["Action"], []).append(text(st["Resource"]))
    return out


def test_imported_index_grants_retrieve_and_upload_on_exactly_its_resources() -> None:
    stack = _stack()
    key = kms.Key.from_key_arn(stack, "K", f"arn:aws:kms:us-east-1:111122223333:key/{EXISTING_KEY_ID}")
    bucket = s3.Bucket.from_bucket_attributes(stack, "B", bucket_name=EXISTING_BUCKET_NAME, encryption_key=key)
    index = DocumentIndex.from_knowledge_base_attributes(
        stack, "Shared", knowledge_base_id="ABCDEFGHIJ", document_bucket=bucket, document_prefix="policies/"
    )
    assert isinstance(index, ImportedDocumentIndex) and isinstance(index, IDocumentIndex)
    assert index.knowledge_base_id == "ABCDEFGHIJ" and index.document_prefix == "policies/"
    role = iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    assert index.grant_retrieve(role).success and index.grant_upload(role).success
    template = Template.from_stack(stack).to_json()
    # Nothing of the index is created: grants only.
    assert {r["Type"] for r in template["Resources"].values()} == {"AWS::IAM::Role", "AWS::IAM::Policy"}
    by_action = _retrieve_and_upload_statements(template)
    assert by_action["bedrock:Retrieve"] == [PARTITION_REGION_ACCOUNT % ("bedrock", "knowledge-base/ABCDEFGHIJ")]
    objects = f"arn:{{AWS::Partition}}:s3:::{EXISTING_BUCKET_NAME}/policies/*"
    assert by_action["s3:PutObject"] == [objects] and by_action["s3:AbortMultipartUpload"] == [objects]
    assert by_action["kms:GenerateDataKey"] == [f"arn:aws:kms:us-east-1:111122223333:key/{EXISTING_KEY_ID}"]


def test_imported_index_takes_tokens_and_an_arn_of_another_region() -> None:
    stack = _stack()
    by_export = DocumentIndex.from_knowledge_base_attributes(
        stack, "ByExport", knowledge_base_id=cdk.Fn.import_value("SharedKbId")
    )
    assert "SharedKbId" in json.dumps(stack.resolve(by_export.knowledge_base_arn))
    arn = "arn:aws:bedrock:eu-west-1:111122223333:knowledge-base/ABCDEFGHIJ"
    elsewhere = DocumentIndex.from_knowledge_base_attributes(
        stack, "Elsewhere", knowledge_base_id="ABCDEFGHIJ", knowledge_base_arn=arn
    )
    assert elsewhere.knowledge_base_arn == arn
    role = iam.Role(stack, "Reader", assumed_by=iam.AccountRootPrincipal())
    elsewhere.grant_retrieve(role)
    assert _retrieve_and_upload_statements(Template.from_stack(stack).to_json())["bedrock:Retrieve"] == [arn]
    # Without its bucket, an imported index cannot grant uploads, and says what to pass.
    with pytest.raises(ValueError, match=r"S/Elsewhere: grant_upload needs the document bucket; pass document_bucket="):
        elsewhere.grant_upload(role)


def test_created_and_imported_indexes_work_with_the_gateways_retrieval() -> None:
    # The gateway reads knowledge_base_id and knowledge_base_arn (KnowledgeBaseRetrieval): both kinds carry them.
    stack = _stack()
    created = DocumentIndex(stack, "Created", ingestion=IngestionTrigger.manual())
    imported = DocumentIndex.from_knowledge_base_attributes(stack, "Imported", knowledge_base_id="KLMNOPQRST")
    models = [
        BedrockModelAlias(
            alias=f"rag-{i}",
            model_id="us.amazon.nova-lite-v1:0",
            retrieval=KnowledgeBaseRetrieval(
                knowledge_base_id=index.knowledge_base_id, knowledge_base_arn=index.knowledge_base_arn
            ),
        )
        for i, index in enumerate((created, imported))
    ]
    for index in (created, imported):
        assert isinstance(index, IDocumentIndex)
    BedrockGatewayApi(stack, "Gateway", models=models, auth=GatewayAuth.iam())
    template = Template.from_stack(stack).to_json()
    created_id = stack.get_logical_id(created.knowledge_base)
    assert sorted(_retrieve_and_upload_statements(template)["bedrock:Retrieve"]) == sorted(
        [f"{{{created_id}.KnowledgeBaseArn}}", PARTITION_REGION_ACCOUNT % ("bedrock", "knowledge-base/KLMNOPQRST")]
    )
    (function,) = lambda_functions(template).values()
    config = json.loads(text(function["Properties"]["Environment"]["Variables"]["GATEWAY_CONFIG"]))
    assert [m["retrieval"]["knowledgeBaseId"] for m in config["models"]] == [
        f"{{{created_id}.KnowledgeBaseId}}",
        "KLMNOPQRST",
    ]


def test_imported_index_rules_and_props() -> None:
    # KB.KNOWLEDGE_BASE_ID: botocore bedrock-agent 2023-06-05 shape Id, pattern [0-9a-zA-Z]{10}.
    def imported(**kwargs: Any) -> ImportedDocumentIndex:
        return DocumentIndex.from_knowledge_base_attributes(_stack(), "Shared", **kwargs)

    assert "got 'kb-1'" in expect_rule("KB.KNOWLEDGE_BASE_ID", lambda: imported(knowledge_base_id="kb-1"))
    expect_rule("KB.KNOWLEDGE_BASE_ID", lambda: imported(knowledge_base_id="ABCDEFGHIJK"))
    # KB.KNOWLEDGE_BASE_ARN: shape KnowledgeBaseArn, arn:aws(|-cn|-us-gov):bedrock:<region>:<12 digits>:knowledge-base/<id>.
    expect_rule(
        "KB.KNOWLEDGE_BASE_ARN", lambda: imported(knowledge_base_id="ABCDEFGHIJ", knowledge_base_arn="ABCDEFGHIJ")
    )
    expect_rule(
        "KB.KNOWLEDGE_BASE_ARN",
        lambda: imported(
            knowledge_base_id="ABCDEFGHIJ",
            knowledge_base_arn="arn:aws:bedrock:us-east-1:12345:knowledge-base/ABCDEFGHIJ",
        ),
    )
    mismatch = expect_rule(
        "KB.KNOWLEDGE_BASE_ARN",
        lambda: imported(
            knowledge_base_id="ABCDEFGHIJ",
            knowledge_base_arn="arn:aws:bedrock:us-east-1:111122223333:knowledge-base/ZZZZZZZZZZ",
        ),
    )
    assert "names knowledge base 'ZZZZZZZZZZ', not knowledge_base_id 'ABCDEFGHIJ'" in mismatch
    # Valid: GovCloud and China partitions, and tokens (left to CloudFormation).
    for partition in ("aws-us-gov", "aws-cn"):
        imported(
            knowledge_base_id="ABCDEFGHIJ",
            knowledge_base_arn=f"arn:{partition}:bedrock:r-1:111122223333:knowledge-base/ABCDEFGHIJ",
        )
    imported(knowledge_base_id=cdk.Fn.import_value("Id"), knowledge_base_arn=cdk.Fn.import_value("Arn"))
    # Plain prop checks, all at once, naming the construct path.
    with pytest.raises(PropsValidationError) as info:
        imported(knowledge_base_id="abc", document_prefix="policies")
    assert str(info.value).startswith("invalid ImportedDocumentIndex at S/Shared (3 problem(s))")
    assert "document_prefix must end with '/'" in str(info.value)
    assert "document_prefix only applies with document_bucket" in str(info.value)
    with pytest.raises(PropsTypeError, match=r"knowledge_base_id must be str, got int 1234567890"):
        imported(knowledge_base_id=1234567890)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------------
# docstrings (convention 11: every public prop, option field and enum member states its default)


def _field_docs(cls: ast.ClassDef) -> dict[str, tuple[str | None, bool]]:
    """name -> (docstring or None, has a default) for the fields / members of a class body."""
    out: dict[str, tuple[str | None, bool]] = {}
    body = cls.body
    for i, stmt in enumerate(body):
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            name, has_default = stmt.target.id, stmt.value is not None
        elif isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name, has_default = stmt.targets[0].id, True
        else:
            continue
        nxt = body[i + 1] if i + 1 < len(body) else None
        doc = nxt.value.value if isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant) else None
        out[name] = (doc if isinstance(doc, str) else None, has_default)
    return out


def _param_docs(function: Any) -> dict[str, str]:
    """``:param x:`` texts of a function's docstring."""
    doc = inspect.getdoc(function) or ""
    parts = re.split(r"^:param (\w+):", doc, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_every_public_prop_field_and_enum_member_states_its_default() -> None:
    from cdk_llm_serving.knowledge_base import config

    tree = ast.parse(inspect.getsource(config))
    classes = [n for n in tree.body if isinstance(n, ast.ClassDef) and not n.name.startswith("_")]
    assert {c.name for c in classes} >= {"ChunkingKind", "ChunkingStrategy", "IngestionTrigger", "EmbeddingModelSpec"}
    for cls in classes:
        is_enum = any(isinstance(b, ast.Attribute) and b.attr == "Enum" for b in cls.bases)
        for name, (doc, has_default) in _field_docs(cls).items():
            assert doc, f"{cls.name}.{name} has no docstring"
            if not is_enum:
                assert ("Default:" in doc) if has_default else ("Required" in doc), f"{cls.name}.{name}: {doc!r}"
    for function in (
        DocumentIndex.__init__,
        DocumentIndex.from_knowledge_base_attributes,
        ImportedDocumentIndex.__init__,
    ):
        params = _param_docs(function)
        for name, param in inspect.signature(function).parameters.items():
            if param.kind is not inspect.Parameter.KEYWORD_ONLY:
                continue
            assert name in params, f"{function.__qualname__}: no :param {name}:"
            if param.default is not inspect.Parameter.empty:
                assert "Default:" in params[name], f"{function.__qualname__} {name}: {params[name]!r}"

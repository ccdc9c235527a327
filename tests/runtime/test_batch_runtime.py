"""The Bedrock batch runtime (lambda/batch) on real JSONL files: both input formats, the split at the limits,
malformed lines reported per line, outputs joined out of order, partial failure.

S3 is a real S3 API server (moto's, on 127.0.0.1) reached through boto3 (``AWS_ENDPOINT_URL_S3``); Service
Quotas is stubbed at the wire with botocore's Stubber. Nothing else is replaced.
"""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

BATCH_DIR = Path(__file__).resolve().parents[2] / "lambda" / "batch"
if str(BATCH_DIR) not in sys.path:
    sys.path.insert(0, str(BATCH_DIR))

import collect  # noqa: E402
import formats  # noqa: E402
import handler  # noqa: E402
import split  # noqa: E402

IN, OUT = "batch-in", "batch-out"
LIMITS = split.Limits(min_records=3, max_records=5, max_bytes=10_000, sources={"min_records": "test"})


def _config(**over: Any) -> dict[str, Any]:
    return {
        "input_bucket": IN,
        "input_prefix": "input/",
        "runs_prefix": "runs/",
        "output_bucket": OUT,
        "input_format": "auto",
        "invocation_type": "Converse",
        "model_id": "us.amazon.nova-lite-v1:0",
        "job_name_prefix": "batch",
        "allow_invalid_records": False,
        "fallback_limits": {"min_records": 100, "max_records": 50000, "max_bytes": 1024**3},
        "batch_price": {"input_per_million": 0.03, "output_per_million": 0.12},
        "metrics_namespace": "Test/Batch",
        "pipeline_name": "test",
        **over,
    }


def _openai(custom_id: str, text: str, **body: Any) -> str:
    return json.dumps(
        {
            "custom_id": custom_id,
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **body},
        }
    )


def _bedrock(record_id: str, text: str) -> str:
    return json.dumps(
        {"recordId": record_id, "modelInput": {"messages": [{"role": "user", "content": [{"text": text}]}]}}
    )


# ------------------------------------------------------------------------------------------------ formats


def test_openai_request_becomes_a_converse_record(tmp_path: Path) -> None:
    path = tmp_path / "in.jsonl"
    path.write_text(
        json.dumps(
            {
                "custom_id": "req/1 é",
                "method": "POST",
                "url": "/v1/chat/completions",
                "body": {
                    "model": "gpt-4o",
                    "messages": [
                        {"role": "system", "content": "Be brief."},
                        {"role": "user", "content": [{"type": "text", "text": "Hi"}]},
                        {"role": "assistant", "content": "Hello"},
                        {"role": "user", "content": "Name a colour"},
                    ],
                    "max_tokens": 50,
                    "temperature": 0.2,
                    "stop": "END",
                },
            }
        )
        + "\n"
    )
    (record,) = list(formats.parse_lines(path.read_bytes().splitlines()))
    assert isinstance(record, formats.Record)
    assert record.custom_id == "req/1 é" and record.record_id == "L00000000001"
    line = json.loads(record.body)
    assert line == {
        "recordId": "L00000000001",
        "modelInput": {
            "messages": [
                {"role": "user", "content": [{"text": "Hi"}]},
                {"role": "assistant", "content": [{"text": "Hello"}]},
                {"role": "user", "content": [{"text": "Name a colour"}]},
            ],
            "system": [{"text": "Be brief."}],
            "inferenceConfig": {"maxTokens": 50, "temperature": 0.2, "stopSequences": ["END"]},
        },
    }
    assert record.body.endswith(b"\n")


def test_malformed_lines_are_reported_with_their_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    lines = [
        _openai("a", "ok"),  # 1
        "{not json",  # 2
        "",  # 3: blank, skipped (not an error, not a record)
        _openai("b", "x", tools=[{"type": "function"}]),  # 4
        json.dumps({"custom_id": "c", "method": "POST", "url": "/v1/embeddings", "body": {}}),  # 5
        _openai("a", "again"),  # 6: duplicate custom_id
        json.dumps([1, 2]),  # 7
        json.dumps({"recordId": "bad id!", "modelInput": {"messages": []}}),  # 8
        json.dumps({"hello": "world"}),  # 9
        _bedrock("R1", "fine"),  # 10
    ]
    path.write_text("\n".join(lines) + "\n")
    items = list(formats.parse_lines(path.read_bytes().splitlines()))
    invalid = {i.line: i.reason for i in items if isinstance(i, formats.InvalidLine)}
    valid = [i.line for i in items if isinstance(i, formats.Record)]
    assert valid == [1, 10]
    assert sorted(invalid) == [2, 4, 5, 6, 7, 8, 9]
    assert "not valid JSON" in invalid[2]
    assert "body.tools" in invalid[4]
    assert "/v1/chat/completions" in invalid[5]
    assert "duplicate custom_id 'a' (first on line 1)" in invalid[6]
    assert "JSON object" in invalid[7]
    assert "recordId" in invalid[8]
    assert "neither a Bedrock record" in invalid[9]


def test_bedrock_converse_records_are_checked_and_tool_config_refused() -> None:
    ok = _bedrock("A1", "hi")
    tool = json.dumps(
        {"recordId": "A2", "modelInput": {"messages": [{"role": "user", "content": []}], "toolConfig": {}}}
    )
    no_messages = json.dumps({"recordId": "A3", "modelInput": {"prompt": "hi"}})
    items = list(formats.parse_lines([ok, tool, no_messages], input_format="bedrock"))
    assert isinstance(items[0], formats.Record)
    assert isinstance(items[1], formats.InvalidLine) and "toolConfig" in items[1].reason
    assert isinstance(items[2], formats.InvalidLine) and "messages" in items[2].reason
    # InvokeModel jobs take the model's native body as it is.
    (native,) = formats.parse_lines([no_messages], input_format="bedrock", invocation_type="InvokeModel")
    assert isinstance(native, formats.Record) and json.loads(native.body)["modelInput"] == {"prompt": "hi"}
    # OpenAI requests need Converse.
    (refused,) = formats.parse_lines([_openai("x", "y")], invocation_type="InvokeModel")
    assert isinstance(refused, formats.InvalidLine) and "Converse" in refused.reason


# ------------------------------------------------------------------------------------------------ split


def test_split_exactly_at_max_records_is_one_part_and_one_more_is_two_balanced_parts() -> None:
    assert split.plan_parts([10] * 5, LIMITS) == [range(0, 5)]
    parts = split.plan_parts([10] * 6, LIMITS)
    assert parts == [range(0, 3), range(3, 6)]  # balanced: not 5 + 1 (a tail below the minimum of 3)


def test_split_exactly_at_max_bytes() -> None:
    limits = split.Limits(min_records=1, max_records=100, max_bytes=100, sources={})
    assert split.plan_parts([50, 50], limits) == [range(0, 2)]
    assert split.plan_parts([50, 50, 1], limits) == [range(0, 2), range(2, 3)]
    with pytest.raises(split.SplitError, match="record 0 is 101 bytes"):
        split.plan_parts([101], limits)


def test_split_below_the_minimum_refuses_and_a_small_tail_is_rebalanced() -> None:
    with pytest.raises(split.SplitError, match="2 valid record.*minimum of 3"):
        split.plan_parts([10, 10], LIMITS)
    assert [len(p) for p in split.plan_parts([10] * 3, LIMITS)] == [3]
    # 11 records, at most 5 per job: 4 + 4 + 3, every part at least the minimum.
    sizes = [len(p) for p in split.plan_parts([10] * 11, LIMITS)]
    assert sum(sizes) == 11 and max(sizes) <= 5 and min(sizes) >= 3
    # bytes force a tail: moved from the previous part so both stay valid.
    limits = split.Limits(min_records=2, max_records=10, max_bytes=35, sources={})
    parts = split.plan_parts([10, 10, 10, 5], limits)
    assert all(len(p) >= 2 and sum([10, 10, 10, 5][p.start : p.stop]) <= 35 for p in parts)


def test_quota_lookup_by_model_name_and_fallbacks() -> None:
    quotas = [
        {"QuotaName": "Records per batch inference job for Amazon Nova Lite", "Value": 40000.0},
        {"QuotaName": "Records per input file per batch inference job for Amazon Nova Lite", "Value": 30000.0},
        {"QuotaName": "Minimum number of records per batch inference job for Amazon Nova Lite", "Value": 100.0},
        {"QuotaName": "Batch inference input file size (in GB) for Amazon Nova Lite", "Value": 1.0},
        {"QuotaName": "Records per batch inference job for Amazon Nova 2 Lite", "Value": 1.0},  # another model
        {"QuotaName": "Records per batch inference job for Claude 3 Haiku", "Value": 2.0},
    ]
    fallback = split.Limits(
        50, 50000, 5 * split.GB, {"min_records": "fallback", "max_records": "fallback", "max_bytes": "fallback"}
    )
    got = split.limits_from_quotas(quotas, split.model_quota_key("us.amazon.nova-lite-v1:0"), fallback)
    assert (got.min_records, got.max_records, got.max_bytes) == (100, 30000, split.GB)
    assert got.sources["max_records"].startswith("service-quotas: Records per input file")
    assert split.model_quota_key("anthropic.claude-3-haiku-20240307-v1:0") == "claude3haiku"
    assert split.limits_from_quotas(quotas, "claude3haiku", fallback).max_records == 2
    unknown = split.limits_from_quotas(quotas, "somethingelse", fallback)
    assert unknown == fallback


def test_read_limits_through_service_quotas_and_when_it_fails() -> None:
    client = boto3.client("service-quotas", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(client) as stub:
        stub.add_response(
            "list_service_quotas",
            {"Quotas": [{"QuotaName": "Records per batch inference job for Amazon Nova Lite", "Value": 25000.0}]},
            {"ServiceCode": "bedrock"},
        )
        limits = handler.read_limits(_config(), client)
    assert limits.max_records == 25000 and limits.min_records == 100
    assert limits.sources["min_records"] == "fallback"
    with Stubber(client) as stub:
        stub.add_client_error("list_service_quotas", "AccessDeniedException")
        limits = handler.read_limits(_config(), client)
    assert limits.max_records == 50000
    assert limits.sources["max_records"] == "fallback (ListServiceQuotas failed: AccessDeniedException)"


# ------------------------------------------------------------------------------------------------ S3 at the wire


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def s3(monkeypatch_module: pytest.MonkeyPatch) -> Iterator[Any]:
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    for name, value in {
        "AWS_ENDPOINT_URL_S3": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch_module.setenv(name, value)
    client = boto3.client("s3")
    client.create_bucket(Bucket=IN)
    client.create_bucket(Bucket=OUT)
    yield client
    server.stop()


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _read(s3: Any, bucket: str, key: str) -> bytes:
    body: bytes = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body


def _jsonl(s3: Any, bucket: str, key: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _read(s3, bucket, key).splitlines() if line.strip()]


def _converse_output(record_id: str, text: str, i: int = 3, o: int = 5) -> dict[str, Any]:
    return {
        "recordId": record_id,
        "modelInput": {},
        "modelOutput": {
            "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
            "stopReason": "end_turn",
            "usage": {"inputTokens": i, "outputTokens": o, "totalTokens": i + o},
        },
    }


def test_openai_run_end_to_end_with_out_of_order_outputs_and_partial_failure(s3: Any, tmp_path: Path) -> None:
    src = tmp_path / "requests.jsonl"
    good = [_openai(f"task-{n}", f"question {n}", max_tokens=20) for n in range(8)]
    src.write_text("\n".join([*good[:4], "{broken", *good[4:]]) + "\n")
    s3.upload_file(str(src), IN, "input/requests.jsonl")
    config = _config(allow_invalid_records=True)

    prepared = handler.prepare_run(s3, config, {"execution": "arn:exec:1", "input": {}}, limits=LIMITS)

    assert prepared["status"] == "READY" and prepared["records"] == 8 and prepared["invalid"] == 1
    run = prepared["run_prefix"]
    assert _jsonl(s3, IN, f"{run}invalid.jsonl") == [
        {
            "input": "input/requests.jsonl",
            "line": 5,
            "reason": "not valid JSON: Expecting property name enclosed in double quotes at column 2",
        }
    ]
    assert "Contents" not in s3.list_objects_v2(Bucket=IN, Prefix="input/")  # archived under the run
    assert _read(s3, IN, f"{run}input/requests.jsonl") == src.read_bytes()
    parts = prepared["parts"]
    assert [p["records"] for p in parts] == [4, 4]
    assert parts[0]["job_name"] == f"batch-{prepared['run_id']}-0000" and len(parts[0]["job_name"]) <= 63
    assert parts[1]["client_request_token"].isalnum()
    assert parts[1]["output_uri"] == f"s3://{OUT}/{run}jobs/part-0001/"
    part0 = _jsonl(s3, IN, f"{run}parts/part-0000.jsonl")
    assert [r["recordId"] for r in part0] == ["L00000000001", "L00000000002", "L00000000003", "L00000000004"]
    manifest = json.loads(_read(s3, IN, f"{run}manifest.json"))
    assert manifest["limits"]["max_records"] == 5 and manifest["status"] == "READY"

    # Part 0 completed: outputs out of order, one record failed, one has no output line at all.
    ids0 = [r["recordId"] for r in part0]
    out0 = [
        _converse_output(ids0[3], "four"),
        {"recordId": ids0[1], "modelInput": {}, "error": {"errorCode": 400, "errorMessage": "Malformed input"}},
        _converse_output(ids0[0], "one"),
    ]
    s3.put_object(
        Bucket=OUT,
        Key=f"{run}jobs/part-0000/abc123def456/part-0000.jsonl.out",
        Body="\n".join(json.dumps(o) for o in out0).encode(),
    )
    s3.put_object(
        Bucket=OUT,
        Key=f"{run}jobs/part-0000/abc123def456/manifest.json.out",
        Body=json.dumps({"totalRecordCount": 4, "inputTokenCount": 100, "outputTokenCount": 200}).encode(),
    )
    # Part 1's job failed: nothing written.
    # The state machine's Map result, one item per part: {"index", "Job": <the callback's or the poll's output>}.
    # The polling path carries no message: collect reads it from GetModelInvocationJob.
    failed_arn = "arn:aws:bedrock:us-east-1:111122223333:model-invocation-job/fff"
    jobs = [
        {
            "index": 0,
            "Job": {
                "JobArn": "arn:aws:bedrock:us-east-1:111122223333:model-invocation-job/abc123def456",
                "Status": "PartiallyCompleted",
                "Message": "",
            },
        },
        {"index": 1, "Job": {"JobArn": failed_arn, "Status": "Failed"}},
    ]
    bedrock = boto3.client("bedrock", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="y")
    with Stubber(bedrock) as stub:
        stub.add_response(
            "get_model_invocation_job",
            {
                "jobArn": failed_arn,
                "roleArn": "arn:aws:iam::111122223333:role/r",
                "modelId": "amazon.nova-lite-v1:0",
                "submitTime": "2026-12-01T00:00:00Z",
                "status": "Failed",
                "message": "boom",
                "inputDataConfig": {"s3InputDataConfig": {"s3Uri": "s3://batch-in/x"}},
                "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "s3://batch-out/x"}},
            },
            {"jobIdentifier": failed_arn},
        )
        summary = handler.collect_run(
            s3, config, {"prepared": prepared, "jobs": jobs}, now=1_700_000_000, bedrock=bedrock
        )

    assert summary["status"] == "PARTIAL"
    assert (summary["records"], summary["succeeded"], summary["failed"], summary["missing"]) == (8, 2, 1, 5)
    assert (summary["input_tokens"], summary["output_tokens"]) == (100, 200)  # from manifest.json.out
    assert summary["estimated_cost_usd"] == pytest.approx(100 / 1e6 * 0.03 + 200 / 1e6 * 0.12)
    assert summary["failed_jobs"] == 1 and summary["invalid_lines"] == 1
    results = _jsonl(s3, OUT, f"{run}results.jsonl")
    assert [r["custom_id"] for r in results] == [f"task-{n}" for n in range(8)]  # input order, all present
    assert results[0]["modelOutput"]["output"]["message"]["content"][0]["text"] == "one"
    assert results[2]["error"] == {"code": "missing", "message": "no output record for this recordId"}
    assert results[5]["error"] == {"code": "missing", "message": "job Failed: boom"}
    out = _jsonl(s3, OUT, f"{run}openai/output.jsonl")
    assert [o["custom_id"] for o in out] == ["task-0", "task-3"]
    assert out[0]["response"]["status_code"] == 200
    assert out[0]["response"]["body"]["choices"][0] == {
        "index": 0,
        "message": {"role": "assistant", "content": "one"},
        "finish_reason": "stop",
    }
    assert out[0]["response"]["body"]["usage"] == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
    assert out[0]["error"] is None and out[0]["id"] == f"batch_req_{ids0[0]}"
    errors = _jsonl(s3, OUT, f"{run}openai/errors.jsonl")
    assert [e["custom_id"] for e in errors] == ["task-1", "task-2", "task-4", "task-5", "task-6", "task-7"]
    assert errors[0]["error"] == {"code": "400", "message": "Malformed input"} and errors[0]["response"] is None
    stored = json.loads(_read(s3, OUT, f"{run}summary.json"))
    assert len(stored["problems"]) == 6 and stored["jobs"][1]["status"] == "Failed"


def test_malformed_lines_fail_the_run_unless_allowed(s3: Any, tmp_path: Path) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text("\n".join([_bedrock("A1", "x"), _bedrock("A2", "y"), "[]", _bedrock("A1", "z")]) + "\n")
    s3.upload_file(str(src), IN, "input/bad.jsonl")
    with pytest.raises(handler.InvalidInput, match=r"2 malformed line\(s\).*bad.jsonl line 3: must be a JSON object"):
        handler.prepare_run(
            s3, _config(), {"execution": "arn:exec:2", "input": {"input_key": "input/bad.jsonl"}}, limits=LIMITS
        )
    run = f"runs/{handler.run_id_of('arn:exec:2')}/"
    invalid = _jsonl(s3, IN, f"{run}invalid.jsonl")
    assert [(i["line"], i["reason"]) for i in invalid] == [
        (3, "must be a JSON object, got list"),
        (4, "duplicate recordId 'A1' (first on line 1)"),
    ]
    assert json.loads(_read(s3, IN, f"{run}manifest.json"))["status"] == "INVALID_INPUT"


def test_below_the_minimum_is_not_submitted(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket=IN, Key="input/small.jsonl", Body=(_bedrock("A1", "x") + "\n").encode())
    with pytest.raises(handler.NothingToSubmit, match="below the minimum of 3"):
        handler.prepare_run(s3, _config(), {"execution": "arn:exec:3", "input": {}}, limits=LIMITS)
    run = f"runs/{handler.run_id_of('arn:exec:3')}/"
    assert json.loads(_read(s3, IN, f"{run}manifest.json"))["status"] == "NOT_SUBMITTED"


def test_a_run_without_input_is_empty(s3: Any) -> None:
    got = handler.prepare_run(s3, _config(), {"execution": "arn:exec:4", "input": {}}, limits=LIMITS)
    assert got["status"] == "EMPTY" and got["parts"] == []


def test_several_files_get_unique_record_ids(s3: Any, tmp_path: Path) -> None:
    for name in ("a", "b"):
        s3.put_object(
            Bucket=IN, Key=f"input/{name}.jsonl", Body="\n".join(_openai(f"{name}{n}", "q") for n in range(3)).encode()
        )
    got = handler.prepare_run(s3, _config(), {"execution": "arn:exec:5", "input": {}}, limits=LIMITS)
    assert got["records"] == 6 and got["inputs"] == ["input/a.jsonl", "input/b.jsonl"]
    ids = [r["recordId"] for p in got["parts"] for r in _jsonl(s3, IN, p["input_uri"].split(f"{IN}/", 1)[1])]
    assert len(set(ids)) == 6


def test_s3_event_input_picks_the_uploaded_object_only(s3: Any) -> None:
    s3.put_object(Bucket=IN, Key="input/one.jsonl", Body="\n".join(_bedrock(f"X{n}", "q") for n in range(3)).encode())
    s3.put_object(Bucket=IN, Key="input/other.txt", Body=b"ignored")
    event = {
        "execution": "arn:exec:6",
        "input": {"detail": {"bucket": {"name": IN}, "object": {"key": "input/one.jsonl"}}},
    }
    got = handler.prepare_run(s3, _config(), event, limits=LIMITS)
    assert got["inputs"] == ["input/one.jsonl"] and got["records"] == 3
    s3.delete_object(Bucket=IN, Key="input/other.txt")


def test_native_outputs_count_anthropic_and_llama_usage() -> None:
    assert collect.usage_of({"usage": {"input_tokens": 4, "output_tokens": 9}}) == (4, 9)
    assert collect.usage_of({"prompt_token_count": 7, "generation_token_count": 2}) == (7, 2)
    results, tally = collect.join(
        ["a", "b"], [{"recordId": "zzz", "modelOutput": {}}, {"recordId": "b", "modelOutput": {}}], part=0
    )
    assert tally.unmatched_outputs == 1 and tally.succeeded == 1 and tally.missing == 1
    assert results["a"]["error"]["code"] == "missing"

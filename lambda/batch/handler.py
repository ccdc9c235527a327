"""Lambda entry points of a BedrockBatchInference run (boto3 from the Lambda runtime; nothing bundled).

- :func:`prepare`: read the run's input files, validate and convert every line, split into job files within the
  model's limits (Service Quotas, else the documented fallbacks), write them and the run manifest.
- :func:`callback`: invoked by the state machine with a task token after a job was created (store jobArn ->
  token in DynamoDB, and answer at once if the job already ended), and by the EventBridge rule on "Batch
  Inference Job State Change" (look the token up, resume the run).
- :func:`collect`: join the job outputs on recordId, write results (and OpenAI Batch output for OpenAI input),
  a summary, and metrics (CloudWatch embedded metric format).

Configuration: the ``BATCH_CONFIG`` environment variable (JSON), written by the construct.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from typing import Any

import boto3

import collect as collect_mod
import formats
import split

TERMINAL = ("Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired")
COMPLETED = ("Completed", "PartiallyCompleted")
TOKEN_TTL_SECONDS = 8 * 24 * 3600  # longer than the longest job (168 hours)


class InvalidInput(Exception):
    """Some input lines are malformed (each listed in the run's invalid.jsonl) and the run does not allow that."""


class NothingToSubmit(Exception):
    """The valid records cannot form a job Bedrock accepts (e.g. fewer than the minimum)."""


def _config() -> dict[str, Any]:
    config: dict[str, Any] = json.loads(os.environ["BATCH_CONFIG"])
    return config


def _s3() -> Any:
    return boto3.client("s3")


def run_id_of(execution: str) -> str:
    """A short id, unique per execution, usable in job names and client request tokens (letters and digits)."""
    return hashlib.sha256(execution.encode()).hexdigest()[:20]


def job_name(prefix: str, run_id: str, index: int) -> str:
    return f"{prefix}-{run_id}-{index:04d}"


# ---------------------------------------------------------------------------------------------------- prepare


def _input_keys(s3: Any, event: dict[str, Any], bucket: str, prefix: str) -> list[str]:
    """The run's input: the uploaded object (S3 event), ``input_keys``/``input_key`` (by hand), else every
    ``.jsonl`` under the input prefix (a scheduled run)."""
    raw = event.get("input")
    given: dict[str, Any] = raw if isinstance(raw, dict) else {}
    raw = given.get("detail")
    detail: dict[str, Any] = raw if isinstance(raw, dict) else {}
    if detail.get("object", {}).get("key"):
        keys = [str(detail["object"]["key"])]
    elif given.get("input_keys") or given.get("input_key"):
        keys = [str(k) for k in (given.get("input_keys") or [given["input_key"]])]
    else:
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys += [o["Key"] for o in page.get("Contents", [])]
    return sorted(k for k in keys if k.startswith(prefix) and k.endswith(".jsonl"))


def _lines(s3: Any, bucket: str, key: str) -> Iterator[bytes]:
    body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    yield from body.iter_lines(keepends=False)


def read_limits(config: dict[str, Any], client: Any | None = None) -> split.Limits:
    """The model's per-job limits from Service Quotas (``ListServiceQuotas``, by name), else the fallbacks."""
    fb = config["fallback_limits"]
    fallback = split.Limits(
        min_records=int(fb["min_records"]),
        max_records=int(fb["max_records"]),
        max_bytes=int(fb["max_bytes"]),
        sources={f: "fallback" for f in ("min_records", "max_records", "max_bytes")},
    )
    name = config.get("quota_model_name") or split.model_quota_key(config["model_id"])
    try:
        client = client or boto3.client("service-quotas")
        quotas: list[dict[str, Any]] = []
        for page in client.get_paginator("list_service_quotas").paginate(ServiceCode="bedrock"):
            quotas += page.get("Quotas", [])
    except Exception as exc:  # noqa: BLE001 - any failure falls back, and says so in the manifest
        why = f"fallback (ListServiceQuotas failed: {type(exc).__name__})"
        return split.Limits(
            fallback.min_records, fallback.max_records, fallback.max_bytes, dict.fromkeys(fallback.sources, why)
        )
    return split.limits_from_quotas(quotas, name, fallback)


def prepare_run(
    s3: Any, config: dict[str, Any], event: dict[str, Any], *, limits: split.Limits | None = None
) -> dict[str, Any]:
    """Everything :func:`prepare` does, with the clients passed in (tests drive it against an S3 server)."""
    bucket, prefix = config["input_bucket"], config["input_prefix"]
    run_id = run_id_of(str(event.get("execution") or time.time_ns()))
    run = f"{config['runs_prefix']}{run_id}/"
    keys = _input_keys(s3, event, bucket, prefix)
    base = {"run_id": run_id, "run_prefix": run, "parts": [], "records": 0, "invalid": 0, "inputs": keys}
    if not keys:
        return {**base, "status": "EMPTY"}
    records: list[formats.Record] = []
    invalid: list[dict[str, Any]] = []
    for key in keys:
        for item in formats.parse_lines(
            _lines(s3, bucket, key), input_format=config["input_format"], invocation_type=config["invocation_type"]
        ):
            if isinstance(item, formats.Record):
                records.append(item)
            else:
                invalid.append({"input": key, **item.as_json()})
    if len(keys) > 1:  # recordIds generated from line numbers must stay unique across files
        records = _renumber(records, invalid, keys)
    _archive_inputs(s3, bucket, keys, run)
    if invalid:
        s3.put_object(
            Bucket=bucket, Key=f"{run}invalid.jsonl", Body=b"".join(json.dumps(i).encode() + b"\n" for i in invalid)
        )
    limits = limits or read_limits(config)
    manifest: dict[str, Any] = {
        **base,
        "records": len(records),
        "invalid": len(invalid),
        "model_id": config["model_id"],
        "invocation_type": config["invocation_type"],
        "limits": {
            "min_records": limits.min_records,
            "max_records": limits.max_records,
            "max_bytes": limits.max_bytes,
            "sources": limits.sources,
        },
    }
    if invalid and not config.get("allow_invalid_records", False):
        _put_json(s3, bucket, f"{run}manifest.json", {**manifest, "status": "INVALID_INPUT"})
        shown = "; ".join(f"{i['input']} line {i['line']}: {i['reason']}" for i in invalid[:5])
        raise InvalidInput(f"{len(invalid)} malformed line(s) (all in s3://{bucket}/{run}invalid.jsonl): {shown}")
    try:
        ranges = split.plan_parts([len(r.body) for r in records], limits)
    except split.SplitError as exc:
        _put_json(s3, bucket, f"{run}manifest.json", {**manifest, "status": "NOT_SUBMITTED", "reason": str(exc)})
        raise NothingToSubmit(str(exc)) from None
    parts = []
    index_doc: list[list[list[str | int | None]]] = []
    for i, r in enumerate(ranges):
        chunk = records[r.start : r.stop]
        key = f"{run}parts/part-{i:04d}.jsonl"
        s3.put_object(Bucket=bucket, Key=key, Body=b"".join(rec.body for rec in chunk))
        index_doc.append([[rec.record_id, rec.custom_id, rec.line] for rec in chunk])
        parts.append(
            {
                "index": i,
                "records": len(chunk),
                "job_name": job_name(config["job_name_prefix"], run_id, i),
                "client_request_token": f"{run_id}{i:04d}",
                "input_uri": f"s3://{bucket}/{key}",
                "output_uri": f"s3://{config['output_bucket']}/{run}jobs/part-{i:04d}/",
            }
        )
    _put_json(s3, bucket, f"{run}records.json", index_doc)
    manifest = {**manifest, "status": "READY", "parts": parts}
    _put_json(s3, bucket, f"{run}manifest.json", manifest)
    return {k: manifest[k] for k in ("run_id", "run_prefix", "status", "parts", "records", "invalid", "inputs")}


def _renumber(records: list[formats.Record], invalid: list[dict[str, Any]], keys: list[str]) -> list[formats.Record]:
    """Give generated recordIds a running number over all files (explicit recordIds are kept)."""
    out: list[formats.Record] = []
    seen: set[str] = set()
    for n, rec in enumerate(records, start=1):
        rid = rec.record_id
        if rid.startswith("L") and rid == formats.generated_record_id(rec.line):
            rid = f"R{n:011d}"
        if rid in seen:
            invalid.append(
                {"input": ",".join(keys), "line": rec.line, "reason": f"recordId {rid!r} repeats across input files"}
            )
            continue
        seen.add(rid)
        body = json.loads(rec.body)
        body["recordId"] = rid
        out.append(
            formats.Record(
                rec.line,
                rid,
                rec.custom_id,
                json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode() + b"\n",
            )
        )
    return out


def _archive_inputs(s3: Any, bucket: str, keys: list[str], run: str) -> None:
    """Move the inputs under the run, so the next scheduled run does not take them again."""
    for key in keys:
        s3.copy_object(
            Bucket=bucket, Key=f"{run}input/{key.rsplit('/', 1)[-1]}", CopySource={"Bucket": bucket, "Key": key}
        )
        s3.delete_object(Bucket=bucket, Key=key)


def _put_json(s3: Any, bucket: str, key: str, doc: Any) -> None:
    s3.put_object(
        Bucket=bucket, Key=key, Body=json.dumps(doc, separators=(",", ":")).encode(), ContentType="application/json"
    )


def prepare(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return prepare_run(_s3(), _config(), event)


# ---------------------------------------------------------------------------------------------------- callback


def callback(event: dict[str, Any], context: Any) -> None:
    """Register a task token for a job (from the state machine), or resume the run of a finished job (EventBridge)."""
    table = boto3.resource("dynamodb").Table(os.environ["TOKEN_TABLE"])
    sfn = boto3.client("stepfunctions")
    if "task_token" in event:
        job_arn = event["job_arn"]
        table.put_item(
            Item={"job_arn": job_arn, "token": event["task_token"], "expires": int(time.time()) + TOKEN_TTL_SECONDS}
        )
        job = boto3.client("bedrock").get_model_invocation_job(jobIdentifier=job_arn)
        if job.get("status") in TERMINAL:  # ended before the token was stored: no event will come for it
            _resume(sfn, table, job_arn, event["task_token"], job.get("status", ""), job.get("message", ""))
        return
    detail = event.get("detail") or {}
    job_arn, status = detail.get("batchJobArn"), detail.get("status")
    if not job_arn or status not in TERMINAL:
        return
    item = table.get_item(Key={"job_arn": job_arn}).get("Item")
    if item:
        _resume(sfn, table, job_arn, str(item["token"]), status, str(detail.get("message", "")))


def _resume(sfn: Any, table: Any, job_arn: str, token: str, status: str, message: str) -> None:
    try:
        sfn.send_task_success(
            taskToken=token, output=json.dumps({"Status": status, "Message": message, "JobArn": job_arn})
        )
    except sfn.exceptions.TaskTimedOut:
        pass  # the state machine already polled and moved on with a new token
    except sfn.exceptions.InvalidToken:
        pass
    table.delete_item(Key={"job_arn": job_arn})


# ---------------------------------------------------------------------------------------------------- collect


def _objects(s3: Any, bucket: str, prefix: str) -> list[str]:
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def _failure_message(bedrock: Any, job: dict[str, Any]) -> str:
    """The job's own message (the polling path carries only its status), or ``no message``."""
    if job.get("Message"):
        return str(job["Message"])
    if bedrock is not None and job.get("JobArn"):
        try:
            return str(bedrock.get_model_invocation_job(jobIdentifier=job["JobArn"]).get("message") or "no message")
        except Exception as exc:  # noqa: BLE001 - the summary still lists the job and its status
            return f"no message (GetModelInvocationJob failed: {type(exc).__name__})"
    return "no message"


def collect_run(
    s3: Any, config: dict[str, Any], event: dict[str, Any], *, now: int | None = None, bedrock: Any | None = None
) -> dict[str, Any]:
    """Everything :func:`collect` does, with the clients passed in (``bedrock`` reads failed jobs' messages)."""
    prepared, jobs = event["prepared"], event.get("jobs") or []
    run, in_bucket, out_bucket = prepared["run_prefix"], config["input_bucket"], config["output_bucket"]
    index = json.loads(s3.get_object(Bucket=in_bucket, Key=f"{run}records.json")["Body"].read())
    # The Map's result: one {"index", "Job": {"Status", "JobArn", "Message"?}} per part (JobEnded / NotSubmitted).
    by_part: dict[int, dict[str, Any]] = {
        int(j["index"]): dict(j.get("Job") or {}) for j in jobs if isinstance(j, dict) and "index" in j
    }
    total = collect_mod.Tally()
    job_rows = []
    manifest_tokens = [0, 0]
    result_lines: list[bytes] = []
    openai_out: list[bytes] = []
    openai_err: list[bytes] = []
    created = now if now is not None else int(time.time())
    for i, rows in enumerate(index):
        job = by_part.get(i, {})
        status = str(job.get("Status", "NotSubmitted"))
        message = "" if status in COMPLETED else _failure_message(bedrock, job)
        job_rows.append({"index": i, "job_arn": job.get("JobArn"), "status": status, "message": message})
        prefix = f"{run}jobs/part-{i:04d}/"
        keys = _objects(s3, out_bucket, prefix)
        outputs: list[dict[str, Any]] = []
        for key in keys:
            if key.endswith(".jsonl.out"):
                outputs += collect_mod.parse_outputs(s3.get_object(Bucket=out_bucket, Key=key)["Body"].iter_lines())
            elif key.endswith("manifest.json.out"):
                m = json.loads(s3.get_object(Bucket=out_bucket, Key=key)["Body"].read())
                manifest_tokens[0] += int(m.get("inputTokenCount", 0))
                manifest_tokens[1] += int(m.get("outputTokenCount", 0))
        failed_job = None if status in COMPLETED else f"job {status}: {message}"
        results, tally = collect_mod.join([r[0] for r in rows], outputs, part=i, failed_job=failed_job)
        collect_mod.add(total, tally)
        for record_id, custom_id, line in rows:
            res = results[str(record_id)]
            row = {**res, "line": line, **({"custom_id": custom_id} if custom_id is not None else {})}
            result_lines.append(json.dumps(row, ensure_ascii=False).encode() + b"\n")
            if custom_id is not None:
                o = collect_mod.openai_line(
                    res,
                    str(custom_id),
                    model=config["model_id"],
                    request_id=str(job.get("JobArn", "")),
                    created=created,
                )
                (openai_out if o["error"] is None else openai_err).append(
                    json.dumps(o, ensure_ascii=False).encode() + b"\n"
                )
    if any(manifest_tokens):  # the jobs' own counts are authoritative when Bedrock wrote them
        total.input_tokens, total.output_tokens = manifest_tokens
    s3.put_object(Bucket=out_bucket, Key=f"{run}results.jsonl", Body=b"".join(result_lines))
    outputs_written = {"results": f"s3://{out_bucket}/{run}results.jsonl"}
    if openai_out or openai_err:
        s3.put_object(Bucket=out_bucket, Key=f"{run}openai/output.jsonl", Body=b"".join(openai_out))
        s3.put_object(Bucket=out_bucket, Key=f"{run}openai/errors.jsonl", Body=b"".join(openai_err))
        outputs_written["openai_output"] = f"s3://{out_bucket}/{run}openai/output.jsonl"
        outputs_written["openai_errors"] = f"s3://{out_bucket}/{run}openai/errors.jsonl"
    failed_jobs = [j for j in job_rows if j["status"] not in COMPLETED]
    status = (
        "SUCCEEDED"
        if total.succeeded == total.records and not failed_jobs
        else "FAILED"
        if total.succeeded == 0
        else "PARTIAL"
    )
    summary = {
        "run_id": prepared["run_id"],
        "status": status,
        **total.as_json(),
        "invalid_lines": prepared.get("invalid", 0),
        "jobs": job_rows,
        "failed_jobs": len(failed_jobs),
        "estimated_cost_usd": collect_mod.estimated_cost(total, config.get("batch_price")),
        "price": config.get("batch_price"),
        "outputs": outputs_written,
    }
    _put_json(s3, out_bucket, f"{run}summary.json", summary)
    _emit_metrics(config, total, len(failed_jobs))
    return {k: v for k, v in summary.items() if k != "problems"} | {"problems": summary["problems"][:10]}


def _emit_metrics(config: dict[str, Any], tally: collect_mod.Tally, failed_jobs: int) -> None:
    """CloudWatch embedded metric format on stdout: no PutMetricData call or permission needed."""
    values = {
        "RecordsSucceeded": tally.succeeded,
        "RecordsFailed": tally.failed + tally.missing,
        "InputTokens": tally.input_tokens,
        "OutputTokens": tally.output_tokens,
        "FailedJobs": failed_jobs,
    }
    print(
        json.dumps(
            {
                "_aws": {
                    "Timestamp": int(time.time() * 1000),
                    "CloudWatchMetrics": [
                        {
                            "Namespace": config["metrics_namespace"],
                            "Dimensions": [["Pipeline"]],
                            "Metrics": [{"Name": n, "Unit": "Count"} for n in values],
                        }
                    ],
                },
                "Pipeline": config["pipeline_name"],
                **values,
            }
        )
    )


def collect(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return collect_run(_s3(), _config(), event, bedrock=boto3.client("bedrock"))

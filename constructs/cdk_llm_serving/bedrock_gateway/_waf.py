"""The gateway's AWS WAF web ACL (per-IP rate limit, AWS managed rule groups) and its logging.

Created under ``scope`` (the gateway) with the construct IDs the gateway has always used.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from .._retained import stack_id_suffix

#: AWS managed rule groups of the web ACL, in priority order, with the rules set to count.
#: The *_BODY rules inspect the request body, i.e. the prompt: chat messages legitimately contain HTML and
#: JavaScript, file paths, URLs with IP addresses, metadata-service addresses and JNDI/Java snippets, which the
#: rules would block with 403. Counting keeps their labels and metrics visible; the function validates the body.
#: SizeRestrictions_BODY blocks bodies over 8 KB, far below a chat history; the function enforces its own limits.
WAF_MANAGED_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("AWSManagedRulesAmazonIpReputationList", ()),
    (
        "AWSManagedRulesCommonRuleSet",
        (
            "SizeRestrictions_BODY",
            "CrossSiteScripting_BODY",
            "GenericLFI_BODY",
            "GenericRFI_BODY",
            "EC2MetaDataSSRF_BODY",
        ),
    ),
    ("AWSManagedRulesKnownBadInputsRuleSet", ("Log4JRCE_BODY", "JavaDeserializationRCE_BODY")),
)

_RATE_LIMITED_BODY = json.dumps(
    {
        "error": {
            "message": "Too many requests from this address; retry later",
            "type": "rate_limit_exceeded",
            "param": None,
            "code": "rate_limit_exceeded",
        }
    },
    separators=(",", ":"),
)


def _visibility(name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=name, sampled_requests_enabled=True
    )


def _managed(priority: int, name: str, overrides: Sequence[str] = ()) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS",
                name=name,
                rule_action_overrides=[
                    wafv2.CfnWebACL.RuleActionOverrideProperty(
                        name=o, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                    )
                    for o in overrides
                ]
                or None,
            )
        ),
        visibility_config=_visibility(name),
    )


def _rate_limit_rule(rate_limit_per_ip: int) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name="RateLimitPerIp",
        priority=0,
        action=wafv2.CfnWebACL.RuleActionProperty(
            block=wafv2.CfnWebACL.BlockActionProperty(
                custom_response=wafv2.CfnWebACL.CustomResponseProperty(
                    response_code=429,
                    custom_response_body_key="RateLimited",
                    response_headers=[wafv2.CfnWebACL.CustomHTTPHeaderProperty(name="Retry-After", value="60")],
                )
            )
        ),
        statement=wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                limit=rate_limit_per_ip, aggregate_key_type="IP", evaluation_window_sec=300
            )
        ),
        visibility_config=_visibility("RateLimitPerIp"),
    )


@dataclass(frozen=True)
class WebAcl:
    """The web ACL, its log group and that group's name (checked by GATEWAY.WAF_LOG_GROUP_PREFIX)."""

    acl: wafv2.CfnWebACL
    log_group: logs.LogGroup
    log_group_name: str


def web_acl(
    scope: Construct,
    *,
    stage_arn: str,
    rate_limit_per_ip: int,
    log_group: Callable[..., logs.LogGroup],
) -> WebAcl:
    """The web ACL associated with the stage, logging to a retained ``aws-waf-logs-*`` group made by ``log_group``."""
    acl = wafv2.CfnWebACL(
        scope,
        "WebAcl",
        scope="REGIONAL",
        default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
        visibility_config=_visibility("BedrockGateway"),
        custom_response_bodies={
            "RateLimited": wafv2.CfnWebACL.CustomResponseBodyProperty(
                content_type="APPLICATION_JSON", content=_RATE_LIMITED_BODY
            )
        },
        rules=[
            _rate_limit_rule(rate_limit_per_ip),
            *(
                _managed(priority, group, overrides)
                for priority, (group, overrides) in enumerate(WAF_MANAGED_GROUPS, start=1)
            ),
        ],
    )
    wafv2.CfnWebACLAssociation(scope, "WebAclAssociation", resource_arn=stage_arn, web_acl_arn=acl.attr_arn)
    # WAF only logs to log groups named aws-waf-logs-*. The group is retained, so its name ends with part of
    # the stack ID: a re-created stack never asks for the name its deleted predecessor's group still holds.
    waf_log_name = f"aws-waf-logs-{cdk.Names.unique_id(scope)[-100:]}-{stack_id_suffix()}"
    group = log_group("WafLogs", log_group_name=waf_log_name)
    _logging(scope, acl, group, waf_log_name)
    return WebAcl(acl=acl, log_group=group, log_group_name=waf_log_name)


def _logging(scope: Construct, acl: wafv2.CfnWebACL, group: logs.LogGroup, group_name: str) -> None:
    """The web ACL's logging configuration (Authorization header redacted), created after its log group."""
    logging = wafv2.CfnLoggingConfiguration(
        scope,
        "WafLogging",
        resource_arn=acl.attr_arn,
        log_destination_configs=[
            cdk.Stack.of(scope).format_arn(
                service="logs",
                resource="log-group",
                resource_name=group_name,
                arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
            )
        ],
        # Bearer tokens must never reach the logs.
        redacted_fields=[wafv2.CfnLoggingConfiguration.FieldToMatchProperty(single_header={"Name": "authorization"})],
    )
    logging.node.add_dependency(group)

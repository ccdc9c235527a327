"""GatewayAlarmOptions: the thresholds of the gateway's default alarms (its ``alarms`` prop)."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk

from .._types import TypedOptions


@dataclass(frozen=True, kw_only=True)
class GatewayAlarmOptions(TypedOptions):
    """Thresholds of the gateway's default alarms. The count alarms fire when their metric reaches the threshold in
    one 5-minute period. Notifications go to the gateway's ``alarm_topic``."""

    server_errors: int = 5
    """API Gateway 5XX responses of the stage per 5 minutes (``ServerErrorsAlarm``). Default: 5."""
    model_throttles: int = 10
    """Model throttles per 5 minutes, summed over the aliases (Bedrock tokens/requests per minute quota, SageMaker
    capacity; HTTP 429 to the client; ``ModelThrottlesAlarm``). Default: 10."""
    model_config_errors: int = 1
    """Requests per 5 minutes, summed over the aliases, that fail because the gateway cannot use its model (invalid
    or unavailable model ID, access denied, Marketplace subscription missing; HTTP 502 to the client;
    ``ModelConfigErrorsAlarm``). Default: 1."""
    time_to_first_token_p90: cdk.Duration = cdk.Duration.seconds(10)
    """p90 time to first token of the worst alias over 5 minutes, in 2 of 3 periods (``TimeToFirstTokenAlarm``).
    Default: 10 seconds."""
    enabled: bool = True
    """``False`` creates none of the gateway's alarms (``BedrockGatewayApi.alarms`` is then empty). Default: True."""

    def problems(self) -> list[str]:
        """Range checks of the thresholds (none when the alarms are switched off)."""
        if not self.enabled:
            return []
        out = [
            f"alarms.{name} must be at least 1, got {value}"
            for name, value in (
                ("server_errors", self.server_errors),
                ("model_throttles", self.model_throttles),
                ("model_config_errors", self.model_config_errors),
            )
            if value < 1
        ]
        ttft = self.time_to_first_token_p90.to_milliseconds()
        if not cdk.Token.is_unresolved(ttft) and ttft <= 0:
            out.append("alarms.time_to_first_token_p90 must be longer than 0 milliseconds")
        return out

"""Amazon Bedrock batch inference runs (Step Functions + Lambda + EventBridge) and the off-peak window of the batch backends."""

from .construct import BedrockBatchInference, TokenPrice, default_batch_price
from .options import BatchInputFormat, BatchInvocationType, BatchLimits, OffPeakWindow
from .rules import JOBS, WINDOWS, JobPlan, WindowPlan
from .schedule import offpeak_schedule

__all__ = [
    "JOBS",
    "WINDOWS",
    "BatchInputFormat",
    "BatchInvocationType",
    "BatchLimits",
    "BedrockBatchInference",
    "JobPlan",
    "OffPeakWindow",
    "TokenPrice",
    "WindowPlan",
    "default_batch_price",
    "offpeak_schedule",
]

"""The statuses of webhook endpoints and of each delivery to one."""

from __future__ import annotations

from enum import StrEnum


class EndpointStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"
    DELETED = "deleted"  # kept for the delivery history, invisible to its owner


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for (another) attempt
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # retries exhausted, or the endpoint went away

"""Gardener's well-defined error codes (`core.gardener.cloud/v1beta1` ErrorCode), valued as on the wire.

They travel into `status.lastErrors[].codes` of Shoots and `status.lastError.codes` of extension
resources, so a user sees whether a failure is theirs to fix or heals by itself.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    INFRA_UNAUTHENTICATED = "ERR_INFRA_UNAUTHENTICATED"
    INFRA_UNAUTHORIZED = "ERR_INFRA_UNAUTHORIZED"
    INFRA_QUOTA_EXCEEDED = "ERR_INFRA_QUOTA_EXCEEDED"
    INFRA_RATE_LIMITS_EXCEEDED = "ERR_INFRA_RATE_LIMITS_EXCEEDED"
    INFRA_DEPENDENCIES = "ERR_INFRA_DEPENDENCIES"
    RETRYABLE_INFRA_DEPENDENCIES = "ERR_RETRYABLE_INFRA_DEPENDENCIES"
    INFRA_RESOURCES_DEPLETED = "ERR_INFRA_RESOURCES_DEPLETED"
    CLEANUP_CLUSTER_RESOURCES = "ERR_CLEANUP_CLUSTER_RESOURCES"
    CONFIGURATION_PROBLEM = "ERR_CONFIGURATION_PROBLEM"
    RETRYABLE_CONFIGURATION_PROBLEM = "ERR_RETRYABLE_CONFIGURATION_PROBLEM"
    PROBLEMATIC_WEBHOOK = "ERR_PROBLEMATIC_WEBHOOK"

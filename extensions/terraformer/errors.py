"""Terraform's error output turned into Gardener error codes and a short description.

The patterns are those Gardener matches provider errors with (`ERR_INFRA_*`, `ERR_CONFIGURATION_PROBLEM`),
plus Terraform's own messages for broken configuration; whether a failure is worth retrying follows from
the codes.
"""

from __future__ import annotations

import re

from gardener.apis.extensions.v1alpha1 import ErrorCode
from gardener.runtime.errors import CodedError, PermanentError, TemporaryError, retryable

_PATTERNS: tuple[tuple[ErrorCode, re.Pattern[str]], ...] = (
    (
        ErrorCode.INFRA_UNAUTHENTICATED,
        re.compile(
            r"(?i)(InvalidAuthenticationTokenTenant|Authentication failed|AuthFailure|invalid_client|"
            r"InvalidAccessKeyId|InvalidSecretAccessKey|InvalidSubscriptionId|cannot fetch token|"
            r"unauthenticated|no valid credential sources|invalid credentials|Error 401)"
        ),
    ),
    (
        ErrorCode.INFRA_UNAUTHORIZED,
        re.compile(
            r"(?i)(Unauthorized|InvalidClientTokenId|SignatureDoesNotMatch|AuthorizationFailed|invalid_grant|"
            r"UnauthorizedOperation|not authorized|AccessDenied|Forbidden|Error 403|permission denied to|"
            r"SERVICE_ACCOUNT_ACCESS_DENIED)"
        ),
    ),
    (
        ErrorCode.INFRA_QUOTA_EXCEEDED,
        re.compile(
            r"(?i)((?<!Request)LimitExceeded|Quotas|Quota.*exceeded|exceeded quota|Quota has been met|QUOTA_EXCEEDED|"
            r"Maximum number of .* exceeded|VolumeSizeExceedsAvailableQuota)"
        ),
    ),
    (
        ErrorCode.INFRA_RATE_LIMITS_EXCEEDED,
        re.compile(r"(?i)(RequestLimitExceeded|Throttling|Too many requests|rate limit|Error 429)"),
    ),
    (
        ErrorCode.INFRA_RESOURCES_DEPLETED,
        re.compile(
            r"(?i)(not available in the current hardware cluster|InsufficientInstanceCapacity|SkuNotAvailable|"
            r"ZONE_RESOURCE_POOL_EXHAUSTED|out of capacity|insufficient capacity)"
        ),
    ),
    (
        ErrorCode.INFRA_DEPENDENCIES,
        re.compile(
            r"(?i)(PendingVerification|Access Not Configured|accessNotConfigured|DependencyViolation|"
            r"OperationNotAllowed|CannotDelete|InvalidVpcID\.NotFound|ProjectNotFound|is still in use|"
            r"resource is in use|has dependent objects)"
        ),
    ),
    (
        ErrorCode.RETRYABLE_INFRA_DEPENDENCIES,
        re.compile(r"(?i)(Error acquiring the state lock|RetryableError|try again later|timeout while waiting)"),
    ),
    (
        ErrorCode.CONFIGURATION_PROBLEM,
        re.compile(
            r"(?i)(Invalid value for (input )?variable|Unsupported argument|Missing required argument|"
            r"Reference to undeclared|Unsupported attribute|Invalid reference|Argument or block definition required|"
            r"Unsupported block type|Invalid function argument|Call to unknown function|No value for required variable|"
            r"Invalid expression|Missing required provider|Failed to query available provider packages|"
            r"InvalidParameterValue|InvalidCidrBlock|invalid CIDR|Invalid CIDR|not a valid CIDR)"
        ),
    ),
)

_ERROR_HEAD = re.compile(r"^(?:\u2502\s*)?Error: (.+)$", re.MULTILINE)
MAX_DESCRIPTION = 1024


def codes_of(output: str) -> list[ErrorCode]:
    """Every code whose pattern matches Terraform's output, in a stable order."""
    return [code for code, pattern in _PATTERNS if pattern.search(output)]


def summary(output: str) -> str:
    """The `Error: ...` headlines of Terraform's output (or its last lines), short enough for a status."""
    heads = [h.strip() for h in _ERROR_HEAD.findall(output)]
    text = "; ".join(dict.fromkeys(heads)) if heads else " ".join(output.strip().splitlines()[-3:])
    return text[:MAX_DESCRIPTION] or "terraform failed without output"


def classify(command: str, output: str) -> CodedError:
    """A failed `terraform <command>` as an error that says whether to retry."""
    codes = codes_of(output)
    message = f"terraform {command} failed: {summary(output)}"
    if codes and not retryable(codes):
        return PermanentError(message, codes=codes)
    delay = 30.0 if ErrorCode.INFRA_RATE_LIMITS_EXCEEDED in codes else 5.0
    return TemporaryError(message, codes=codes, delay=delay)

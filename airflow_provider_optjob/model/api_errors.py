"""What an error from the SageMaker API means for a caller that waits on a job."""

from __future__ import annotations

import math
import random
from enum import Enum

from botocore.exceptions import ClientError, HTTPClientError, NoCredentialsError, PartialCredentialsError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

#: Longest pause between two tries while the API throttles or fails, as a multiple of the base interval.
MAX_BACKOFF_FACTOR = 8.0
#: Longest pause between two tries while the API throttles or fails, in seconds, unless the base interval
#: itself is longer (a wait never looks more often because the API is failing).
MAX_BACKOFF_SECONDS = 300.0
#: Doublings past which the growth of the backoff no longer matters (the cap is at most 8 base intervals);
#: the exponent is clamped to it, so no failure count can overflow.
_MAX_DOUBLINGS = 64

_THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "SlowDown",
        "PriorRequestNotComplete",
    }
)
_TRANSIENT_CODES = frozenset(
    {"InternalFailure", "InternalServerError", "InternalError", "ServiceUnavailable", "RequestTimeout"}
)
_NOT_FOUND_CODES = frozenset({"ResourceNotFound", "ResourceNotFoundException"})
_CREDENTIAL_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "ExpiredToken",
        "ExpiredTokenException",
        "SignatureDoesNotMatch",
        "InvalidSignatureException",
        "AuthFailure",
        "MissingAuthenticationToken",
        "IncompleteSignature",
        "UnauthorizedOperation",
    }
)


class ApiErrorKind(str, Enum):
    """How a caller should react to an API error."""

    TRANSIENT = "transient"
    """Throttling, a 5xx answer or a broken connection: try again later, within the deadline."""
    NOT_FOUND = "not_found"
    """No job by that name (may be eventual consistency right after create)."""
    ACCESS = "access"
    """Missing, invalid or expired credentials, or a denied permission: retrying will not help."""
    PERMANENT = "permanent"
    """Any other error: report it as it is."""


def error_code(error: BaseException) -> str | None:
    """
    Return the API error code of a botocore ``ClientError`` (``None`` for other errors).

    :param error: the exception raised by a client call.
    """
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def classify_api_error(error: BaseException) -> ApiErrorKind:
    """
    Classify an exception raised by a SageMaker client call.

    :param error: the exception raised by a sync (boto3) or async (aiobotocore) client call.
    """
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return ApiErrorKind.ACCESS
    if isinstance(error, (BotocoreConnectionError, HTTPClientError, ConnectionError, TimeoutError)):
        return ApiErrorKind.TRANSIENT
    if not isinstance(error, ClientError):
        return ApiErrorKind.PERMANENT
    code = error_code(error) or ""
    http_status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code in _THROTTLING_CODES or code in _TRANSIENT_CODES:
        return ApiErrorKind.TRANSIENT
    if isinstance(http_status, int) and http_status >= 500:
        return ApiErrorKind.TRANSIENT
    if code in _CREDENTIAL_CODES:
        return ApiErrorKind.ACCESS
    if code in _NOT_FOUND_CODES:
        return ApiErrorKind.NOT_FOUND
    if code == "ValidationException" and _names_missing_job(error):
        return ApiErrorKind.NOT_FOUND
    return ApiErrorKind.PERMANENT


def _names_missing_job(error: ClientError) -> bool:
    message = str(error.response.get("Error", {}).get("Message", "")).lower()
    return "not found" in message or "does not exist" in message or "could not find" in message


def describe_failure_message(job_name: str, kind: ApiErrorKind, error: BaseException) -> str:
    """
    Say, for people, why describing a job failed and what to check.

    :param job_name: the job's name.
    :param kind: the error's classification.
    :param error: the exception raised by the client call.
    """
    if kind is ApiErrorKind.NOT_FOUND:
        return (
            f"Optimization job {job_name!r} does not exist: check the job name, and the region and account "
            f"of the AWS connection. ({error})"
        )
    if kind is ApiErrorKind.ACCESS:
        return (
            f"AWS refused access while describing optimization job {job_name!r}: {error}. Check the "
            "connection's credentials (expired or invalid keys, a role that cannot be assumed) and that "
            "its identity is allowed sagemaker:DescribeOptimizationJob."
        )
    return f"Describing optimization job {job_name!r} failed: {error}"


def backoff_cap(base_interval: float) -> float:
    """
    Return the longest pause :func:`backoff_delay` gives for ``base_interval``, whatever the failure count.

    ``max(base, min(MAX_BACKOFF_FACTOR * base, MAX_BACKOFF_SECONDS))``: up to 8 base intervals, no more
    than 5 minutes, but never less than one base interval.

    :param base_interval: the caller's normal interval between two tries, in seconds.
    """
    base = _usable_interval(base_interval)
    return max(base, min(base * MAX_BACKOFF_FACTOR, MAX_BACKOFF_SECONDS))


def backoff_delay(base_interval: float, failures_in_a_row: int) -> float:
    """
    Capped exponential backoff with jitter for transient errors (throttling, 5xx, dropped connections).

    The pause before the next try is drawn uniformly from ``[ceiling / 2, ceiling]`` ("equal jitter"), where
    ``ceiling = min(base_interval * 2 ** failures_in_a_row, backoff_cap(base_interval))``: one to two base
    intervals after the first failure, two to four after the second, and so on up to the cap (8 base
    intervals or 5 minutes, whichever is shorter, but at least one base interval). The exponent is clamped
    before it is raised, so any count (``10**9`` included) gives a finite, non-negative delay and never
    raises. Callers bound their retries by their deadline, never by a count that a throttling storm could
    use up.

    :param base_interval: the caller's normal interval between two tries, in seconds (a negative or NaN
        interval counts as 0, an infinite one as :data:`MAX_BACKOFF_SECONDS`).
    :param failures_in_a_row: how many tries in a row have failed (1 after the first failure; 0 or less
        gives about one base interval).
    :return: seconds to wait, between 0 and :func:`backoff_cap` of ``base_interval``.
    """
    base = _usable_interval(base_interval)
    cap = backoff_cap(base)
    doublings = min(max(int(failures_in_a_row), 0), _MAX_DOUBLINGS)
    ceiling = min(base * 2.0**doublings, cap)
    return min(cap, max(0.0, random.uniform(ceiling / 2, ceiling)))


def _usable_interval(interval: float) -> float:
    """Turn a base interval into one backoff arithmetic can use: finite and not negative."""
    if math.isnan(interval) or interval <= 0:
        return 0.0
    if math.isinf(interval):
        return MAX_BACKOFF_SECONDS
    return float(interval)

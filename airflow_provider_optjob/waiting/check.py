"""One synchronous look at a job from a worker, tolerant of what a later look can fix."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from airflow_provider_optjob.compat import AirflowException
from airflow_provider_optjob.exceptions import OptimizationJobNotFoundError
from airflow_provider_optjob.model.api_errors import ApiErrorKind, classify_api_error, describe_failure_message
from airflow_provider_optjob.model.look_policy import LookPolicy, Verdict
from airflow_provider_optjob.model.outcome import OptimizationJobOutcome, build_job_outcome

if TYPE_CHECKING:
    from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook

#: How long :func:`describe_when_visible` keeps trying through transient errors when not told otherwise
#: (at least the not-found grace period).
DEFAULT_VISIBLE_TIMEOUT = 60.0


@dataclass(frozen=True)
class MissedLook:
    """
    A look at a job that failed in a way a later look may fix.

    :param error: the exception the client call raised.
    :param kind: :attr:`ApiErrorKind.TRANSIENT` (throttling, 5xx, a dropped connection) or
        :attr:`ApiErrorKind.NOT_FOUND` (maybe eventual consistency right after create).
    """

    error: ClientError | BotoCoreError
    kind: ApiErrorKind


def look_at_job(hook: SageMakerOptimizationJobHook, job_name: str) -> OptimizationJobOutcome | MissedLook:
    """
    Describe a job once: its outcome dict, or a :class:`MissedLook` when a later look may do better.

    :param hook: the hook to describe with.
    :param job_name: the job's name.
    :raises AirflowException: access denied, bad credentials or another API error that retrying will not
        fix; the message says what to check.
    """
    try:
        response = hook.describe_optimization_job(job_name)
    except (ClientError, BotoCoreError) as error:
        kind = classify_api_error(error)
        if kind in (ApiErrorKind.TRANSIENT, ApiErrorKind.NOT_FOUND):
            return MissedLook(error, kind)
        raise AirflowException(describe_failure_message(job_name, kind, error)) from error
    return build_job_outcome(response, job_name)


def check_job(
    hook: SageMakerOptimizationJobHook,
    job_name: str,
    *,
    waited_seconds: float,
    not_found_grace_period: float,
    log: Any,
) -> OptimizationJobOutcome | None:
    """
    Describe a job once and return its outcome dict, or ``None`` when the next look may do better.

    ``None`` means the API was briefly unavailable (throttling, 5xx, a dropped connection) or the job is
    not found yet while ``waited_seconds`` is within the grace period. The caller's wait bounds the retries
    (an Airflow sensor's ``timeout``, or a deadline).

    :param hook: the hook to describe with.
    :param job_name: the job's name.
    :param waited_seconds: how long the caller has waited so far.
    :param not_found_grace_period: how long "not found" is taken for eventual consistency.
    :param log: the task's logger (stdlib or Airflow 3's structured logger).
    :raises AirflowException: access denied, bad credentials, a job still missing after the grace
        period, or another API error; the message says what to check.
    """
    look = look_at_job(hook, job_name)
    if not isinstance(look, MissedLook):
        log.info("Optimization job %s is %s.", job_name, look["status"])
        return look
    policy = LookPolicy(
        job_name,
        poll_interval=0.0,
        not_found_grace_period=not_found_grace_period,
        deadline=None,
        deadline_words="",
        clock=time.monotonic,
        not_found_since=time.monotonic() - waited_seconds,
    )
    step = policy.after_error(look.error)
    if step.verdict is not Verdict.LOOK_AGAIN:
        raise AirflowException(describe_failure_message(job_name, look.kind, look.error)) from look.error
    if look.kind is ApiErrorKind.TRANSIENT:
        log.warning("Could not describe optimization job %s (%s); will retry.", job_name, look.error)
    else:
        log.info("Optimization job %s is not found yet; will check again.", job_name)
    return None


def describe_when_visible(
    hook: SageMakerOptimizationJobHook,
    job_name: str,
    *,
    not_found_grace_period: float,
    log: Any,
    retry_interval: float = 1.0,
    timeout: float | None = None,
) -> OptimizationJobOutcome:
    """
    Describe a job that was just created, riding out the API's eventual consistency and brief outages.

    "Not found" is retried until ``not_found_grace_period`` has passed since the first look; throttling, 5xx
    answers and dropped connections until ``timeout`` has passed. Between two looks it waits
    :func:`~airflow_provider_optjob.model.api_errors.backoff_delay` of ``retry_interval`` (capped, jittered,
    growing with the failures in a row), never past the limit that applies, so the last look falls on it.
    A single Describe call that hangs can overrun the limit by that call's duration (bounded by the client's
    timeouts and botocore's attempts).

    :param hook: the hook to describe with.
    :param job_name: the job's name.
    :param not_found_grace_period: seconds "not found" is taken for eventual consistency.
    :param log: the task's logger.
    :param retry_interval: base seconds between two looks; the backoff grows from it to at most
        8 times it (and at most 5 minutes). Must be more than 0.
    :param timeout: seconds to keep trying in all, transient errors included; ``None`` for the longer of
        ``not_found_grace_period`` and :data:`DEFAULT_VISIBLE_TIMEOUT`. Must not be negative.
    :raises OptimizationJobNotFoundError: the job is still not found after the grace period (or the timeout);
        the message names the job, how long it waited and the last error.
    :raises AirflowException: the API still failed with transient errors at the timeout (same details), or
        another API error (access denied, bad credentials...) ended the wait at once.
    :raises ValueError: ``retry_interval`` or ``timeout`` cannot work.
    """
    if not retry_interval > 0 or math.isinf(retry_interval):
        raise ValueError(f"retry_interval must be a finite number of seconds above 0, got {retry_interval!r}.")
    limit = max(not_found_grace_period, DEFAULT_VISIBLE_TIMEOUT) if timeout is None else timeout
    if not limit >= 0:
        raise ValueError(f"timeout must not be negative, got {timeout!r}.")
    policy = LookPolicy.for_timeout(
        job_name,
        poll_interval=retry_interval,
        not_found_grace_period=min(limit, not_found_grace_period),
        timeout=limit,
        clock=time.monotonic,
    )
    started = time.monotonic()
    while True:
        look = look_at_job(hook, job_name)
        if not isinstance(look, MissedLook):
            log.info("Optimization job %s is %s.", job_name, look["status"])
            return look
        step = policy.after_error(look.error)
        if step.verdict is not Verdict.LOOK_AGAIN:
            limit_now = policy.not_found_grace_period if look.kind is ApiErrorKind.NOT_FOUND else limit
            raise _not_visible_error(
                job_name, look, waited=time.monotonic() - started, tries=policy.failures_in_a_row, limit=limit_now
            ) from look.error
        log_missed_look(log, job_name, look, step.delay)
        time.sleep(step.delay)


def log_missed_look(log: Any, job_name: str, look: MissedLook, delay: float) -> None:
    """
    Log a missed look and when the next one comes (info for "not found yet", warning for an API failure).

    :param log: the task's logger.
    :param job_name: the job's name.
    :param look: the look that missed.
    :param delay: seconds until the next look.
    """
    if look.kind is ApiErrorKind.NOT_FOUND:
        log.info("Optimization job %s is not found yet; will check again in %.1f s.", job_name, delay)
    else:
        log.warning("Could not describe optimization job %s (%s); retrying in %.1f s.", job_name, look.error, delay)


def _not_visible_error(job_name: str, look: MissedLook, *, waited: float, tries: int, limit: float) -> AirflowException:
    """Build the error that ends :func:`describe_when_visible`: the job, how long it waited, the last error."""
    if look.kind is ApiErrorKind.NOT_FOUND:
        return OptimizationJobNotFoundError(
            f"Optimization job {job_name!r} was still not found {waited:.1f} s after the first look ({tries} "
            f"looks; limit {limit:g} s, the not-found grace period or the timeout if shorter): check the job "
            f"name, and the region and account of the AWS connection. Last error: {look.error}"
        )
    return AirflowException(
        f"Could not describe optimization job {job_name!r} within {waited:.1f} s ({tries} looks in a row "
        f"failed; limit {limit:g} s): the API kept throttling or failing. Last error: {look.error}"
    )

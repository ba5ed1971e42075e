"""One AWS call from a task, repeated through throttling, 5xx answers and dropped connections until a deadline."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from airflow_provider_optjob.model.api_errors import ApiErrorKind
from airflow_provider_optjob.model.look_policy import LookPolicy, Verdict

if TYPE_CHECKING:
    from collections.abc import Callable

Result = TypeVar("Result")


def call_through_transient_errors(
    call: Callable[[], Result], *, timeout: float, base_interval: float, what: str, log: Any
) -> Result:
    """
    Make ``call`` until it answers, retrying only transient errors, with capped jittered backoff, for ``timeout`` s.

    The :class:`~airflow_provider_optjob.model.look_policy.LookPolicy` decides, with no grace for "not found":
    any other error (not found, access denied, a validation error) is raised at once, and so is the last
    transient error once the deadline has passed.

    :param call: the AWS call, without arguments.
    :param timeout: seconds to keep retrying transient errors.
    :param base_interval: the backoff's base interval, in seconds.
    :param what: what the call does, for the log ("creating optimization job x").
    :param log: the task's logger.
    """
    policy = LookPolicy.for_timeout(
        what, poll_interval=base_interval, not_found_grace_period=0.0, timeout=timeout, clock=time.monotonic
    )
    while True:
        try:
            return call()
        except (ClientError, BotoCoreError) as error:
            step = policy.after_error(error)
            if step.verdict is not Verdict.LOOK_AGAIN or step.kind is not ApiErrorKind.TRANSIENT:
                raise
            log.warning("%s failed (%s); retrying in %.1f s.", what[:1].upper() + what[1:], error, step.delay)
            time.sleep(step.delay)

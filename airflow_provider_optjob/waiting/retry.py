"""One AWS call from a task, repeated through throttling, 5xx answers and dropped connections until a deadline."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import BotoCoreError, ClientError

from airflow_provider_optjob.model.api_errors import ApiErrorKind, backoff_delay, classify_api_error

if TYPE_CHECKING:
    from collections.abc import Callable

Result = TypeVar("Result")


def call_through_transient_errors(
    call: Callable[[], Result], *, timeout: float, base_interval: float, what: str, log: Any
) -> Result:
    """
    Make ``call`` until it answers, retrying only transient errors, with capped jittered backoff, for ``timeout`` s.

    Any other error (not found, access denied, a validation error) is raised at once, and so is the last
    transient error once the deadline has passed.

    :param call: the AWS call, without arguments.
    :param timeout: seconds to keep retrying transient errors.
    :param base_interval: the backoff's base interval, in seconds.
    :param what: what the call does, for the log ("creating optimization job x").
    :param log: the task's logger.
    """
    deadline = time.monotonic() + timeout
    failures_in_a_row = 0
    while True:
        try:
            return call()
        except (ClientError, BotoCoreError) as error:
            remaining = deadline - time.monotonic()
            if classify_api_error(error) is not ApiErrorKind.TRANSIENT or remaining <= 0:
                raise
            failures_in_a_row += 1
            delay = min(backoff_delay(base_interval, failures_in_a_row), remaining)
            log.warning("%s failed (%s); retrying in %.1f s.", what[:1].upper() + what[1:], error, delay)
            time.sleep(delay)

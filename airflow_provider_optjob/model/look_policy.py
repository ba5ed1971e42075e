"""The one policy that decides what follows a look at a job: look again (after which delay), finish, or fail.

Every wait drives it: the worker's wait, the sensor's poke, the create operator's checks, the retried AWS call and
the trigger. A driver looks at the job (a Describe, or the shared List), hands the policy what it saw or the error
the call raised, and does what the answer says. The rules:

- a terminal status finishes the wait; any other status (a value the API adds later included) looks again after
  the poll interval;
- throttling, a 5xx answer or a dropped connection looks again after a capped, jittered backoff that grows with
  the failures in a row (:func:`~airflow_provider_optjob.model.api_errors.backoff_delay`);
- "not found" looks again after the poll interval while the job is young: for ``not_found_grace_period`` seconds
  after the first "not found" in a row (eventual consistency right after create); past that, or once the job had
  been seen (it was deleted, or the connection now points elsewhere), the wait fails; the last look falls on the
  end of the grace period;
- denied access, bad credentials and any other error fail at once, with a message a person can act on;
- no pause runs past the deadline, and a look after the deadline that does not finish the wait ends it as a
  timeout naming the last status and, if the last look failed, its error.

The policy reads time from the clock it is given, so it is tested without waiting.
"""

from __future__ import annotations

from dataclasses import KW_ONLY, dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from airflow_provider_optjob.model.api_errors import (
    ApiErrorKind,
    backoff_delay,
    classify_api_error,
    describe_failure_message,
)
from airflow_provider_optjob.model.status import is_terminal

if TYPE_CHECKING:
    from collections.abc import Callable


class Verdict(str, Enum):
    """What a driver does after a look."""

    LOOK_AGAIN = "look_again"
    FINISHED = "finished"
    FAILED = "failed"
    TIMED_OUT = "timed_out"


@dataclass(frozen=True)
class NextStep:
    """
    The policy's answer to one look.

    :param verdict: what to do.
    :param delay: with :attr:`Verdict.LOOK_AGAIN`, seconds until the next look (never past the deadline).
    :param message: with :attr:`Verdict.FAILED` or :attr:`Verdict.TIMED_OUT`, why the wait ended, for people.
    :param kind: the classification of the error the look raised (``None`` after a look that saw the job).
    :param regular: the delay is the poll interval after a look that saw the job (a driver may look on its own
        schedule instead, e.g. the trigger's shared List).
    """

    verdict: Verdict
    delay: float = 0.0
    message: str = ""
    kind: ApiErrorKind | None = None
    regular: bool = False


@dataclass
class LookPolicy:
    """
    Decide, look after look, whether a wait goes on (and after which delay), finishes, or fails.

    :param job_name: the job's name (named in messages).
    :param poll_interval: seconds between two looks that saw the job; the base of the backoff on transient errors.
    :param not_found_grace_period: seconds "not found" is taken for eventual consistency, from the first "not
        found" answer in a row.
    :param deadline: when the wait ends, on ``clock``'s scale (``None``: no deadline).
    :param deadline_words: how messages name the deadline, e.g. ``"within 30 s"`` or ``"before the deadline"``.
    :param clock: the time source, in seconds (``time.monotonic`` on a worker; ``time.time`` in the trigger, whose
        deadline is a wall-clock time that survives a restart).
    :param not_found_since: when the job was first not found, if a look before this policy already missed it.
    """

    job_name: str
    _: KW_ONLY
    poll_interval: float
    not_found_grace_period: float
    deadline: float | None
    deadline_words: str
    clock: Callable[[], float]
    not_found_since: float | None = None
    last_status: str | None = field(default=None, init=False)
    last_error: BaseException | None = field(default=None, init=False)
    failures_in_a_row: int = field(default=0, init=False)
    seen_job: bool = field(default=False, init=False)

    @classmethod
    def for_timeout(
        cls,
        job_name: str,
        *,
        poll_interval: float,
        not_found_grace_period: float,
        timeout: float,
        clock: Callable[[], float],
    ) -> LookPolicy:
        """
        Build the policy of a wait that lasts ``timeout`` seconds from now.

        :param job_name: the job's name.
        :param poll_interval: seconds between two looks that saw the job.
        :param not_found_grace_period: seconds "not found" is tolerated.
        :param timeout: seconds from now until the deadline.
        :param clock: the time source, in seconds.
        """
        return cls(
            job_name,
            poll_interval=poll_interval,
            not_found_grace_period=not_found_grace_period,
            deadline=clock() + timeout,
            deadline_words=f"within {timeout:g} s",
            clock=clock,
        )

    def remaining(self) -> float:
        """Return the seconds left until the deadline (infinite without one)."""
        return float("inf") if self.deadline is None else self.deadline - self.clock()

    def note_status(self, status: str | None) -> None:
        """
        Take note of a status seen without a look of the driver's own (e.g. in a shared List of jobs).

        :param status: ``OptimizationJobStatus`` as the API reported it.
        """
        self.seen_job = True
        self.last_status = status

    def after_status(self, status: str | None) -> NextStep:
        """
        Decide what follows a look that saw the job with ``status``.

        :param status: ``OptimizationJobStatus`` as the API reported it.
        """
        self.seen_job = True
        self.last_status = status
        self.last_error = None
        self.failures_in_a_row = 0
        self.not_found_since = None
        if is_terminal(status):
            return NextStep(Verdict.FINISHED)
        return self._look_again(self.poll_interval, kind=None, regular=True)

    def after_error(self, error: BaseException) -> NextStep:
        """
        Decide what follows a look that raised ``error``.

        :param error: the exception the client call raised.
        """
        kind = classify_api_error(error)
        self.last_error = error
        if kind is ApiErrorKind.TRANSIENT:
            self.failures_in_a_row += 1
            return self._look_again(backoff_delay(self.poll_interval, self.failures_in_a_row), kind=kind)
        if kind is ApiErrorKind.NOT_FOUND:
            return self._after_not_found(error)
        return NextStep(Verdict.FAILED, message=describe_failure_message(self.job_name, kind, error), kind=kind)

    def _after_not_found(self, error: BaseException) -> NextStep:
        kind = ApiErrorKind.NOT_FOUND
        if self.seen_job:
            return NextStep(
                Verdict.FAILED,
                message=f"Optimization job {self.job_name!r} does not exist any more: it disappeared while being "
                f"waited on (last status: {self.last_status}), so it was deleted, or the connection now points at "
                f"another account or region. ({error})",
                kind=kind,
            )
        now = self.clock()
        if self.not_found_since is None:
            self.not_found_since = now
        self.failures_in_a_row += 1
        missing_for = now - self.not_found_since
        if missing_for >= self.not_found_grace_period:
            return NextStep(
                Verdict.FAILED,
                message=f"{describe_failure_message(self.job_name, kind, error)} It was still not found "
                f"{missing_for:.1f} s after the first look that missed it "
                f"(not_found_grace_period={self.not_found_grace_period:g} s).",
                kind=kind,
            )
        return self._look_again(min(self.poll_interval, self.not_found_grace_period - missing_for), kind=kind)

    def _look_again(self, delay: float, *, kind: ApiErrorKind | None, regular: bool = False) -> NextStep:
        remaining = self.remaining()
        if remaining <= 0:
            return NextStep(Verdict.TIMED_OUT, message=self.timeout_message(), kind=kind)
        return NextStep(Verdict.LOOK_AGAIN, delay=min(delay, remaining), kind=kind, regular=regular)

    def timeout_message(self) -> str:
        """Say that the job did not finish by the deadline, with its last status and the last failed look's error."""
        message = (
            f"Optimization job {self.job_name!r} did not finish {self.deadline_words} "
            f"(last status: {self.last_status or 'unknown'})."
        )
        if self.last_error is not None:
            message += f" The last look failed: {self.last_error}"
        return message

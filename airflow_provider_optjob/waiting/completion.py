"""How a wait for a job ends: XCom first (however it ends), then success or a clear failure.

Every ending of a wait pushes the same XCom keys before the task succeeds, fails or is skipped:
``status``, ``recommended_inference_image``, ``failure_reason`` (from the last known outcome),
``job_result`` (that outcome plus ``wait_ending``) and ``wait_ending`` (``{"reason", "message"}``). A
terminal job ends through :func:`finish_with_outcome`; a trigger event through
:func:`finish_from_trigger_event`; anything else that ends a wait (a deadline, access denied, a job not
found, a bug) through :func:`informing_wait`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TypeVar, cast

from airflow_provider_optjob.compat import (
    AirflowException,
    AirflowSkipException,
    Context,
    push_xcom,
)
from airflow_provider_optjob.exceptions import OptimizationJobFailedError, OptimizationJobWaitTimeoutError
from airflow_provider_optjob.model.event import read_trigger_event
from airflow_provider_optjob.model.outcome import (
    XCOM_FAILURE_REASON_KEY,
    XCOM_JOB_RESULT_KEY,
    XCOM_RECOMMENDED_IMAGE_KEY,
    XCOM_STATUS_KEY,
    XCOM_WAIT_ENDING_KEY,
    OptimizationJobOutcome,
    OptimizationJobResult,
    WaitEnding,
    WaitEndingReason,
    build_job_result,
    terminal_wait_ending,
    unknown_job_outcome,
)
from airflow_provider_optjob.model.status import JobPhase, job_phase

_Error = TypeVar("_Error", bound=BaseException)

#: Exceptions that end a task's try without ending its wait (by class name, the same on Airflow 2 and 3).
_NOT_AN_ENDING = frozenset({"TaskDeferred", "AirflowRescheduleException"})
#: Exceptions that mean the wait ran out of time (Airflow 2.10 has no ``TaskDeferralTimeout``).
_TIMEOUTS = frozenset({"AirflowSensorTimeout", "AirflowTaskTimeout", "TaskDeferralTimeout"})
#: What Airflow's scheduler passes when a deferral's own timeout fires (2.10 raises it as a ``TaskDeferralError``).
_DEFERRAL_TIMEOUT_MESSAGES = frozenset({"Trigger/execution timeout", "Trigger timeout"})
#: Set on an exception once its ending is pushed, so an outer guard does not push a poorer one over it.
_ENDING_PUSHED = "_optjob_wait_ending_pushed"


class WaitWatch:
    """
    What a wait has seen of its job, so that however the wait ends, its ending names the last known status.

    :param job_name: the job waited for.
    :param last_look: called once when a wait times out without having described the job in this process
        (a deferred task resumed by a ``timeout`` event); returns the job's outcome, or ``None`` when it
        cannot be described. ``None`` for no such look.
    """

    def __init__(self, job_name: str, last_look: Callable[[], OptimizationJobOutcome | None] | None = None) -> None:
        self.job_name = job_name
        self.last_outcome: OptimizationJobOutcome | None = None
        self._last_look = last_look

    def saw(self, outcome: OptimizationJobOutcome) -> None:
        """
        Record a look at the job.

        :param outcome: what the look found.
        """
        self.last_outcome = outcome

    def last_known(self, reason: WaitEndingReason) -> OptimizationJobOutcome:
        """
        Return the last known outcome, looking once more first if the wait timed out blind.

        :param reason: why the wait ended.
        """
        if self.last_outcome is None and reason == "timeout" and self._last_look is not None:
            looked = self._last_look()
            if looked is not None:
                self.last_outcome = looked
        return self.last_outcome or unknown_job_outcome(self.job_name)


def push_outcome(context: Context, outcome: OptimizationJobOutcome) -> None:
    """
    Push the outcome's XCom keys.

    The keys are ``status``, ``recommended_inference_image``, ``failure_reason`` and ``job_result``.

    :param context: the task's context.
    :param outcome: the job outcome (a :class:`~airflow_provider_optjob.model.outcome.OptimizationJobResult`
        when a wait ended, so ``job_result`` carries ``wait_ending``).
    """
    task_instance = context["ti"]
    push_xcom(task_instance, XCOM_STATUS_KEY, outcome["status"])
    push_xcom(task_instance, XCOM_RECOMMENDED_IMAGE_KEY, outcome["recommended_inference_image"])
    push_xcom(task_instance, XCOM_FAILURE_REASON_KEY, outcome["failure_reason"])
    push_xcom(task_instance, XCOM_JOB_RESULT_KEY, dict(outcome))


def push_wait_ending(context: Context, result: OptimizationJobResult) -> None:
    """
    Push how a wait ended: the outcome's keys (``job_result`` with ``wait_ending`` in it), and ``wait_ending``.

    :param context: the task's context.
    :param result: the last known outcome joined with the ending.
    """
    push_outcome(context, result)
    push_xcom(context["ti"], XCOM_WAIT_ENDING_KEY, dict(result["wait_ending"]))


def finish_with_outcome(
    context: Context,
    outcome: OptimizationJobOutcome,
    *,
    fail_on_job_failure: bool = True,
    soft_fail: bool = False,
) -> OptimizationJobResult:
    """
    Push a terminal job's outcome and ending to XCom, then return them (the task's ``return_value``) or fail.

    :param context: the task's context.
    :param outcome: the outcome of a job in a terminal status.
    :param fail_on_job_failure: raise for ``FAILED`` / ``STOPPED``; if false, return the result instead.
    :param soft_fail: skip the task instead of failing it when the job failed.
    :return: the outcome with its ``wait_ending``.
    :raises OptimizationJobFailedError: the job ended ``FAILED`` or ``STOPPED``.
    :raises AirflowSkipException: the job failed and ``soft_fail`` is set.
    """
    result = build_job_result(outcome, terminal_wait_ending(outcome))
    push_wait_ending(context, result)
    if job_phase(outcome["status"]) is JobPhase.FAILED and fail_on_job_failure:
        error = OptimizationJobFailedError.from_outcome(outcome)
        if soft_fail:
            raise _pushed(AirflowSkipException(f"{error} (soft_fail is set, so the task is skipped)")) from error
        raise _pushed(error)
    return result


def end_wait(context: Context, watch: WaitWatch, reason: WaitEndingReason, message: str) -> None:
    """
    Push the ending of a wait that did not see its job terminal (a timeout or an error).

    :param context: the task's context.
    :param watch: what the wait saw; its last known outcome goes into ``job_result``.
    :param reason: ``timeout`` or ``error``.
    :param message: why, for people (the task's error message).
    """
    push_wait_ending(context, build_job_result(watch.last_known(reason), WaitEnding(reason=reason, message=message)))


@contextmanager
def informing_wait(
    context: Context, watch: WaitWatch, *, deadline_passed: Callable[[], bool] | None = None
) -> Iterator[WaitWatch]:
    """
    Push the wait's ending when anything ends the task inside the block, then let the exception go on.

    A deferral and a reschedule are not endings and pass untouched; so does an exception whose ending was
    pushed already (by :func:`finish_with_outcome` or :func:`finish_from_trigger_event`). The ending is
    ``timeout`` when the exception (or one it was raised from) is a sensor, task or deferral timeout, or when
    ``deadline_passed()`` says so (a sensor that ``soft_fail`` skips at its timeout); ``error`` otherwise.

    :param context: the task's context.
    :param watch: what the wait saw (record looks with :meth:`WaitWatch.saw`).
    :param deadline_passed: tells whether the wait's own deadline has passed.
    """
    try:
        yield watch
    except BaseException as error:
        names = _class_names(error)
        ends_wait = isinstance(error, Exception) or "AirflowTaskTimeout" in names
        if ends_wait and not names & _NOT_AN_ENDING and not _ending_was_pushed(error):
            timed_out = any(_is_timeout(link) for link in _chain(error))
            reason: WaitEndingReason = "timeout" if timed_out or (deadline_passed and deadline_passed()) else "error"
            end_wait(context, watch, reason, str(error) or type(error).__name__)
            _pushed(error)
        raise


def outcome_from_trigger_event(event: object, job_name: str) -> OptimizationJobOutcome:
    """
    Read a terminal job's outcome from a trigger event, failing closed on anything else (pushes nothing).

    :param event: the trigger event payload passed to ``execute_complete``.
    :param job_name: the job the task waited for (named in errors).
    :return: the outcome (``COMPLETED``, ``FAILED`` or ``STOPPED``).
    :raises OptimizationJobWaitTimeoutError: the deadline passed first.
    :raises AirflowException: no event, an error event, or an event this provider does not know.
    """
    outcome, ending = read_trigger_event(event, job_name)
    if outcome is None:
        raise _ending_error(ending)
    return outcome


def finish_from_trigger_event(
    context: Context,
    event: object,
    watch: WaitWatch,
    *,
    fail_on_job_failure: bool = True,
    soft_fail: bool = False,
) -> OptimizationJobResult:
    """
    End a deferred wait from its trigger event: push the ending, then return the result or fail closed.

    :param context: the task's context.
    :param event: the trigger event payload passed to ``execute_complete``.
    :param watch: the wait's watch. A ``timeout`` or ``error`` event whose ``result`` holds the trigger's last
        look at the job gives the last status; else a ``timeout`` describes the job once more (the watch's last
        look).
    :param fail_on_job_failure: raise for ``FAILED`` / ``STOPPED``; if false, return the result instead.
    :param soft_fail: skip the task instead of failing it when the job failed.
    :return: the outcome of a terminal job, with its ``wait_ending``.
    :raises OptimizationJobFailedError: the job ended ``FAILED`` or ``STOPPED``.
    :raises OptimizationJobWaitTimeoutError: the deadline passed first.
    :raises AirflowException: no event, an error event, or an event this provider does not know.
    """
    outcome, ending = read_trigger_event(event, watch.job_name)
    if outcome is not None:
        return finish_with_outcome(context, outcome, fail_on_job_failure=fail_on_job_failure, soft_fail=soft_fail)
    last_seen = event.get("result") if isinstance(event, Mapping) else None
    if isinstance(last_seen, Mapping) and last_seen.get("job_name") == watch.job_name:
        watch.saw(build_job_result(cast("OptimizationJobOutcome", last_seen), ending))  # the trigger's last look
    end_wait(context, watch, ending["reason"], ending["message"])
    raise _pushed(_ending_error(ending))


def _ending_error(ending: WaitEnding) -> AirflowException:
    """Build the exception that fails a task whose wait ended without a terminal job."""
    if ending["reason"] == "timeout":
        return OptimizationJobWaitTimeoutError(ending["message"])
    return AirflowException(ending["message"])


def _pushed(error: _Error) -> _Error:
    """Mark an exception whose wait ending is in XCom already; return it (to raise)."""
    setattr(error, _ENDING_PUSHED, True)
    return error


def _chain(error: BaseException) -> Iterator[BaseException]:
    """Walk the exception and those it was raised from or during, innermost last."""
    seen: set[int] = set()
    link: BaseException | None = error
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or link.__context__


def _ending_was_pushed(error: BaseException) -> bool:
    return any(getattr(link, _ENDING_PUSHED, False) for link in _chain(error))


def _is_timeout(error: BaseException) -> bool:
    names = _class_names(error)
    return bool(names & _TIMEOUTS) or ("TaskDeferralError" in names and str(error) in _DEFERRAL_TIMEOUT_MESSAGES)


def _class_names(error: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(error).__mro__}

"""How a wait ends: the XComs pushed for each ending, before the task succeeds, fails or is skipped."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_optjob.compat import (
    XCOM_ACCEPTS_NONE,
    AirflowException,
    AirflowSensorTimeout,
    AirflowSkipException,
)
from airflow_provider_optjob.exceptions import OptimizationJobFailedError, OptimizationJobWaitTimeoutError
from airflow_provider_optjob.model.event import read_trigger_event
from airflow_provider_optjob.model.outcome import OUTCOME_KEYS, OptimizationJobOutcome, unknown_job_outcome
from airflow_provider_optjob.waiting.completion import (
    WaitWatch,
    finish_from_trigger_event,
    finish_with_outcome,
    informing_wait,
    outcome_from_trigger_event,
)
from tests.task_context import task_context

if TYPE_CHECKING:
    from collections.abc import Mapping


def outcome(status: str | None, failure_reason: str | None = None) -> OptimizationJobOutcome:
    return {
        **unknown_job_outcome("job-a", status),
        "job_arn": "arn:aws:sagemaker:us-east-1:123456789012:optimization-job/job-a",
        "recommended_inference_image": "image:1" if status == "COMPLETED" else None,
        "output_s3_uri": "s3://out/",
        "failure_reason": failure_reason,
    }


def event(status: str, result: Mapping[str, Any] | None = None, message: str = "what happened") -> dict[str, Any]:
    return {"status": status, "job_name": "job-a", "message": message, "result": result}


def pushed_ending(pushed: dict[str, Any]) -> tuple[str, str | None]:
    """The reason and the status a downstream task reads, after checking that every key agrees."""
    ending = pushed["wait_ending"]
    job_result = pushed["job_result"]
    assert job_result["wait_ending"] == ending
    assert set(job_result) == {*OUTCOME_KEYS, "wait_ending"}
    assert pushed.get("status") == job_result["status"]
    return ending["reason"], job_result["status"]


def end_wait_with(
    context: Any,
    error: BaseException,
    *,
    seen: OptimizationJobOutcome | None = None,
    watch: WaitWatch | None = None,
    deadline_passed: Any = None,
) -> None:
    """Run a wait that saw ``seen`` (if given) and then ended with ``error``, inside ``informing_wait``."""
    watch = watch or WaitWatch("job-a")
    with informing_wait(context, watch, deadline_passed=deadline_passed):
        if seen is not None:
            watch.saw(seen)
        raise error


class TestFinishWithOutcome:
    def test_completed_job_pushes_every_key_and_returns_the_result(self):
        context, ti = task_context()

        result = finish_with_outcome(context, outcome("COMPLETED"))

        assert result == {
            **outcome("COMPLETED"),
            "wait_ending": {"reason": "completed", "message": "Optimization job 'job-a' ended with status COMPLETED."},
        }
        expected = {
            "status": "COMPLETED",
            "recommended_inference_image": "image:1",
            "failure_reason": None,
            "job_result": result,
            "wait_ending": result["wait_ending"],
        }
        if not XCOM_ACCEPTS_NONE:  # Airflow 3.0 cannot store a None XCom: the key is left out
            del expected["failure_reason"]
        assert ti.pushed == expected

    @pytest.mark.parametrize(("status", "reason"), [("FAILED", "failed"), ("STOPPED", "stopped")])
    def test_failed_and_stopped_jobs_push_then_raise(self, status, reason):
        context, ti = task_context()

        with pytest.raises(OptimizationJobFailedError) as raised:
            finish_with_outcome(context, outcome(status, "out of memory"))

        assert pushed_ending(ti.pushed) == (reason, status)
        assert ti.pushed["wait_ending"]["message"] == str(raised.value)

    def test_soft_fail_skips_after_pushing(self):
        context, ti = task_context()

        with pytest.raises(AirflowSkipException, match="soft_fail"):
            finish_with_outcome(context, outcome("FAILED", "boom"), soft_fail=True)

        assert pushed_ending(ti.pushed) == ("failed", "FAILED")

    def test_failed_job_is_returned_when_not_failing_on_job_failure(self):
        context, ti = task_context()

        result = finish_with_outcome(context, outcome("FAILED", "boom"), fail_on_job_failure=False)

        assert result["wait_ending"]["reason"] == "failed"
        assert ti.pushed["job_result"] == result


class TestInformingWait:
    def test_an_error_pushes_the_last_outcome_seen(self):
        context, ti = task_context()

        with pytest.raises(AirflowException, match="access denied"):
            end_wait_with(context, AirflowException("access denied"), seen=outcome("INPROGRESS"))

        assert pushed_ending(ti.pushed) == ("error", "INPROGRESS")
        assert ti.pushed["wait_ending"]["message"] == "access denied"

    def test_an_error_before_any_look_pushes_the_name_and_no_status(self):
        context, ti = task_context()

        with pytest.raises(AirflowException):
            end_wait_with(context, AirflowException("no such connection"))

        assert pushed_ending(ti.pushed) == ("error", None)
        assert ti.pushed["job_result"] == {
            **unknown_job_outcome("job-a"),
            "wait_ending": {"reason": "error", "message": "no such connection"},
        }

    def test_a_sensor_timeout_is_a_timeout_ending(self):
        context, ti = task_context()

        with pytest.raises(AirflowSensorTimeout):
            end_wait_with(context, AirflowSensorTimeout("Sensor has timed out"), seen=outcome("STARTING"))

        assert pushed_ending(ti.pushed) == ("timeout", "STARTING")

    def test_a_skip_raised_from_a_timeout_is_a_timeout_ending(self):
        context, ti = task_context()
        skip = AirflowSkipException("Skipping due to soft_fail is set to True.")
        skip.__cause__ = AirflowSensorTimeout("Sensor has timed out")

        with pytest.raises(AirflowSkipException):
            end_wait_with(context, skip)

        assert pushed_ending(ti.pushed)[0] == "timeout"

    def test_a_skip_after_the_deadline_is_a_timeout_ending(self):
        context, ti = task_context()
        skip = AirflowSkipException("Sensor has timed out; run duration of 3.1 seconds exceeds 3.")

        with pytest.raises(AirflowSkipException):
            end_wait_with(context, skip, deadline_passed=lambda: True)

        assert pushed_ending(ti.pushed)[0] == "timeout"

    def test_a_timed_out_wait_that_saw_nothing_looks_once_more(self):
        context, ti = task_context()
        looks: list[str] = []

        def last_look() -> OptimizationJobOutcome:
            looks.append("look")
            return outcome("INPROGRESS")

        with pytest.raises(AirflowSensorTimeout):
            end_wait_with(context, AirflowSensorTimeout("Trigger timeout"), watch=WaitWatch("job-a", last_look))

        assert looks == ["look"]
        assert pushed_ending(ti.pushed) == ("timeout", "INPROGRESS")

    def test_an_error_does_not_look_once_more(self):
        context, ti = task_context()
        watch = WaitWatch("job-a", last_look=lambda: pytest.fail("an error ending needs no last look"))

        with pytest.raises(AirflowException):
            end_wait_with(context, AirflowException("access denied"), watch=watch)

        assert pushed_ending(ti.pushed) == ("error", None)

    def test_an_ending_pushed_inside_is_not_pushed_over(self):
        context, ti = task_context()

        with pytest.raises(OptimizationJobFailedError), informing_wait(context, WaitWatch("job-a")):
            finish_with_outcome(context, outcome("FAILED", "boom"))

        assert pushed_ending(ti.pushed) == ("failed", "FAILED")

    @pytest.mark.parametrize("exception_name", ["TaskDeferred", "AirflowRescheduleException"])
    def test_a_deferral_or_a_reschedule_is_not_an_ending(self, exception_name):
        context, ti = task_context()
        not_an_ending = type(exception_name, (Exception,), {})

        with pytest.raises(not_an_ending):
            end_wait_with(context, not_an_ending(), seen=outcome("INPROGRESS"))

        assert ti.pushed == {}

    def test_a_block_that_returns_pushes_nothing_more(self):
        context, ti = task_context()

        with informing_wait(context, WaitWatch("job-a")) as watch:
            watch.saw(outcome("INPROGRESS"))

        assert ti.pushed == {}


class TestTriggerEvents:
    @pytest.mark.parametrize(
        ("event_status", "job_status", "reason"),
        [("success", "COMPLETED", "completed"), ("failed", "FAILED", "failed"), ("stopped", "STOPPED", "stopped")],
    )
    def test_terminal_events_give_the_outcome_and_its_ending(self, event_status, job_status, reason):
        read_outcome, ending = read_trigger_event(event(event_status, outcome(job_status)), "job-a")

        assert read_outcome == outcome(job_status)
        assert ending["reason"] == reason

    def test_timeout_event_pushes_the_last_look_then_raises_a_sensor_timeout(self):
        context, ti = task_context()
        watch = WaitWatch("job-a", last_look=lambda: outcome("INPROGRESS"))

        with pytest.raises(OptimizationJobWaitTimeoutError, match="'job-a': no finish before the deadline"):
            finish_from_trigger_event(context, event("timeout", message="no finish before the deadline"), watch)

        assert pushed_ending(ti.pushed) == ("timeout", "INPROGRESS")

    def test_an_event_carrying_the_triggers_last_look_needs_no_other(self):
        context, ti = task_context()
        watch = WaitWatch("job-a", last_look=lambda: pytest.fail("no second look was needed"))

        with pytest.raises(OptimizationJobWaitTimeoutError):
            finish_from_trigger_event(context, event("timeout", outcome("STARTING")), watch)

        assert pushed_ending(ti.pushed) == ("timeout", "STARTING")

    def test_error_event_pushes_an_error_ending_with_its_message(self):
        context, ti = task_context()

        with pytest.raises(AirflowException, match="access denied here"):
            finish_from_trigger_event(context, event("error", message="access denied here"), WaitWatch("job-a"))

        assert pushed_ending(ti.pushed) == ("error", None)
        assert "access denied here" in ti.pushed["wait_ending"]["message"]

    @pytest.mark.parametrize(
        "bad_event",
        [
            None,
            "success",
            {},
            event("succeeded", outcome("COMPLETED")),
            event("success", None),
            event("success", outcome("INPROGRESS")),
            event("success", outcome("FAILED")),
            event("failed", outcome("COMPLETED")),
        ],
        ids=["none", "not-a-dict", "empty", "unknown-status", "no-result", "not-terminal", "mismatch", "mismatch2"],
    )
    def test_anything_else_pushes_an_error_ending_and_fails_closed(self, bad_event):
        context, ti = task_context()

        with pytest.raises(AirflowException, match="job-a") as raised:
            finish_from_trigger_event(context, bad_event, WaitWatch("job-a"))

        assert not isinstance(raised.value, OptimizationJobFailedError)
        assert pushed_ending(ti.pushed)[0] == "error"
        assert ti.pushed["wait_ending"]["message"] == str(raised.value)

    def test_outcome_from_trigger_event_pushes_nothing_and_raises(self):
        with pytest.raises(OptimizationJobWaitTimeoutError, match="job-a"):
            outcome_from_trigger_event(event("timeout"), "job-a")

        assert outcome_from_trigger_event(event("success", outcome("COMPLETED")), "job-a") == outcome("COMPLETED")

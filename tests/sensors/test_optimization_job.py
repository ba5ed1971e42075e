from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_optjob.compat import XCOM_ACCEPTS_NONE, AirflowException
from airflow_provider_optjob.exceptions import OptimizationJobFailedError, OptimizationJobWaitTimeoutError
from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
from airflow_provider_optjob.model.name import InvalidOptimizationJobNameError
from airflow_provider_optjob.model.outcome import unknown_job_outcome
from airflow_provider_optjob.sensors.optimization_job import SageMakerOptimizationJobSensor
from tests.airflow_runs import load_dag, run_dag, task_states, xcom_value
from tests.job_requests import job_config
from tests.task_context import RecordingTaskInstance


def outcome(status: str, failure_reason: str | None = None) -> dict[str, Any]:
    return {
        "job_name": "job-a",
        "job_arn": "arn:aws:sagemaker:us-east-1:123456789012:optimization-job/job-a",
        "status": status,
        "recommended_inference_image": "image:1" if status == "COMPLETED" else None,
        "output_s3_uri": "s3://out/",
        "output_model_name": None,
        "failure_reason": failure_reason,
        "deployment_instance_type": "ml.g5.2xlarge",
        "creation_time": "2026-11-26T00:00:00+00:00",
        "start_time": None,
        "end_time": None,
    }


def event(status: str, result: dict[str, Any] | None) -> dict[str, Any]:
    return {"status": status, "job_name": "job-a", "message": f"job-a {status}", "result": result}


def ending(reason: str, message: str) -> dict[str, str]:
    return {"reason": reason, "message": message}


class TestExecuteComplete:
    @pytest.fixture
    def sensor(self) -> SageMakerOptimizationJobSensor:
        return SageMakerOptimizationJobSensor(task_id="wait", job_name="job-a")

    def test_success_pushes_keys_and_returns_the_outcome(self, sensor):
        ti = RecordingTaskInstance()

        returned = sensor.execute_complete({"ti": ti}, event("success", outcome("COMPLETED")))

        completed = ending("completed", "Optimization job 'job-a' ended with status COMPLETED.")
        assert returned == {**outcome("COMPLETED"), "wait_ending": completed}
        expected = {
            "status": "COMPLETED",
            "recommended_inference_image": "image:1",
            "failure_reason": None,
            "job_result": returned,
            "wait_ending": completed,
        }
        if not XCOM_ACCEPTS_NONE:  # Airflow 3.0 cannot store a None XCom: the key is left out
            del expected["failure_reason"]
        assert ti.pushed == expected

    @pytest.mark.parametrize(("event_status", "job_status"), [("failed", "FAILED"), ("stopped", "STOPPED")])
    def test_failed_and_stopped_push_then_raise(self, sensor, event_status, job_status):
        ti = RecordingTaskInstance()

        with pytest.raises(OptimizationJobFailedError) as raised:
            sensor.execute_complete({"ti": ti}, event(event_status, outcome(job_status, "why it failed")))

        assert raised.value.status == job_status
        assert raised.value.failure_reason == "why it failed"
        assert "'job-a'" in str(raised.value)
        assert ti.pushed["failure_reason"] == "why it failed"
        assert ti.pushed["status"] == job_status
        assert ti.pushed["wait_ending"] == ending(event_status, str(raised.value))
        assert ti.pushed["job_result"]["wait_ending"] == ti.pushed["wait_ending"]

    def test_soft_fail_skips_after_pushing(self):
        from airflow_provider_optjob.compat import AirflowSkipException

        sensor = SageMakerOptimizationJobSensor(task_id="wait", job_name="job-a", soft_fail=True)
        ti = RecordingTaskInstance()

        with pytest.raises(AirflowSkipException, match="soft_fail"):
            sensor.execute_complete({"ti": ti}, event("failed", outcome("FAILED", "boom")))

        assert ti.pushed["status"] == "FAILED"
        assert ti.pushed["wait_ending"]["reason"] == "failed"

    def test_timeout_event_pushes_the_last_status_then_raises_sensor_timeout(self, optjob_aws_conn, sagemaker_emulator):
        sagemaker_emulator.control.script_job("job-a", final_status="COMPLETED", inprogress_seconds=600)
        SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn).create_optimization_job(job_config("job-a"))
        sensor = SageMakerOptimizationJobSensor(task_id="wait", job_name="job-a")
        ti = RecordingTaskInstance()

        with pytest.raises(OptimizationJobWaitTimeoutError, match="job-a") as raised:
            sensor.execute_complete({"ti": ti}, event("timeout", None))

        assert ti.pushed["wait_ending"] == ending("timeout", str(raised.value))
        assert ti.pushed["status"] in ("STARTING", "INPROGRESS")
        assert ti.pushed["job_result"]["status"] == ti.pushed["status"]
        assert ti.pushed["job_result"]["job_arn"].endswith("/job-a")

    def test_error_event_fails_with_its_message(self, sensor):
        ti = RecordingTaskInstance()

        with pytest.raises(AirflowException, match="access denied here") as raised:
            sensor.execute_complete(
                {"ti": ti},
                {"status": "error", "job_name": "job-a", "message": "access denied here", "result": None},
            )

        assert ti.pushed["wait_ending"] == ending("error", str(raised.value))
        assert ti.pushed["job_result"]["job_name"] == "job-a"
        assert ti.pushed["job_result"]["status"] is None

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
    def test_anything_else_fails_closed_after_pushing_an_error_ending(self, sensor, bad_event):
        ti = RecordingTaskInstance()

        with pytest.raises(AirflowException, match="job-a") as raised:
            sensor.execute_complete({"ti": ti}, bad_event)

        assert ti.pushed["wait_ending"] == ending("error", str(raised.value))
        assert ti.pushed["job_result"]["job_name"] == "job-a"


class TestDeferralBackstop:
    """Airflow fails a deferred task without ``execute_complete`` when the deferral times out (``__fail__``)."""

    def test_deferral_timeout_pushes_a_timeout_ending_with_the_last_status(self, optjob_aws_conn, sagemaker_emulator):
        sagemaker_emulator.control.script_job("job-a", final_status="COMPLETED", inprogress_seconds=600)
        SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn).create_optimization_job(job_config("job-a"))
        sensor = SageMakerOptimizationJobSensor(task_id="wait", job_name="job-a")
        ti = RecordingTaskInstance()
        # What the scheduler hands the task: Airflow 3 "Trigger timeout", Airflow 2.10 "Trigger/execution timeout".
        error = "Trigger timeout" if _airflow_3() else "Trigger/execution timeout"

        with pytest.raises(AirflowException):
            sensor.resume_execution("__fail__", {"error": error}, {"ti": ti})

        assert ti.pushed["wait_ending"]["reason"] == "timeout"
        assert ti.pushed["job_result"]["status"] in ("STARTING", "INPROGRESS")

    def test_crashed_trigger_pushes_an_error_ending(self):
        sensor = SageMakerOptimizationJobSensor(task_id="wait", job_name="job-a")
        ti = RecordingTaskInstance()

        with pytest.raises(AirflowException):
            sensor.resume_execution("__fail__", {"error": "Trigger failure"}, {"ti": ti})

        assert ti.pushed["wait_ending"]["reason"] == "error"
        assert ti.pushed["job_result"] == {**unknown_job_outcome("job-a"), "wait_ending": ti.pushed["wait_ending"]}


def _airflow_3() -> bool:
    from airflow import __version__

    return not __version__.startswith("2.")


class TestDeferrableDefault:
    """``deferrable`` follows ``[operators] default_deferrable`` when the user set it, else it is ``True``."""

    @pytest.fixture(autouse=True)
    def _no_setting_in_the_environment(self, monkeypatch):
        for suffix in ("", "_CMD", "_SECRET"):
            monkeypatch.delenv(f"AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE{suffix}", raising=False)

    def test_defers_when_the_user_set_nothing(self):
        assert SageMakerOptimizationJobSensor(task_id="wait", job_name="job-a").deferrable is True

    @pytest.mark.parametrize(("value", "expected"), [("False", False), ("false", False), ("True", True)])
    def test_follows_the_setting_from_the_environment(self, monkeypatch, value, expected):
        monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", value)

        assert SageMakerOptimizationJobSensor(task_id="wait", job_name="job-a").deferrable is expected

    def test_an_explicit_argument_wins(self, monkeypatch):
        monkeypatch.setenv("AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE", "False")

        assert SageMakerOptimizationJobSensor(task_id="wait", job_name="job-a", deferrable=True).deferrable is True


class TestDefinition:
    def test_invalid_literal_name_fails_at_parse_time(self):
        with pytest.raises(InvalidOptimizationJobNameError, match="under_score"):
            SageMakerOptimizationJobSensor(task_id="wait", job_name="under_score")

    def test_templated_name_is_checked_after_rendering(self):
        sensor = SageMakerOptimizationJobSensor(task_id="wait", job_name="job-{{ ds }}")

        assert "job_name" in sensor.template_fields

    @pytest.mark.parametrize(
        ("arguments", "message"),
        [
            ({"poke_interval": 0}, "poke_interval must be more than 0"),
            ({"poke_interval": -5}, "poke_interval must be more than 0"),
            ({"timeout": 10, "poke_interval": 30}, "shorter than poke_interval"),
            ({"not_found_grace_period": -1}, "must not be negative"),
        ],
    )
    def test_impossible_wait_settings_fail_at_parse_time(self, arguments, message):
        with pytest.raises(ValueError, match=message):
            SageMakerOptimizationJobSensor(task_id="wait", job_name="job-a", **arguments)


@pytest.mark.usefixtures("airflow_db")
class TestInRealAirflow:
    """Each mode run by ``dag.test()``, with a downstream ``all_done`` task reporting what it saw."""

    @pytest.mark.parametrize("mode", ["deferrable", "poke", "reschedule"])
    def test_completed_job_reaches_downstream(self, optjob_aws_conn, sagemaker_emulator, mode):
        job_name = f"sensor-ok-{mode}"
        SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn).create_optimization_job(job_config(job_name))

        dag_run = run_dag(load_dag("sensor_modes.py", f"sensor_ok_{mode}"))

        assert task_states(dag_run) == {"wait": "success", "downstream": "success"}
        seen = xcom_value(dag_run, "downstream")
        assert seen["status"] == "COMPLETED"
        assert seen["image"] == xcom_value(dag_run, "wait")["recommended_inference_image"]
        assert seen["reason"] is None

    @pytest.mark.parametrize("mode", ["deferrable", "poke", "reschedule"])
    def test_failed_job_fails_the_sensor_and_reaches_downstream(self, optjob_aws_conn, sagemaker_emulator, mode):
        job_name = f"sensor-fail-{mode}"
        sagemaker_emulator.control.script_job(job_name, final_status="FAILED", failure_reason="Quantization diverged")
        SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn).create_optimization_job(job_config(job_name))

        dag_run = run_dag(load_dag("sensor_modes.py", f"sensor_fail_{mode}"))

        assert task_states(dag_run) == {"wait": "failed", "downstream": "success"}
        assert xcom_value(dag_run, "downstream") == {
            "status": "FAILED",
            "image": None,
            "reason": "Quantization diverged",
        }

    def test_finished_job_costs_no_deferral(self, optjob_aws_conn, sagemaker_emulator):
        hook = SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn)
        hook.create_optimization_job(job_config("already-done"))
        sagemaker_emulator.control.complete_job("already-done")
        sagemaker_emulator.control.reset_call_counts()

        dag_run = run_dag(load_dag("sensor_modes.py", "sensor_already_done"))

        assert task_states(dag_run)["wait"] == "success"
        assert sagemaker_emulator.control.call_counts()["DescribeOptimizationJob"] == 1

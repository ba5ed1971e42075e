from __future__ import annotations

import pytest

from airflow_provider_optjob.exceptions import (
    OptimizationJobFailedError,
    OptimizationJobNotFinishedError,
    OptimizationJobNotFoundError,
)
from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
from airflow_provider_optjob.operators.optimization_job import (
    SageMakerOptimizationJobResultOperator,
    SageMakerStopOptimizationJobOperator,
)
from tests.job_requests import job_config
from tests.task_context import task_context


@pytest.fixture
def hook(optjob_aws_conn: str) -> SageMakerOptimizationJobHook:
    return SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn)


class TestResultOperator:
    def test_completed_job_pushes_and_returns_outcome(self, hook, sagemaker_emulator):
        hook.create_optimization_job(job_config("result-ok"))
        sagemaker_emulator.control.complete_job("result-ok")
        context, ti = task_context()

        outcome = SageMakerOptimizationJobResultOperator(task_id="result", job_name="result-ok").execute(context)

        assert outcome["status"] == "COMPLETED"
        assert outcome["recommended_inference_image"]
        assert ti.pushed["job_result"] == outcome
        assert ti.pushed["recommended_inference_image"] == outcome["recommended_inference_image"]
        assert ti.pushed["sagemaker_optimization_job"]["job_name"] == "result-ok"

    def test_failed_job_pushes_then_raises(self, hook, sagemaker_emulator):
        hook.create_optimization_job(job_config("result-failed"))
        sagemaker_emulator.control.fail_job("result-failed", "Model too large for instance")
        context, ti = task_context()

        with pytest.raises(OptimizationJobFailedError, match="Model too large for instance"):
            SageMakerOptimizationJobResultOperator(task_id="result", job_name="result-failed").execute(context)

        assert ti.pushed["status"] == "FAILED"
        assert ti.pushed["failure_reason"] == "Model too large for instance"

    def test_failed_job_is_returned_when_not_failing_on_job_failure(self, hook, sagemaker_emulator):
        hook.create_optimization_job(job_config("result-branch"))
        sagemaker_emulator.control.fail_job("result-branch", "bad config")
        context, ti = task_context()

        outcome = SageMakerOptimizationJobResultOperator(
            task_id="result", job_name="result-branch", fail_on_job_failure=False
        ).execute(context)

        assert outcome["status"] == "FAILED"
        assert ti.pushed["failure_reason"] == "bad config"

    def test_running_job_is_a_clear_error_pointing_to_the_sensor(self, hook, sagemaker_emulator):
        sagemaker_emulator.control.script_job("result-running", starting_seconds=0, inprogress_seconds=120)
        hook.create_optimization_job(job_config("result-running"))
        context, ti = task_context()

        with pytest.raises(OptimizationJobNotFinishedError, match="SageMakerOptimizationJobSensor"):
            SageMakerOptimizationJobResultOperator(task_id="result", job_name="result-running").execute(context)

        assert ti.pushed["job_result"]["status"] == "INPROGRESS"
        assert ti.pushed["wait_ending"]["reason"] == "error"

    def test_missing_job_names_the_job_and_region(self, optjob_aws_conn):
        context, _ = task_context()

        with pytest.raises(OptimizationJobNotFoundError, match="'ghost-job' in region us-east-1"):
            SageMakerOptimizationJobResultOperator(task_id="result", job_name="ghost-job").execute(context)


class TestStopOperator:
    def test_stops_a_running_job_and_waits(self, hook, sagemaker_emulator):
        sagemaker_emulator.control.script_job("stop-running", inprogress_seconds=120)
        hook.create_optimization_job(job_config("stop-running"))
        context, ti = task_context()

        outcome = SageMakerStopOptimizationJobOperator(
            task_id="stop", job_name="stop-running", wait_for_completion=True, deferrable=False, poke_interval=0.1
        ).execute(context)

        assert outcome["status"] == "STOPPED"
        assert ti.pushed["status"] == "STOPPED"

    def test_already_finished_job_is_not_an_error(self, hook, sagemaker_emulator):
        hook.create_optimization_job(job_config("stop-done"))
        sagemaker_emulator.control.complete_job("stop-done")
        context, _ = task_context()

        outcome = SageMakerStopOptimizationJobOperator(task_id="stop", job_name="stop-done").execute(context)

        assert outcome["status"] == "COMPLETED"
        assert sagemaker_emulator.control.call_counts().get("StopOptimizationJob") is None

    def test_missing_job_is_a_clear_error(self, optjob_aws_conn):
        with pytest.raises(OptimizationJobNotFoundError, match="'ghost-stop'"):
            SageMakerStopOptimizationJobOperator(task_id="stop", job_name="ghost-stop").execute(task_context()[0])

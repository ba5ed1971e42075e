from __future__ import annotations

import pytest

from airflow_provider_optjob.compat import AirflowException
from airflow_provider_optjob.exceptions import (
    OptimizationJobFailedError,
    OptimizationJobNotFinishedError,
    OptimizationJobNotFoundError,
)
from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
from airflow_provider_optjob.job.completion import OptimizationJobWaitTimeoutError
from airflow_provider_optjob.operators.optimization_job import (
    SageMakerCreateOptimizationJobOperator,
    SageMakerOptimizationJobResultOperator,
    SageMakerStopOptimizationJobOperator,
)
from tests.airflow_runs import load_dag, run_dag, task_states, xcom_value
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
        sagemaker_emulator.control.script_job("result-running", inprogress_seconds=120)
        hook.create_optimization_job(job_config("result-running"))
        context, ti = task_context()

        with pytest.raises(OptimizationJobNotFinishedError, match="SageMakerOptimizationJobSensor"):
            SageMakerOptimizationJobResultOperator(task_id="result", job_name="result-running").execute(context)

        assert "job_result" not in ti.pushed

    def test_missing_job_names_the_job_and_region(self, optjob_aws_conn):
        context, _ = task_context()

        with pytest.raises(OptimizationJobNotFoundError, match="'ghost-job' in region us-east-1"):
            SageMakerOptimizationJobResultOperator(task_id="result", job_name="ghost-job").execute(context)


class TestCreateOperator:
    def test_creates_without_waiting(self, hook, sagemaker_emulator):
        context, ti = task_context()

        outcome = SageMakerCreateOptimizationJobOperator(
            task_id="create", config=job_config("create-nowait"), wait_for_completion=False
        ).execute(context)

        assert outcome["job_name"] == "create-nowait"
        assert outcome["status"] in {"STARTING", "INPROGRESS"}
        assert ti.pushed["sagemaker_optimization_job"]["job_name"] == "create-nowait"
        assert sagemaker_emulator.control.call_counts()["CreateOptimizationJob"] == 1

    def test_creates_and_waits_on_the_worker(self, hook, sagemaker_emulator):
        context, ti = task_context()

        outcome = SageMakerCreateOptimizationJobOperator(
            task_id="create", config=job_config("create-wait"), deferrable=False, poke_interval=0.1
        ).execute(context)

        assert outcome["status"] == "COMPLETED"
        assert ti.pushed["job_result"] == outcome

    def test_waiting_on_the_worker_gives_up_at_max_wait(self, hook, sagemaker_emulator):
        sagemaker_emulator.control.script_job("create-slow", inprogress_seconds=120)
        context, _ = task_context()

        with pytest.raises(OptimizationJobWaitTimeoutError, match=r"'create-slow' did not finish within 0\.5 s"):
            SageMakerCreateOptimizationJobOperator(
                task_id="create", config=job_config("create-slow"), deferrable=False, poke_interval=0.1, max_wait=0.5
            ).execute(context)

    def test_retry_attaches_to_the_existing_job(self, hook, sagemaker_emulator):
        hook.create_optimization_job(job_config("create-retry"))
        context, _ = task_context()

        outcome = SageMakerCreateOptimizationJobOperator(
            task_id="create", config=job_config("create-retry"), deferrable=False, poke_interval=0.1
        ).execute(context)

        assert outcome["status"] == "COMPLETED"
        assert [job["OptimizationJobName"] for job in hook.list_optimization_jobs(NameContains="create-retry")] == [
            "create-retry"
        ]

    def test_if_exists_fail_raises_a_clear_error(self, hook, sagemaker_emulator):
        hook.create_optimization_job(job_config("create-exists"))
        context, _ = task_context()

        with pytest.raises(AirflowException, match="already exists and if_exists='fail'"):
            SageMakerCreateOptimizationJobOperator(
                task_id="create", config=job_config("create-exists"), if_exists="fail"
            ).execute(context)

    def test_on_kill_stops_the_job(self, hook, sagemaker_emulator):
        sagemaker_emulator.control.script_job("create-killed", inprogress_seconds=120)
        operator = SageMakerCreateOptimizationJobOperator(
            task_id="create", config=job_config("create-killed"), wait_for_completion=False
        )
        operator.execute(task_context()[0])

        operator.on_kill()

        assert hook.describe_optimization_job("create-killed")["OptimizationJobStatus"] in {"STOPPING", "STOPPED"}

    @pytest.mark.parametrize(
        ("config", "message"),
        [
            ("not a dict", "config must be a dict"),
            ({k: v for k, v in job_config("x").items() if k != "RoleArn"}, "missing required field.*RoleArn"),
            (
                job_config("x", OptimizationConfigs={"ModelQuantizationConfig": {}}),
                "OptimizationConfigs must be a list",
            ),
            (job_config("x", MaxInstanceCount="2"), "MaxInstanceCount must be an integer"),
            (job_config("x", OptimizationConfigs=[{}]), r"OptimizationConfigs\[0\] must be a dict with exactly one"),
            (job_config("bad_name"), "Invalid optimization job name 'bad_name'"),
        ],
        ids=["not-a-dict", "missing-key", "wrong-type-list", "wrong-type-int", "empty-optimization", "bad-name"],
    )
    def test_invalid_config_fails_when_the_task_is_defined(self, config, message):
        with pytest.raises(ValueError, match=message):
            SageMakerCreateOptimizationJobOperator(task_id="create", config=config)

    def test_misspelled_if_exists_fails_when_the_task_is_defined(self):
        with pytest.raises(ValueError, match="if_exists must be one of 'attach', 'fail'"):
            SageMakerCreateOptimizationJobOperator(task_id="create", config=job_config("x"), if_exists="atach")  # type: ignore[arg-type]

    def test_config_is_templated_and_rendered_as_json(self):
        assert "config" in SageMakerCreateOptimizationJobOperator.template_fields
        assert SageMakerCreateOptimizationJobOperator.template_fields_renderers == {"config": "json"}


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


@pytest.mark.usefixtures("airflow_db")
class TestCreateInRealAirflow:
    def test_deferrable_create_waits_in_the_trigger(self, optjob_aws_conn, sagemaker_emulator):
        dag_run = run_dag(load_dag("operator_lifecycle.py", "create_deferrable"))

        assert task_states(dag_run) == {"create": "success"}
        assert xcom_value(dag_run, "create")["status"] == "COMPLETED"
        assert xcom_value(dag_run, "create", "status") == "COMPLETED"
        assert sagemaker_emulator.control.call_counts()["CreateOptimizationJob"] == 1

    def test_retried_task_attaches_and_exactly_one_job_exists(self, hook, optjob_aws_conn, sagemaker_emulator):
        hook.create_optimization_job(job_config("lifecycle-retried"))

        dag_run = run_dag(load_dag("operator_lifecycle.py", "create_retried"))

        assert task_states(dag_run) == {"create": "success"}
        assert [job["OptimizationJobName"] for job in hook.list_optimization_jobs()] == ["lifecycle-retried"]


def test_create_without_waiting_rides_out_not_found_right_after_create(optjob_aws_conn, sagemaker_emulator):
    sagemaker_emulator.control.add_fault("not_found_after_create", "DescribeOptimizationJob", after_create_seconds=1.5)
    context, _ = task_context()

    outcome = SageMakerCreateOptimizationJobOperator(
        task_id="create", config=job_config("create-not-visible-yet"), wait_for_completion=False
    ).execute(context)

    assert outcome["job_name"] == "create-not-visible-yet"
    assert outcome["status"] in {"STARTING", "INPROGRESS", "COMPLETED"}
    assert sagemaker_emulator.control.call_counts()["DescribeOptimizationJob"] >= 2

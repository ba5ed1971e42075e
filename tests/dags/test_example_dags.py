from __future__ import annotations

import importlib.util
import itertools
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from airflow import __version__ as airflow_version

from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
from tests.airflow_runs import DAGS_FOLDER, load_dag, run_dag, task_states, xcom_value
from tests.faults.runs import Waiter, meanwhile

pytestmark = pytest.mark.usefixtures("airflow_db")

AIRFLOW_3 = not airflow_version.startswith("2.")
EVENTS_DAG = "example_optimization_job_events.py"


def test_every_example_dag_parses_without_import_errors():
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef,unused-ignore]

    dag_bag = DagBag(dag_folder=str(DAGS_FOLDER))

    assert dag_bag.import_errors == {}
    expected = {
        "example_optimization_job_pipeline",
        "example_optimization_job_failure",
        "example_optimization_job_assets",
        "example_optimized_model_consumer",
    }
    if AIRFLOW_3:  # the asset-watcher example defines no DAG on Airflow 2
        expected.add("example_optimization_job_events")
    assert set(dag_bag.dag_ids) == expected


def events_example() -> Any:
    """Import the asset-watcher example as a module (its DAG, asset and helper)."""
    spec = importlib.util.spec_from_file_location("example_optimization_job_events", DAGS_FOLDER / EVENTS_DAG)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not AIRFLOW_3, reason="asset watchers need Airflow 3.0+")
def test_events_example_watches_its_asset_with_the_event_trigger():
    from airflow_provider_optjob.triggers.job_events import SageMakerOptimizationJobEventTrigger

    module = events_example()

    (watcher,) = module.finished_llama_jobs.watchers
    assert isinstance(watcher.trigger, SageMakerOptimizationJobEventTrigger)
    assert watcher.trigger.name_contains == "llama"
    assert watcher.trigger.statuses == ["COMPLETED"]
    assert list(module.dag.timetable.asset_condition.objects) == [module.finished_llama_jobs]


@pytest.mark.skipif(not AIRFLOW_3, reason="asset watchers need Airflow 3.0+")
def test_events_example_reads_the_image_from_the_triggering_event_extra():
    module = events_example()
    outcome = {"job_name": "llama-awq", "recommended_inference_image": "123.dkr.ecr/lmi:0.31"}
    event = SimpleNamespace(extra={"from_trigger": True, "payload": {"status": "success", "result": outcome}})

    # Keyed by the asset's name: Airflow 3.0's Asset is not hashable, and only the events are read.
    images = module.recommended_images({module.finished_llama_jobs.name: [event]})

    assert images == {"llama-awq": "123.dkr.ecr/lmi:0.31"}


def test_pipeline_hands_the_recommended_image_to_the_deploy_tasks(optjob_aws_conn, sagemaker_emulator):
    dag_run = run_dag(load_dag("example_optimization_job_pipeline.py"))

    states = task_states(dag_run)
    assert set(states.values()) == {"success"}, states
    result = xcom_value(dag_run, "optimization_result")
    image = xcom_value(dag_run, "optimization_result", "recommended_inference_image")
    model_name = xcom_value(dag_run, "register_optimized_model")
    report = xcom_value(dag_run, "report_deployment")
    assert result["status"] == "COMPLETED"
    assert image
    assert image == result["recommended_inference_image"]
    assert model_name == result["job_name"]
    client = SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn).client
    container = client.describe_model(ModelName=model_name)["PrimaryContainer"]
    assert container["Image"] == image
    assert container["ModelDataSource"]["S3DataSource"]["S3Uri"] == result["output_s3_uri"]
    assert container["Environment"] == {"OPTION_QUANTIZE": "awq"}
    endpoint_config = client.describe_endpoint_config(EndpointConfigName=result["job_name"])
    assert endpoint_config["ProductionVariants"][0]["ModelName"] == model_name
    assert report == {
        "optimization_job": result["job_name"],
        "recommended_inference_image": image,
        "optimized_model_s3_uri": result["output_s3_uri"],
        "model_name": model_name,
        "endpoint_name": result["job_name"],
        "endpoint_status": "InService",
    }
    assert xcom_value(dag_run, "wait_for_optimization_job", "status") == "COMPLETED"


FAILURE_DAG = "example_optimization_job_failure.py"
_failure_runs = itertools.count()


class FailureExample:
    """The failure example, run with short waits (its knobs are environment variables read at parse time).

    Each instance runs on its own logical date, so its job has its own name (and Airflow 2.10's
    ``dag.test()`` never has to delete an earlier run of the same date).
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.logical_date = datetime(2026, 3, 1, tzinfo=timezone.utc) + timedelta(days=next(_failure_runs))
        self.job_name = f"compile-mistral-{self.logical_date:%Y%m%dT%H%M%S}"
        monkeypatch.setenv("OPTJOB_EXAMPLE_POKE_INTERVAL", "0.2")
        monkeypatch.setenv("OPTJOB_EXAMPLE_MAX_WAIT", "30")
        monkeypatch.setenv("OPTJOB_EXAMPLE_NOT_FOUND_GRACE", "5")

    def run(self, **environment: str) -> Any:
        for name, value in environment.items():
            self.monkeypatch.setenv(name, value)
        return run_dag(load_dag(FAILURE_DAG), logical_date=self.logical_date)


@pytest.fixture
def failure_example(optjob_aws_conn, monkeypatch) -> FailureExample:
    return FailureExample(monkeypatch)


def handled(dag_run: Any) -> Any:
    """What the failure example's ``all_done`` task reported."""
    return xcom_value(dag_run, "handle_job_outcome")


def test_failure_example_reports_a_completed_job_as_nothing_to_do(failure_example):
    dag_run = failure_example.run()

    assert task_states(dag_run) == {"create_optimization_job": "success", "handle_job_outcome": "success"}
    assert handled(dag_run) == {"action": "none", "reason": "completed", "status": "COMPLETED", "failure_reason": None}


@pytest.mark.parametrize(
    ("final_status", "failure_reason", "reason"),
    [("FAILED", "Unsupported model architecture", "failed"), ("STOPPED", None, "stopped")],
)
def test_failure_example_reports_a_failed_or_stopped_job(
    failure_example, sagemaker_emulator, final_status, failure_reason, reason
):
    sagemaker_emulator.control.script_job(
        failure_example.job_name, final_status=final_status, failure_reason=failure_reason
    )

    dag_run = failure_example.run()

    assert task_states(dag_run) == {"create_optimization_job": "failed", "handle_job_outcome": "success"}
    assert handled(dag_run) == {
        "action": "alert",
        "reason": reason,
        "status": final_status,
        "failure_reason": failure_reason,
    }
    ending = xcom_value(dag_run, "create_optimization_job", "wait_ending")
    assert ending["reason"] == reason
    assert f"'{failure_example.job_name}' ended with status {final_status}" in ending["message"]
    assert xcom_value(dag_run, "create_optimization_job", "job_result")["wait_ending"] == ending


def test_failure_example_reports_a_timeout_with_the_last_status(failure_example, sagemaker_emulator):
    sagemaker_emulator.control.script_job(failure_example.job_name, final_status="COMPLETED", inprogress_seconds=600)

    dag_run = failure_example.run(OPTJOB_EXAMPLE_MAX_WAIT="2")

    assert task_states(dag_run) == {"create_optimization_job": "failed", "handle_job_outcome": "success"}
    assert handled(dag_run) == {"action": "alert", "reason": "timeout", "status": "INPROGRESS", "failure_reason": None}
    ending = xcom_value(dag_run, "create_optimization_job", "wait_ending")
    assert f"'{failure_example.job_name}' did not finish" in ending["message"]


def test_failure_example_reports_access_denied(failure_example, sagemaker_emulator):
    control = sagemaker_emulator.control
    control.script_job(failure_example.job_name, final_status="COMPLETED", inprogress_seconds=600)

    def deny_once_the_job_is_created(waiter: Waiter) -> None:
        # The create task describes the name before creating the job; deny only the wait's describes.
        while control.call_counts().get("CreateOptimizationJob", 0) < 1:
            waiter.wait_for_describes(1)
        control.add_fault("access_denied", "DescribeOptimizationJob")

    with meanwhile(control, deny_once_the_job_is_created):
        dag_run = failure_example.run()

    assert task_states(dag_run) == {"create_optimization_job": "failed", "handle_job_outcome": "success"}
    report = handled(dag_run)
    assert report["action"] == "alert"
    assert report["reason"] == "error"
    ending = xcom_value(dag_run, "create_optimization_job", "wait_ending")
    assert f"AWS refused access while describing optimization job '{failure_example.job_name}'" in ending["message"]


def test_failure_example_reports_a_job_that_is_not_found(failure_example, sagemaker_emulator):
    sagemaker_emulator.control.add_fault("not_found_after_create", "DescribeOptimizationJob", after_create_seconds=600)

    dag_run = failure_example.run(OPTJOB_EXAMPLE_NOT_FOUND_GRACE="0.5")

    assert task_states(dag_run) == {"create_optimization_job": "failed", "handle_job_outcome": "success"}
    assert handled(dag_run) == {"action": "alert", "reason": "error", "status": None, "failure_reason": None}
    ending = xcom_value(dag_run, "create_optimization_job", "wait_ending")
    assert f"'{failure_example.job_name}'" in ending["message"]
    assert "not found" in ending["message"].lower()

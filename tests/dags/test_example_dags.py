from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.airflow_runs import DAGS_FOLDER, load_dag, run_dag, task_states, xcom_value

pytestmark = pytest.mark.usefixtures("airflow_db")


def test_every_example_dag_parses_without_import_errors():
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef,unused-ignore]

    dag_bag = DagBag(dag_folder=str(DAGS_FOLDER))

    assert dag_bag.import_errors == {}
    assert set(dag_bag.dag_ids) == {"example_optimization_job_pipeline", "example_optimization_job_failure"}


def test_pipeline_hands_the_recommended_image_to_the_deploy_tasks(optjob_aws_conn, sagemaker_emulator):
    dag_run = run_dag(load_dag("example_optimization_job_pipeline.py"))

    states = task_states(dag_run)
    assert set(states.values()) == {"success"}, states
    result = xcom_value(dag_run, "optimization_result")
    image = xcom_value(dag_run, "optimization_result", "recommended_inference_image")
    model = xcom_value(dag_run, "register_optimized_model")["Model"]
    report = xcom_value(dag_run, "report_deployment")
    assert result["status"] == "COMPLETED"
    assert image
    assert image == result["recommended_inference_image"]
    assert model["PrimaryContainer"]["Image"] == image
    assert model["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]["S3Uri"] == result["output_s3_uri"]
    assert report == {
        "optimization_job": result["job_name"],
        "recommended_inference_image": image,
        "optimized_model_s3_uri": result["output_s3_uri"],
        "endpoint_name": result["job_name"],
        "endpoint_status": "InService",
    }
    assert xcom_value(dag_run, "wait_for_optimization_job", "status") == "COMPLETED"


def test_failure_reason_reaches_the_all_done_task(optjob_aws_conn, sagemaker_emulator):
    logical_date = datetime(2026, 3, 1, tzinfo=timezone.utc)
    job_name = "compile-mistral-20260301T000000"
    sagemaker_emulator.control.script_job(
        job_name, final_status="FAILED", failure_reason="Unsupported model architecture"
    )

    dag_run = run_dag(load_dag("example_optimization_job_failure.py"), logical_date=logical_date)

    states = task_states(dag_run)
    assert states["wait_for_optimization_job"] == "failed"
    assert states["handle_job_outcome"] == "success"
    assert xcom_value(dag_run, "handle_job_outcome") == {
        "action": "alert",
        "status": "FAILED",
        "failure_reason": "Unsupported model architecture",
    }
    assert xcom_value(dag_run, "wait_for_optimization_job", "job_result")["job_name"] == job_name

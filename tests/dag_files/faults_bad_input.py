"""DAGs whose input is only found bad at run time (``tests/test_bad_input.py``).

``faults_bad_rendered_name``: job names that render (``ds_nodash``) to names the API rejects.
``faults_bad_conn_id``: an ``aws_conn_id`` that names no Airflow connection.
``faults_name_renders_nothing``: job names read from an XCom that no task pushed (they render ``None``).
"""

from __future__ import annotations

from datetime import datetime

from airflow_provider_optjob.operators.optimization_job import (
    SageMakerCreateModelFromOptimizationJobOperator,
    SageMakerCreateOptimizationJobOperator,
    SageMakerOptimizationJobResultOperator,
    SageMakerStopOptimizationJobOperator,
)
from airflow_provider_optjob.sensors.optimization_job import SageMakerOptimizationJobSensor
from tests.job_requests import job_config

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG  # type: ignore[attr-defined,no-redef,unused-ignore]

#: Renders to ``opt_20260101``-style names: the underscore is not allowed.
BAD_RENDERED_NAME = "opt_{{ ds_nodash }}"


with DAG(
    dag_id="faults_bad_rendered_name", schedule=None, start_date=datetime(2026, 1, 1), catchup=False
) as faults_bad_rendered_name:
    SageMakerOptimizationJobSensor(task_id="wait", job_name=BAD_RENDERED_NAME, poke_interval=0.1, timeout=10)
    SageMakerOptimizationJobResultOperator(task_id="result", job_name=BAD_RENDERED_NAME)
    SageMakerStopOptimizationJobOperator(task_id="stop", job_name=BAD_RENDERED_NAME)
    SageMakerCreateOptimizationJobOperator(task_id="create", config=job_config(BAD_RENDERED_NAME), poke_interval=0.1)

with DAG(
    dag_id="faults_bad_conn_id", schedule=None, start_date=datetime(2026, 1, 1), catchup=False
) as faults_bad_conn_id:
    SageMakerOptimizationJobSensor(
        task_id="wait", job_name="any-job", aws_conn_id="aws_typo", poke_interval=0.1, timeout=10
    )
    SageMakerCreateOptimizationJobOperator(
        task_id="create", config=job_config("any-job"), aws_conn_id="aws_typo", poke_interval=0.1
    )

#: Renders ``None``: no task of the DAG is called ``no_such_task``.
NAME_FROM_A_MISSING_XCOM = "{{ ti.xcom_pull(task_ids='no_such_task', key='job_name') }}"

with DAG(
    dag_id="faults_name_renders_nothing", schedule=None, start_date=datetime(2026, 1, 1), catchup=False
) as faults_name_renders_nothing:
    SageMakerOptimizationJobSensor(task_id="wait", job_name=NAME_FROM_A_MISSING_XCOM, poke_interval=0.1, timeout=10)
    SageMakerOptimizationJobResultOperator(task_id="result", job_name=NAME_FROM_A_MISSING_XCOM)
    SageMakerStopOptimizationJobOperator(task_id="stop", job_name=NAME_FROM_A_MISSING_XCOM)
    SageMakerCreateModelFromOptimizationJobOperator(task_id="model", job_name=NAME_FROM_A_MISSING_XCOM)
    SageMakerCreateOptimizationJobOperator(
        task_id="create", config=job_config(NAME_FROM_A_MISSING_XCOM), poke_interval=0.1
    )

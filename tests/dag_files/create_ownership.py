"""Create-operator DAGs: ownership, re-runs, rendered configs, masking (see test_create_optimization_job.py).

Every DAG ends with an ``all_done`` task, ``report``, that returns what a downstream task sees: the
``job_name`` the create task pushed and its ``status``.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_optjob.operators.optimization_job import SageMakerCreateOptimizationJobOperator, job_name_per_run
from tests.job_requests import ROLE_ARN, job_config

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG  # type: ignore[attr-defined,no-redef,unused-ignore]
    from airflow.decorators import task  # type: ignore[attr-defined,no-redef,unused-ignore]

START = datetime(2026, 1, 1)
#: Written into ``masking``'s config and printed by its ``report`` task (the test sets them before parsing).
HF_TOKEN = os.environ.get("OPTJOB_TEST_HF_TOKEN", "hf_placeholder-token-value")
HUB_LOGIN = os.environ.get("OPTJOB_TEST_HUB_LOGIN", "placeholder-hub-login")
ENTRYPOINT = "djl_python.huggingface"
OPTIMIZATION_CONFIGS = [{"ModelQuantizationConfig": {"OverrideEnvironment": {"OPTION_QUANTIZE": "awq"}}}]


@task(trigger_rule="all_done", multiple_outputs=False)
def report(**context: Any) -> dict[str, Any]:
    """Read what the create task pushed, as a downstream task would (one XCom: Airflow 3.0 refuses a None one)."""
    ti = context["ti"]
    return {
        "job_name": ti.xcom_pull(task_ids="create", key="job_name"),
        "status": ti.xcom_pull(task_ids="create", key="status"),
    }


def create_dag(dag_id: str, config: Any, render_native: bool = False, **create_arguments: Any) -> DAG:
    with DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=START,
        catchup=False,
        render_template_as_native_obj=render_native,
        params={"optimization_configs": OPTIMIZATION_CONFIGS},
    ) as dag:
        create = SageMakerCreateOptimizationJobOperator(
            task_id="create", config=config, poke_interval=0.1, **create_arguments
        )
        create >> report()
    return dag


ownership_retried_deferrable = create_dag(
    "ownership_retried_deferrable",
    job_config("ownership-retried-deferrable"),
    retries=1,
    retry_delay=timedelta(0),
)
ownership_retried_worker = create_dag(
    "ownership_retried_worker",
    job_config("ownership-retried-worker"),
    retries=1,
    retry_delay=timedelta(0),
    deferrable=False,
)
ownership_foreign = create_dag("ownership_foreign", job_config("ownership-foreign"))
#: What the error about a same-named job of another run advises: a name per run.
name_per_run = create_dag("name_per_run", job_config(job_name_per_run("ownership-foreign")), wait_for_completion=False)
ownership_adopt = create_dag("ownership_adopt", job_config("ownership-adopt"), if_exists="adopt")

config_jinja_native = create_dag(
    "config_jinja_native",
    job_config("config-jinja-native", OptimizationConfigs="{{ params.optimization_configs }}"),
    render_native=True,
)
config_jinja_string = create_dag(
    "config_jinja_string", job_config("config-jinja-string", OptimizationConfigs="{{ params.optimization_configs }}")
)

with DAG(dag_id="config_xcomarg", schedule=None, start_date=START, catchup=False) as config_xcomarg:

    @task
    def whole_config() -> dict[str, Any]:
        return job_config("config-xcomarg-whole")

    @task
    def role_arn() -> str:
        return ROLE_ARN

    @task(trigger_rule="all_done")
    def report_both(**context: Any) -> list[Any]:
        ti = context["ti"]
        return [ti.xcom_pull(task_ids=task_id, key="job_name") for task_id in ("create_whole", "create_member")]

    [
        SageMakerCreateOptimizationJobOperator(
            task_id="create_whole", config=whole_config(), wait_for_completion=False
        ),
        SageMakerCreateOptimizationJobOperator(
            task_id="create_member",
            config=job_config("config-xcomarg-member", RoleArn=role_arn()),
            wait_for_completion=False,
        ),
    ] >> report_both()


def log_environment(context: Any) -> None:
    """Log every environment value from inside the create task, as careless user code would."""
    message = f"quantize=awq degree=1 entrypoint={ENTRYPOINT} token={HF_TOKEN} login={HUB_LOGIN}"
    logging.getLogger("airflow.task").info(message)


with DAG(dag_id="masking", schedule=None, start_date=START, catchup=False) as masking:
    SageMakerCreateOptimizationJobOperator(
        task_id="create",
        config=job_config(
            "masking",
            OptimizationEnvironment={"HF_TOKEN": HF_TOKEN, "OPTION_ENTRYPOINT": ENTRYPOINT, "HUB_LOGIN": HUB_LOGIN},
            OptimizationConfigs=[
                {
                    "ModelQuantizationConfig": {
                        "OverrideEnvironment": {"OPTION_QUANTIZE": "awq", "OPTION_TENSOR_PARALLEL_DEGREE": "1"}
                    }
                }
            ],
        ),
        sensitive_environment_keys=["hub_login"],
        wait_for_completion=False,
        on_execute_callback=log_environment,
    )

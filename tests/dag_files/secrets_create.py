"""Create-operator DAGs with model-hub credentials in the job's environment (``tests/test_secrets.py``).

``secrets_literal`` writes the values into the DAG file's config (here read from environment variables the
test sets before parsing); ``secrets_templated`` renders them from Airflow Variables at run time and waits in
the triggerer, ``secrets_templated_worker`` does the same but waits on the worker (so the task renders its
templates once: a deferred task that resumes in the same ``dag.test()`` process renders them again with the
masker already primed, which a fresh worker process would not have). The
environment variable names avoid the words Airflow's masker hides by name (``token``, ``secret``...), so only
the operator's ``sensitive_environment_keys`` keeps the values out of logs and the UI.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow_provider_optjob.operators.optimization_job import SageMakerCreateOptimizationJobOperator

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG  # type: ignore[attr-defined,no-redef,unused-ignore]
    from airflow.decorators import task  # type: ignore[attr-defined,no-redef,unused-ignore]

HUB_VARIABLE = "OPTJOB_PLANTED_HUB_CREDENTIAL"
OVERRIDE_VARIABLE = "OPTJOB_PLANTED_OVERRIDE_CREDENTIAL"


def job_config(
    job_name: str,
    hub_credential: str,
    override_credential: str,
    hub_key: str = "HF_HUB_CREDENTIAL",
    override_key: str = "QUANT_HUB_LOGIN",
) -> dict[str, Any]:
    return {
        "OptimizationJobName": job_name,
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerOptimization",
        "ModelSource": {"S3": {"S3Uri": "s3://models/llama/"}},
        "DeploymentInstanceType": "ml.g5.2xlarge",
        "OptimizationEnvironment": {hub_key: hub_credential, "OPTION_DTYPE": "fp16"},
        "OptimizationConfigs": [
            {
                "ModelQuantizationConfig": {
                    "Image": "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.31.0-lmi13.0.0-cu124",
                    "OverrideEnvironment": {"OPTION_QUANTIZE": "awq", override_key: override_credential},
                }
            }
        ],
        "OutputConfig": {"S3OutputLocation": "s3://models/optimized/"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


@task(trigger_rule="all_done")
def downstream(**context: Any) -> dict[str, Any]:
    """Read back what the create task pushed, as a deploy task would."""
    ti = context["ti"]
    return {"job_result": ti.xcom_pull(task_ids="create", key="job_result"), "image": ti.xcom_pull(task_ids="create")}


def secrets_dag(
    dag_id: str,
    job_name: str,
    hub_credential: str,
    override_credential: str,
    deferrable: bool = True,
    keys: tuple[str, str] | None = None,
) -> DAG:
    """A create task whose environment holds two credentials: under ``keys`` (named as sensitive), or by default
    under the keys the task names in ``sensitive_environment_keys``."""
    with DAG(dag_id=dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
        config = job_config(job_name, hub_credential, override_credential, *(keys or ()))
        create = SageMakerCreateOptimizationJobOperator(
            task_id="create",
            config=config,
            poke_interval=0.1,
            deferrable=deferrable,
            sensitive_environment_keys=[] if keys else ["HF_HUB_CREDENTIAL", "QUANT_HUB_LOGIN"],
        )
        create >> downstream()
    return dag


secrets_literal = secrets_dag(
    "secrets_literal",
    "secrets-literal",
    os.environ.get(HUB_VARIABLE, "hf_placeholder-hub-credential"),
    os.environ.get(OVERRIDE_VARIABLE, "hf_placeholder-override-credential"),
)
secrets_templated = secrets_dag(
    "secrets_templated",
    "secrets-templated",
    "{{ var.value.optjob_hub_login }}",
    "{{ var.value.optjob_quant_login }}",
)
secrets_templated_worker = secrets_dag(
    "secrets_templated_worker",
    "secrets-templated-worker",
    "{{ var.value.optjob_hub_login }}",
    "{{ var.value.optjob_quant_login }}",
    deferrable=False,
)
#: No sensitive_environment_keys: one credential is found by its key's name, the other by its shape (an hf_ token).
secrets_unusual_keys = secrets_dag(
    "secrets_unusual_keys",
    "secrets-unusual-keys",
    "{{ var.value.optjob_hub_login }}",
    "{{ var.value.optjob_quant_login }}",
    keys=("MODEL_HUB_CREDENTIAL", "OPTION_WEIGHTS_FROM"),
)

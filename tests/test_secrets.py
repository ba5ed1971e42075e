"""Model-hub credentials in a create operator's job environment leave no trace in Airflow.

A random ``hf_`` credential is planted in ``OptimizationEnvironment`` and another in a
``ModelQuantizationConfig.OverrideEnvironment`` of the config (``tests/dag_files/secrets_create.py``), either
written into the DAG file or rendered from Airflow Variables. After a real ``dag.test()`` run, the task logs,
the rendered template fields, every XCom of the run and the trigger's serialized kwargs are searched for them.
A config rejected at parse time must not carry them into its error message either.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
from airflow_provider_optjob.model.config import InvalidOptimizationJobConfigError
from airflow_provider_optjob.operators.optimization_job import SageMakerCreateOptimizationJobOperator
from tests.airflow_runs import task_states
from tests.faults.runs import run_dag_with_logs
from tests.job_requests import job_config

pytestmark = pytest.mark.usefixtures("airflow_db")

DAG_FILE = "secrets_create.py"
JOB_NAMES = {
    "secrets_literal": "secrets-literal",
    "secrets_templated": "secrets-templated",
    "secrets_templated_worker": "secrets-templated-worker",
    "secrets_unusual_keys": "secrets-unusual-keys",
}


@pytest.fixture
def planted(dag_id, monkeypatch) -> list[str]:
    """
    Two fresh credentials, for the DAG file (environment variables) or for templates (Airflow Variables).

    Only the DAG under test gets them: parsing the file builds all its DAGs, and the others must not
    register these values with the masker on this one's behalf.
    """
    hub, override = (f"hf_{secrets.token_hex(16)}" for _ in range(2))
    if dag_id == "secrets_literal":
        monkeypatch.setenv("OPTJOB_PLANTED_HUB_CREDENTIAL", hub)
        monkeypatch.setenv("OPTJOB_PLANTED_OVERRIDE_CREDENTIAL", override)
    else:
        monkeypatch.setenv("AIRFLOW_VAR_OPTJOB_HUB_LOGIN", hub)
        monkeypatch.setenv("AIRFLOW_VAR_OPTJOB_QUANT_LOGIN", override)
    return [hub, override]


def traces(text: str, planted: list[str]) -> list[str]:
    return [credential for credential in planted if credential in text]


def rendered_fields(dag_run: Any) -> str:
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(RenderedTaskInstanceFields.task_id, RenderedTaskInstanceFields.rendered_fields)
            .filter(
                RenderedTaskInstanceFields.dag_id == dag_run.dag_id,
                RenderedTaskInstanceFields.run_id == dag_run.run_id,
            )
            .all()
        )
    assert {task_id for task_id, _ in rows} >= {"create"}, "no rendered fields stored for the create task"
    return json.dumps({task_id: fields for task_id, fields in rows})


def every_xcom(dag_run: Any) -> str:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(XComModel.task_id, XComModel.key, XComModel.value)
            .filter(XComModel.dag_id == dag_run.dag_id, XComModel.run_id == dag_run.run_id)
            .all()
        )
    keys = {(task_id, key) for task_id, key, _ in rows}
    assert {("create", "job_result"), ("create", "return_value"), ("downstream", "return_value")} <= keys
    return json.dumps([[task_id, key, str(value)] for task_id, key, value in rows])


def trigger_payloads(dag_run: Any) -> str:
    """The serialized kwargs of the run's triggers, and the event each handed back to its task."""
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.trigger import Trigger
    from airflow.utils.session import create_session

    with create_session() as session:
        instances = (
            session.query(TaskInstance)
            .filter(TaskInstance.dag_id == dag_run.dag_id, TaskInstance.run_id == dag_run.run_id)
            .all()
        )
        trigger_ids = [ti.trigger_id for ti in instances if ti.trigger_id is not None]
        triggers = session.query(Trigger).filter(Trigger.id.in_(trigger_ids)).all() if trigger_ids else []
        payloads: list[list[Any]] = [[trigger.classpath, trigger.kwargs] for trigger in triggers]
        payloads += [[ti.task_id, ti.next_method, ti.next_kwargs] for ti in instances]
    return json.dumps(payloads, default=str)


def rebuilt_trigger_kwargs(dag_id: str) -> str:
    """The kwargs the create task's trigger serializes (what the triggerer stores and rebuilds from)."""
    from airflow_provider_optjob.model.wait_settings import WaitSettings
    from airflow_provider_optjob.waiting.wait import trigger_for_task
    from tests.airflow_runs import load_dag

    operator = load_dag(DAG_FILE, dag_id).get_task("create")
    trigger = trigger_for_task(operator, "any-job", WaitSettings(1, 60, 1))
    return json.dumps(trigger.serialize(), default=str)


def log_files() -> str:
    logs_folder = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    return "\n".join(path.read_text(errors="replace") for path in logs_folder.rglob("*") if path.is_file())


@pytest.mark.parametrize("dag_id", list(JOB_NAMES))
def test_planted_credentials_leave_no_trace(dag_id, planted, optjob_aws_conn, capfd):
    dag_run, logs = run_dag_with_logs(capfd, DAG_FILE, dag_id)

    assert task_states(dag_run) == {"create": "success", "downstream": "success"}
    sent = SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn).describe_optimization_job(JOB_NAMES[dag_id])
    assert traces(json.dumps(sent, default=str), planted) == planted, "the credentials must still reach SageMaker"
    assert traces(logs, planted) == [], "task logs"
    assert traces(log_files(), planted) == [], "log files under AIRFLOW_HOME/logs"
    assert traces(rendered_fields(dag_run), planted) == [], "rendered template fields (RenderedTaskInstanceFields)"
    assert traces(every_xcom(dag_run), planted) == [], "XCom"
    payloads = trigger_payloads(dag_run)
    assert ("SageMakerOptimizationJobTrigger" in payloads) is (dag_id != "secrets_templated_worker")
    assert traces(payloads, planted) == [], "trigger kwargs and events"
    assert traces(rebuilt_trigger_kwargs(dag_id), planted) == [], "serialized trigger"
    assert "Skipping masking" not in logs, "short plain values (awq, fp16) are never given to the masker"


@pytest.mark.parametrize(
    ("field", "mistake"),
    [
        pytest.param(
            "OptimizationConfigs[0]",
            lambda credential: {
                "OptimizationConfigs": [
                    {
                        "ModelQuantizationConfig": {"OverrideEnvironment": {"QUANT_HUB_LOGIN": credential}},
                        "ModelCompilationConfig": {},
                    }
                ]
            },
            id="two-kinds-in-one-OptimizationConfigs-entry",
        ),
        pytest.param(
            "OptimizationEnvironment",
            lambda credential: {"OptimizationEnvironment": f"HF_HUB_CREDENTIAL={credential}"},
            id="OptimizationEnvironment-as-a-string",
        ),
    ],
)
def test_a_rejected_config_names_the_field_without_echoing_credentials(field, mistake):
    """The error ends up in DAG import errors (parse time) or task logs (run time), before any masking."""
    credential = f"hf_{secrets.token_hex(16)}"

    with pytest.raises(InvalidOptimizationJobConfigError) as raised:
        SageMakerCreateOptimizationJobOperator(
            task_id="create", config=job_config("quantize-llama", **mistake(credential))
        )

    assert f"config field {field} must be" in str(raised.value)
    assert credential not in str(raised.value)

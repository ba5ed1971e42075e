"""Run DAGs in real Airflow (``dag.test()``) and read back what their tasks saw, on Airflow 2.10 to 3.x."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

from airflow_provider_optjob.testing.dag_runs import run_dag, task_states

DAGS_FOLDER = Path(__file__).parent.parent / "dags"
TEST_DAGS_FOLDER = Path(__file__).parent / "dag_files"


def load_dag(file_name: str, dag_id: str | None = None) -> Any:
    """
    Import a DAG file and return one of its DAGs.

    Example DAGs come from ``dags/``; the tests' own from ``tests/dag_files/`` (Airflow 3 runs
    ``dag.test()`` only for DAGs that a bundle holds, so test DAGs live in files too).
    """
    path = DAGS_FOLDER / file_name
    if not path.exists():
        path = TEST_DAGS_FOLDER / file_name
    spec = importlib.util.spec_from_file_location(f"dag_file_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if dag_id is None:
        return module.dag
    return next(value for value in vars(module).values() if getattr(value, "dag_id", None) == dag_id)


def xcom_value(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    """Read one XCom of the run from the metadata database."""
    from airflow.utils.session import create_session

    try:
        from airflow.models.xcom import XComModel as xcom_model
    except ImportError:  # Airflow 2
        from airflow.models.xcom import XCom as xcom_model  # type: ignore[no-redef,unused-ignore]

    # Select the stored value alone: Airflow 2's XCom model deserializes itself on load (for the UI),
    # while ``deserialize_value`` expects the stored form, as Airflow 3's ``XComModel`` keeps it.
    with create_session() as session:
        row = (
            session.query(xcom_model.value)
            .filter(
                xcom_model.dag_id == dag_run.dag_id,
                xcom_model.run_id == dag_run.run_id,
                xcom_model.task_id == task_id,
                xcom_model.key == key,
            )
            .one_or_none()
        )
        if row is None:
            raise LookupError(f"no XCom {key!r} from {task_id!r} in {dag_run.run_id}")
        return xcom_model.deserialize_value(row)


try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG  # type: ignore[attr-defined,no-redef,unused-ignore]
    from airflow.decorators import task  # type: ignore[attr-defined,no-redef,unused-ignore]

__all__ = ["DAG", "load_dag", "run_dag", "task", "task_states", "xcom_value"]

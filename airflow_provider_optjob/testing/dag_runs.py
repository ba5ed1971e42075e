"""Run a DAG with ``dag.test()`` and read what happened, the same way on Airflow 2.10 to 3.x.

Airflow is imported inside the functions only, so that importing this module leaves Airflow's configuration
to the pytest plugin.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from datetime import datetime


def run_dag(dag: Any, logical_date: datetime | None = None, **kwargs: Any) -> Any:
    """
    Run every task of ``dag`` in this process with ``dag.test()`` and return the DAG run.

    A deferred task's trigger runs inline, so a deferrable wait really goes through its trigger.

    :param dag: the DAG to run.
    :param logical_date: the run's logical date (``execution_date`` on Airflow 2); none by default.
    :param kwargs: further arguments for ``dag.test()``.
    """
    if logical_date is not None:
        parameters = inspect.signature(dag.test).parameters
        kwargs["logical_date" if "logical_date" in parameters else "execution_date"] = logical_date
    return dag.test(**kwargs)


def task_states(dag_run: Any) -> dict[str, str]:
    """
    Map each task id of the run to its final state (``"success"``, ``"failed"``, ...).

    :param dag_run: a DAG run, as ``dag.test()`` returns it.
    """
    return {ti.task_id: str(ti.state) for ti in dag_run.get_task_instances()}

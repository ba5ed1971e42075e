"""One import home for what differs between Airflow 2.10+ and Airflow 3.

Newer ``apache-airflow-providers-common-compat`` releases ship ``common.compat.sdk``, which picks the
right location for each name on the running Airflow. The releases that Amazon MWAA pins for Airflow
2.10, 2.11.0 and 3.0 predate it (1.2 to 1.7); there the Airflow 2 locations, which Airflow 3.0 still
re-exports, are the fallback. ``mask_secret`` joined ``common.compat.sdk`` later than the rest (it is
missing from the 1.14 to 1.18 releases that MWAA pins for 2.11.2, 3.2 and 3.3), so it is looked up on
its own: the Task SDK's ``airflow.sdk.log`` on Airflow 3, ``airflow.utils.log.secrets_masker`` on 2.

Assets are called datasets on Airflow 2: ``Asset`` and ``AssetAlias`` here are ``airflow.sdk``'s on Airflow 3,
and ``Dataset`` and ``DatasetAlias`` (from ``airflow.datasets``) on Airflow 2.

Names are found by trying where they live. Behaviour that differs without a name to look for is
wrapped here too: :func:`push_xcom` (keyed on the Airflow version, so that no other module compares
versions), :func:`first_reschedule_date` and :func:`triggering_asset_events`.

Private Airflow symbols are reached from this module only, each behind a function that says what it is for and
what it gives where the symbol is missing: :func:`ask_supervisor_for_task_states` (the Task SDK's channel to the
supervisor and its ``GetTaskStates`` message), :func:`airflow2_first_reschedule_start` (Airflow 2's
``airflow.sensors.base._orig_start_date``) and :func:`task_sdk_xcom` (the Task SDK's ``XCom`` inside a task).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from airflow import __version__ as _airflow_version

if TYPE_CHECKING:
    from collections.abc import Awaitable, Mapping, Sequence

try:
    from airflow.providers.common.compat.sdk import (
        AirflowException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
        AirflowSkipException,
        Context,
        PokeReturnValue,
        conf,
    )
except ImportError:  # common-compat < 1.8 (MWAA's Airflow 2.10, 2.11.0 and 3.0 constraint sets)
    from airflow.configuration import conf  # type: ignore[no-redef,unused-ignore]
    from airflow.exceptions import (  # type: ignore[no-redef,attr-defined,unused-ignore]
        AirflowException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )
    from airflow.sensors.base import PokeReturnValue  # type: ignore[no-redef,unused-ignore]
    from airflow.utils.context import Context  # type: ignore[no-redef,attr-defined,unused-ignore]

try:
    from airflow.sdk.log import mask_secret
except ImportError:  # Airflow 2
    from airflow.utils.log.secrets_masker import mask_secret  # type: ignore[no-redef,unused-ignore]

try:
    from airflow.sdk import Asset, AssetAlias
except ImportError:  # Airflow 2, where assets are datasets
    from airflow.datasets import Dataset as Asset  # type: ignore[no-redef,unused-ignore]
    from airflow.datasets import DatasetAlias as AssetAlias  # type: ignore[no-redef,unused-ignore]

#: Airflow 3.0's execution API refuses an XCom whose value is ``None`` (the request then has no body, and
#: the route requires one), which fails the task that pushes it; Airflow 2 and 3.1+ store ``None``.
XCOM_ACCEPTS_NONE = not _airflow_version.startswith("3.0.")


def push_xcom(task_instance: Any, key: str, value: Any) -> None:
    """
    Push one XCom from a running task.

    Where Airflow cannot store ``None`` (3.0), a ``None`` value is not pushed: pulling the missing key
    gives ``None`` all the same.

    :param task_instance: the task instance from the context (``context["ti"]``).
    :param key: the XCom key.
    :param value: a JSON-serializable value.
    """
    if value is None and not XCOM_ACCEPTS_NONE:
        return
    task_instance.xcom_push(key=key, value=value)


def first_reschedule_date(context: Context) -> datetime | None:
    """
    When a sensor in ``reschedule`` mode first started its current try, as Airflow 3 reports it.

    Airflow 3 asks the API server (``ti.get_first_reschedule_date``), and Airflow 3.0 can hand back the
    ISO-8601 string it received instead of a datetime. Airflow 2 has no such call (``None``; its task
    instance keeps the first ``start_date`` across reschedules).

    :param context: the task's context.
    :return: the date, or ``None`` when it is not known (not rescheduled yet, or Airflow 2).
    """
    getter = getattr(context["ti"], "get_first_reschedule_date", None)
    started = getter(context) if callable(getter) else None
    if isinstance(started, str):
        started = datetime.fromisoformat(started.replace("Z", "+00:00"))
    return started if isinstance(started, datetime) else None


def triggering_asset_events(context: Mapping[str, Any]) -> Mapping[Any, Sequence[Any]]:
    """
    Return the asset events that triggered the running DAG run, by asset.

    Airflow 3 gives them as ``triggering_asset_events`` (keyed by ``Asset``), Airflow 2 as
    ``triggering_dataset_events`` (keyed by URI). Each event has ``extra``.

    :param context: the task's context (or the keyword arguments a TaskFlow function receives).
    :return: each asset (or URI) with its events; empty when the run was not triggered by assets.
    """
    for key in ("triggering_asset_events", "triggering_dataset_events"):
        if key in context:
            return cast("Mapping[Any, Sequence[Any]]", context[key])
    return {}


def ask_supervisor_for_task_states(dag_id: str, task_id: str, run_id: str, map_index: int | None) -> Awaitable[Any]:
    """
    Start the exchange that asks the triggerer's supervisor for a task instance's state (Airflow 3).

    It goes through the Task SDK's async channel of this process (``task_runner.SUPERVISOR_COMMS.asend`` with a
    ``GetTaskStates`` message), on the event loop.

    :param dag_id: the DAG's id.
    :param task_id: the task's id.
    :param run_id: the DAG run's id.
    :param map_index: the map index (``-1`` or ``None`` for a task that is not mapped).
    :return: the exchange, to await; its answer has ``task_states`` (run id -> task key -> state).
    :raises ImportError: Airflow 2 (no Task SDK).
    :raises RuntimeError: this process has no channel to a supervisor.
    """
    from airflow.sdk.execution_time import task_runner
    from airflow.sdk.execution_time.comms import GetTaskStates

    comms = getattr(task_runner, "SUPERVISOR_COMMS", None)
    if comms is None:
        raise RuntimeError("no channel to the triggerer's supervisor in this process")
    request = GetTaskStates(dag_id=dag_id, task_ids=[task_id], run_ids=[run_id], map_index=map_index)
    return cast("Awaitable[Any]", comms.asend(request))


def airflow2_first_reschedule_start(
    *, dag_id: str, task_id: str, run_id: str, map_index: int, try_number: int
) -> datetime | None:
    """
    Read when the first reschedule of a sensor's try started, from Airflow 2's ``task_reschedule`` table.

    :param dag_id: the DAG's id.
    :param task_id: the task's id.
    :param run_id: the DAG run's id.
    :param map_index: the map index.
    :param try_number: the try whose first reschedule to read.
    :return: the start, or ``None`` before the first reschedule and on Airflow 3 (which asks its API instead).
    """
    try:
        from airflow.sensors.base import _orig_start_date
    except ImportError:  # Airflow 3
        return None
    started = _orig_start_date(
        dag_id=dag_id, task_id=task_id, run_id=run_id, map_index=map_index, try_number=try_number
    )
    return started if isinstance(started, datetime) else None


def task_sdk_xcom() -> Any | None:
    """
    Return the Task SDK's ``XCom`` (Airflow 3), which reads XComs through the running task's supervisor.

    :return: the class, or ``None`` on Airflow 2.
    """
    try:
        from airflow.sdk.execution_time.xcom import XCom
    except ImportError:  # Airflow 2
        return None
    return XCom


__all__ = [
    "XCOM_ACCEPTS_NONE",
    "AirflowException",
    "AirflowNotFoundException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "Asset",
    "AssetAlias",
    "Context",
    "PokeReturnValue",
    "airflow2_first_reschedule_start",
    "ask_supervisor_for_task_states",
    "conf",
    "first_reschedule_date",
    "mask_secret",
    "push_xcom",
    "task_sdk_xcom",
    "triggering_asset_events",
]

"""Read a local deployment's SQLite metadata database, read-only, while Airflow writes to it.

The queries use only tables and columns that Airflow 2.10 to 3.x share: ``dag_run``, ``task_instance``,
``xcom``, ``trigger`` and ``job``.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path


@dataclass(frozen=True)
class TaskInstanceRow:
    """One task instance as the database has it now.

    :param task_id: the task id.
    :param map_index: the map index (``-1`` when not mapped).
    :param state: its state (``"None"`` before it is scheduled).
    :param try_number: its try number as stored.
    :param trigger_id: the trigger it waits on while deferred, else ``None``.
    """

    task_id: str
    map_index: int
    state: str
    try_number: int
    trigger_id: int | None


@dataclass(frozen=True)
class TriggerRow:
    """One row of the ``trigger`` table.

    :param id: the trigger id.
    :param classpath: the trigger's class path.
    :param triggerer_id: the id of the ``TriggererJob`` running it, or ``None`` while unassigned.
    """

    id: int
    classpath: str
    triggerer_id: int | None


@dataclass(frozen=True)
class TriggererJobRow:
    """One ``TriggererJob`` row of the ``job`` table.

    :param id: the job id (what ``trigger.triggerer_id`` holds).
    :param state: the job's state.
    :param latest_heartbeat: its last heartbeat, as stored (UTC).
    :param end_date: when it ended, or ``None`` while it runs.
    """

    id: int
    state: str | None
    latest_heartbeat: str | None
    end_date: str | None


class MetadataDatabase:
    """Read-only queries on the deployment's SQLite database.

    :param path: the database file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def query(self, sql: str, *parameters: Any) -> list[tuple[Any, ...]]:
        """Run one read-only query; return no rows while the file or table does not exist yet.

        :param sql: the statement.
        :param parameters: its positional parameters.
        """
        if not self.path.exists():
            return []
        connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=5)
        try:
            return connection.execute(sql, parameters).fetchall()
        except sqlite3.OperationalError:
            return []
        finally:
            connection.close()

    def write_lock_free(self, timeout: float = 0.2) -> bool:
        """Tell whether no process holds a lock that would block a writer (probed, nothing written).

        :param timeout: how long to wait for the lock.
        """
        connection = sqlite3.connect(str(self.path), timeout=timeout, isolation_level=None)
        try:
            connection.execute("BEGIN EXCLUSIVE")
            connection.execute("ROLLBACK")
        except sqlite3.OperationalError:
            return False
        finally:
            connection.close()
        return True

    def use_write_ahead_log(self) -> None:
        """Switch the database to WAL journaling (Airflow 3 does it itself): readers never block the writer.

        Everything is checkpointed into the database file, so a copy of that file alone is complete.
        """
        connection = sqlite3.connect(str(self.path), timeout=30)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            connection.close()

    def dag_parsed(self, dag_id: str) -> bool:
        """Tell whether the DAG has been parsed and serialized.

        :param dag_id: the DAG id.
        """
        return bool(self.query("SELECT 1 FROM serialized_dag WHERE dag_id = ?", dag_id))

    def dag_run_state(self, dag_id: str, run_id: str) -> str:
        """Return the run's state, or ``"unknown"`` while it does not exist.

        :param dag_id: the DAG id.
        :param run_id: the run id.
        """
        rows = self.query("SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", dag_id, run_id)
        return str(rows[0][0]) if rows else "unknown"

    def task_instances(self, dag_id: str, run_id: str) -> list[TaskInstanceRow]:
        """Return the run's task instances.

        :param dag_id: the DAG id.
        :param run_id: the run id.
        """
        rows = self.query(
            "SELECT task_id, map_index, state, try_number, trigger_id FROM task_instance "
            "WHERE dag_id = ? AND run_id = ? ORDER BY task_id, map_index",
            dag_id,
            run_id,
        )
        return [
            TaskInstanceRow(
                task_id=str(task_id),
                map_index=int(map_index),
                state=str(state),
                try_number=int(try_number or 0),
                trigger_id=None if trigger_id is None else int(trigger_id),
            )
            for task_id, map_index, state, try_number, trigger_id in rows
        ]

    def task_pid(self, dag_id: str, run_id: str, task_id: str) -> int | None:
        """Return the process id a running task instance reported (its task process), or ``None``.

        :param dag_id: the DAG id.
        :param run_id: the run id.
        :param task_id: the task id (not mapped).
        """
        rows = self.query(
            "SELECT pid FROM task_instance WHERE dag_id = ? AND run_id = ? AND task_id = ? AND map_index = -1",
            dag_id,
            run_id,
            task_id,
        )
        return _int_or_none(rows[0][0]) if rows else None

    def triggers(self) -> list[TriggerRow]:
        """Return every trigger row."""
        return [
            TriggerRow(id=int(trigger_id), classpath=str(classpath), triggerer_id=_int_or_none(triggerer_id))
            for trigger_id, classpath, triggerer_id in self.query(
                "SELECT id, classpath, triggerer_id FROM trigger ORDER BY id"
            )
        ]

    def triggerer_jobs(self) -> list[TriggererJobRow]:
        """Return every ``TriggererJob`` row, oldest first."""
        return [
            TriggererJobRow(
                id=int(job_id),
                state=None if state is None else str(state),
                latest_heartbeat=None if heartbeat is None else str(heartbeat),
                end_date=None if end_date is None else str(end_date),
            )
            for job_id, state, heartbeat, end_date in self.query(
                "SELECT id, state, latest_heartbeat, end_date FROM job WHERE job_type = 'TriggererJob' ORDER BY id"
            )
        ]

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1) -> Any:
        """Return an XCom value, JSON-decoded, or ``None`` when there is none.

        :param dag_id: the DAG id.
        :param run_id: the run id.
        :param task_id: the task id.
        :param key: the XCom key.
        :param map_index: the map index.
        """
        rows = self.query(
            "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND key = ? AND map_index = ?",
            dag_id,
            run_id,
            task_id,
            key,
            map_index,
        )
        if not rows or rows[0][0] is None:
            return None
        value = rows[0][0]
        return json.loads(value.decode() if isinstance(value, bytes) else value)


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)

"""DAG runs in a local deployment: trigger one, follow it to its end, read its task instances and XComs."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from optjob_harness.processes import wait_until
from optjob_harness.watch import RunWatcher

if TYPE_CHECKING:
    from collections.abc import Mapping

    from optjob_harness.metadata_db import MetadataDatabase, TaskInstanceRow
    from optjob_harness.processes import ManagedProcess
    from optjob_harness.watch import RunObservation


class RunControl:
    """DAG-run operations of :class:`~optjob_harness.deployment.LocalDeployment`."""

    database: MetadataDatabase
    startup_timeout: float
    #: The API server's base URL (Airflow 3), provided by the deployment.
    api_url: str

    def airflow(self, *arguments: str, timeout: float = 180.0) -> str:
        """Run the ``airflow`` CLI (provided by the deployment)."""
        raise NotImplementedError

    def check_alive(self, what: str = "the deployment") -> None:
        """Raise if a process exited unexpectedly (provided by the deployment)."""
        raise NotImplementedError

    def _watched(self) -> list[ManagedProcess]:
        raise NotImplementedError

    def wait_for_dag(self, dag_id: str, timeout: float | None = None) -> None:
        """Wait until the DAG has been parsed and serialized.

        :param dag_id: the DAG id.
        :param timeout: seconds (default: ``startup_timeout``).
        """
        wait_until(
            lambda: self.database.dag_parsed(dag_id),
            timeout or self.startup_timeout,
            f"{dag_id} to be parsed",
            self._watched,
        )

    def trigger_dag(self, dag_id: str, run_id: str | None = None, conf: Mapping[str, Any] | None = None) -> str:
        """Wait for the DAG to be parsed, unpause it and trigger a run (``airflow dags unpause`` + ``trigger``).

        :param dag_id: the DAG id.
        :param run_id: the run id (default: ``manual__deployment_<time>``).
        :param conf: the run's ``dag_run.conf``.
        :return: the run id.
        """
        self.wait_for_dag(dag_id)
        self.airflow("dags", "unpause", dag_id)
        run_id = run_id or f"manual__deployment_{time.time_ns()}"
        arguments = ["dags", "trigger", dag_id, "--run-id", run_id]
        if conf is not None:
            arguments += ["--conf", json.dumps(dict(conf))]
        self.airflow(*arguments)
        return run_id

    def watch_run(self, dag_id: str, run_id: str) -> RunWatcher:
        """Start following a run in the background; see :class:`RunWatcher`.

        :param dag_id: the DAG id.
        :param run_id: the run id.
        """
        return RunWatcher(self.database, dag_id, run_id).start()

    def follow_run(self, dag_id: str, run_id: str, timeout: float) -> RunObservation:
        """Follow a run to its end, recording each task instance's state history.

        :param dag_id: the DAG id.
        :param run_id: the run id.
        :param timeout: seconds before :class:`TimeoutError`.
        :raises DeploymentProcessError: a component exited meanwhile.
        """
        watcher = self.watch_run(dag_id, run_id)
        try:
            return self.wait_run_finished(watcher, timeout)
        finally:
            watcher.stop()

    def wait_run_finished(self, watcher: RunWatcher, timeout: float) -> RunObservation:
        """Wait until a watched run has ended; return the complete observation.

        :param watcher: the run's watcher.
        :param timeout: seconds before :class:`TimeoutError`.
        """
        try:
            watcher.wait_for(lambda seen: seen.finished, timeout, "the DAG run to finish", self.check_alive)
        finally:
            watcher.stop()
        return watcher.snapshot()

    def task_instances(self, dag_id: str, run_id: str) -> list[TaskInstanceRow]:
        """Return the run's task instances as they are now (task id, map index, state, try number, trigger).

        :param dag_id: the DAG id.
        :param run_id: the run id.
        """
        return self.database.task_instances(dag_id, run_id)

    def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> Any:
        """Return a task's XCom value (JSON-decoded) or ``None``.

        :param dag_id: the DAG id.
        :param run_id: the run id.
        :param task_id: the task id.
        :param key: the XCom key.
        """
        return self.database.xcom(dag_id, run_id, task_id, key)

    def api_request(self, method: str, path: str, body: Mapping[str, Any] | None = None) -> Any:
        """Call the API server's public REST API (Airflow 3, ``/api/v2``) as the UI does; return its JSON answer.

        The deployment lets every request act as an admin (``[core] simple_auth_manager_all_admins``).

        :param method: the HTTP method.
        :param path: the path below ``/api/v2``, e.g. ``/dags/my_dag/clearTaskInstances``.
        :param body: the JSON body, if any.
        """
        data = None if body is None else json.dumps(dict(body)).encode()
        request = urllib.request.Request(
            f"{self.api_url}/api/v2{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            return json.loads(response.read() or b"null")

    def clear_task(self, dag_id: str, run_id: str, task_id: str) -> None:
        """Clear one task instance of a run, whatever its state, as the UI's "Clear" does.

        :param dag_id: the DAG id.
        :param run_id: the run id.
        :param task_id: the task id.
        """
        body = {"dag_run_id": run_id, "task_ids": [task_id], "dry_run": False, "only_failed": False}
        self.api_request("POST", f"/dags/{quote(dag_id)}/clearTaskInstances", body)

    def set_task_state(self, dag_id: str, run_id: str, task_id: str, state: str) -> None:
        """Mark one task instance of a run ``success`` or ``failed``, as the UI's "Mark as" does.

        :param dag_id: the DAG id.
        :param run_id: the run id.
        :param task_id: the task id.
        :param state: ``success`` or ``failed``.
        """
        path = f"/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/taskInstances/{quote(task_id)}"
        self.api_request("PATCH", path, {"new_state": state})

    def kill_task_process(self, dag_id: str, run_id: str, task_id: str) -> int:
        """Kill a running task's process with SIGKILL, as a worker that dies (out of memory, lost host) would.

        :param dag_id: the DAG id.
        :param run_id: the run id.
        :param task_id: the task id.
        :return: the killed process id.
        :raises LookupError: the task instance has reported no process id.
        """
        pid = self.database.task_pid(dag_id, run_id, task_id)
        if pid is None:
            raise LookupError(f"{dag_id}/{run_id}/{task_id} has no process id")
        os.kill(pid, signal.SIGKILL)
        return pid

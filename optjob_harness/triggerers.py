"""The triggerers of a local deployment: start more, freeze, thaw or kill one, and see which holds which trigger."""

from __future__ import annotations

import signal
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from optjob_harness.config import airflow_command
from optjob_harness.processes import free_port, wait_until

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from optjob_harness.metadata_db import MetadataDatabase, TriggererJobRow, TriggerRow
    from optjob_harness.processes import ManagedProcess


class TriggererControl:
    """Triggerer operations of :class:`~optjob_harness.deployment.LocalDeployment`.

    Triggerers are numbered from 0 in the order they were started; :attr:`triggerer_job_ids` maps each
    number to its ``TriggererJob`` id, the value of ``trigger.triggerer_id`` for the triggers it holds.
    """

    processes: dict[str, ManagedProcess]
    database: MetadataDatabase
    triggerer_capacity: int | None
    startup_timeout: float
    triggerer_names: list[str]
    triggerer_job_ids: list[int]

    triggerer_env: dict[str, str]
    triggerer_niceness: int

    def _start(
        self, name: str, command: Sequence[str], niceness: int = 0, env: Mapping[str, str] | None = None
    ) -> ManagedProcess:
        raise NotImplementedError

    def _watched(self) -> list[ManagedProcess]:
        raise NotImplementedError

    def start_triggerer(self) -> int:
        """Start one more triggerer and wait until its ``TriggererJob`` row exists.

        :return: its number, for :meth:`freeze_triggerer` and the others.
        """
        index = len(self.triggerer_names)
        name = f"triggerer-{index}"
        known = {job.id for job in self.database.triggerer_jobs()}
        arguments = ["triggerer"]
        if self.triggerer_capacity is not None:
            arguments += ["--capacity", str(self.triggerer_capacity)]
        # Each triggerer serves its trigger logs on a port of its own, as it would on a host of its own.
        env = {"AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()), **self.triggerer_env}
        self._start(name, airflow_command(*arguments), niceness=self.triggerer_niceness, env=env)
        self.triggerer_names.append(name)
        new_jobs: list[int] = []

        def registered() -> bool:
            new_jobs[:] = [job.id for job in self.database.triggerer_jobs() if job.id not in known]
            return bool(new_jobs)

        wait_until(registered, self.startup_timeout, f"{name} to register its job", self._watched)
        self.triggerer_job_ids.append(new_jobs[0])
        return index

    def triggerer_process(self, index: int) -> ManagedProcess:
        """Return triggerer ``index``'s process.

        :param index: the triggerer's number.
        """
        return self.processes[self.triggerer_names[index]]

    def triggerer_logs(self) -> dict[str, str]:
        """Return every triggerer's process log, by process name (``triggerer-0``, ...)."""
        return {name: self.processes[name].log_text() for name in self.triggerer_names}

    def freeze_triggerer(self, index: int, attempts: int = 20) -> None:
        """Stop a triggerer's process group with SIGSTOP, at a moment it holds no database lock.

        A process frozen inside an SQLite transaction would block every writer of the deployment (a database
        server would not), so after SIGSTOP the database is probed; if it is locked, the triggerer is resumed
        for a moment and frozen again.

        :param index: the triggerer's number.
        :param attempts: how many times to try.
        :raises RuntimeError: the database stayed locked.
        """
        process = self.triggerer_process(index)
        for _ in range(attempts):
            process.signal_group(signal.SIGSTOP)
            process.frozen = True
            if self.database.write_lock_free():
                return
            self.thaw_triggerer(index)
            time.sleep(0.2)
        raise RuntimeError(f"could not freeze {process.name} outside a database transaction")

    def thaw_triggerer(self, index: int) -> None:
        """Resume a frozen triggerer's process group with SIGCONT.

        :param index: the triggerer's number.
        """
        process = self.triggerer_process(index)
        process.signal_group(signal.SIGCONT)
        process.frozen = False

    def kill_triggerer(self, index: int) -> None:
        """Kill a triggerer's process group with SIGKILL: nothing is cleaned up, as when its host dies.

        :param index: the triggerer's number.
        """
        process = self.triggerer_process(index)
        process.expected_to_exit = True
        process.signal_group(signal.SIGKILL)
        process.popen.wait(timeout=30)

    def triggers(self) -> list[TriggerRow]:
        """Return every trigger row, with the ``TriggererJob`` id holding it (``None`` while unassigned)."""
        return self.database.triggers()

    def triggerer_jobs(self) -> list[TriggererJobRow]:
        """Return every ``TriggererJob`` row (id, state, latest heartbeat, end date)."""
        return self.database.triggerer_jobs()

    def trigger_holders(self) -> dict[int, int | None]:
        """Return, for each trigger id, the number of the triggerer holding it (``None``: unassigned, or unknown)."""
        return {
            trigger.id: self.triggerer_job_ids.index(trigger.triggerer_id)
            if trigger.triggerer_id in self.triggerer_job_ids
            else None
            for trigger in self.database.triggers()
        }

    def latest_heartbeat(self, index: int) -> str | None:
        """Return the latest heartbeat triggerer ``index`` wrote to its job row (as stored, UTC).

        :param index: the triggerer's number.
        """
        job_id = self.triggerer_job_ids[index]
        return next((job.latest_heartbeat for job in self.database.triggerer_jobs() if job.id == job_id), None)

    def heartbeat_age(self, index: int) -> float | None:
        """Return how many seconds ago triggerer ``index`` last heartbeated (``None`` before its first heartbeat).

        :param index: the triggerer's number.
        """
        heartbeat = self.latest_heartbeat(index)
        if heartbeat is None:
            return None
        moment = datetime.fromisoformat(heartbeat.replace(" ", "T"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=timezone.utc)
        return (datetime.now(timezone.utc) - moment).total_seconds()

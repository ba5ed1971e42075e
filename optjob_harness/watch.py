"""Follow a DAG run in a local deployment: every task instance's state history and which triggerer held its trigger.

A background thread polls the metadata database (read-only) a few times a second, so a test can act on the
deployment (freeze or kill a triggerer, finish jobs) while nothing the run goes through is missed.
"""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    from optjob_harness.metadata_db import MetadataDatabase

FINISHED_RUN_STATES = frozenset({"success", "failed"})


@dataclass
class TaskObservation:
    """What was seen of one task instance.

    :param task_id: the task id.
    :param map_index: the map index (``-1`` when not mapped).
    :param state: the last state seen.
    :param try_number: the last try number seen.
    :param history: every state seen, in order, without consecutive repeats.
    :param triggerer_history: the triggerer job ids that held its trigger, in order, without consecutive repeats.
    """

    task_id: str
    map_index: int = -1
    state: str = "None"
    try_number: int = 0
    history: list[str] = field(default_factory=list)
    triggerer_history: list[int] = field(default_factory=list)

    @property
    def key(self) -> str:
        """``task_id``, with ``[map_index]`` for a mapped task."""
        return self.task_id if self.map_index < 0 else f"{self.task_id}[{self.map_index}]"


@dataclass
class RunObservation:
    """What was seen of one DAG run.

    :param dag_id: the DAG id.
    :param run_id: the run id.
    :param state: the run's last state seen.
    :param tasks: the task instances, by :attr:`TaskObservation.key`.
    :param trigger_classpaths: class paths of the triggers a triggerer took.
    :param seconds: seconds from the start of the watch to the last poll.
    """

    dag_id: str
    run_id: str
    state: str = "unknown"
    tasks: dict[str, TaskObservation] = field(default_factory=dict)
    trigger_classpaths: set[str] = field(default_factory=set)
    seconds: float = 0.0

    @property
    def finished(self) -> bool:
        """Tell whether the run has ended (``success`` or ``failed``)."""
        return self.state in FINISHED_RUN_STATES

    def task_states(self) -> dict[str, str]:
        """Return the last state of each task instance."""
        return {key: task.state for key, task in self.tasks.items()}


class RunWatcher:
    """Poll one DAG run in a background thread until :meth:`stop` (or the run ends and a final poll is done).

    :param database: the deployment's metadata database.
    :param dag_id: the DAG id.
    :param run_id: the run id.
    :param interval: seconds between two polls.
    """

    def __init__(self, database: MetadataDatabase, dag_id: str, run_id: str, interval: float = 0.25) -> None:
        self._database = database
        self._interval = interval
        self._observation = RunObservation(dag_id=dag_id, run_id=run_id)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._started = time.monotonic()
        self._thread = threading.Thread(target=self._loop, name=f"watch-{run_id}", daemon=True)

    def start(self) -> RunWatcher:
        """Start polling; return ``self``."""
        self._started = time.monotonic()
        self._thread.start()
        return self

    def stop(self) -> RunObservation:
        """Stop polling; return what was seen."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        return self.snapshot()

    def snapshot(self) -> RunObservation:
        """Return a copy of what has been seen so far."""
        with self._lock:
            return copy.deepcopy(self._observation)

    def wait_for(
        self,
        predicate: Callable[[RunObservation], bool],
        timeout: float,
        what: str,
        check: Callable[[str], None] | None = None,
    ) -> RunObservation:
        """Wait until ``predicate`` holds for what has been seen.

        :param predicate: tests a snapshot.
        :param timeout: seconds before :class:`TimeoutError`.
        :param what: what is awaited, for error messages.
        :param check: called with ``what`` on every poll; raises to stop waiting (e.g. a process died).
        :return: the snapshot the predicate held for.
        """
        deadline = time.monotonic() + timeout
        while True:
            if check is not None:
                check(what)
            observation = self.snapshot()
            if predicate(observation):
                return observation
            if time.monotonic() >= deadline:
                states = ", ".join(f"{key}={state}" for key, state in sorted(observation.task_states().items()))
                raise TimeoutError(
                    f"timed out after {timeout:.0f} s waiting for {what} (run {observation.state}; {states})"
                )
            time.sleep(self._interval)

    def poll(self) -> None:
        """Read the run, its task instances and the triggers once, and record what changed."""
        database = self._database
        dag_id, run_id = self._observation.dag_id, self._observation.run_id
        run_state = database.dag_run_state(dag_id, run_id)
        task_instances = database.task_instances(dag_id, run_id)
        triggers = {trigger.id: trigger for trigger in database.triggers()}
        with self._lock:
            observation = self._observation
            observation.state = run_state
            observation.seconds = time.monotonic() - self._started
            for row in task_instances:
                key = row.task_id if row.map_index < 0 else f"{row.task_id}[{row.map_index}]"
                task = observation.tasks.setdefault(key, TaskObservation(task_id=row.task_id, map_index=row.map_index))
                task.state, task.try_number = row.state, row.try_number
                if not task.history or task.history[-1] != row.state:
                    task.history.append(row.state)
                trigger = triggers.get(row.trigger_id) if row.trigger_id is not None else None
                if trigger is not None and trigger.triggerer_id is not None:
                    observation.trigger_classpaths.add(trigger.classpath)
                    if not task.triggerer_history or task.triggerer_history[-1] != trigger.triggerer_id:
                        task.triggerer_history.append(trigger.triggerer_id)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.poll()
            if self._observation.finished:
                return
            self._stop.wait(self._interval)

"""Helpers for fault tests: run a DAG and keep its task logs, and act on a job while something waits on it."""

from __future__ import annotations

import logging
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from tests.airflow_runs import load_dag, run_dag

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import pytest

    from airflow_provider_optjob.testing.control import EmulatorControl

#: Operations of the optimization-job API (what "no SageMaker call" means in assertions).
OPTIMIZATION_JOB_OPERATIONS = (
    "CreateOptimizationJob",
    "DescribeOptimizationJob",
    "ListOptimizationJobs",
    "StopOptimizationJob",
    "DeleteOptimizationJob",
)


def run_dag_with_logs(capfd: pytest.CaptureFixture[str], dag_file: str, dag_id: str) -> tuple[Any, str]:
    """
    Run a test DAG with ``dag.test()`` and return the run with everything its tasks logged.

    ``dag.test()`` runs tasks in this process. Airflow 3.1 and later write their (already redacted) task logs
    to standard output, so the captured output is what the task log files would hold; Airflow 3.0 and 2 send
    them through Python's logging, so the records logged during the run are added too.
    """
    records: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: records.append(logging.Formatter().format(record))  # type: ignore[method-assign]
    root = logging.getLogger()
    capfd.readouterr()
    root.addHandler(handler)
    try:
        dag_run = run_dag(load_dag(dag_file, dag_id))
    finally:
        root.removeHandler(handler)
    out, err = capfd.readouterr()
    return dag_run, "\n".join([out + err, *records])


def error_lines(logs: str, limit: int = 6) -> str:
    """The last distinct log lines that mention an error, to explain a failed assertion about a run."""
    lines = [line.strip() for line in logs.splitlines() if "Error" in line or "Exception" in line]
    return "\n".join(list(dict.fromkeys(lines))[-limit:])


def describe_calls(control: EmulatorControl) -> int:
    return control.call_counts().get("DescribeOptimizationJob", 0)


def optimization_job_calls(control: EmulatorControl) -> dict[str, int]:
    """The calls of the optimization-job API the emulator received, by operation (zero counts left out)."""
    counts = control.call_counts()
    return {operation: counts[operation] for operation in OPTIMIZATION_JOB_OPERATIONS if counts.get(operation)}


class Waiter:
    """What a background action sees of the task waiting on a job: how often it has described it."""

    def __init__(self, control: EmulatorControl, within: float) -> None:
        self.control = control
        self.deadline = time.monotonic() + within

    def wait_for_describes(self, count: int) -> int:
        """Block until the emulator has answered ``count`` Describe calls in all; return the number seen."""
        while (seen := describe_calls(self.control)) < count:
            if time.monotonic() > self.deadline:
                raise TimeoutError(f"the waiter made only {seen} Describe calls, expected {count}")
            time.sleep(0.02)
        return seen


@contextmanager
def meanwhile(control: EmulatorControl, action: Callable[[Waiter], None], within: float = 60) -> Iterator[None]:
    """
    Run ``action`` in a background thread while the body runs (a DAG run, say); re-raise what it raised.

    The action paces itself on the waiter's Describe calls (``Waiter.wait_for_describes``), so it acts
    while the job is really being waited on, whatever the start-up time of the run.
    """
    errors: list[BaseException] = []

    def target() -> None:
        try:
            action(Waiter(control, within))
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=target, name="fault-action", daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join(timeout=within)
    if thread.is_alive():
        raise TimeoutError("the background action did not finish")
    if errors:
        raise errors[0]

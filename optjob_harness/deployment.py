"""A local Airflow deployment, run the way production runs it, against the SageMaker emulator.

:class:`LocalDeployment` starts, in a temporary ``AIRFLOW_HOME`` with SQLite: the emulator (unless given a
URL), ``airflow db migrate``, the ``aws`` connections in three real stores (see
:mod:`~optjob_harness.config`), the scheduler, one or more triggerers and, on
Airflow 3, the DAG processor and the API server. Each process runs in its own process group and is stopped
(SIGTERM, then SIGKILL) on exit. Tasks are executed by ``LocalExecutor`` on Airflow 3 and by
``SequentialExecutor`` on Airflow 2, which refuses ``LocalExecutor`` on SQLite; ``executor="LocalExecutor"``
runs tasks in parallel on Airflow 2 too (it skips that check, as Airflow's own tests do, and the database is
switched to WAL journaling so readers never block the writer).

>>> with LocalDeployment(Path("dags")) as deployment:  # doctest: +SKIP
...     run_id = deployment.trigger_dag("my_dag", conf={"tag": "t1"})
...     observation = deployment.follow_run("my_dag", run_id, timeout=300)
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from airflow_provider_optjob.testing.airflow_env import airflow_major_version
from airflow_provider_optjob.testing.control import EmulatorControl
from optjob_harness.config import (
    CONNECTION_STORES,
    METADB,
    SECRETS_BACKEND,
    ConnectionStore,
    airflow_command,
    airflow_environment,
    airflow_version,
    byte_compile_environment,
    connections_add_arguments,
    emulator_command,
    inherited_environment,
    write_connections_file,
)
from optjob_harness.metadata_db import MetadataDatabase
from optjob_harness.processes import (
    ManagedProcess,
    check_alive,
    free_port,
    start_process,
    stop_processes,
    wait_until,
)
from optjob_harness.runs import RunControl
from optjob_harness.triggerers import TriggererControl
from optjob_harness.watch import RunObservation, RunWatcher

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from types import TracebackType

__all__ = ["CONNECTION_STORES", "ConnectionStore", "LocalDeployment", "RunObservation", "RunWatcher"]


class LocalDeployment(RunControl, TriggererControl):
    """A scheduler, triggerers and (Airflow 3) DAG processor and API server, with the emulator; a context manager.

    :param dags_folder: the DAG folder the deployment parses.
    :param triggerers: how many triggerers to start (each waits until its ``TriggererJob`` row exists).
    :param emulator_url: use a running emulator instead of starting one.
    :param emulator_options: ``starting_seconds``, ``inprogress_seconds``, ``stopping_seconds`` of a started
        emulator.
    :param env: extra environment variables for every Airflow process (``AIRFLOW__SECTION__KEY`` included),
        applied last.
    :param triggerer_env: extra environment variables for the triggerers only (e.g. ``PYTHONASYNCIODEBUG=1``,
        which names the coroutine behind a blocked event loop).
    :param parallelism: ``[core] parallelism``.
    :param triggerer_capacity: ``--capacity`` of each triggerer (default: Airflow's).
    :param executor: the executor (default: ``LocalExecutor`` on Airflow 3, ``SequentialExecutor`` on 2).
    :param component_niceness: CPU priority below normal (``nice``) for every component but the triggerers and
        the emulator, and for the task processes they start: on a small machine the triggerer then gets a core
        first when it needs one, as on a host of its own. ``0`` runs everything at the same priority.
    :param triggerer_niceness: CPU priority of the triggerers (negative: above normal; needs the privilege).
    :param migrated_database_cache: a directory holding a freshly migrated database per Airflow version:
        copied instead of running ``airflow db migrate`` when present, written after migrating when not.
    :param byte_compile: byte-compile the environment first, as an installed deployment is (see
        :func:`~optjob_harness.config.byte_compile_environment`).
    :param home: the ``AIRFLOW_HOME`` to use (default: a new temporary directory).
    :param keep_home: keep the home (database, logs) on exit; can be set later, e.g. when a run failed.
    :param startup_timeout: seconds for each startup step.
    """

    def __init__(
        self,
        dags_folder: Path,
        *,
        triggerers: int = 1,
        emulator_url: str | None = None,
        emulator_options: Mapping[str, float] | None = None,
        env: Mapping[str, str] | None = None,
        triggerer_env: Mapping[str, str] | None = None,
        parallelism: int = 4,
        triggerer_capacity: int | None = None,
        executor: str | None = None,
        component_niceness: int = 10,
        triggerer_niceness: int = 0,
        migrated_database_cache: Path | None = None,
        byte_compile: bool = True,
        home: Path | None = None,
        keep_home: bool = False,
        startup_timeout: float = 180.0,
    ) -> None:
        self.dags_folder = dags_folder.resolve()
        self.initial_triggerers = triggerers
        self.emulator_options = dict(emulator_options or {})
        self.extra_env = dict(env or {})
        self.triggerer_env = dict(triggerer_env or {})
        self.parallelism = parallelism
        self.triggerer_capacity = triggerer_capacity
        self.executor = executor or ("LocalExecutor" if airflow_major_version() >= 3 else "SequentialExecutor")
        self.component_niceness = component_niceness
        self.triggerer_niceness = triggerer_niceness
        self.migrated_database_cache = migrated_database_cache
        self.byte_compile = byte_compile
        self.keep_home = keep_home
        self.startup_timeout = startup_timeout
        self.home = home or Path(tempfile.mkdtemp(prefix="optjob-deployment-"))
        self.logs = self.home / "process-logs"
        self.database = MetadataDatabase(self.home / "airflow.db")
        self.connection_stores: tuple[ConnectionStore, ...] = CONNECTION_STORES
        self.airflow_version = airflow_version()
        self.processes: dict[str, ManagedProcess] = {}
        self.triggerer_names: list[str] = []
        self.triggerer_job_ids: list[int] = []
        self.env: dict[str, str] = {}
        #: Seconds each startup step took.
        self.timings: dict[str, float] = {}
        self._emulator_url = emulator_url
        self._api_port = free_port()

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def __enter__(self) -> LocalDeployment:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def api_url(self) -> str:  # type: ignore[override]
        """The API server's base URL (Airflow 3)."""
        return f"http://127.0.0.1:{self._api_port}"

    @property
    def emulator_url(self) -> str:
        """The emulator's base URL (known once :meth:`start` has started it)."""
        if self._emulator_url is None:
            raise RuntimeError("the emulator has not been started yet")
        return self._emulator_url

    @property
    def emulator(self) -> EmulatorControl:
        """A client for the emulator's control API (faults, call counts, job states)."""
        return EmulatorControl(self.emulator_url)

    @property
    def components(self) -> list[str]:
        """The Airflow components besides triggerers: the scheduler, and on Airflow 3 the DAG processor and API."""
        return ["scheduler", "dag-processor", "api-server"] if airflow_major_version() >= 3 else ["scheduler"]

    def start(self) -> None:
        """Start the emulator, prepare the database and connections, then start every Airflow component.

        Independent steps overlap: the emulator starts while the environment is byte-compiled and the database
        migrated, and the metadata-DB connection is added while the components start. :attr:`timings` tells how
        long each step took.
        """
        started = time.monotonic()
        self.logs.mkdir(parents=True, exist_ok=True)
        emulator_ready = self._start_emulator() if self._emulator_url is None else (lambda: True)
        if self.byte_compile:
            byte_compile_environment()
        self._timed("byte-compile", started)
        connections_file = self.home / "connections.json"
        write_connections_file(connections_file, SECRETS_BACKEND, self.emulator_url)
        self.env = airflow_environment(
            self.home,
            self.dags_folder,
            self.emulator_url,
            self._api_port,
            free_port(),
            stores=self.connection_stores,
            connections_file=connections_file,
            executor=self.executor,
            parallelism=self.parallelism,
            overrides=self.extra_env,
        )
        self._migrate_database()
        self._timed("db migrate", started)
        # While the components start: add the metadata-DB connection, and read the file-backed one through
        # Airflow's own lookup (which loads the configured secrets backend), proving the backend imports and serves.
        commands = {
            "add": connections_add_arguments(METADB, self.emulator_url),
            "get": ["connections", "get", SECRETS_BACKEND.conn_id, "--output", "json"],
        }
        clis = {
            name: subprocess.Popen(
                airflow_command(*arguments), env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
            )
            for name, arguments in commands.items()
        }
        outputs: dict[str, str] = {}
        try:
            for component in self.components:
                arguments = (
                    [component, "--host", "127.0.0.1", "--port", str(self._api_port)]
                    if component == "api-server"
                    else [component]
                )
                self._start(component, airflow_command(*arguments), niceness=self.component_niceness)
            for _ in range(self.initial_triggerers):
                self.start_triggerer()
            for name, cli in clis.items():
                outputs[name] = cli.communicate(timeout=self.startup_timeout)[0]
        finally:
            for cli in clis.values():
                if cli.poll() is None:
                    cli.kill()
                    cli.wait()
        for name, cli in clis.items():
            if cli.returncode != 0 or (name == "get" and SECRETS_BACKEND.conn_id not in outputs[name]):
                raise RuntimeError(f"airflow {' '.join(commands[name])} failed:\n{outputs.get(name)}")
        self._check_connection_stores()
        wait_until(emulator_ready, 60, "the emulator to start", self._watched)
        if "api-server" in self.components:
            # Tasks reach Airflow 3 through the API server: a run triggered before it answers fails its first tasks.
            wait_until(self._api_server_answers, self.startup_timeout, "the API server to answer", self._watched)
        self._timed("components and connections", started)

    def stop(self) -> None:
        """Stop every process started (process groups: SIGTERM, then SIGKILL); remove the home unless kept."""
        stop_processes(self.processes.values())
        if not self.keep_home:
            shutil.rmtree(self.home, ignore_errors=True)

    # -- the Airflow CLI ---------------------------------------------------------------------------------------

    def airflow(self, *arguments: str, timeout: float = 180.0) -> str:
        """Run the ``airflow`` CLI in the deployment's environment; return its stdout.

        :param arguments: the CLI arguments.
        :param timeout: seconds before the command is killed.
        :raises RuntimeError: the command failed.
        """
        completed = subprocess.run(
            airflow_command(*arguments), env=self.env, capture_output=True, text=True, check=False, timeout=timeout
        )
        if completed.returncode != 0:
            raise RuntimeError(f"airflow {' '.join(arguments)} failed:\n{completed.stdout}\n{completed.stderr}")
        return completed.stdout

    # -- processes and their logs ------------------------------------------------------------------------------

    def check_alive(self, what: str = "the deployment") -> None:
        """Raise :class:`DeploymentProcessError` if a process exited that was not stopped or killed on purpose.

        :param what: what the caller is doing, for the error message.
        """
        check_alive(self.processes.values(), what)

    def process_log(self, name: str) -> str:
        """Return a process's whole log (``emulator``, ``scheduler``, ``triggerer-0``, ...).

        :param name: the process's name.
        """
        return self.processes[name].log_text()

    def task_log_files(self) -> list[Path]:
        """Return the task and trigger log files Airflow wrote under ``AIRFLOW_HOME/logs``."""
        return sorted(path for path in (self.home / "logs").rglob("*") if path.is_file())

    # -- internals ---------------------------------------------------------------------------------------------

    def _watched(self) -> list[ManagedProcess]:
        return list(self.processes.values())

    def _start(
        self, name: str, command: Sequence[str], niceness: int = 0, env: Mapping[str, str] | None = None
    ) -> ManagedProcess:
        process = start_process(name, command, {**self.env, **(env or {})}, self.logs, niceness=niceness)
        self.processes[name] = process
        return process

    def _migrate_database(self) -> None:
        cached = None
        if self.migrated_database_cache is not None:
            cached = self.migrated_database_cache / f"airflow-{self.airflow_version}.db"
            if cached.exists():
                shutil.copyfile(cached, self.database.path)
                return
        self.airflow("db", "migrate")
        self.database.use_write_ahead_log()
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.database.path, cached)

    def _check_connection_stores(self) -> None:
        """Each connection id must live in its own store only: the metadata DB holds just the metadb one."""
        in_database = {str(row[0]) for row in self.database.query("SELECT conn_id FROM connection")}
        misplaced = {store.conn_id for store in self.connection_stores if store != METADB} & in_database
        if METADB.conn_id not in in_database or misplaced:
            raise RuntimeError(f"unexpected connections in the metadata DB: {sorted(in_database)}")

    def _api_server_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api_url}/api/v2/monitor/health", timeout=5) as response:
                return bool(response.status == 200)
        except OSError:  # not listening yet, or not ready (URLError and HTTPError are OSErrors)
            return False

    def _start_emulator(self) -> Callable[[], bool]:
        port = free_port()
        command = emulator_command(port, self.emulator_options)
        process = start_process("emulator", command, inherited_environment(), self.logs)
        self.processes["emulator"] = process
        self._emulator_url = f"http://127.0.0.1:{port}"
        return lambda: "listening on" in process.log_text()

    def _timed(self, step: str, started: float) -> None:
        self.timings[step] = round(time.monotonic() - started - sum(self.timings.values()), 1)

"""Configuration of a local deployment: its environment, and the ``aws`` connections in three real stores.

Every connection points at the emulator. Each store has its own connection id, so a task that succeeds with
a store's id proves that this store was read, by the worker and by the triggerer alike: no store holds
another's ids, and the deployment sets no ``AWS_ENDPOINT_URL`` that a missing connection could fall back on.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import sysconfig
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet

from airflow_provider_optjob.testing.airflow_env import airflow_major_version

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

#: ``[secrets] backend`` for the secrets-backend store: Airflow's own local-file backend.
LOCAL_FILESYSTEM_BACKEND = "airflow.secrets.local_filesystem.LocalFilesystemBackend"
REGION = "us-east-1"
#: Variables of the parent process that never reach the deployment (its own config, connections, AWS setup).
_INHERITED_PREFIXES_DROPPED = ("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_", "_AIRFLOW", "AWS_")
_INHERITED_KEPT = frozenset({"AWS_CA_BUNDLE"})


@dataclass(frozen=True)
class ConnectionStore:
    """Where a deployment keeps one ``aws`` connection.

    :param name: the store's short name (``metadb``, ``secrets_backend``, ``env_var``).
    :param conn_id: the connection id, found in this store only.
    :param description: how the connection is stored, for reports.
    """

    name: str
    conn_id: str
    description: str


METADB = ConnectionStore("metadb", "optjob_metadb", "metadata DB (airflow connections add)")
SECRETS_BACKEND = ConnectionStore(
    "secrets_backend", "optjob_secrets_file", "secrets backend (LocalFilesystemBackend, JSON file)"
)
#: The folder that holds the ``optjob_harness`` package.
HARNESS_ROOT = Path(__file__).resolve().parent.parent

ENV_VAR = ConnectionStore("env_var", "optjob_env_var", "environment variable (AIRFLOW_CONN_OPTJOB_ENV_VAR)")
#: The three stores every local deployment fills, in this order.
CONNECTION_STORES: tuple[ConnectionStore, ...] = (METADB, SECRETS_BACKEND, ENV_VAR)


def airflow_version() -> str:
    """Return the installed ``apache-airflow`` version."""
    return version("apache-airflow")


def aws_connection(store: ConnectionStore, emulator_url: str) -> dict[str, Any]:
    """Return the connection as Airflow's JSON connection format (``conn_type``, ``login``, ``extra``, ...).

    :param store: the store it is meant for (its name becomes the access key id, for telling them apart).
    :param emulator_url: the emulator's base URL.
    """
    return {
        "conn_type": "aws",
        "login": f"AKIA{store.name.upper().replace('_', '')}",
        "password": f"{store.name}-secret-access-key",
        "extra": json.dumps({"endpoint_url": emulator_url, "region_name": REGION}),
    }


def connections_add_arguments(store: ConnectionStore, emulator_url: str) -> list[str]:
    """Return the arguments of ``airflow connections add`` that store the connection in the metadata DB.

    :param store: the store (its ``conn_id``).
    :param emulator_url: the emulator's base URL.
    """
    connection = aws_connection(store, emulator_url)
    return [
        "connections",
        "add",
        store.conn_id,
        "--conn-type",
        connection["conn_type"],
        "--conn-login",
        connection["login"],
        "--conn-password",
        connection["password"],
        "--conn-extra",
        connection["extra"],
    ]


def write_connections_file(path: Path, store: ConnectionStore, emulator_url: str) -> None:
    """Write the JSON connections file read by ``LocalFilesystemBackend``.

    :param path: the file to write.
    :param store: the store (its ``conn_id``).
    :param emulator_url: the emulator's base URL.
    """
    path.write_text(json.dumps({store.conn_id: aws_connection(store, emulator_url)}, indent=2))


def inherited_environment() -> dict[str, str]:
    """Return this process's environment without Airflow settings, connections or AWS credentials."""
    return {
        key: value
        for key, value in os.environ.items()
        if key in _INHERITED_KEPT or not key.startswith(_INHERITED_PREFIXES_DROPPED)
    }


def airflow_environment(
    home: Path,
    dags_folder: Path,
    emulator_url: str,
    api_port: int,
    log_port: int,
    *,
    stores: Sequence[ConnectionStore],
    connections_file: Path,
    executor: str,
    parallelism: int,
    overrides: Mapping[str, str],
) -> dict[str, str]:
    """Build the complete environment of every Airflow process of a deployment.

    :param home: the deployment's ``AIRFLOW_HOME`` (the SQLite database lives there too).
    :param dags_folder: the DAG folder.
    :param emulator_url: the emulator's base URL.
    :param api_port: the API server's port (Airflow 3).
    :param log_port: the port task logs are served on (``[logging] worker_log_server_port``).
    :param stores: the connection stores; the env-var one sets ``AIRFLOW_CONN_<ID>``.
    :param connections_file: the secrets backend's JSON file.
    :param executor: ``LocalExecutor`` (also on Airflow 2, which then skips its SQLite check) or
        ``SequentialExecutor``.
    :param parallelism: ``[core] parallelism``.
    :param overrides: further variables (``AIRFLOW__SECTION__KEY`` or any other), applied last.
    """
    env = inherited_environment()
    # Airflow 2's executors run ``airflow tasks run``: this interpreter's environment comes first on PATH, as when
    # it is activated.
    path = [str(Path(sys.executable).parent), *filter(None, env.get("PATH", "").split(os.pathsep))]
    # DAG files of the tests import this harness, which no wheel ships: its folder goes on every process's path.
    python_path = [str(HARNESS_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env.update(
        {
            "PATH": os.pathsep.join(path),
            "PYTHONPATH": os.pathsep.join(python_path),
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags_folder),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CORE__PARALLELISM": str(parallelism),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(log_port),
            "AIRFLOW__API__WORKERS": "1",
            # One key for every process: left to Airflow, each process that starts before airflow.cfg exists
            # writes one with a random key of its own, and the metadata DB's connections are then encrypted with a
            # key that the API server or the triggerer may not have.
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
            "AIRFLOW__WEBSERVER__SECRET_KEY": secrets.token_hex(32),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW__SECRETS__BACKEND": LOCAL_FILESYSTEM_BACKEND,
            "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps({"connections_file_path": str(connections_file)}),
            # Role assumption stays local; SageMaker itself is reached only through each connection's endpoint_url.
            "AWS_ENDPOINT_URL_STS": emulator_url,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "NO_COLOR": "1",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if executor == "LocalExecutor" and airflow_major_version() < 3:
        # Airflow 2 refuses LocalExecutor on SQLite unless told, as its own tests do, to skip that check.
        env["_AIRFLOW__SKIP_DATABASE_EXECUTOR_COMPATIBILITY_CHECK"] = "1"
    for store in stores:
        if store.name == ENV_VAR.name:
            env[f"AIRFLOW_CONN_{store.conn_id.upper()}"] = json.dumps(aws_connection(store, emulator_url))
    env.update(overrides)
    return env


def airflow_command(*arguments: str) -> list[str]:
    """Return the command line running the ``airflow`` CLI of this interpreter's environment.

    :param arguments: the CLI arguments.
    """
    return [sys.executable, "-m", "airflow", *arguments]


def emulator_command(port: int, options: Mapping[str, float]) -> list[str]:
    """Return the command line running the emulator on ``port``.

    :param port: the port to listen on.
    :param options: ``starting_seconds``, ``inprogress_seconds``, ``stopping_seconds`` (any subset).
    """
    command = [sys.executable, "-m", "airflow_provider_optjob.testing", "--port", str(port)]
    for key, value in options.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    return command


def byte_compile_environment() -> None:
    """Byte-compile this interpreter's installed packages and the provider, as ``pip install`` does.

    Environments built with ``uv`` (which does not compile by default) under ``PYTHONDONTWRITEBYTECODE`` have no
    ``.pyc`` files, so every Airflow process compiles each module it imports. Compiling holds the GIL: a thread of
    the triggerer that imports a module would stall the event loop, and the loop watchdog would report a blocked
    loop that an installed deployment does not have. The installed packages are compiled once per environment (a
    marker file in ``sys.prefix`` remembers it), the provider's own modules every time (cheap when up to date).
    """
    import airflow_provider_optjob

    targets = [str(Path(airflow_provider_optjob.__file__).parent)]
    marker = Path(sys.prefix) / f".optjob-bytecode-compiled-airflow-{airflow_version()}"
    if not marker.exists():
        targets += sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", *targets],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    if not marker.exists():
        marker.touch()

"""An isolated Airflow for tests: a throwaway ``AIRFLOW_HOME``, a SQLite metadata database and your DAG folders.

``dag.test()`` needs a migrated metadata database, and on Airflow 3 it runs only DAGs that a DAG bundle holds.
:func:`configure_airflow_environment` sets the environment variables for both, and must run before Airflow is
imported (Airflow reads ``AIRFLOW_HOME`` and the database URL once, at import); :func:`migrate_database` then
creates the database with ``airflow db migrate``. The pytest plugin
(:mod:`airflow_provider_optjob.testing.pytest_plugin`) calls both for you.

Nothing here imports Airflow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence

_MIGRATED_MARKER = ".optjob-db-migrated"
_LOCAL_BUNDLE = "airflow.dag_processing.bundles.local.LocalDagBundle"
_configured_home: Path | None = None


class DatabaseMigrationError(RuntimeError):
    """``airflow db migrate`` failed."""


class AirflowAlreadyImportedError(RuntimeError):
    """Airflow was imported before the test environment was configured, so it would ignore it."""


def airflow_major_version() -> int:
    """Return the installed Airflow's major version (2 or 3), read from package metadata without importing it."""
    return airflow_minor_version()[0]


def airflow_minor_version() -> tuple[int, int]:
    """Return the installed Airflow's (major, minor) version, read from package metadata without importing it."""
    major, minor = version("apache-airflow").split(".")[:2]
    return int(major), int(minor)


def configured_home() -> Path | None:
    """Return the ``AIRFLOW_HOME`` that :func:`configure_airflow_environment` set in this process, if any."""
    return _configured_home


def bundle_config(dags_folders: Sequence[Path]) -> list[dict[str, object]]:
    """
    Build Airflow 3's ``[dag_processor] dag_bundle_config_list``: one local bundle per DAG folder.

    :param dags_folders: the folders holding DAG files; the first is named ``dags``, the others ``dags-<n>``.
    """
    return [
        {
            "name": "dags" if index == 0 else f"dags-{index}",
            "classpath": _LOCAL_BUNDLE,
            "kwargs": {"path": str(folder), "refresh_interval": 0},
        }
        for index, folder in enumerate(dags_folders)
    ]


def configure_airflow_environment(
    home: Path, dags_folders: Sequence[Path], *, keep_existing: bool = False
) -> dict[str, str]:
    """
    Point this process (and the processes it starts) at an isolated Airflow in ``home``.

    Sets ``AIRFLOW_HOME``, a SQLite database in it, the DAGs folder (the first of ``dags_folders``), no example
    DAGs, unit-test mode, and on Airflow 3 one local DAG bundle per folder (``dag.test()`` runs only DAGs that
    a bundle holds); on Airflow 2 the ``SequentialExecutor`` (the unit-test configuration's ``LocalExecutor``
    refuses SQLite; ``dag.test()`` needs no executor).

    :param home: the directory to use as ``AIRFLOW_HOME`` (created if missing).
    :param dags_folders: the folders holding the DAG files under test; at least one.
    :param keep_existing: keep a variable that is already set (except ``AIRFLOW_HOME``) instead of replacing it.
    :return: the variables that were set.
    :raises AirflowAlreadyImportedError: Airflow is already imported, so it would not see the new settings.
    :raises ValueError: no DAG folder was given.
    """
    global _configured_home
    if "airflow" in sys.modules and _configured_home is None:
        raise AirflowAlreadyImportedError(
            "Airflow was imported before the test environment was configured, so it keeps its own AIRFLOW_HOME "
            "and database. Load the optjob pytest plugin first: put "
            'pytest_plugins = ["airflow_provider_optjob.testing.pytest_plugin"] at the top of your root '
            "conftest.py, before anything that imports Airflow (or set optjob_airflow_env = off)."
        )
    if not dags_folders:
        raise ValueError("configure_airflow_environment needs at least one DAG folder")
    home.mkdir(parents=True, exist_ok=True)
    folders = [Path(folder).resolve() for folder in dags_folders]
    settings = {
        "AIRFLOW__CORE__DAGS_FOLDER": str(folders[0]),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }
    if airflow_major_version() >= 3:
        settings["AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST"] = json.dumps(bundle_config(folders))
    else:
        settings["AIRFLOW__CORE__EXECUTOR"] = "SequentialExecutor"
    applied = {"AIRFLOW_HOME": str(home)}
    os.environ["AIRFLOW_HOME"] = str(home)
    for name, value in settings.items():
        if keep_existing and name in os.environ:
            continue
        os.environ[name] = value
        applied[name] = value
    _configured_home = home
    return applied


def migrate_database(home: Path) -> None:
    """
    Create or upgrade the metadata database with ``airflow db migrate``, once per ``home``.

    Runs the command in a subprocess of this interpreter, with this process's environment.

    :param home: the ``AIRFLOW_HOME`` given to :func:`configure_airflow_environment`.
    :raises DatabaseMigrationError: the migration failed; the message ends with its output.
    """
    marker = home / _MIGRATED_MARKER
    if marker.exists():
        return
    run = subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        check=False,
    )
    if run.returncode != 0:
        output = (run.stdout + run.stderr)[-4000:]
        raise DatabaseMigrationError(f"airflow db migrate failed (exit {run.returncode}) in {home}:\n{output}")
    marker.touch()

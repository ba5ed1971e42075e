"""pytest plugin: an isolated Airflow and the SageMaker emulator, for tests of your own DAGs.

Enable it in your root ``conftest.py``, before anything imports Airflow::

    pytest_plugins = ["airflow_provider_optjob.testing.pytest_plugin"]

At start-up it points Airflow at a throwaway ``AIRFLOW_HOME`` with a SQLite database, and at your DAG folder
(``dags/`` under pytest's root directory by default; ini option ``optjob_dags_folders`` or
``--optjob-dags-folder`` to change it), with an Airflow 3 DAG bundle for it. ``optjob_airflow_env = off`` in the
ini file leaves Airflow's configuration alone. Fixtures:

* ``optjob_airflow`` (session): runs ``airflow db migrate`` once; returns the ``AIRFLOW_HOME``.
* ``sagemaker_emulator`` (session): a running :class:`~airflow_provider_optjob.testing.emulator.SageMakerEmulator`.
  Override ``sagemaker_emulator_options`` (session scope) to pass constructor arguments.
* ``optjob_aws_conn`` (function): resets the emulator, points the Airflow ``aws_default`` connection and the AWS
  environment at it, and returns ``"aws_default"``.
* ``optjob_dag_test`` (function): all of the above; returns a function that runs a DAG with ``dag.test()``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_optjob.testing import airflow_env
from airflow_provider_optjob.testing.dag_runs import run_dag

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_optjob.testing.emulator import SageMakerEmulator

OPTJOB_CONN_ID = "aws_default"
_CLEARED_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SAGEMAKER",
)
_TEMPORARY_HOME = pytest.StashKey[Path]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the plugin's ini and command-line options.

    :param parser: pytest's option parser.
    """
    parser.addini(
        "optjob_airflow_env",
        "on (default): run Airflow in a throwaway AIRFLOW_HOME with your DAG folders; off: leave it alone",
        default="on",
    )
    parser.addini(
        "optjob_dags_folders",
        "folders with the DAG files under test, relative to pytest's root directory (default: dags)",
        type="linelist",
        default=[],
    )
    parser.getgroup("optjob").addoption(
        "--optjob-dags-folder",
        action="append",
        default=[],
        help="a folder with DAG files under test (repeatable); overrides the ini option optjob_dags_folders",
    )


def _dags_folders(config: pytest.Config) -> list[Path]:
    """Return the configured DAG folders, resolved against pytest's root directory."""
    names: list[str] = config.getoption("--optjob-dags-folder") or config.getini("optjob_dags_folders")
    if not names:
        default = config.rootpath / "dags"
        return [default if default.is_dir() else config.rootpath]
    return [(config.rootpath / name).resolve() for name in names]


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    """Point Airflow at a throwaway home and the DAG folders, before any test module imports Airflow.

    :param config: the pytest configuration.
    """
    if str(config.getini("optjob_airflow_env")).strip().lower() in {"off", "false", "0", "no"}:
        return
    if airflow_env.configured_home() is not None:
        return  # a conftest configured it already
    requested = os.environ.get("OPTJOB_TEST_AIRFLOW_HOME")
    if requested:
        home = Path(requested)
    else:
        home = Path(tempfile.mkdtemp(prefix="optjob-airflow-"))
        config.stash[_TEMPORARY_HOME] = home
    airflow_env.configure_airflow_environment(home, _dags_folders(config))


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the throwaway ``AIRFLOW_HOME`` that :func:`pytest_configure` made.

    :param config: the pytest configuration.
    """
    home = config.stash.get(_TEMPORARY_HOME, None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def optjob_airflow() -> Path:
    """Create Airflow's metadata database once per session (``airflow db migrate``); return ``AIRFLOW_HOME``."""
    home = airflow_env.configured_home() or Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser()
    try:
        airflow_env.migrate_database(home)
    except airflow_env.DatabaseMigrationError as error:
        pytest.fail(str(error), pytrace=False)
    return home


@pytest.fixture(scope="session")
def sagemaker_emulator_options() -> dict[str, Any]:
    """Keyword arguments for the session's ``SageMakerEmulator``: override to change job timings.

    The default, ``{}``, keeps a new job 1 s in ``STARTING`` and 4 s in ``INPROGRESS``: still running at the first
    status check of a sensor that starts right after the job is created, so a deferrable wait defers.
    """
    return {}


@pytest.fixture(scope="session")
def sagemaker_emulator(sagemaker_emulator_options: dict[str, Any]) -> Iterator[SageMakerEmulator]:
    """Serve a SageMaker emulator on a free loopback port for the whole test session.

    :param sagemaker_emulator_options: the emulator's constructor arguments.
    """
    from airflow_provider_optjob.testing.emulator import SageMakerEmulator

    emulator = SageMakerEmulator(**sagemaker_emulator_options)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def optjob_aws_conn(sagemaker_emulator: SageMakerEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """Reset the emulator; point the ``aws_default`` Airflow connection and the AWS SDK environment at it.

    Sets ``AIRFLOW_CONN_AWS_DEFAULT`` (login/password ``testing``, ``endpoint_url`` and ``region_name`` in the
    extras), ``AWS_DEFAULT_REGION=us-east-1``, dummy ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
    ``AWS_ENDPOINT_URL_STS`` (so role assumption also stays local), an empty AWS config/credentials file, and
    unsets profile, session-token and role variables.

    :param sagemaker_emulator: the session's emulator.
    :param monkeypatch: restores the environment after the test.
    """
    sagemaker_emulator.control.reset()
    url = sagemaker_emulator.url
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": url, "region_name": "us-east-1"},
    }
    for name in _CLEARED_AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(f"AIRFLOW_CONN_{OPTJOB_CONN_ID.upper()}", json.dumps(connection))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", url)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    return OPTJOB_CONN_ID


@pytest.fixture
def optjob_dag_test(optjob_airflow: Path, optjob_aws_conn: str) -> Callable[..., Any]:
    """Return ``run(dag, logical_date=None, **kwargs)``: the DAG run by ``dag.test()`` against the emulator.

    The database is migrated and ``aws_default`` points at the emulator first. ``logical_date`` is passed under
    the name the installed Airflow uses (``execution_date`` on Airflow 2).

    :param optjob_airflow: the migrated Airflow home.
    :param optjob_aws_conn: the connection pointed at the emulator.
    """
    return run_dag

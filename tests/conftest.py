"""Test session setup: an isolated Airflow home and database, and the SageMaker emulator fixtures."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# Before anything imports Airflow: an isolated home and database, with the example DAGs and the tests' own DAG
# files as the DAG folders (and, on Airflow 3, as DAG bundles, which ``dag.test()`` needs).
from airflow_provider_optjob.testing.airflow_env import configure_airflow_environment, migrate_database

EXAMPLE_DAGS = Path(__file__).parent.parent / "dags"
TEST_DAGS = Path(__file__).parent / "dag_files"
_AIRFLOW_HOME = Path(os.environ.get("OPTJOB_TEST_AIRFLOW_HOME") or tempfile.mkdtemp(prefix="optjob-airflow-"))
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Each pytest-xdist worker gets an Airflow home and database of its own, not the one the controller set up.
    _AIRFLOW_HOME = _AIRFLOW_HOME / os.environ["PYTEST_XDIST_WORKER"]
    os.environ.pop("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", None)
configure_airflow_environment(_AIRFLOW_HOME, [EXAMPLE_DAGS, TEST_DAGS], keep_existing=True)
os.environ.setdefault("OPTJOB_EXAMPLE_POKE_INTERVAL", "0.5")

import pytest  # noqa: E402

pytest_plugins = ["airflow_provider_optjob.testing.pytest_plugin", "tests.faults.summary"]


@pytest.fixture(scope="session")
def sagemaker_emulator_options() -> dict[str, float]:
    """Fast job lifecycles for tests: a job completes about a second after it is created."""
    return {"starting_seconds": 0.3, "inprogress_seconds": 0.7, "stopping_seconds": 0.3}


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Create the Airflow metadata database once per session (needed by ``dag.test()``)."""
    migrate_database(_AIRFLOW_HOME)
    return _AIRFLOW_HOME

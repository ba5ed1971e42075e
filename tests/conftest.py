"""Test session setup: an isolated Airflow home and database, and the SageMaker emulator fixtures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from importlib.metadata import version
from pathlib import Path

EXAMPLE_DAGS = Path(__file__).parent.parent / "dags"
TEST_DAGS = Path(__file__).parent / "dag_files"
_AIRFLOW_HOME = Path(os.environ.get("OPTJOB_TEST_AIRFLOW_HOME") or tempfile.mkdtemp(prefix="optjob-airflow-"))
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(EXAMPLE_DAGS))
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "True")
if int(version("apache-airflow").split(".")[0]) < 3:
    # Airflow 2's unit-test configuration picks LocalExecutor, which refuses SQLite; ``dag.test()`` needs none.
    os.environ.setdefault("AIRFLOW__CORE__EXECUTOR", "SequentialExecutor")
os.environ.setdefault("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}")
os.environ.setdefault("OPTJOB_EXAMPLE_POKE_INTERVAL", "0.5")
# Airflow 3 runs ``dag.test()`` only for DAGs found in a bundle: the examples and the tests' own DAG files.
os.environ.setdefault(
    "AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST",
    json.dumps(
        [
            {
                "name": bundle_name,
                "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
                "kwargs": {"path": str(folder), "refresh_interval": 0},
            }
            for bundle_name, folder in (("example-dags", EXAMPLE_DAGS), ("test-dags", TEST_DAGS))
        ]
    ),
)

import pytest  # noqa: E402

pytest_plugins = ["airflow_provider_optjob.testing.pytest_plugin"]


@pytest.fixture(scope="session")
def sagemaker_emulator_options() -> dict[str, float]:
    """Fast job lifecycles for tests: a job completes about a second after it is created."""
    return {"starting_seconds": 0.3, "inprogress_seconds": 0.7, "stopping_seconds": 0.3}


@pytest.fixture(scope="session")
def airflow_db() -> Path:
    """Create the Airflow metadata database once per session (needed by ``dag.test()``)."""
    marker = _AIRFLOW_HOME / ".db-migrated"
    if not marker.exists():
        subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            check=True,
            env=os.environ.copy(),
            stdout=subprocess.DEVNULL,
        )
        marker.touch()
    return _AIRFLOW_HOME

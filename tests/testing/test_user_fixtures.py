"""The pytest plugin as a user meets it: projects of their own, run by pytest in a subprocess with a clean env."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from airflow_provider_optjob.testing.airflow_env import bundle_config

CONFTEST = 'pytest_plugins = ["airflow_provider_optjob.testing.pytest_plugin"]\n'
RESULT_DAG = """
from datetime import datetime

from airflow import DAG

from airflow_provider_optjob.operators.optimization_job import SageMakerOptimizationJobResultOperator

with DAG(dag_id="read_result", schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    SageMakerOptimizationJobResultOperator(task_id="result", job_name="done-job")
"""
RESULT_TEST = """
import json
import os

from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook

from read_result import dag

CONFIG = {
    "OptimizationJobName": "done-job",
    "RoleArn": "arn:aws:iam::123456789012:role/SageMakerOptimization",
    "ModelSource": {"S3": {"S3Uri": "s3://models/llama/"}},
    "DeploymentInstanceType": "ml.g5.2xlarge",
    "OptimizationConfigs": [{"ModelQuantizationConfig": {}}],
    "OutputConfig": {"S3OutputLocation": "s3://models/optimized/"},
    "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
}


def test_result_of_a_finished_job(optjob_dag_test, optjob_aws_conn, sagemaker_emulator):
    SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn).create_optimization_job(CONFIG)
    sagemaker_emulator.control.complete_job("done-job")

    dag_run = optjob_dag_test(dag)

    assert {ti.task_id: ti.state for ti in dag_run.get_task_instances()} == {"result": "success"}
    print("SEEN", json.dumps({"home": os.environ["AIRFLOW_HOME"], "dags": os.environ["AIRFLOW__CORE__DAGS_FOLDER"]}))
"""
_INHERITED = ("PATH", "LANG", "LC_ALL", "TMPDIR")


def run_user_pytest(project: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """
    Run pytest on a user's project in a subprocess of this interpreter, with no Airflow or AWS settings.

    ``HOME`` is a directory of its own next to the project, so nothing can land in the real one.

    :param project: the project's root directory.
    :param arguments: further pytest arguments.
    """
    home = project.parent / "home"
    home.mkdir(exist_ok=True)
    environment = {name: os.environ[name] for name in _INHERITED if name in os.environ}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-rA", "-s", "-p", "no:cacheprovider", "--rootdir", str(project), *arguments],
        cwd=project,
        env={**environment, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=540,
    )


def seen_settings(output: str) -> dict[str, str]:
    """Return the ``SEEN`` line the user test printed: the ``AIRFLOW_HOME`` and DAGs folder it ran with."""
    line = next(line for line in output.splitlines() if line.startswith("SEEN "))
    settings: dict[str, str] = json.loads(line.removeprefix("SEEN "))
    return settings


def test_bundles_are_one_per_folder_first_named_dags(tmp_path: Path) -> None:
    folders = [tmp_path / "dags", tmp_path / "more"]

    bundles = bundle_config(folders)

    assert [bundle["name"] for bundle in bundles] == ["dags", "dags-1"]
    assert [bundle["kwargs"]["path"] for bundle in bundles] == [str(folder) for folder in folders]  # type: ignore[index]


@pytest.mark.timeout(600)
def test_dag_folder_set_in_the_ini_file_and_a_temporary_home(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "airflow" / "dags").mkdir(parents=True)
    (project / "tests").mkdir()
    (project / "pytest.ini").write_text("[pytest]\noptjob_dags_folders = airflow/dags\npythonpath = airflow/dags\n")
    (project / "conftest.py").write_text(CONFTEST)
    (project / "airflow" / "dags" / "read_result.py").write_text(RESULT_DAG)
    (project / "tests" / "test_read_result.py").write_text(textwrap.dedent(RESULT_TEST))

    run = run_user_pytest(project)

    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-6000:]
    seen = seen_settings(output)
    assert Path(seen["dags"]) == (project / "airflow" / "dags").resolve()
    assert Path(seen["home"]).name.startswith("optjob-airflow-")
    assert not Path(seen["home"]).exists(), "the temporary AIRFLOW_HOME is removed at the end"


def test_airflow_imported_before_the_plugin_is_a_clear_error(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "conftest.py").write_text("import airflow  # noqa: F401\n\n" + CONFTEST)
    (project / "test_nothing.py").write_text("def test_nothing():\n    pass\n")

    run = run_user_pytest(project)

    assert run.returncode != 0
    assert "Airflow was imported before the test environment was configured" in run.stdout + run.stderr

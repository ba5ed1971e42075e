"""The asset example in a real deployment: one consumer run per completed job, and the lineage its tasks emit.

A real scheduler, triggerer and executor (and, on Airflow 3, DAG processor and API server) run
``dags/example_optimization_job_assets.py`` against the emulator, with the OpenLineage provider writing its
events to a file. Two producer runs each create a job, which the emulator holds ``INPROGRESS`` until the test
completes it. The second job completes only once the consumer's run for the first exists: Airflow gives a run
every asset event queued before it was created, so each completed job must then give its own consumer run.
"""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.request import Request, urlopen

import pytest

from airflow_provider_optjob.compat import Asset
from airflow_provider_optjob.testing.airflow_env import airflow_major_version
from optjob_harness.config import METADB
from optjob_harness.deployment import LocalDeployment
from optjob_harness.processes import wait_until

if TYPE_CHECKING:
    from collections.abc import Callable

pytest.importorskip("airflow.providers.openlineage", reason="the OpenLineage provider is not installed")

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

EXAMPLE = Path(__file__).resolve().parents[2] / "dags" / "example_optimization_job_assets.py"
PRODUCER = "example_optimization_job_assets"
CONSUMER = "example_optimized_model_consumer"
CREATE_TASK = "create_optimization_job"
CONSUMER_TASK = "read_optimized_models"
NAMESPACE = "optjob-lineage-test"
#: The OpenLineage job of the create task: the deployment's namespace, and ``<dag_id>.<task_id>``.
CREATE_JOB = (NAMESPACE, f"{PRODUCER}.{CREATE_TASK}")
MODELS = ("llama-3-8b", "mistral-7b")
STEP_TIMEOUT = 120.0


class AssetDeployment:
    """The deployment and what the test reads from it: jobs, runs, XComs and OpenLineage events."""

    def __init__(self, deployment: LocalDeployment, events_file: Path) -> None:
        self.deployment = deployment
        self.events_file = events_file
        self.started = time.monotonic()
        #: Seconds since the test began, and what had happened by then.
        self.timeline: list[tuple[float, str]] = []

    def wait(self, condition: Callable[[], bool], what: str) -> None:
        wait_until(condition, STEP_TIMEOUT, what, lambda: self.deployment.processes.values())
        self.timeline.append((round(time.monotonic() - self.started, 1), what))

    def trigger_producer_runs(self) -> dict[str, str]:
        """Trigger one producer run per model, at once: through the API server on Airflow 3, the CLI on Airflow 2.

        :return: each model's run id.
        """
        trigger = self._trigger_with_cli
        if airflow_major_version() >= 3:  # the API server answers at once, where each CLI call starts Airflow
            api = f"http://127.0.0.1:{self.deployment.env['AIRFLOW__API__PORT']}"
            self.wait(lambda: _answers(f"{api}/api/v2/monitor/health"), "the API server to answer")
            with urlopen(f"{api}/auth/token", timeout=30) as response:  # every user is an admin here
                token = json.load(response)["access_token"]
            trigger = partial(self._trigger_with_api, api, token)
        with ThreadPoolExecutor(len(MODELS)) as pool:
            return dict(zip(MODELS, pool.map(trigger, MODELS), strict=True))

    def _trigger_with_cli(self, model: str) -> str:
        run_id = f"manual__{model}"
        self.deployment.airflow("dags", "trigger", PRODUCER, "--run-id", run_id, "--conf", json.dumps({"model": model}))
        return run_id

    @staticmethod
    def _trigger_with_api(api: str, token: str, model: str) -> str:
        run_id = f"manual__{model}"
        request = Request(
            f"{api}/api/v2/dags/{PRODUCER}/dagRuns",
            data=json.dumps({"dag_run_id": run_id, "logical_date": None, "conf": {"model": model}}).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        with urlopen(request, timeout=30):
            return run_id

    def job_of(self, model: str) -> str | None:
        names = [str(job["name"]) for job in self.deployment.emulator.jobs()]
        return next((name for name in names if name.startswith(f"optimize-{model}-")), None)

    def complete_job_once_consumer_runs_exist(self, model: str, consumer_runs: int) -> None:
        self.wait(lambda: len(self.runs(CONSUMER)) >= consumer_runs, f"{consumer_runs} consumer run(s)")
        self.deployment.emulator.complete_job(str(self.job_of(model)))

    def finished(self, dag_id: str, count: int) -> bool:
        runs = self.runs(dag_id)
        return len(runs) >= count and all(state in {"success", "failed"} for _, state in runs)

    def runs(self, dag_id: str) -> list[tuple[str, str]]:
        rows = self.deployment.database.query("SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id", dag_id)
        return [(str(run_id), str(state)) for run_id, state in rows]

    def lineage_events(self) -> list[dict[str, Any]]:
        if not self.events_file.exists():
            return []
        return [json.loads(line) for line in self.events_file.read_text().splitlines() if line.strip()]


def _answers(url: str) -> bool:
    try:
        with urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@pytest.fixture
def asset_deployment(tmp_path: Path) -> Any:
    dags = tmp_path / "dags"
    dags.mkdir()
    shutil.copy(EXAMPLE, dags / EXAMPLE.name)
    events_file = tmp_path / "openlineage.jsonl"
    env = {
        "OPTJOB_EXAMPLE_AWS_CONN_ID": METADB.conn_id,
        "OPTJOB_EXAMPLE_POKE_INTERVAL": "1",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        # The create tasks wait on the worker, which spares a task restart per job; the deferred path's events
        # are covered by test_assets.py, through dag.test().
        "AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE": "False",
        "AIRFLOW__OPENLINEAGE__NAMESPACE": NAMESPACE,
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
            {"type": "file", "log_file_path": str(events_file), "append": True}
        ),
    }
    # Jobs stay INPROGRESS until the test completes them; both create tasks wait at once (on Airflow 2 too).
    with LocalDeployment(
        dags, env=env, emulator_options={"inprogress_seconds": 3600}, executor="LocalExecutor"
    ) as deployment:
        yield AssetDeployment(deployment, events_file)


def test_the_consumer_runs_once_per_completed_job_with_its_extra(asset_deployment):
    deployment = asset_deployment.deployment
    asset_deployment.timeline.append((0.0, f"deployment started {deployment.timings}"))
    asset_deployment.wait(lambda: deployment.database.dag_parsed(CONSUMER), "the DAG file to be parsed")
    producer_runs = asset_deployment.trigger_producer_runs()
    asset_deployment.wait(lambda: all(asset_deployment.job_of(model) for model in MODELS), "both jobs to be created")

    for earlier_runs, model in enumerate(MODELS):
        asset_deployment.complete_job_once_consumer_runs_exist(model, earlier_runs)
    asset_deployment.wait(lambda: asset_deployment.finished(CONSUMER, len(MODELS)), "both consumer runs to finish")
    asset_deployment.wait(lambda: asset_deployment.finished(PRODUCER, len(MODELS)), "both producer runs to finish")
    for seconds, event in asset_deployment.timeline:
        print(f"  {seconds:>6.1f} s  {event}")

    consumer_runs = asset_deployment.runs(CONSUMER)
    assert [state for _, state in consumer_runs] == ["success", "success"]
    for (consumer_run, _), model in zip(consumer_runs, MODELS, strict=True):
        produced = deployment.xcom(PRODUCER, producer_runs[model], CREATE_TASK)
        assert produced["status"] == "COMPLETED"
        assert deployment.xcom(CONSUMER, consumer_run, CONSUMER_TASK) == [
            {
                "uri": Asset(f"s3://example-models/optimized/{model}/").uri,
                "job_name": produced["job_name"],
                "status": "COMPLETED",
                "recommended_inference_image": produced["recommended_inference_image"],
            }
        ]

    completed = [
        event
        for event in asset_deployment.lineage_events()
        if event.get("eventType") == "COMPLETE" and (event["job"]["namespace"], event["job"]["name"]) == CREATE_JOB
    ]
    assert len(completed) == len(MODELS)
    datasets = sorted(
        (
            [(dataset["namespace"], dataset["name"]) for dataset in event["inputs"]],
            [(dataset["namespace"], dataset["name"]) for dataset in event["outputs"]],
        )
        for event in completed
    )
    assert datasets == [
        ([("s3://example-models", f"{model}/")], [("s3://example-models", f"optimized/{model}/")]) for model in MODELS
    ]

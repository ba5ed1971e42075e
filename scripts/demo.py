"""
Run the example pipeline DAG end to end: the local SageMaker emulator and a real Airflow.

Starts, in a temporary AIRFLOW_HOME: the emulator, then Airflow's scheduler (LocalExecutor),
triggerer, and, on Airflow 3, the DAG processor and API server. Triggers
``example_optimization_job_pipeline``, follows it to the end, and prints a report: each task's final
state, whether the wait really went through the triggerer (deferred, then resumed), and the values
handed over through XCom (image -> model -> endpoint). Stops every process it started, on success,
failure or Ctrl-C; exits 1 if the DAG run did not succeed.

Usage: python scripts/demo.py [--timeout SECONDS] [--json-report FILE] [--keep-home]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DAG_ID = "example_optimization_job_pipeline"
WAIT_TASK = "wait_for_optimization_job"
RESULT_TASK = "optimization_result"


@dataclass
class Service:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path


@dataclass
class RunObservation:
    run_id: str
    state: str = "queued"
    task_states: dict[str, str] = field(default_factory=dict)
    wait_task_history: list[str] = field(default_factory=list)
    triggers_taken_by_triggerer: set[str] = field(default_factory=set)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def airflow_major_version() -> int:
    import importlib.metadata

    return int(importlib.metadata.version("apache-airflow").split(".")[0])


def airflow_environment(home: Path, emulator_url: str, api_port: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIRFLOW__", "AIRFLOW_CONN_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor" if airflow_major_version() >= 3 else "SequentialExecutor",
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_hex(32),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
            "AIRFLOW__TRIGGERER__JOB_HEARTBEAT_SEC": "1",
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {
                    "conn_type": "aws",
                    "login": "demo",
                    "password": "demo-secret-key",
                    "extra": {"endpoint_url": emulator_url, "region_name": "us-east-1"},
                }
            ),
            "AWS_ENDPOINT_URL_STS": emulator_url,
            "OPTJOB_EXAMPLE_POKE_INTERVAL": "2",
            "NO_COLOR": "1",
        }
    )
    return env


def start(name: str, command: list[str], env: dict[str, str], logs: Path) -> Service:
    log_path = logs / f"{name}.log"
    log_file = log_path.open("wb")
    process = subprocess.Popen(command, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    return Service(name, process, log_path)


def stop_all(services: list[Service]) -> None:
    for service in services:
        if service.process.poll() is None:
            os.killpg(service.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + 20
    for service in services:
        try:
            service.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(service.process.pid, signal.SIGKILL)
            service.process.wait()


def start_emulator(logs: Path) -> tuple[Service, str]:
    port = free_port()
    service = start(
        "emulator",
        [
            sys.executable,
            "-m",
            "airflow_provider_optjob.testing",
            "--port",
            str(port),
            "--starting-seconds",
            "2",
            "--inprogress-seconds",
            "8",
        ],
        dict(os.environ),
        logs,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: b"listening on" in service.log_path.read_bytes(), 30, "the emulator to start", [service])
    return service, url


def wait_until(condition: Any, timeout: float, what: str, services: list[Service]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for service in services:
            if service.process.poll() is not None:
                raise RuntimeError(f"{service.name} exited with {service.process.returncode} while waiting for {what}")
        if condition():
            return
        time.sleep(0.5)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def query(database: Path, sql: str, *parameters: Any) -> list[tuple[Any, ...]]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5)
    try:
        return connection.execute(sql, parameters).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        connection.close()


def airflow_cli(env: dict[str, str], *arguments: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-m", "airflow", *arguments], env=env, capture_output=True, text=True, check=False
    )
    if completed.returncode != 0:
        raise RuntimeError(f"airflow {' '.join(arguments)} failed:\n{completed.stdout}\n{completed.stderr}")
    return completed.stdout


def follow_run(database: Path, run_id: str, timeout: float, services: list[Service]) -> RunObservation:
    observation = RunObservation(run_id=run_id)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for service in services:
            if service.process.poll() is not None:
                raise RuntimeError(f"{service.name} exited with {service.process.returncode} during the run")
        rows = query(database, "SELECT state FROM dag_run WHERE dag_id = ? AND run_id = ?", DAG_ID, run_id)
        observation.state = str(rows[0][0]) if rows else "unknown"
        observation.task_states = {
            str(task_id): str(state)
            for task_id, state in query(
                database, "SELECT task_id, state FROM task_instance WHERE dag_id = ? AND run_id = ?", DAG_ID, run_id
            )
        }
        wait_state = observation.task_states.get(WAIT_TASK, "None")
        if not observation.wait_task_history or observation.wait_task_history[-1] != wait_state:
            observation.wait_task_history.append(wait_state)
        observation.triggers_taken_by_triggerer.update(
            str(classpath)
            for (classpath,) in query(database, "SELECT classpath FROM trigger WHERE triggerer_id IS NOT NULL")
        )
        if observation.state in {"success", "failed"}:
            return observation
        time.sleep(0.25)
    raise TimeoutError(f"the DAG run did not finish within {timeout:.0f} s (last state {observation.state})")


def xcom(database: Path, run_id: str, task_id: str, key: str = "return_value") -> Any:
    rows = query(
        database,
        "SELECT value FROM xcom WHERE dag_id = ? AND run_id = ? AND task_id = ? AND key = ?",
        DAG_ID,
        run_id,
        task_id,
        key,
    )
    if not rows or rows[0][0] is None:
        return None
    value = rows[0][0]
    return json.loads(value.decode() if isinstance(value, bytes) else value)


def build_report(database: Path, observation: RunObservation, seconds: float) -> dict[str, Any]:
    run_id = observation.run_id
    result = xcom(database, run_id, RESULT_TASK) or {}
    model = (xcom(database, run_id, "register_optimized_model") or {}).get("Model", {})
    endpoint = (xcom(database, run_id, "create_endpoint") or {}).get("Endpoint", {})
    return {
        "dag_id": DAG_ID,
        "run_id": run_id,
        "state": observation.state,
        "seconds": round(seconds, 1),
        "task_states": observation.task_states,
        "wait_task_history": observation.wait_task_history,
        "deferred_then_resumed": "deferred" in observation.wait_task_history
        and observation.task_states.get(WAIT_TASK) == "success",
        "triggers_run_by_triggerer": sorted(observation.triggers_taken_by_triggerer),
        "handover": {
            "optimization_job": result.get("job_name"),
            "recommended_inference_image": result.get("recommended_inference_image"),
            "optimized_model_s3_uri": result.get("output_s3_uri"),
            "model_image": model.get("PrimaryContainer", {}).get("Image"),
            "model_name": model.get("ModelName"),
            "endpoint_name": endpoint.get("EndpointName"),
            "endpoint_status": endpoint.get("EndpointStatus"),
        },
    }


def print_report(report: dict[str, Any]) -> None:
    print()
    print(f"DAG run {report['run_id']}: {report['state'].upper()} in {report['seconds']} s")
    print("Tasks:")
    for task_id, state in sorted(report["task_states"].items()):
        print(f"  {task_id:<28} {state}")
    history = " -> ".join(report["wait_task_history"])
    print(f"Wait through the triggerer: {'yes' if report['deferred_then_resumed'] else 'NO'} ({WAIT_TASK}: {history})")
    print(f"Triggers the triggerer ran: {', '.join(report['triggers_run_by_triggerer']) or 'NONE'}")
    handover = report["handover"]
    print("Handed over through XCom:")
    print(f"  optimization job            {handover['optimization_job']}")
    print(f"  recommended inference image {handover['recommended_inference_image']}")
    print(f"  optimized model artifacts   {handover['optimized_model_s3_uri']}")
    print(f"  -> SageMaker model          {handover['model_name']} (image {handover['model_image']})")
    print(f"  -> endpoint                 {handover['endpoint_name']} ({handover['endpoint_status']})")


def run(timeout: float, keep_home: bool, json_report: Path | None) -> int:
    started = time.monotonic()
    home = Path(tempfile.mkdtemp(prefix="optjob-demo-"))
    logs = home / "process-logs"
    logs.mkdir()
    services: list[Service] = []
    succeeded = False
    try:
        emulator, emulator_url = start_emulator(logs)
        services.append(emulator)
        api_port = free_port()
        env = airflow_environment(home, emulator_url, api_port)
        print(f"SageMaker emulator at {emulator_url}; Airflow home {home}")
        airflow_cli(env, "db", "migrate")
        airflow = [sys.executable, "-m", "airflow"]
        components = ["scheduler", "triggerer"]
        if airflow_major_version() >= 3:
            components += ["dag-processor", "api-server"]
        for component in components:
            arguments = [*airflow, component] + (["--port", str(api_port)] if component == "api-server" else [])
            services.append(start(component, arguments, env, logs))
        print(f"Started {', '.join(components)}")
        database = home / "airflow.db"
        wait_until(
            lambda: bool(query(database, "SELECT 1 FROM serialized_dag WHERE dag_id = ?", DAG_ID)),
            120,
            f"{DAG_ID} to be parsed",
            services,
        )
        airflow_cli(env, "dags", "unpause", DAG_ID)
        run_id = f"demo__{int(time.time())}"
        airflow_cli(env, "dags", "trigger", DAG_ID, "--run-id", run_id)
        print(f"Triggered {DAG_ID} ({run_id}); following it...")
        observation = follow_run(database, run_id, timeout, services)
        report = build_report(database, observation, time.monotonic() - started)
        print_report(report)
        if json_report:
            json_report.write_text(json.dumps(report, indent=2))
        succeeded = (
            report["state"] == "success"
            and report["deferred_then_resumed"]
            and any(path.endswith("SageMakerOptimizationJobTrigger") for path in report["triggers_run_by_triggerer"])
        )
        return 0 if succeeded else 1
    except KeyboardInterrupt:
        print("\nInterrupted; stopping everything.")
        return 130
    finally:
        stop_all(services)
        if not succeeded:
            for log_path in sorted(logs.glob("*.log")):
                tail = log_path.read_text(errors="replace").splitlines()[-15:]
                print(f"--- last lines of {log_path.name} ---", *tail, sep="\n", file=sys.stderr)
        if keep_home or not succeeded:
            print(f"Airflow home and process logs kept in {home}")
        else:
            shutil.rmtree(home, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for the DAG run (default 300)")
    parser.add_argument("--json-report", type=Path, help="also write the report as JSON to this file")
    parser.add_argument("--keep-home", action="store_true", help="keep the temporary AIRFLOW_HOME and logs")
    arguments = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    return run(arguments.timeout, arguments.keep_home, arguments.json_report)


if __name__ == "__main__":
    sys.exit(main())

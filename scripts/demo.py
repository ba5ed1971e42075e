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
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from optjob_harness.config import METADB, REGION
from optjob_harness.deployment import LocalDeployment

if TYPE_CHECKING:
    from optjob_harness.watch import RunObservation

REPO = Path(__file__).resolve().parent.parent
DAG_ID = "example_optimization_job_pipeline"
WAIT_TASK = "wait_for_optimization_job"
RESULT_TASK = "optimization_result"
MODEL_TASK = "register_optimized_model"
#: The emulator's job timeline: the sensor finds the job still running, so it defers to the triggerer.
EMULATOR_OPTIONS = {"starting_seconds": 2.0, "inprogress_seconds": 8.0}


def describe_model(deployment: LocalDeployment, model_name: str) -> dict[str, Any]:
    """What the emulator's SageMaker says of the model the DAG run built (the task hands on only its name)."""
    import boto3

    client = boto3.client(
        "sagemaker",
        endpoint_url=deployment.emulator_url,
        region_name=REGION,
        aws_access_key_id="demo",
        aws_secret_access_key="demo",
    )
    return dict(client.describe_model(ModelName=model_name))


def build_report(deployment: LocalDeployment, observation: RunObservation, seconds: float) -> dict[str, Any]:
    run_id = observation.run_id
    result = deployment.xcom(DAG_ID, run_id, RESULT_TASK) or {}
    model_name = deployment.xcom(DAG_ID, run_id, MODEL_TASK)
    model = describe_model(deployment, model_name) if model_name else {}
    container = model.get("PrimaryContainer", {})
    endpoint = (deployment.xcom(DAG_ID, run_id, "create_endpoint") or {}).get("Endpoint", {})
    wait_task = observation.tasks.get(WAIT_TASK)
    wait_task_history = wait_task.history if wait_task else []
    task_states = observation.task_states()
    return {
        "dag_id": DAG_ID,
        "run_id": run_id,
        "state": observation.state,
        "seconds": round(seconds, 1),
        "task_states": task_states,
        "wait_task_history": wait_task_history,
        "deferred_then_resumed": "deferred" in wait_task_history and task_states.get(WAIT_TASK) == "success",
        "triggers_run_by_triggerer": sorted(observation.trigger_classpaths),
        "handover": {
            "optimization_job": result.get("job_name"),
            "recommended_inference_image": result.get("recommended_inference_image"),
            "optimized_model_s3_uri": result.get("output_s3_uri"),
            "model_image": container.get("Image"),
            "model_data": container.get("ModelDataSource", {}).get("S3DataSource", {}).get("S3Uri"),
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
    print(f"     serving model data       {handover['model_data']}")
    print(f"  -> endpoint                 {handover['endpoint_name']} ({handover['endpoint_status']})")


def run(timeout: float, keep_home: bool, json_report: Path | None) -> int:
    started = time.monotonic()
    succeeded = False
    # The example DAG reaches SageMaker through a connection stored in the metadata DB, as most MWAA users keep it.
    deployment = LocalDeployment(
        REPO / "dags",
        emulator_options=EMULATOR_OPTIONS,
        env={"OPTJOB_EXAMPLE_AWS_CONN_ID": METADB.conn_id, "OPTJOB_EXAMPLE_POKE_INTERVAL": "2"},
        keep_home=True,
    )
    try:
        with deployment:
            print(f"SageMaker emulator at {deployment.emulator_url}; Airflow home {deployment.home}")
            print(f"Started {', '.join([*deployment.components[:1], 'triggerer', *deployment.components[1:]])}")
            run_id = deployment.trigger_dag(DAG_ID, run_id=f"demo__{int(time.time())}")
            print(f"Triggered {DAG_ID} ({run_id}); following it...")
            observation = deployment.follow_run(DAG_ID, run_id, timeout)
            report = build_report(deployment, observation, time.monotonic() - started)
            print_report(report)
            if json_report:
                json_report.write_text(json.dumps(report, indent=2))
            triggers = report["triggers_run_by_triggerer"]
            succeeded = (
                report["state"] == "success"
                and report["deferred_then_resumed"]
                and any(path.endswith("SageMakerOptimizationJobTrigger") for path in triggers)
            )
            deployment.keep_home = keep_home or not succeeded
        return 0 if succeeded else 1
    except KeyboardInterrupt:
        print("\nInterrupted; stopping everything.")
        return 130
    finally:
        if not succeeded:
            for name, process in sorted(deployment.processes.items()):
                print(f"--- last lines of {name}.log ---", process.log_tail(15), sep="\n", file=sys.stderr)
        if deployment.keep_home:
            print(f"Airflow home and process logs kept in {deployment.home}")


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

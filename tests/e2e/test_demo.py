"""The README's main command, run as a user would: a real scheduler and triggerer, the emulator, the example DAG."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def test_pipeline_runs_through_scheduler_and_triggerer(tmp_path):
    report_path = tmp_path / "report.json"

    completed = subprocess.run(
        [sys.executable, str(REPO / "scripts" / "demo.py"), "--json-report", str(report_path), "--timeout", "400"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )

    assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-4000:]
    report = json.loads(report_path.read_text())
    assert report["state"] == "success"
    assert set(report["task_states"].values()) == {"success"}
    assert report["deferred_then_resumed"] is True
    assert report["triggers_run_by_triggerer"] == [
        "airflow_provider_optjob.triggers.optimization_job.SageMakerOptimizationJobTrigger"
    ]
    handover = report["handover"]
    assert handover["recommended_inference_image"]
    assert handover["model_image"] == handover["recommended_inference_image"]
    assert handover["endpoint_name"] == handover["optimization_job"]
    assert handover["endpoint_status"] == "InService"

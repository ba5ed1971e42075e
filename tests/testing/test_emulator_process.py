"""The emulator as a separate process (CLI), the pytest plugin fixtures, and light imports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import boto3
import pytest

from airflow_provider_optjob.testing import EmulatorControl


def test_cli_serves_on_free_port_and_stops_on_sigterm(job_request):
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_optjob.testing", "--port", "0", "--starting-seconds", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("SageMaker emulator listening on http://127.0.0.1:"), line
        url = line.rsplit(" ", 1)[1]
        control = EmulatorControl(url)
        assert control.health()
        client = boto3.client(
            "sagemaker",
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        control.script_job("cli-job", failure_reason="scripted over HTTP")
        client.create_optimization_job(**job_request("cli-job"))
        control.fail_job("cli-job", "scripted over HTTP")
        described = client.describe_optimization_job(OptimizationJobName="cli-job")
        assert (described["OptimizationJobStatus"], described["FailureReason"]) == ("FAILED", "scripted over HTTP")
        assert control.call_counts() == {"CreateOptimizationJob": 1, "DescribeOptimizationJob": 1}

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert not control.health()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=5)


def test_cli_access_log_names_each_operation_and_its_job(job_request):
    process = subprocess.Popen(
        [sys.executable, "-m", "airflow_provider_optjob.testing", "--port", "0", "--log-requests"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip().rsplit(" ", 1)[1]
        client = boto3.client(
            "sagemaker", endpoint_url=url, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t"
        )
        client.create_optimization_job(**job_request("logged-job"))
        with pytest.raises(client.exceptions.ResourceNotFound):
            client.describe_optimization_job(OptimizationJobName="never-created")
        client.list_optimization_jobs()
    finally:
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=10)

    assert '"CreateOptimizationJob logged-job" 200' in log
    assert '"DescribeOptimizationJob never-created" 400 ResourceNotFound' in log
    assert '"ListOptimizationJobs" 200' in log


def test_cli_reports_port_in_use(emulator):
    result = subprocess.run(
        [sys.executable, "-m", "airflow_provider_optjob.testing", "--port", str(emulator.port)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "cannot start" in result.stderr


def test_emulator_lifecycle():
    from airflow_provider_optjob.testing import SageMakerEmulator

    emulator = SageMakerEmulator()
    with pytest.raises(RuntimeError):
        _ = emulator.url
    with emulator:
        assert emulator.running
        assert emulator.url == f"http://127.0.0.1:{emulator.port}"
        assert emulator.control.health()
        control = emulator.control
    running_after_exit: bool = emulator.running
    assert not running_after_exit
    assert not control.health()
    emulator.stop()


def test_optjob_aws_conn_fixture(optjob_aws_conn, sagemaker_emulator, monkeypatch):
    assert optjob_aws_conn == "aws_default"
    connection = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])
    assert connection["conn_type"] == "aws"
    assert connection["extra"] == {"endpoint_url": sagemaker_emulator.url, "region_name": "us-east-1"}
    assert os.environ["AWS_DEFAULT_REGION"] == "us-east-1"
    assert os.environ["AWS_ACCESS_KEY_ID"] == os.environ["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert "AWS_PROFILE" not in os.environ
    client = boto3.client("sagemaker", endpoint_url=sagemaker_emulator.url)
    assert client.list_optimization_jobs()["OptimizationJobSummaries"] == []
    sts = boto3.client("sts")
    assert sts.get_caller_identity()["Account"] == "123456789012"


def test_package_import_stays_light():
    code = (
        "import sys, airflow_provider_optjob, airflow_provider_optjob.testing, "
        "airflow_provider_optjob.testing.pytest_plugin, airflow_provider_optjob.testing.control\n"
        "heavy = sorted(m for m in ('moto', 'flask', 'werkzeug') if m in sys.modules)\n"
        "print(','.join(heavy))"
    )
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "", f"heavy modules imported: {result.stdout}"
    assert time.monotonic() - started < 60

"""Fault injection, seen through the real boto3 client with retries disabled."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

from airflow_provider_optjob.testing import EmulatorControlError


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


@pytest.fixture
def job(sm, job_request):
    sm.create_optimization_job(**job_request("fault-job"))
    return "fault-job"


@pytest.mark.parametrize(
    ("kind", "extra", "code", "http_status"),
    [
        ("throttle", {}, "ThrottlingException", 400),
        ("server_error", {}, "InternalFailure", 500),
        ("server_error", {"status_code": 503}, "ServiceUnavailable", 503),
        ("access_denied", {}, "AccessDeniedException", 400),
        ("expired_token", {}, "ExpiredTokenException", 400),
    ],
)
def test_error_faults(sm_no_retry, emulator, job, kind, extra, code, http_status):
    emulator.control.add_fault(kind, "DescribeOptimizationJob", count=1, **extra)
    with pytest.raises(ClientError) as exc:
        sm_no_retry.describe_optimization_job(OptimizationJobName=job)
    assert error_code(exc) == code
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == http_status
    assert sm_no_retry.describe_optimization_job(OptimizationJobName=job)["OptimizationJobName"] == job


def test_throttle_message_and_operation_scoping(sm_no_retry, emulator, job):
    emulator.control.add_fault("throttle", "ListOptimizationJobs")
    with pytest.raises(ClientError) as exc:
        sm_no_retry.list_optimization_jobs()
    assert exc.value.response["Error"]["Message"] == "Rate exceeded"
    sm_no_retry.describe_optimization_job(OptimizationJobName=job)


def test_botocore_retries_through_count_bounded_throttling(client_factory, emulator, job):
    retrying = client_factory(retries={"mode": "standard", "max_attempts": 3})
    emulator.control.add_fault("throttle", "DescribeOptimizationJob", count=2)
    emulator.control.reset_call_counts()
    response = retrying.describe_optimization_job(OptimizationJobName=job)
    assert response["ResponseMetadata"]["RetryAttempts"] == 2
    assert emulator.control.call_counts() == {"DescribeOptimizationJob": 3}


def test_wildcard_fault_hits_every_operation(sm_no_retry, emulator, job):
    emulator.control.add_fault("server_error", count=2)
    for call in (
        sm_no_retry.list_optimization_jobs,
        lambda: sm_no_retry.describe_optimization_job(OptimizationJobName=job),
    ):
        with pytest.raises(ClientError):
            call()
    sm_no_retry.list_optimization_jobs()
    assert emulator.control.faults() == []


def test_latency(sm_no_retry, emulator, job):
    emulator.control.add_fault("latency", "DescribeOptimizationJob", count=1, delay_seconds=0.3)
    started = time.monotonic()
    sm_no_retry.describe_optimization_job(OptimizationJobName=job)
    assert time.monotonic() - started >= 0.3


def test_latency_combined_with_error(sm_no_retry, emulator, job):
    emulator.control.add_fault("latency", "DescribeOptimizationJob", count=1, delay_seconds=0.2)
    emulator.control.add_fault("throttle", "DescribeOptimizationJob", count=1)
    started = time.monotonic()
    with pytest.raises(ClientError) as exc:
        sm_no_retry.describe_optimization_job(OptimizationJobName=job)
    assert error_code(exc) == "ThrottlingException"
    assert time.monotonic() - started >= 0.2


def test_not_found_after_create(sm_no_retry, emulator, job_request, wait_for_status):
    # A window longer than the test: the calls right after the create are surely inside it.
    emulator.control.add_fault("not_found_after_create", after_create_seconds=3600)
    sm_no_retry.create_optimization_job(**job_request("eventual"))
    with pytest.raises(ClientError) as exc:
        sm_no_retry.describe_optimization_job(OptimizationJobName="eventual")
    assert error_code(exc) == "ResourceNotFound"
    with pytest.raises(ClientError) as exc:
        sm_no_retry.stop_optimization_job(OptimizationJobName="eventual")
    assert error_code(exc) == "ResourceNotFound"
    # A short one: the job shows up once it is over.
    emulator.control.clear_faults()
    emulator.control.add_fault("not_found_after_create", after_create_seconds=0.4)
    deadline = time.monotonic() + 60  # only ends the wait
    codes = []
    described = None
    while described is None and time.monotonic() < deadline:
        try:
            described = sm_no_retry.describe_optimization_job(OptimizationJobName="eventual")
        except ClientError as error:
            codes.append(error.response["Error"]["Code"])
            time.sleep(0.05)
    assert set(codes) <= {"ResourceNotFound"}
    assert described is not None
    assert described["OptimizationJobName"] == "eventual"
    assert wait_for_status(sm_no_retry, "eventual", "COMPLETED", timeout=60)["OptimizationJobName"] == "eventual"


def test_connection_reset(sm_no_retry, emulator, job):
    emulator.control.add_fault("connection_reset", "DescribeOptimizationJob", count=1)
    with pytest.raises((ConnectionClosedError, EndpointConnectionError)):
        sm_no_retry.describe_optimization_job(OptimizationJobName=job)
    assert sm_no_retry.describe_optimization_job(OptimizationJobName=job)["OptimizationJobName"] == job
    assert emulator.control.call_counts()["DescribeOptimizationJob"] == 2


def _eventually(condition, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"still not true after {within} s"
        time.sleep(0.02)


def test_hold_keeps_a_request_unanswered_until_released(sm_no_retry, emulator, job):
    control = emulator.control
    fault = control.add_fault("hold", "DescribeOptimizationJob", count=1)
    with ThreadPoolExecutor(1) as pool:
        answer = pool.submit(sm_no_retry.describe_optimization_job, OptimizationJobName=job)
        _eventually(lambda: control.held_requests(fault["id"]) == 1)
        sm_no_retry.list_optimization_jobs()  # other operations are answered meanwhile
        assert not answer.done()
        control.release_fault(fault["id"])
        assert answer.result(timeout=60)["OptimizationJobName"] == job
    assert control.held_requests(fault["id"]) == 0
    sm_no_retry.describe_optimization_job(OptimizationJobName=job)  # the count is used up


def test_clearing_the_faults_lets_held_requests_through(sm_no_retry, emulator, job):
    control = emulator.control
    fault = control.add_fault("hold", "DescribeOptimizationJob")
    with ThreadPoolExecutor(2) as pool:
        answers = [pool.submit(sm_no_retry.describe_optimization_job, OptimizationJobName=job) for _ in range(2)]
        _eventually(lambda: control.held_requests(fault["id"]) == 2)
        control.clear_faults()
        assert [a.result(timeout=60)["OptimizationJobName"] for a in answers] == [job, job]


def test_hold_controls_name_an_unknown_fault(emulator):
    control = emulator.control
    throttle = control.add_fault("throttle", "DescribeOptimizationJob")
    for call in (control.held_requests, control.release_fault):
        with pytest.raises(EmulatorControlError, match="no hold fault"):
            call(throttle["id"])


def test_time_bounded_fault_expires(sm_no_retry, emulator, job):
    # Active for longer than the test: both calls are surely inside the window.
    emulator.control.add_fault("throttle", "DescribeOptimizationJob", seconds=3600)
    with pytest.raises(ClientError):
        sm_no_retry.describe_optimization_job(OptimizationJobName=job)
    with pytest.raises(ClientError):
        sm_no_retry.describe_optimization_job(OptimizationJobName=job)
    assert len(emulator.control.faults()) == 1
    emulator.control.clear_faults()
    # Active for 0.3 s: over after 0.35 s, however slow the machine.
    emulator.control.add_fault("throttle", "DescribeOptimizationJob", seconds=0.3)
    time.sleep(0.35)
    sm_no_retry.describe_optimization_job(OptimizationJobName=job)
    assert emulator.control.faults() == []


def test_count_bounded_fault_expires_and_clear(sm_no_retry, emulator, job):
    emulator.control.add_fault("access_denied", "DescribeOptimizationJob", count=2)
    for _ in range(2):
        with pytest.raises(ClientError):
            sm_no_retry.describe_optimization_job(OptimizationJobName=job)
    sm_no_retry.describe_optimization_job(OptimizationJobName=job)

    emulator.control.add_fault("expired_token")
    assert len(emulator.control.faults()) == 1
    emulator.control.clear_faults()
    sm_no_retry.describe_optimization_job(OptimizationJobName=job)


def test_reset_clears_everything(sm, emulator, job):
    emulator.control.add_fault("throttle", "CreateModel")
    emulator.control.script_job("later")
    assert emulator.control.call_counts()
    emulator.control.reset()
    assert emulator.control.call_counts() == {}
    assert emulator.control.faults() == []
    assert emulator.control.jobs() == []
    with pytest.raises(sm.exceptions.ResourceNotFound):
        sm.describe_optimization_job(OptimizationJobName=job)

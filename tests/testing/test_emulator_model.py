"""The job timeline and fault registry with a fake clock (no HTTP)."""

from __future__ import annotations

import pytest

from airflow_provider_optjob.testing.faults import FaultRegistry
from airflow_provider_optjob.testing.optimization_jobs import Durations, JobScript, OptimizationJobStore
from airflow_provider_optjob.testing.protocol import AwsError, region_from_authorization
from airflow_provider_optjob.testing.validation import validate_request


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


REQUEST = {
    "OptimizationJobName": "model-job",
    "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
    "ModelSource": {"S3": {"S3Uri": "s3://models/m/"}},
    "DeploymentInstanceType": "ml.inf2.xlarge",
    "OptimizationConfigs": [{"ModelCompilationConfig": {}}],
    "OutputConfig": {"S3OutputLocation": "s3://models/out/"},
    "StoppingCondition": {"MaxRuntimeInSeconds": 60},
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(clock: FakeClock) -> OptimizationJobStore:
    return OptimizationJobStore(Durations(starting_seconds=1, inprogress_seconds=4, stopping_seconds=2), clock)


def status(store: OptimizationJobStore) -> str:
    return str(store.describe("model-job")["OptimizationJobStatus"])


def test_timeline(store, clock):
    store.create(dict(REQUEST), "eu-central-1")
    created = clock.now
    assert status(store) == "STARTING"
    clock.advance(1)
    described = store.describe("model-job")
    assert described["OptimizationJobStatus"] == "INPROGRESS"
    assert described["OptimizationStartTime"] == described["LastModifiedTime"] == created + 1
    clock.advance(4)
    described = store.describe("model-job")
    assert described["OptimizationJobStatus"] == "COMPLETED"
    assert described["OptimizationEndTime"] == created + 5
    assert "neuronx" in described["OptimizationOutput"]["RecommendedInferenceImage"]
    assert "eu-central-1" in described["OptimizationOutput"]["RecommendedInferenceImage"]


def test_stop_during_starting(store, clock):
    store.create(dict(REQUEST), "us-east-1")
    clock.advance(0.5)
    store.stop("model-job")
    assert status(store) == "STOPPING"
    clock.advance(2)
    described = store.describe("model-job")
    assert described["OptimizationJobStatus"] == "STOPPED"
    assert "OptimizationStartTime" not in described
    with pytest.raises(AwsError) as exc:
        store.stop("model-job")
    assert exc.value.code == "ValidationException"


def test_status_override_resumes_remaining_time(store, clock):
    store.create(dict(REQUEST), "us-east-1")
    clock.advance(2)
    store.set_status("model-job", "PAUSED", seconds=10)
    clock.advance(9.9)
    assert status(store) == "PAUSED"
    clock.advance(0.2)
    assert status(store) == "INPROGRESS"
    clock.advance(3)
    assert status(store) == "COMPLETED"


def test_scripted_zero_durations_and_list_token(store, clock):
    store.script_job("model-job", JobScript(final_status="FAILED", starting_seconds=0, inprogress_seconds=0))
    store.create(dict(REQUEST), "us-east-1")
    described = store.describe("model-job")
    assert described["OptimizationJobStatus"] == "FAILED"
    assert described["FailureReason"]
    page = store.list_jobs({"MaxResults": 1})
    assert page["OptimizationJobSummaries"][0]["OptimizationTypes"] == ["Compilation"]
    assert "NextToken" not in page


def test_fault_registry_counts_and_windows(clock):
    registry = FaultRegistry(clock)
    registry.add("throttle", "DescribeOptimizationJob", count=1)
    registry.add("latency", delay_seconds=0.5, seconds=10)
    decision = registry.decide("DescribeOptimizationJob", "j", 0.0)
    assert decision.error is not None
    assert decision.error.code == "ThrottlingException"
    assert decision.delay_seconds == 0.5
    decision = registry.decide("DescribeOptimizationJob", "j", 0.0)
    assert decision.error is None
    assert decision.delay_seconds == 0.5
    clock.advance(10)
    assert registry.decide("DescribeOptimizationJob", "j", 0.0).delay_seconds == 0
    registry.add("not_found_after_create", after_create_seconds=2)
    assert registry.decide("ListOptimizationJobs", None, None).error is None
    assert registry.decide("DescribeOptimizationJob", "j", 1.0).error is not None
    assert registry.decide("DescribeOptimizationJob", "j", 2.5).error is None
    with pytest.raises(ValueError, match="5xx"):
        registry.add("server_error", status_code=404)


def test_region_from_authorization():
    header = (
        "AWS4-HMAC-SHA256 Credential=AKID/20260101/ap-south-1/sagemaker/aws4_request, SignedHeaders=host, Signature=abc"
    )
    assert region_from_authorization(header) == "ap-south-1"
    assert region_from_authorization(None) == "us-east-1"
    assert region_from_authorization("Basic xyz") == "us-east-1"


def test_validation_messages():
    with pytest.raises(AwsError) as exc:
        validate_request("ListOptimizationJobs", {"SortOrder": "Sideways", "MaxResults": 0})
    assert exc.value.code == "ValidationException"
    assert "MaxResults" in exc.value.message
    with pytest.raises(AwsError) as exc:
        validate_request("DescribeOptimizationJob", {"OptimizationJobName": "a--b-", "Extra": 1})
    assert "Unknown parameter" in exc.value.message
    validate_request("DescribeOptimizationJob", {"OptimizationJobName": "a--b"})

"""Optimization-job operations through the real boto3 client over HTTP.

Tests that need a job in a given status hold it and move it with ``advance_job``, so they never race the
emulator's clock; one test covers the timed plan itself, in ways that do not depend on the machine's speed.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import pytest
from botocore.exceptions import ClientError

from airflow_provider_optjob.testing import EmulatorControlError


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return str(exc.value.response["Error"]["Code"])


def test_create_returns_arn_with_region_of_the_request(client_factory, job_request):
    client = client_factory()
    arn = client.create_optimization_job(**job_request("job-a"))["OptimizationJobArn"]
    assert arn == "arn:aws:sagemaker:us-east-1:123456789012:optimization-job/job-a"

    import boto3

    eu = boto3.client(
        "sagemaker",
        endpoint_url=client.meta.endpoint_url,
        region_name="eu-west-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert eu.create_optimization_job(**job_request("job-b"))["OptimizationJobArn"].startswith(
        "arn:aws:sagemaker:eu-west-1:123456789012:"
    )


def test_describe_echoes_request_and_has_required_members(sm, job_request, held_jobs):
    request = job_request(
        "job-echo",
        OptimizationEnvironment={"HF_TOKEN": "secret"},
        VpcConfig={"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]},
    )
    input_shape = sm.meta.service_model.operation_model("CreateOptimizationJob").input_shape
    if "MaxInstanceCount" in input_shape.members:
        request["MaxInstanceCount"] = 2
    if "SageMakerModel" in input_shape.members["OutputConfig"].members:
        request["OutputConfig"]["SageMakerModel"] = {"ModelName": "opt-model"}
    sm.create_optimization_job(**request)
    described = sm.describe_optimization_job(OptimizationJobName="job-echo")
    output_shape = sm.meta.service_model.operation_model("DescribeOptimizationJob").output_shape
    for member in output_shape.required_members:
        assert member in described, member
    for member in (
        "ModelSource",
        "DeploymentInstanceType",
        "OptimizationEnvironment",
        "OptimizationConfigs",
        "OutputConfig",
        "RoleArn",
        "StoppingCondition",
        "VpcConfig",
    ):
        assert described[member] == request[member], member
    assert described.get("MaxInstanceCount") == request.get("MaxInstanceCount")
    assert described["OptimizationJobStatus"] == "STARTING"
    assert described["CreationTime"] == described["LastModifiedTime"]
    assert "OptimizationStartTime" not in described
    assert "OptimizationOutput" not in described


def test_progression_to_completed(sm, emulator, job_request):
    emulator.control.script_job("job-progress", final_status="COMPLETED", hold=True)
    sm.create_optimization_job(**job_request("job-progress"))
    seen: list[str] = []
    described: dict[str, Any] = {}
    for step in range(3):
        if step:
            time.sleep(0.01)  # distinct timestamps for each status
            emulator.control.advance_job("job-progress")
        described = sm.describe_optimization_job(OptimizationJobName="job-progress")
        seen.append(described["OptimizationJobStatus"])
    assert seen == ["STARTING", "INPROGRESS", "COMPLETED"]
    image = described["OptimizationOutput"]["RecommendedInferenceImage"]
    assert image.startswith("763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:")
    assert described["CreationTime"] < described["OptimizationStartTime"] < described["OptimizationEndTime"]
    assert described["LastModifiedTime"] == described["OptimizationEndTime"]
    assert "FailureReason" not in described


def test_timed_plan(sm, emulator, job_request):
    """A job left to its timings: in its long phase when looked at at once; at its end once its plan is over."""
    emulator.control.script_job("job-long-start", final_status="COMPLETED", starting_seconds=3600)
    emulator.control.script_job("job-quick", final_status="COMPLETED", starting_seconds=0.05, inprogress_seconds=0.05)
    sm.create_optimization_job(**job_request("job-long-start"))
    sm.create_optimization_job(**job_request("job-quick"))

    assert sm.describe_optimization_job(OptimizationJobName="job-long-start")["OptimizationJobStatus"] == "STARTING"
    seen: list[str] = []

    def completed() -> bool:
        status = str(sm.describe_optimization_job(OptimizationJobName="job-quick")["OptimizationJobStatus"])
        if not seen or seen[-1] != status:
            seen.append(status)
        return status == "COMPLETED"

    deadline = time.monotonic() + 60  # only ends the wait: the plan is over 0.1 s after the create
    while not completed():
        assert time.monotonic() < deadline, f"job-quick never completed; saw {seen}"
        time.sleep(0.02)
    plan = ["STARTING", "INPROGRESS", "COMPLETED"]
    assert seen == [status for status in plan if status in seen], f"statuses out of the plan's order: {seen}"
    described = sm.describe_optimization_job(OptimizationJobName="job-quick")
    assert described["CreationTime"] < described["OptimizationStartTime"] < described["OptimizationEndTime"]
    assert described["OptimizationOutput"]["RecommendedInferenceImage"]


def test_duplicate_create_is_resource_in_use(sm, job_request):
    sm.create_optimization_job(**job_request("job-dup"))
    with pytest.raises(sm.exceptions.ResourceInUse) as exc:
        sm.create_optimization_job(**job_request("job-dup"))
    assert "job-dup" in exc.value.response["Error"]["Message"]


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.describe_optimization_job(OptimizationJobName="missing"),
        lambda c: c.stop_optimization_job(OptimizationJobName="missing"),
        lambda c: c.delete_optimization_job(OptimizationJobName="missing"),
    ],
    ids=["describe", "stop", "delete"],
)
def test_unknown_job_is_resource_not_found(sm, call):
    with pytest.raises(sm.exceptions.ResourceNotFound) as exc:
        call(sm)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "missing" in exc.value.response["Error"]["Message"]


@pytest.mark.parametrize("name", ["bad_name", "-leading-dash", "trailing-", "x" * 64])
def test_invalid_name_rejected_by_server(client_factory, job_request, name):
    unchecked = client_factory(parameter_validation=False, retries={"total_max_attempts": 1})
    with pytest.raises(ClientError) as exc:
        unchecked.create_optimization_job(**job_request(name))
    assert error_code(exc) == "ValidationException"
    message = exc.value.response["Error"]["Message"]
    assert "optimizationJobName" in message
    assert "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$" in message


def test_server_validates_against_service_model(client_factory, job_request):
    unchecked = client_factory(parameter_validation=False, retries={"total_max_attempts": 1})
    with pytest.raises(ClientError) as exc:
        unchecked.create_optimization_job(OptimizationJobName="ok-name", RoleArn="short")
    message = exc.value.response["Error"]["Message"]
    assert error_code(exc) == "ValidationException"
    assert '"ModelSource"' in message
    assert '"OutputConfig"' in message
    with pytest.raises(ClientError) as exc:
        unchecked.create_optimization_job(**job_request("ok-name", DeploymentInstanceType="ml.nope"))
    assert "enum value set" in exc.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as exc:
        unchecked.list_optimization_jobs(MaxResults=500)
    assert "less than or equal to 100" in exc.value.response["Error"]["Message"]


def test_raw_http_request_gets_json_errors(emulator):
    request = urllib.request.Request(
        emulator.url + "/",
        data=json.dumps({"OptimizationJobName": "not valid!"}).encode(),
        headers={
            "X-Amz-Target": "SageMaker.DescribeOptimizationJob",
            "Content-Type": "application/x-amz-json-1.1",
        },
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as exc:
        urllib.request.urlopen(request, timeout=5)
    assert exc.value.code == 400
    assert exc.value.headers["x-amzn-ErrorType"] == "ValidationException"
    body = json.loads(exc.value.read())
    assert body["__type"] == "ValidationException"
    assert "regular expression pattern" in body["message"]


def test_list_paginates_filters_and_sorts(sm, job_request, emulator, held_jobs):
    names = [f"list-job-{i:02d}" for i in range(7)]
    for name in names:
        sm.create_optimization_job(**job_request(name))
    sm.create_optimization_job(
        **job_request(
            "other", OptimizationConfigs=[{"ModelCompilationConfig": {}}], DeploymentInstanceType="ml.g6.xlarge"
        )
    )

    first = sm.list_optimization_jobs(MaxResults=3, NameContains="list-job", SortBy="Name", SortOrder="Ascending")
    assert [s["OptimizationJobName"] for s in first["OptimizationJobSummaries"]] == names[:3]
    assert first["NextToken"]
    collected = [
        s["OptimizationJobName"]
        for page in sm.get_paginator("list_optimization_jobs").paginate(
            NameContains="LIST-job", SortBy="Name", SortOrder="Descending", PaginationConfig={"PageSize": 3}
        )
        for s in page["OptimizationJobSummaries"]
    ]
    assert collected == list(reversed(names))

    summary = sm.list_optimization_jobs(NameContains="other")["OptimizationJobSummaries"][0]
    assert summary["OptimizationTypes"] == ["Compilation"]
    assert summary["DeploymentInstanceType"] == "ml.g6.xlarge"
    required = sm.meta.service_model.shape_for("OptimizationJobSummary").required_members
    assert set(required) <= set(summary)

    quantized = sm.list_optimization_jobs(OptimizationContains="Quantization")["OptimizationJobSummaries"]
    assert len(quantized) == 7
    assert quantized[0]["OptimizationTypes"] == ["Quantization", "Compilation"]

    default_order = [s["OptimizationJobName"] for s in sm.list_optimization_jobs()["OptimizationJobSummaries"]]
    assert default_order[0] == "other"

    emulator.control.complete_job("list-job-03")
    completed = sm.list_optimization_jobs(StatusEquals="COMPLETED")["OptimizationJobSummaries"]
    assert [s["OptimizationJobName"] for s in completed] == ["list-job-03"]

    now = time.time()
    everything = sm.list_optimization_jobs(CreationTimeAfter=now - 600, LastModifiedTimeBefore=now + 600)
    assert len(everything["OptimizationJobSummaries"]) == 8
    assert sm.list_optimization_jobs(CreationTimeAfter=now + 600)["OptimizationJobSummaries"] == []
    assert sm.list_optimization_jobs(CreationTimeBefore=now - 600)["OptimizationJobSummaries"] == []
    assert sm.list_optimization_jobs(LastModifiedTimeAfter=now + 600)["OptimizationJobSummaries"] == []


def test_list_rejects_garbage_token(sm_no_retry):
    with pytest.raises(ClientError) as exc:
        sm_no_retry.list_optimization_jobs(NextToken="not-a-token")
    assert error_code(exc) == "ValidationException"


def test_scripted_failure(sm, emulator, job_request):
    emulator.control.script_job("job-fail", final_status="FAILED", failure_reason="ClientError: CUDA OOM", hold=True)
    sm.create_optimization_job(**job_request("job-fail"))
    assert [emulator.control.advance_job("job-fail") for _ in range(2)] == ["INPROGRESS", "FAILED"]
    described = sm.describe_optimization_job(OptimizationJobName="job-fail")
    assert described["OptimizationJobStatus"] == "FAILED"
    assert described["FailureReason"] == "ClientError: CUDA OOM"
    assert "OptimizationOutput" not in described
    assert "OptimizationEndTime" in described


def test_script_applies_to_existing_job_and_custom_output(sm, emulator, job_request):
    control = emulator.control
    sm.create_optimization_job(**job_request("job-late"))
    applied = control.script_job(
        "job-late",
        final_status="COMPLETED",
        starting_seconds=0,
        inprogress_seconds=3600,
        recommended_inference_image="111111111111.dkr.ecr.us-east-1.amazonaws.com/custom:1",
        hold=True,
    )
    assert applied is True
    assert sm.describe_optimization_job(OptimizationJobName="job-late")["OptimizationJobStatus"] == "INPROGRESS"
    assert control.advance_job("job-late") == "COMPLETED"
    described = sm.describe_optimization_job(OptimizationJobName="job-late")
    assert described["OptimizationOutput"] == {
        "RecommendedInferenceImage": "111111111111.dkr.ecr.us-east-1.amazonaws.com/custom:1"
    }

    control.script_job("job-bare", final_status="COMPLETED", omit_optimization_output=True, hold=True)
    sm.create_optimization_job(**job_request("job-bare"))
    assert control.advance_job("job-bare", to="COMPLETED") == "COMPLETED"
    assert "OptimizationOutput" not in sm.describe_optimization_job(OptimizationJobName="job-bare")


def test_scripted_unknown_status_phase(sm, emulator, job_request):
    emulator.control.script_job(
        "job-paused",
        final_status="COMPLETED",
        phases=[("STARTING", 0.1), ("PAUSED", 0.3), ("INPROGRESS", 0.1)],
        hold=True,
    )
    sm.create_optimization_job(**job_request("job-paused"))
    seen = [sm.describe_optimization_job(OptimizationJobName="job-paused")["OptimizationJobStatus"]]
    for _ in range(3):
        emulator.control.advance_job("job-paused")
        seen.append(sm.describe_optimization_job(OptimizationJobName="job-paused")["OptimizationJobStatus"])
    assert seen == ["STARTING", "PAUSED", "INPROGRESS", "COMPLETED"]


def test_set_job_status_then_resume(sm, emulator, job_request, wait_for_status):
    control = emulator.control
    control.script_job("job-held", final_status="COMPLETED", hold=True)
    sm.create_optimization_job(**job_request("job-held"))
    control.advance_job("job-held")
    # For 0.2 s, then back: the timeline says so at once; Describe shows it once the 0.2 s are over.
    control.set_job_status("job-held", "PAUSED", seconds=0.2)
    (job,) = control.jobs()
    paused, resumed = job["phases"][-2:]
    assert (paused["status"], resumed["status"]) == ("PAUSED", "INPROGRESS")
    assert paused["end"] == resumed["start"] == pytest.approx(paused["start"] + 0.2)
    assert resumed["end"] is None
    wait_for_status(sm, "job-held", "INPROGRESS", timeout=60)
    # Long enough to be seen however slow the machine.
    control.set_job_status("job-held", "PAUSED", seconds=3600)
    assert sm.describe_optimization_job(OptimizationJobName="job-held")["OptimizationJobStatus"] == "PAUSED"
    control.set_job_status("job-held", "WEIRD")
    time.sleep(0.05)
    assert sm.describe_optimization_job(OptimizationJobName="job-held")["OptimizationJobStatus"] == "WEIRD"


def test_complete_and_fail_now(sm, emulator, job_request):
    emulator.control.script_job("job-slow", final_status="COMPLETED", hold=True)
    emulator.control.script_job("job-slow-2", final_status="COMPLETED", hold=True)
    sm.create_optimization_job(**job_request("job-slow"))
    sm.create_optimization_job(**job_request("job-slow-2"))
    emulator.control.complete_job("job-slow")
    emulator.control.fail_job("job-slow-2", "AlgorithmError: bad weights")
    assert sm.describe_optimization_job(OptimizationJobName="job-slow")["OptimizationJobStatus"] == "COMPLETED"
    failed = sm.describe_optimization_job(OptimizationJobName="job-slow-2")
    assert (failed["OptimizationJobStatus"], failed["FailureReason"]) == ("FAILED", "AlgorithmError: bad weights")
    with pytest.raises(EmulatorControlError) as exc:
        emulator.control.complete_job("no-such-job")
    assert exc.value.status == 404


def test_stop_goes_stopping_then_stopped(sm, sm_no_retry, emulator, job_request):
    emulator.control.script_job("job-stop", final_status="COMPLETED", hold=True)
    sm.create_optimization_job(**job_request("job-stop"))
    assert emulator.control.advance_job("job-stop") == "INPROGRESS"
    sm.stop_optimization_job(OptimizationJobName="job-stop")
    assert sm.describe_optimization_job(OptimizationJobName="job-stop")["OptimizationJobStatus"] == "STOPPING"
    sm.stop_optimization_job(OptimizationJobName="job-stop")
    assert emulator.control.advance_job("job-stop") == "STOPPED"
    stopped = sm.describe_optimization_job(OptimizationJobName="job-stop")
    assert stopped["OptimizationJobStatus"] == "STOPPED"
    assert "OptimizationOutput" not in stopped
    assert stopped["OptimizationEndTime"] >= stopped["OptimizationStartTime"]

    with pytest.raises(ClientError) as exc:
        sm_no_retry.stop_optimization_job(OptimizationJobName="job-stop")
    assert error_code(exc) == "ValidationException"
    assert "STOPPED" in exc.value.response["Error"]["Message"]


def test_delete(sm, sm_no_retry, emulator, job_request, held_jobs):
    sm.create_optimization_job(**job_request("job-del"))
    with pytest.raises(ClientError) as exc:
        sm_no_retry.delete_optimization_job(OptimizationJobName="job-del")
    assert error_code(exc) == "ValidationException"
    emulator.control.complete_job("job-del")
    sm.delete_optimization_job(OptimizationJobName="job-del")
    with pytest.raises(sm.exceptions.ResourceNotFound):
        sm.describe_optimization_job(OptimizationJobName="job-del")
    sm.create_optimization_job(**job_request("job-del"))


def test_configure_global_durations(sm, emulator, job_request):
    previous = emulator.control.configure()
    try:
        assert emulator.control.configure(starting_seconds=3600)["starting_seconds"] == 3600
        sm.create_optimization_job(**job_request("job-slow-start"))
        time.sleep(0.1)
        assert sm.describe_optimization_job(OptimizationJobName="job-slow-start")["OptimizationJobStatus"] == "STARTING"
    finally:
        emulator.control.configure(**previous)


def test_control_rejects_bad_input(emulator):
    with pytest.raises(EmulatorControlError) as exc:
        emulator.control.add_fault("meteor_strike")
    assert exc.value.status == 400
    assert "unknown fault kind" in exc.value.message
    with pytest.raises(EmulatorControlError):
        emulator.control.script_job("x", phases=[("PAUSED", -1)])
    assert emulator.control.health()
    assert emulator.control.jobs() == []

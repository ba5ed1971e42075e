from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from airflow_provider_optjob.model.outcome import (
    OUTCOME_KEYS,
    WAIT_ENDING_REASONS,
    WaitEnding,
    build_job_outcome,
    build_job_result,
    terminal_wait_ending,
    unknown_job_outcome,
)

FULL_RESPONSE = {
    "OptimizationJobName": "quantize-1",
    "OptimizationJobArn": "arn:aws:sagemaker:us-east-1:123456789012:optimization-job/quantize-1",
    "OptimizationJobStatus": "COMPLETED",
    "CreationTime": datetime(2026, 11, 26, 10, 0, tzinfo=timezone(timedelta(hours=2))),
    "OptimizationStartTime": 1_790_000_000.5,
    "OptimizationEndTime": "2026-11-26T12:00:00+00:00",
    "DeploymentInstanceType": "ml.g5.2xlarge",
    "OptimizationEnvironment": {"HF_TOKEN": "hf_secret_value"},
    "OutputConfig": {"S3OutputLocation": "s3://out/", "SageMakerModel": {"ModelName": "optimized-model"}},
    "OptimizationOutput": {"RecommendedInferenceImage": "123.dkr.ecr.us-east-1.amazonaws.com/lmi:1"},
}


def test_full_response_gives_every_field_in_json_safe_form():
    outcome = build_job_outcome(FULL_RESPONSE)

    assert outcome == {
        "job_name": "quantize-1",
        "job_arn": "arn:aws:sagemaker:us-east-1:123456789012:optimization-job/quantize-1",
        "status": "COMPLETED",
        "recommended_inference_image": "123.dkr.ecr.us-east-1.amazonaws.com/lmi:1",
        "output_s3_uri": "s3://out/",
        "output_model_name": "optimized-model",
        "failure_reason": None,
        "deployment_instance_type": "ml.g5.2xlarge",
        "creation_time": "2026-11-26T08:00:00+00:00",
        "start_time": "2026-09-21T14:13:20.500000+00:00",
        "end_time": "2026-11-26T12:00:00+00:00",
    }
    assert json.loads(json.dumps(outcome)) == outcome


def test_environment_values_are_never_copied():
    assert "hf_secret_value" not in json.dumps(build_job_outcome(FULL_RESPONSE))


def test_sparse_response_gives_nones_and_the_requested_name():
    outcome = build_job_outcome({"OptimizationJobStatus": "FAILED", "FailureReason": "boom"}, job_name="asked-for")

    assert outcome["job_name"] == "asked-for"
    assert outcome["failure_reason"] == "boom"
    assert outcome["recommended_inference_image"] is None
    assert outcome["creation_time"] is None


def test_naive_datetimes_are_taken_as_utc():
    outcome = build_job_outcome({"CreationTime": datetime(2026, 1, 1, 0, 0)})

    assert outcome["creation_time"] == "2026-01-01T00:00:00+00:00"


class TestJobResult:
    def test_unknown_job_outcome_has_every_member(self):
        assert unknown_job_outcome("job-a", "INPROGRESS") == {
            "job_name": "job-a",
            "job_arn": None,
            "status": "INPROGRESS",
            "recommended_inference_image": None,
            "output_s3_uri": None,
            "output_model_name": None,
            "failure_reason": None,
            "deployment_instance_type": None,
            "creation_time": None,
            "start_time": None,
            "end_time": None,
        }

    @pytest.mark.parametrize(
        ("status", "failure_reason", "expected"),
        [
            ("COMPLETED", None, ("completed", "Optimization job 'quantize-1' ended with status COMPLETED.")),
            ("FAILED", "OOM", ("failed", "Optimization job 'quantize-1' ended with status FAILED: OOM")),
            (
                "STOPPED",
                None,
                ("stopped", "Optimization job 'quantize-1' ended with status STOPPED: no FailureReason was given"),
            ),
        ],
    )
    def test_terminal_wait_ending_names_the_job_status_and_reason(self, status, failure_reason, expected):
        response = {**FULL_RESPONSE, "OptimizationJobStatus": status, "FailureReason": failure_reason}

        ending = terminal_wait_ending(build_job_outcome(response))

        assert (ending["reason"], ending["message"]) == expected

    @pytest.mark.parametrize("status", ["INPROGRESS", "PAUSED", None])
    def test_terminal_wait_ending_refuses_a_running_job(self, status):
        with pytest.raises(ValueError, match="not a terminal"):
            terminal_wait_ending(unknown_job_outcome("job-a", status))

    def test_job_result_is_the_outcome_plus_its_ending_and_json_safe(self):
        outcome = build_job_outcome(FULL_RESPONSE)

        result = build_job_result(outcome, WaitEnding(reason="timeout", message="too slow"))

        assert result == {**outcome, "wait_ending": {"reason": "timeout", "message": "too slow"}}
        assert json.loads(json.dumps(result)) == result

    def test_job_result_keeps_only_outcome_members(self):
        looked = {**unknown_job_outcome("job-a", "INPROGRESS"), "wait_ending": {"reason": "error", "message": "x"}}

        result = build_job_result(looked, WaitEnding(reason="timeout", message="y"))  # type: ignore[arg-type]

        assert set(result) == {*OUTCOME_KEYS, "wait_ending"}
        assert result["wait_ending"] == {"reason": "timeout", "message": "y"}
        assert WAIT_ENDING_REASONS == ("completed", "failed", "stopped", "timeout", "error")

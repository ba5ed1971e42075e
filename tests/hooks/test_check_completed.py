"""Only a completed job's output becomes a model: the hook's check before it builds the request."""

from __future__ import annotations

import pytest

from airflow_provider_optjob.exceptions import OptimizationJobFailedError, OptimizationJobNotFinishedError
from airflow_provider_optjob.hooks.optimization_job import check_completed
from tests.model.test_model_source import described


class TestStatus:
    @pytest.mark.parametrize(("status", "reason"), [("FAILED", "Model too large"), ("STOPPED", None)])
    def test_a_failed_or_stopped_job_is_refused(self, status, reason):
        response = described(OptimizationJobStatus=status, FailureReason=reason)

        with pytest.raises(OptimizationJobFailedError) as raised:
            check_completed(response)

        assert (raised.value.job_name, raised.value.status, raised.value.failure_reason) == (
            "quantize-llama",
            status,
            reason,
        )
        assert f"'quantize-llama' ended with status {status}" in str(raised.value)

    @pytest.mark.parametrize("status", ["STARTING", "INPROGRESS", "STOPPING", "PAUSED"])
    def test_a_job_still_running_is_refused(self, status):
        with pytest.raises(OptimizationJobNotFinishedError, match=f"'quantize-llama' is {status}, not COMPLETED"):
            check_completed(described(OptimizationJobStatus=status))


def test_a_completed_job_passes():
    check_completed(described())

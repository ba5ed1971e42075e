"""What the operators report to OpenLineage: the model they read, what their job wrote, and no extra API call."""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest

from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
from airflow_provider_optjob.lineage.openlineage import (
    job_dataset_names,
    lineage_view,
    operator_lineage,
    s3_dataset_name,
    sagemaker_model_dataset_name,
)
from airflow_provider_optjob.operators.optimization_job import (
    SageMakerCreateModelFromOptimizationJobOperator,
    SageMakerCreateOptimizationJobOperator,
    SageMakerOptimizationJobResultOperator,
)
from airflow_provider_optjob.testing.protocol import ACCOUNT_ID
from tests.job_requests import job_config
from tests.operators.test_create_optimization_job import owner_context
from tests.task_context import task_context
from tests.triggers.test_optimization_job import single_payload

try:
    from airflow.sdk.exceptions import TaskDeferred
except ImportError:  # Airflow 2
    from airflow.exceptions import TaskDeferred  # type: ignore[no-redef,unused-ignore]

OPENLINEAGE_INSTALLED = importlib.util.find_spec("airflow.providers.openlineage") is not None
needs_openlineage = pytest.mark.skipif(not OPENLINEAGE_INSTALLED, reason="the OpenLineage provider is not installed")

JOB_ARN = "arn:aws:sagemaker:eu-west-1:111122223333:optimization-job/quantize-llama"
SAGEMAKER = "arn:aws:sagemaker:eu-west-1:111122223333"
EMULATED_SAGEMAKER = f"arn:aws:sagemaker:us-east-1:{ACCOUNT_ID}"
#: What every job of ``job_config`` reads and writes.
MODEL_SOURCE = ("s3://models", "llama/")
OUTPUT = ("s3://models", "optimized/")


def described(status: str = "COMPLETED", **members: Any) -> dict[str, Any]:
    return {
        "OptimizationJobName": "quantize-llama",
        "OptimizationJobArn": JOB_ARN,
        "OptimizationJobStatus": status,
        "ModelSource": {"S3": {"S3Uri": "s3://models/llama-3-8b/"}},
        "OutputConfig": {"S3OutputLocation": "s3://models/optimized/llama-3-8b/"},
        **members,
    }


def names(lineage: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    return (
        [(dataset.namespace, dataset.name) for dataset in lineage.inputs],
        [(dataset.namespace, dataset.name) for dataset in lineage.outputs],
    )


@pytest.fixture
def hook(optjob_aws_conn: str) -> SageMakerOptimizationJobHook:
    return SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn)


class TestDatasetNames:
    @pytest.mark.parametrize(
        ("uri", "expected"),
        [
            ("s3://models/llama-3-8b/", ("s3://models", "llama-3-8b/")),
            ("s3://models/optimized/model.tar.gz", ("s3://models", "optimized/model.tar.gz")),
            ("s3://models", ("s3://models", "/")),
            ("s3://models/", ("s3://models", "/")),
            ("https://models.s3.amazonaws.com/llama/", None),
            ("s3:///no-bucket", None),
            (None, None),
        ],
    )
    def test_an_s3_location_is_named_by_bucket_and_key(self, uri, expected):
        assert s3_dataset_name(uri) == expected

    @pytest.mark.parametrize(
        ("job_arn", "model_name", "expected"),
        [
            (JOB_ARN, "llama-awq", (SAGEMAKER, "model/llama-awq")),
            (
                "arn:aws-cn:sagemaker:cn-north-1:111122223333:optimization-job/j",
                "m",
                ("arn:aws-cn:sagemaker:cn-north-1:111122223333", "model/m"),
            ),
            (None, "llama-awq", None),
            ("not-an-arn", "llama-awq", None),
            ("arn:aws:sagemaker::111122223333:optimization-job/j", "m", None),
            (JOB_ARN, "", None),
            (JOB_ARN, None, None),
        ],
    )
    def test_a_model_is_named_after_its_arn_in_the_jobs_account(self, job_arn, model_name, expected):
        assert sagemaker_model_dataset_name(job_arn, model_name) == expected

    def test_a_job_reads_its_model_source_and_writes_its_output_and_model(self):
        description = described(OutputConfig={"S3OutputLocation": "s3://out/x/", "SageMakerModel": {"ModelName": "m"}})

        assert job_dataset_names(description) == (
            [("s3://models", "llama-3-8b/")],
            [("s3://out", "x/"), (SAGEMAKER, "model/m")],
        )

    def test_a_model_source_may_be_a_sagemaker_model(self):
        description = described(ModelSource={"SageMakerModel": {"ModelName": "base-llama"}})

        assert job_dataset_names(description)[0] == [(SAGEMAKER, "model/base-llama")]

    def test_a_model_made_from_the_output_is_an_output_too_named_once(self):
        description = described(OutputConfig={"S3OutputLocation": "s3://out/x/", "SageMakerModel": {"ModelName": "m"}})

        assert job_dataset_names(description, model_name="m")[1] == [("s3://out", "x/"), (SAGEMAKER, "model/m")]
        assert job_dataset_names(description, model_name="n")[1][-1] == (SAGEMAKER, "model/n")

    @pytest.mark.parametrize("status", ["FAILED", "STOPPED"])
    def test_a_job_that_failed_wrote_nothing(self, status):
        assert job_dataset_names(described(status), model_name="m") == ([("s3://models", "llama-3-8b/")], [])

    @pytest.mark.parametrize("status", ["INPROGRESS", None])
    def test_a_running_job_writes_where_it_will(self, status):
        assert job_dataset_names(described(status))[1] == [("s3://models", "optimized/llama-3-8b/")]

    def test_operators_keep_no_environment_values(self):
        description = described(OptimizationEnvironment={"HF_TOKEN": "hf_secret"}, RoleArn="arn:aws:iam::1:role/r")

        assert set(lineage_view(description)) == {
            "OptimizationJobName",
            "OptimizationJobArn",
            "OptimizationJobStatus",
            "ModelSource",
            "OutputConfig",
        }


@needs_openlineage
class TestOperatorLineage:
    def test_datasets_are_openlineage_datasets(self):
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage

        lineage = operator_lineage(described(), model_name="llama-awq")

        assert isinstance(lineage, OperatorLineage)
        assert all(isinstance(dataset, Dataset) for dataset in [*lineage.inputs, *lineage.outputs])
        assert names(lineage) == (
            [("s3://models", "llama-3-8b/")],
            [("s3://models", "optimized/llama-3-8b/"), (SAGEMAKER, "model/llama-awq")],
        )

    def test_a_task_that_learned_nothing_reports_empty_lineage(self):
        lineage = operator_lineage(None)

        assert lineage is not None
        assert names(lineage) == ([], [])

    def test_the_result_operator_reports_what_it_described_without_asking_again(self, hook, sagemaker_emulator):
        hook.create_optimization_job(job_config("lineage-result"))
        sagemaker_emulator.control.complete_job("lineage-result")
        operator = SageMakerOptimizationJobResultOperator(task_id="result", job_name="lineage-result")
        operator.execute(task_context()[0])
        describes = sagemaker_emulator.control.call_counts()["DescribeOptimizationJob"]

        lineage = operator.get_openlineage_facets_on_complete(None)

        assert names(lineage) == ([MODEL_SOURCE], [OUTPUT])
        assert sagemaker_emulator.control.call_counts()["DescribeOptimizationJob"] == describes

    def test_the_create_operator_reports_the_job_it_waited_for(self, hook, sagemaker_emulator):
        operator = SageMakerCreateOptimizationJobOperator(
            task_id="create", config=job_config("lineage-create"), deferrable=False, poke_interval=0.1
        )
        operator.execute(owner_context()[0])
        calls = sagemaker_emulator.control.call_counts()

        lineage = operator.get_openlineage_facets_on_complete(None)

        assert names(lineage) == ([MODEL_SOURCE], [OUTPUT])
        assert sagemaker_emulator.control.call_counts() == calls

    async def test_the_create_operator_reports_the_job_after_its_deferral(self, hook, sagemaker_emulator):
        sagemaker_emulator.control.script_job("lineage-deferred", final_status="COMPLETED", inprogress_seconds=1)
        operator = SageMakerCreateOptimizationJobOperator(
            task_id="create", config=job_config("lineage-deferred"), poke_interval=0.1
        )
        with pytest.raises(TaskDeferred) as deferred:
            operator.execute(owner_context()[0])
        event = await single_payload(deferred.value.trigger)
        resumed = SageMakerCreateOptimizationJobOperator(
            task_id="create", config=job_config("lineage-deferred"), poke_interval=0.1
        )  # a task resumes in a new process, with a new operator
        resumed.execute_complete(owner_context()[0], event)

        assert names(resumed.get_openlineage_facets_on_complete(None)) == ([MODEL_SOURCE], [OUTPUT])

    def test_a_create_task_that_does_not_wait_reports_where_its_job_will_write(self, hook, sagemaker_emulator):
        operator = SageMakerCreateOptimizationJobOperator(
            task_id="create", config=job_config("lineage-no-wait"), wait_for_completion=False
        )
        operator.execute(owner_context()[0])

        assert names(operator.get_openlineage_facets_on_complete(None)) == ([MODEL_SOURCE], [OUTPUT])

    def test_the_model_made_from_a_job_is_an_output_too(self, hook, sagemaker_emulator):
        hook.create_optimization_job(job_config("lineage-model"))
        sagemaker_emulator.control.complete_job("lineage-model")
        operator = SageMakerCreateModelFromOptimizationJobOperator(
            task_id="model", job_name="lineage-model", model_name="llama-awq"
        )
        operator.execute(task_context()[0])
        calls = sagemaker_emulator.control.call_counts()

        lineage = operator.get_openlineage_facets_on_complete(None)

        assert names(lineage) == ([MODEL_SOURCE], [OUTPUT, (EMULATED_SAGEMAKER, "model/llama-awq")])
        assert sagemaker_emulator.control.call_counts() == calls

    def test_a_failed_job_kept_by_fail_on_job_failure_false_wrote_nothing(self, hook, sagemaker_emulator):
        hook.create_optimization_job(job_config("lineage-failed"))
        sagemaker_emulator.control.fail_job("lineage-failed", "Out of memory")
        operator = SageMakerOptimizationJobResultOperator(
            task_id="result", job_name="lineage-failed", fail_on_job_failure=False
        )
        operator.execute(task_context()[0])

        assert names(operator.get_openlineage_facets_on_complete(None)) == ([MODEL_SOURCE], [])


@pytest.mark.skipif(OPENLINEAGE_INSTALLED, reason="the OpenLineage provider is installed")
def test_without_the_openlineage_provider_there_is_no_lineage():
    assert operator_lineage(described()) is None

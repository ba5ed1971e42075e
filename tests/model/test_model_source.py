"""The CreateModel request a completed job's description maps to, as the SageMaker Python SDK maps it."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from airflow_provider_optjob.model.model_source import (
    DraftModel,
    ModelFromJobError,
    job_model_name,
    merged_environment,
    model_request,
    reuse_problems,
)

IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.31.0-lmi13.0.0-cu124"
ROLE = "arn:aws:iam::123456789012:role/SageMakerOptimization"


def described(**overrides: Any) -> dict[str, Any]:
    """A DescribeOptimizationJob response of a completed quantization + compilation job."""
    response: dict[str, Any] = {
        "OptimizationJobName": "quantize-llama",
        "OptimizationJobArn": "arn:aws:sagemaker:us-east-1:123456789012:optimization-job/quantize-llama",
        "OptimizationJobStatus": "COMPLETED",
        "RoleArn": ROLE,
        "ModelSource": {"S3": {"S3Uri": "s3://models/llama/"}},
        "DeploymentInstanceType": "ml.g5.2xlarge",
        "OptimizationEnvironment": {"OPTION_DTYPE": "fp16", "OPTION_QUANTIZE": "fp8", "HF_TOKEN": "hf_planted"},
        "OptimizationConfigs": [
            {"ModelQuantizationConfig": {"OverrideEnvironment": {"OPTION_QUANTIZE": "awq", "OPTION_GROUP": "128"}}},
            {"ModelCompilationConfig": {"OverrideEnvironment": {"OPTION_GROUP": "64"}}},
        ],
        "OutputConfig": {"S3OutputLocation": "s3://models/optimized/"},
        "OptimizationOutput": {"RecommendedInferenceImage": IMAGE},
    }
    response.update(overrides)
    return response


def with_config(entry: dict[str, Any]) -> dict[str, Any]:
    response = described()
    response["OptimizationConfigs"].append(entry)
    return response


class TestMapping:
    def test_image_model_data_environment_role_and_tag(self):
        request = model_request(described(), "quantize-llama")

        assert request == {
            "ModelName": "quantize-llama",
            "ExecutionRoleArn": ROLE,
            "PrimaryContainer": {
                "Image": IMAGE,
                "ModelDataSource": {
                    "S3DataSource": {
                        "S3Uri": "s3://models/optimized/",
                        "S3DataType": "S3Prefix",
                        "CompressionType": "None",
                    }
                },
                "Environment": {
                    "OPTION_DTYPE": "fp16",
                    "OPTION_QUANTIZE": "awq",
                    "OPTION_GROUP": "64",
                    "HF_TOKEN": "hf_planted",
                },
            },
            "Tags": [{"Key": "OptimizationJobName", "Value": "quantize-llama"}],
        }

    def test_an_accepted_eula_carries_over_to_the_model_data(self):
        response = described(ModelSource={"S3": {"S3Uri": "s3://m/", "ModelAccessConfig": {"AcceptEula": True}}})

        source = model_request(response, "m")["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]

        assert source["ModelAccessConfig"] == {"AcceptEula": True}

    def test_a_job_from_a_sagemaker_model_serves_its_output(self):
        response = described(ModelSource={"SageMakerModel": {"ModelName": "base-llama"}})

        source = model_request(response, "m")["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]

        assert source == {"S3Uri": "s3://models/optimized/", "S3DataType": "S3Prefix", "CompressionType": "None"}

    def test_given_role_tags_and_vpc_config(self):
        vpc = {"SecurityGroupIds": ["sg-1"], "Subnets": ["subnet-1"]}

        request = model_request(
            described(),
            "m",
            execution_role_arn="arn:aws:iam::123456789012:role/Serving",
            tags={"team": "ml", "OptimizationJobName": "not-this-job"},
            vpc_config=vpc,
        )

        assert request["ExecutionRoleArn"] == "arn:aws:iam::123456789012:role/Serving"
        assert request["Tags"] == [
            {"Key": "team", "Value": "ml"},
            {"Key": "OptimizationJobName", "Value": "quantize-llama"},
        ]
        assert request["VpcConfig"] == vpc

    def test_the_job_description_is_left_as_it_was(self):
        response = described()
        before = copy.deepcopy(response)

        model_request(response, "m", draft_model=DraftModel("s3://models/draft/"))

        assert response == before

    @pytest.mark.parametrize(
        ("missing", "message"),
        [
            ({"OptimizationOutput": {}}, "no OptimizationOutput.RecommendedInferenceImage"),
            ({"OutputConfig": {}}, "no OutputConfig.S3OutputLocation"),
            ({"RoleArn": None}, "give execution_role_arn"),
        ],
    )
    def test_a_description_without_what_the_model_needs_is_refused(self, missing, message):
        with pytest.raises(ModelFromJobError, match=message):
            model_request(described(**missing), "m")


class TestEnvironment:
    def test_each_override_beats_the_job_environment_and_later_configs_win(self):
        assert merged_environment(described()) == {
            "OPTION_DTYPE": "fp16",
            "OPTION_QUANTIZE": "awq",
            "OPTION_GROUP": "64",
            "HF_TOKEN": "hf_planted",
        }

    def test_the_order_of_optimization_configs_decides_between_overrides(self):
        response = described()
        response["OptimizationConfigs"].reverse()

        assert merged_environment(response)["OPTION_GROUP"] == "128"

    def test_hf_model_id_is_left_out(self):
        response = described(OptimizationEnvironment={"HF_MODEL_ID": "meta-llama/Llama-3-8B", "A": "1"})

        assert merged_environment(response) == {"A": "1", "OPTION_QUANTIZE": "awq", "OPTION_GROUP": "64"}

    def test_an_empty_override_value_still_overrides(self):
        response = described()
        response["OptimizationConfigs"][1]["ModelCompilationConfig"]["OverrideEnvironment"] = {"OPTION_DTYPE": ""}

        assert merged_environment(response)["OPTION_DTYPE"] == ""

    def test_no_environment_at_all_gives_a_container_without_one(self):
        response = described(OptimizationEnvironment=None, OptimizationConfigs=[{"ModelCompilationConfig": {}}])

        assert "Environment" not in model_request(response, "m")["PrimaryContainer"]


class TestDraftModel:
    def test_an_s3_draft_model_is_a_channel_the_environment_points_at(self):
        response = with_config({"ModelSpeculativeDecodingConfig": {"Technique": "EAGLE"}})

        container = model_request(response, "m", draft_model=DraftModel("s3://models/draft/"))["PrimaryContainer"]

        assert container["AdditionalModelDataSources"] == [
            {
                "ChannelName": "draft_model",
                "S3DataSource": {"S3Uri": "s3://models/draft/", "S3DataType": "S3Prefix", "CompressionType": "None"},
            }
        ]
        assert container["Environment"]["OPTION_SPECULATIVE_DRAFT_MODEL"] == (
            "/opt/ml/additional-model-data-sources/draft_model"
        )
        assert container["Environment"]["OPTION_QUANTIZE"] == "awq"

    def test_accepting_the_draft_models_eula(self):
        draft = DraftModel("s3://models/draft/", accept_eula=True)

        container = model_request(described(), "m", draft_model=draft)["PrimaryContainer"]

        assert container["AdditionalModelDataSources"][0]["S3DataSource"]["ModelAccessConfig"] == {"AcceptEula": True}

    def test_a_hub_draft_model_is_named_in_the_environment_only(self):
        container = model_request(described(), "m", draft_model=DraftModel("meta-llama/Llama-3.2-1B"))[
            "PrimaryContainer"
        ]

        assert "AdditionalModelDataSources" not in container
        assert container["Environment"]["OPTION_SPECULATIVE_DRAFT_MODEL"] == "meta-llama/Llama-3.2-1B"

    def test_the_jobs_own_environment_wins_over_the_draft_location(self):
        response = described(OptimizationEnvironment={"OPTION_SPECULATIVE_DRAFT_MODEL": "/opt/ml/model/eagle"})

        environment = merged_environment(response, DraftModel("s3://models/draft/"))

        assert environment["OPTION_SPECULATIVE_DRAFT_MODEL"] == "/opt/ml/model/eagle"

    def test_speculative_decoding_without_a_draft_model_is_refused(self):
        response = with_config({"ModelSpeculativeDecodingConfig": {"Technique": "EAGLE"}})

        with pytest.raises(ModelFromJobError, match="draft_model_source") as raised:
            model_request(response, "m")

        assert "'quantize-llama'" in str(raised.value)
        assert "OutputConfig.SageMakerModel" in str(raised.value)


def test_a_sharded_job_is_refused_with_what_to_do():
    response = described(
        OptimizationConfigs=[
            {"ModelShardingConfig": {"OverrideEnvironment": {"OPTION_TENSOR_PARALLEL_DEGREE": "8"}}},
        ]
    )

    with pytest.raises(ModelFromJobError) as raised:
        model_request(response, "m")

    message = str(raised.value)
    assert "'quantize-llama'" in message
    assert "inference components" in message
    assert "OutputConfig.SageMakerModel" in message
    assert "CreateInferenceComponent" in message


def test_the_model_a_job_creates_itself():
    assert job_model_name(described()) is None
    assert job_model_name(described(OutputConfig={"S3OutputLocation": "s3://o/", "SageMakerModel": {}})) is None
    response = described(OutputConfig={"S3OutputLocation": "s3://o/", "SageMakerModel": {"ModelName": "made"}})
    assert job_model_name(response) == "made"


class TestReuse:
    def existing(self, request: dict[str, Any]) -> dict[str, Any]:
        """What DescribeModel answers for the model ``request`` created (AWS adds members of its own)."""
        container = copy.deepcopy(request["PrimaryContainer"])
        container["Mode"] = "SingleModel"
        return {"ModelName": request["ModelName"], "PrimaryContainer": container, "EnableNetworkIsolation": False}

    def test_the_model_this_job_made_can_be_reused(self):
        request = model_request(described(), "m")

        assert reuse_problems(self.existing(request), request["Tags"], request) == []

    def test_a_model_without_the_jobs_tag_cannot(self):
        request = model_request(described(), "m")

        problems = reuse_problems(self.existing(request), [{"Key": "OptimizationJobName", "Value": "other"}], request)

        assert problems == [
            "it is not tagged OptimizationJobName=quantize-llama (its OptimizationJobName tag is 'other')"
        ]
        assert reuse_problems(self.existing(request), [], request) == [
            "it is not tagged OptimizationJobName=quantize-llama"
        ]

    def test_a_model_with_another_container_cannot_and_no_value_is_quoted(self):
        request = model_request(described(), "m")
        existing = self.existing(request)
        existing["PrimaryContainer"]["Image"] = "other-image:1"
        existing["PrimaryContainer"]["Environment"]["HF_TOKEN"] = "hf_other"

        problems = reuse_problems(existing, request["Tags"], request)

        assert problems == ["its PrimaryContainer differs in Image, Environment"]
        assert "hf_" not in " ".join(problems)

    def test_extra_environment_variables_count_as_a_difference(self):
        request = model_request(described(), "m")
        existing = self.existing(request)
        existing["PrimaryContainer"]["Environment"]["EXTRA"] = "1"

        assert reuse_problems(existing, request["Tags"], request) == ["its PrimaryContainer differs in Environment"]

"""Request builders shared by the tests."""

from __future__ import annotations

from typing import Any

ROLE_ARN = "arn:aws:iam::123456789012:role/SageMakerOptimization"


def job_config(job_name: str, **overrides: Any) -> dict[str, Any]:
    """A valid ``CreateOptimizationJob`` request for ``job_name``."""
    config: dict[str, Any] = {
        "OptimizationJobName": job_name,
        "RoleArn": ROLE_ARN,
        "ModelSource": {"S3": {"S3Uri": "s3://models/llama/"}},
        "DeploymentInstanceType": "ml.g5.2xlarge",
        "OptimizationConfigs": [{"ModelQuantizationConfig": {"OverrideEnvironment": {"OPTION_QUANTIZE": "awq"}}}],
        "OutputConfig": {"S3OutputLocation": "s3://models/optimized/"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    config.update(overrides)
    return config

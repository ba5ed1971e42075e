"""Job names and create requests shared by the deployment tests' DAG files (a helper module, not a DAG file)."""

from __future__ import annotations

#: A job's name is templated on the run's ``conf["tag"]``, so each run has its own jobs.
TAG = "{{ dag_run.conf['tag'] }}"


def job_name(tag: str, task_id: str) -> str:
    """The job a task waits on (or creates), in the run tagged ``tag``."""
    return f"{tag}-{task_id.replace('_', '-')}"


def create_config(name: str) -> dict[str, object]:
    """A create request for a job that quantizes a model from S3."""
    return {
        "OptimizationJobName": name,
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerOptimization",
        "ModelSource": {"S3": {"S3Uri": "s3://models/llama/"}},
        "DeploymentInstanceType": "ml.g5.2xlarge",
        "OptimizationConfigs": [{"ModelQuantizationConfig": {"OverrideEnvironment": {"OPTION_QUANTIZE": "awq"}}}],
        "OutputConfig": {"S3OutputLocation": "s3://models/optimized/"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }

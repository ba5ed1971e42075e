"""The ``CreateOptimizationJob`` request: checked before any call, its secrets masked."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from airflow_provider_optjob.compat import mask_secret
from airflow_provider_optjob.job.name import is_templated, validate_job_name

#: Members the API requires in a ``CreateOptimizationJob`` request.
REQUIRED_CREATE_KEYS: tuple[str, ...] = (
    "OptimizationJobName",
    "RoleArn",
    "ModelSource",
    "DeploymentInstanceType",
    "OptimizationConfigs",
    "OutputConfig",
    "StoppingCondition",
)

_EXPECTED_TYPES: dict[str, tuple[type, str]] = {
    "OptimizationJobName": (str, "a string"),
    "RoleArn": (str, "a string (an IAM role ARN)"),
    "ModelSource": (Mapping, "a dict (with S3 or SageMakerModel)"),
    "DeploymentInstanceType": (str, "a string such as 'ml.g5.2xlarge'"),
    "MaxInstanceCount": (int, "an integer"),
    "OptimizationEnvironment": (Mapping, "a dict of environment variables"),
    "OptimizationConfigs": (list, "a list of optimization configs"),
    "OutputConfig": (Mapping, "a dict (with S3OutputLocation)"),
    "StoppingCondition": (Mapping, "a dict (with MaxRuntimeInSeconds)"),
    "Tags": (list, "a list of {'Key': ..., 'Value': ...} dicts"),
    "VpcConfig": (Mapping, "a dict"),
}


#: Members whose values may hold secrets, so errors never echo them.
_ENVIRONMENT_KEYS = frozenset({"OptimizationEnvironment"})


class InvalidOptimizationJobConfigError(ValueError):
    """A ``CreateOptimizationJob`` request that the API would reject."""


def validate_create_config(config: object) -> dict[str, Any]:
    """
    Check a rendered ``CreateOptimizationJob`` request and return it as a dict.

    Required members, their types and the job name are checked here; botocore checks the rest of the
    request against the service model before it sends anything.

    :param config: the request.
    :raises InvalidOptimizationJobConfigError: naming the field that is missing or wrong.
    """
    if not isinstance(config, Mapping):
        raise InvalidOptimizationJobConfigError(
            f"config must be a dict (the CreateOptimizationJob request), got {type(config).__name__}."
        )
    missing = [key for key in REQUIRED_CREATE_KEYS if key not in config]
    if missing:
        raise InvalidOptimizationJobConfigError(
            f"config is missing required field(s) {', '.join(missing)} of the CreateOptimizationJob request."
        )
    for key, value in config.items():
        expected = _EXPECTED_TYPES.get(key)
        if expected and not is_templated(value) and not _has_type(value, expected[0]):
            shown = "" if key in _ENVIRONMENT_KEYS else f": {value!r}"
            raise InvalidOptimizationJobConfigError(
                f"config field {key} must be {expected[1]}, got {type(value).__name__}{shown}."
            )
    for index, entry in enumerate(config["OptimizationConfigs"]):
        if not isinstance(entry, Mapping) or len(entry) != 1:
            raise InvalidOptimizationJobConfigError(
                f"config field OptimizationConfigs[{index}] must be a dict with exactly one of "
                f"ModelQuantizationConfig, ModelCompilationConfig, ModelShardingConfig, "
                f"ModelSpeculativeDecodingConfig; got "
                f"{sorted(map(str, entry)) if isinstance(entry, Mapping) else type(entry).__name__}."
            )
    if not is_templated(config["OptimizationJobName"]):
        validate_job_name(config["OptimizationJobName"])
    return dict(config)


def _has_type(value: object, expected: type) -> bool:
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def environment_values(config: Mapping[str, Any]) -> Iterator[str]:
    """
    Yield every environment value in the request: ``OptimizationEnvironment`` and each ``OverrideEnvironment``.

    These carry model hub tokens and similar secrets.

    :param config: the ``CreateOptimizationJob`` request.
    """
    environments = [config.get("OptimizationEnvironment")]
    for entry in config.get("OptimizationConfigs") or []:
        if isinstance(entry, Mapping):
            environments.extend(
                optimization.get("OverrideEnvironment")
                for optimization in entry.values()
                if isinstance(optimization, Mapping)
            )
    for environment in environments:
        if isinstance(environment, Mapping):
            yield from (value for value in environment.values() if isinstance(value, str) and value)


def mask_environment_secrets(config: Mapping[str, Any]) -> None:
    """
    Register every environment value of the request with Airflow's secrets masker.

    :param config: the ``CreateOptimizationJob`` request.
    """
    for value in environment_values(config):
        mask_secret(value)

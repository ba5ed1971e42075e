"""The ``CreateOptimizationJob`` request: checked before any call; its environment values listed for masking.

A request, or any member of it, may be resolved only at run time: a Jinja string, or an ``XComArg`` (the
``.output`` of another task). Such a request is checked twice with the same rules: when the task is defined,
skipping what is not known yet, and after rendering, in full.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from airflow_provider_optjob.model.name import is_templated, validate_job_name

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
_ENVIRONMENT_KEYS = frozenset({"OptimizationEnvironment", "OptimizationConfigs"})


class InvalidOptimizationJobConfigError(ValueError):
    """A ``CreateOptimizationJob`` request that the API would reject."""


def is_resolved_later(value: object) -> bool:
    """
    Tell whether a value is only known at run time: a Jinja string or an ``XComArg`` (anything Airflow resolves).

    :param value: a request or a member of it, as given to the operator.
    """
    return is_templated(value) or (hasattr(value, "resolve") and hasattr(value, "iter_references"))


def check_config_when_defined(config: object) -> None:
    """
    Check a request when the task is defined, skipping whatever is resolved only at run time.

    :param config: the request as given to the operator.
    :raises InvalidOptimizationJobConfigError: for what is already known to be wrong.
    """
    if not is_resolved_later(config):
        _check_config(config, allow_unresolved=True)


def validate_create_config(config: object) -> dict[str, Any]:
    """
    Check a rendered ``CreateOptimizationJob`` request and return it as a dict.

    Required members, their types and the job name are checked here; botocore checks the rest of the
    request against the service model before it sends anything.

    :param config: the request, rendered.
    :raises InvalidOptimizationJobConfigError: naming the field that is missing or wrong.
    """
    return _check_config(config, allow_unresolved=False)


def _check_config(config: object, *, allow_unresolved: bool) -> dict[str, Any]:
    if not isinstance(config, Mapping):
        raise InvalidOptimizationJobConfigError(
            f"config must be a dict (the CreateOptimizationJob request), got {type(config).__name__}."
            + _NATIVE_HINT * isinstance(config, str)
        )
    missing = [key for key in REQUIRED_CREATE_KEYS if key not in config]
    if missing:
        raise InvalidOptimizationJobConfigError(
            f"config is missing required field(s) {', '.join(missing)} of the CreateOptimizationJob request."
        )

    def known(value: object) -> bool:
        return not (allow_unresolved and is_resolved_later(value))

    for key, value in config.items():
        expected = _EXPECTED_TYPES.get(key)
        if expected and known(value) and not _has_type(value, expected[0]):
            shown = "" if key in _ENVIRONMENT_KEYS else f": {value!r}"
            hint = _NATIVE_HINT if isinstance(value, str) and expected[0] is not str else ""
            raise InvalidOptimizationJobConfigError(
                f"config field {key} must be {expected[1]}, got {type(value).__name__}{shown}.{hint}"
            )
    optimizations = config["OptimizationConfigs"]
    for index, entry in enumerate(optimizations if known(optimizations) else []):
        if known(entry) and (not isinstance(entry, Mapping) or len(entry) != 1):
            raise InvalidOptimizationJobConfigError(
                f"config field OptimizationConfigs[{index}] must be a dict with exactly one of "
                f"ModelQuantizationConfig, ModelCompilationConfig, ModelShardingConfig, "
                f"ModelSpeculativeDecodingConfig; got "
                f"{sorted(map(str, entry)) if isinstance(entry, Mapping) else type(entry).__name__}."
            )
    if known(config["OptimizationJobName"]):
        validate_job_name(config["OptimizationJobName"])
    return dict(config)


_NATIVE_HINT = (
    " A template renders to a string; to render it to a dict or list, set render_template_as_native_obj=True "
    "on the DAG, or pass the value as an XComArg (another task's .output)."
)


def _has_type(value: object, expected: type) -> bool:
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, expected)


def environment_items(config: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """
    Yield every environment variable of the request: ``OptimizationEnvironment`` and each ``OverrideEnvironment``.

    :param config: the ``CreateOptimizationJob`` request.
    """
    environments = [config.get("OptimizationEnvironment")]
    optimizations = config.get("OptimizationConfigs")
    for entry in optimizations if isinstance(optimizations, list) else []:
        if isinstance(entry, Mapping):
            environments.extend(
                optimization.get("OverrideEnvironment")
                for optimization in entry.values()
                if isinstance(optimization, Mapping)
            )
    for environment in environments:
        if isinstance(environment, Mapping):
            yield from ((str(key), value) for key, value in environment.items() if isinstance(value, str) and value)

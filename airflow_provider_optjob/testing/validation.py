"""Server-side request validation against botocore's own SageMaker service model."""

from __future__ import annotations

import functools
import re
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, ServiceModel, Shape, StructureShape
from botocore.validate import ParamValidator

from airflow_provider_optjob.testing.protocol import AwsError, join_messages, validation_error

JOB_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
_JOB_NAME_RE = re.compile(JOB_NAME_PATTERN)
_MAX_REPORTED = 10


@functools.lru_cache(maxsize=1)
def sagemaker_service_model() -> ServiceModel:
    """Load (once per process) botocore's SageMaker service model."""
    return botocore.session.get_session().get_service_model("sagemaker")


def operation_model(operation: str) -> OperationModel:
    """Return botocore's model of a SageMaker operation.

    :param operation: the operation name, e.g. ``DescribeOptimizationJob``.
    """
    return sagemaker_service_model().operation_model(operation)


@functools.lru_cache(maxsize=256)
def _compiled(pattern: str) -> re.Pattern[str] | None:
    anchored = pattern if pattern.startswith("^") else f"^(?:{pattern})$"
    try:
        return re.compile(anchored)
    except re.error:
        return None


def _path_name(path: str) -> str:
    return ".".join(part[:1].lower() + part[1:] for part in path.split("."))


def _constraint(value: Any, path: str, constraint: str) -> str:
    return f"Value '{value}' at '{_path_name(path)}' failed to satisfy constraint: {constraint}"


def _check_constraints(value: Any, shape: Shape, path: str, errors: list[str]) -> None:
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        for name, member in shape.members.items():
            if name in value and value[name] is not None:
                _check_constraints(value[name], member, f"{path}.{name}" if path else name, errors)
    elif isinstance(shape, ListShape) and isinstance(value, list):
        _check_length(value, shape, path, errors)
        for index, item in enumerate(value):
            _check_constraints(item, shape.member, f"{path}.{index + 1}.member", errors)
    elif isinstance(shape, MapShape) and isinstance(value, dict):
        _check_length(value, shape, path, errors)
        for key, item in value.items():
            _check_constraints(item, shape.value, f"{path}.{key}", errors)
    elif shape.type_name == "string" and isinstance(value, str):
        _check_string(value, shape, path, errors)
    elif shape.type_name in ("integer", "long") and isinstance(value, int) and not isinstance(value, bool):
        _check_maximum(value, shape, path, errors)


def _check_length(value: list[Any] | dict[str, Any], shape: Shape, path: str, errors: list[str]) -> None:
    maximum = shape.metadata.get("max")
    if maximum is not None and len(value) > maximum:
        errors.append(_constraint(value, path, f"Member must have length less than or equal to {maximum}"))


def _check_maximum(value: int, shape: Shape, path: str, errors: list[str]) -> None:
    maximum = shape.metadata.get("max")
    if maximum is not None and value > maximum:
        errors.append(_constraint(value, path, f"Member must have value less than or equal to {maximum}"))


def _check_string(value: str, shape: Shape, path: str, errors: list[str]) -> None:
    metadata = shape.metadata
    enum = metadata.get("enum")
    if enum and value not in enum:
        errors.append(_constraint(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]"))
        return
    if "max" in metadata and len(value) > metadata["max"]:
        errors.append(_constraint(value, path, f"Member must have length less than or equal to {metadata['max']}"))
        return
    pattern = metadata.get("pattern")
    if pattern:
        compiled = _compiled(pattern)
        if compiled is not None and compiled.match(value) is None:
            errors.append(
                _constraint(value, path, f"Member must satisfy regular expression pattern: {compiled.pattern}")
            )


def validate_job_name(name: Any) -> None:
    """Check an optimization job name against the API's rule.

    :param name: the value of ``OptimizationJobName``.
    :raises AwsError: ``ValidationException`` naming the rule.
    """
    if not isinstance(name, str) or _JOB_NAME_RE.match(name) is None:
        raise validation_error(
            join_messages(
                [
                    _constraint(
                        name,
                        "OptimizationJobName",
                        f"Member must satisfy regular expression pattern: {JOB_NAME_PATTERN}",
                    )
                ]
            )
        )


def validate_request(operation: str, params: dict[str, Any]) -> None:
    """Validate a request's parameters the way the service does, before any state changes.

    Types, required members and minimums are checked with botocore's ``ParamValidator``; enums, maximum
    lengths/values and patterns are checked from the same model. ``OptimizationJobName`` is checked against
    ``^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$``.

    :param operation: the operation name.
    :param params: the decoded JSON body.
    :raises AwsError: ``ValidationException`` with every problem found.
    """
    input_shape = operation_model(operation).input_shape
    if input_shape is None:
        return
    report = ParamValidator().validate(params, input_shape)
    if report.has_errors():
        lines = report.generate_report().splitlines()
        raise validation_error(join_messages(lines[:_MAX_REPORTED]))
    if "OptimizationJobName" in input_shape.members:
        validate_job_name(params.get("OptimizationJobName"))
    errors: list[str] = []
    _check_constraints(params, input_shape, "", errors)
    if errors:
        raise validation_error(join_messages(errors[:_MAX_REPORTED]))


__all__ = [
    "JOB_NAME_PATTERN",
    "AwsError",
    "operation_model",
    "sagemaker_service_model",
    "validate_job_name",
    "validate_request",
]

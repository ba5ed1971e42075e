"""SageMaker model names: the API's rule, and the name a model built from an optimization job gets by default."""

from __future__ import annotations

import re

from airflow_provider_optjob.model.name import validate_job_name

#: The ``CreateModel`` API's ``ModelName`` rule (botocore's service model), and its length limit.
MODEL_NAME_PATTERN = r"^[a-zA-Z0-9]([\-a-zA-Z0-9]*[a-zA-Z0-9])?$"
MAX_MODEL_NAME_LENGTH = 63
_MODEL_NAME_RE = re.compile(MODEL_NAME_PATTERN, re.ASCII)


class InvalidModelNameError(ValueError):
    """A model name the SageMaker API would reject."""


def validate_model_name(model_name: object) -> str:
    """
    Return ``model_name`` if ``CreateModel`` accepts it; raise otherwise.

    :param model_name: the candidate name (after template rendering).
    :raises InvalidModelNameError: naming the bad value and the rule.
    """
    if not isinstance(model_name, str):
        raise InvalidModelNameError(
            f"SageMaker model name must be a string, got {type(model_name).__name__}: {model_name!r}."
        )
    if len(model_name) > MAX_MODEL_NAME_LENGTH or _MODEL_NAME_RE.fullmatch(model_name) is None:
        raise InvalidModelNameError(
            f"Invalid SageMaker model name {model_name!r} ({len(model_name)} characters): a name has 1 to "
            f"{MAX_MODEL_NAME_LENGTH} characters, only ASCII letters, digits and hyphens, and starts and ends with a "
            f"letter or digit (pattern {MODEL_NAME_PATTERN})."
        )
    return model_name


def default_model_name(job_name: str) -> str:
    """
    Return the name a model built from a job gets when none is given: the job's own name.

    The two APIs' name rules are the same language (1 to 63 ASCII letters, digits and hyphens, starting and
    ending with a letter or digit), so every valid job name is a valid model name, and the model is easy to
    find next to its job. A retry that re-ran a failed job under ``<name>-r<try>`` gets a model of that name.

    :param job_name: the optimization job's name.
    :raises ~airflow_provider_optjob.exceptions.InvalidOptimizationJobNameError:
        if ``job_name`` is not a valid job name.
    """
    return validate_model_name(validate_job_name(job_name))

"""Optimization job names, checked against the API's own rule before any call is made."""

from __future__ import annotations

import re

JOB_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
_JOB_NAME_RE = re.compile(JOB_NAME_PATTERN, re.ASCII)


class InvalidOptimizationJobNameError(ValueError):
    """A job name the SageMaker API would reject."""


def validate_job_name(job_name: object) -> str:
    """
    Return ``job_name`` if the API accepts it; raise otherwise.

    The rule (1 to 63 characters; ASCII letters, digits and hyphens; starting and ending with a letter
    or digit) is the API's ``OptimizationJobName`` pattern.

    :param job_name: the candidate name (after template rendering).
    :raises InvalidOptimizationJobNameError: naming the bad value and the rule.
    """
    if not isinstance(job_name, str):
        raise InvalidOptimizationJobNameError(
            f"Optimization job name must be a string, got {type(job_name).__name__}: {job_name!r}."
        )
    if _JOB_NAME_RE.fullmatch(job_name) is None:
        raise InvalidOptimizationJobNameError(
            f"Invalid optimization job name {job_name!r} ({len(job_name)} characters): a name has 1 to 63 "
            "characters, only ASCII letters, digits and hyphens, and starts and ends with a letter or "
            f"digit (pattern {JOB_NAME_PATTERN})."
        )
    return job_name


def validate_rendered_job_name(job_name: object, template: object, *, field: str = "job_name") -> str:
    """
    Check a job name after template rendering: a template that rendered to nothing fails at once, naming it.

    A Jinja template renders ``None`` (as the string ``'None'``) when what it reads is missing, for example a
    ``ti.xcom_pull`` whose ``task_ids`` or ``key`` matches no XCom. Sent to SageMaker, such a name would wait
    out the not-found grace period for a job that never existed.

    :param job_name: the rendered value.
    :param template: the value before rendering (a template string, or the name itself when not templated).
    :param field: the task argument that holds the name, for the message.
    :raises InvalidOptimizationJobNameError: the template rendered ``None`` or an empty string, or the name
        breaks the API's rule.
    """
    if is_templated(template) and (job_name is None or str(job_name).strip() in ("", "None")):
        raise InvalidOptimizationJobNameError(
            f"{field} rendered to {job_name!r} from the template {template!r}, so the task has no job name. A "
            "template renders 'None' when what it reads is missing, for example a ti.xcom_pull whose task_ids or "
            "key matches no XCom: check the task id and the key."
        )
    return validate_job_name(job_name)


def is_templated(value: object) -> bool:
    """
    Tell whether a value still holds Jinja markup, so it can only be checked after rendering.

    :param value: a constructor argument that is also a template field.
    """
    return isinstance(value, str) and ("{{" in value or "{%" in value)

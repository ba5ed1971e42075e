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
    :raises ~airflow_provider_optjob.exceptions.InvalidOptimizationJobNameError: naming the bad value and the rule.
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


#: The longest prefix :func:`job_name_per_run` takes: it leaves 16 characters for the end of the run id.
MAX_PER_RUN_PREFIX = 46
#: Characters of Airflow run ids that job names do not allow, each rendered as a hyphen by :func:`job_name_per_run`.
_RUN_ID_CHARACTERS_REPLACED = ("_", ":", ".", "+", " ", "/")


def job_name_per_run(prefix: str) -> str:
    """
    Build a job name template that renders a valid name of its own for each DAG run, on Airflow 2.10 to 3.x.

    The name is ``prefix``, a hyphen, and the end of the run id (unique per DAG) with the characters job names do
    not allow turned into hyphens: ``quantize-llama-manual--2026-12-03T10-31-24-677715-00-00`` for the run
    ``manual__2026-12-03T10:31:24.677715+00:00``. It needs no logical date, which Airflow 3's manual runs lack.

    :param prefix: the start of every name: 1 to 46 characters that a job name allows (letters, digits, hyphens;
        starting with a letter or digit).
    :return: a Jinja template for ``OptimizationJobName`` (or a sensor's ``job_name``).
    :raises ~airflow_provider_optjob.exceptions.InvalidOptimizationJobNameError:
        ``prefix`` is no valid start of a name, or leaves too little room for the run id.
    """
    validate_job_name(prefix)
    room = 63 - len(prefix) - 1
    if len(prefix) > MAX_PER_RUN_PREFIX:
        raise InvalidOptimizationJobNameError(
            f"Prefix {prefix!r} is {len(prefix)} characters: at most {MAX_PER_RUN_PREFIX} leave room for the run id "
            "in a 63-character job name."
        )
    replaced = "".join(f" | replace('{character}', '-')" for character in _RUN_ID_CHARACTERS_REPLACED)
    return f"{prefix}-{{{{ (run_id{replaced})[-{room}:] }}}}"


def validate_rendered_job_name(job_name: object, template: object, *, field: str = "job_name") -> str:
    """
    Check a job name after template rendering: a template that rendered to nothing fails at once, naming it.

    A Jinja template renders ``None`` (as the string ``'None'``) when what it reads is missing, for example a
    ``ti.xcom_pull`` whose ``task_ids`` or ``key`` matches no XCom. Sent to SageMaker, such a name would wait
    out the not-found grace period for a job that never existed.

    :param job_name: the rendered value.
    :param template: the value before rendering (a template string, or the name itself when not templated).
    :param field: the task argument that holds the name, for the message.
    :raises ~airflow_provider_optjob.exceptions.InvalidOptimizationJobNameError:
        the template rendered ``None`` or an empty string, or the name breaks the API's rule.
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

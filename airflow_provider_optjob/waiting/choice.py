"""Which job a create task uses: one it owns and may attach to, or a new one under which name.

The rules (``if_exists`` is the create operator's parameter):

- Earlier tries' names are looked at newest first (:func:`~.ownership.candidate_job_names`).
- A job owned by this task instance that is still running or ``COMPLETED`` is attached to; so is a job this
  very try created, whatever its status (a worker that died mid-try comes back to it).
- A job owned by this task instance that ended ``FAILED`` or ``STOPPED`` in an earlier try is not reused:
  the try creates a new job under ``<name>-r<try_number>``.
- A job that another task instance owns, or that carries no owner tags, is an error naming its owner,
  unless ``if_exists="adopt"``, which attaches to it whatever it is.
- ``if_exists="fail"`` never attaches to a job from an earlier try: finding one is an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import BotoCoreError, ClientError

from airflow_provider_optjob.compat import AirflowException
from airflow_provider_optjob.exceptions import OptimizationJobOwnedElsewhereError
from airflow_provider_optjob.model.api_errors import ApiErrorKind, classify_api_error, describe_failure_message
from airflow_provider_optjob.model.name import MAX_PER_RUN_PREFIX
from airflow_provider_optjob.model.ownership import (
    TRY_NUMBER_TAG,
    JobOwner,
    candidate_job_names,
    job_name_for_try,
    tag_value,
)
from airflow_provider_optjob.model.status import FAILURE_STATUSES

if TYPE_CHECKING:
    from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook

IfExists = Literal["attach", "adopt", "fail"]
#: Makes one AWS call (given without arguments) and returns its answer; the string says what it does.
Retry = Callable[[Callable[[], Any], str], Any]
#: Looks a job up by name: :func:`find_job` bound to a hook and a way of retrying.
JobFinder = Callable[[str], "ExistingJob | None"]


def _call_once(call: Callable[[], Any], what: str) -> Any:
    return call()


IF_EXISTS_CHOICES: tuple[str, ...] = ("attach", "adopt", "fail")


@dataclass(frozen=True)
class ExistingJob:
    """
    A job found under one of the task's names.

    :param name: the job's name.
    :param status: its ``OptimizationJobStatus``.
    :param owner: the task instance its tags name, or ``None`` when it has no owner tags.
    :param created_by_try: the try number its tags name, or ``None``.
    """

    name: str
    status: str
    owner: JobOwner | None
    created_by_try: str | None


@dataclass(frozen=True)
class JobChoice:
    """
    What the task does: attach to ``name`` (``create`` false) or create a job named ``name``.

    :param name: the job's name.
    :param create: whether the job has to be created.
    :param reason: why, for the task's log.
    """

    name: str
    create: bool
    reason: str


def find_job(hook: SageMakerOptimizationJobHook, name: str, retry: Retry = _call_once) -> ExistingJob | None:
    """
    Describe a job and read its owner tags; ``None`` when there is no job of that name.

    :param hook: the hook to call SageMaker with.
    :param name: the job's name.
    :param retry: makes each call (``retry(call, what)``), e.g. through transient errors.
    :raises AirflowException: when the tags cannot be read (for example no ``sagemaker:ListTags`` permission).
    """
    try:
        description = retry(lambda: hook.describe_optimization_job(name), f"describing optimization job {name}")
    except (ClientError, BotoCoreError) as error:
        kind = classify_api_error(error)
        if kind is ApiErrorKind.NOT_FOUND:
            return None
        raise AirflowException(describe_failure_message(name, kind, error)) from error
    arn = str(description["OptimizationJobArn"])
    try:
        tags = retry(lambda: hook.list_tags(arn), f"reading the tags of optimization job {name}")
    except ClientError as error:
        raise AirflowException(
            f"Optimization job {name!r} exists, but its tags could not be read to tell whether this task owns "
            f"it ({error}). Allow sagemaker:ListTags on {arn}, or set if_exists='adopt' to attach to it anyway."
        ) from error
    created_by_try = next((tag.get("Value") for tag in tags if tag.get("Key") == TRY_NUMBER_TAG), None)
    return ExistingJob(name, str(description["OptimizationJobStatus"]), JobOwner.from_tags(tags), created_by_try)


def choose_job(find: JobFinder, base_name: str, owner: JobOwner, try_number: int, if_exists: IfExists) -> JobChoice:
    """
    Decide which job this try uses (see the module docstring for the rules).

    :param find: looks a job up by name (:func:`find_job` with the caller's hook and retries).
    :param base_name: the configured (rendered) job name.
    :param owner: the running task instance.
    :param try_number: the running try's number.
    :param if_exists: ``"attach"``, ``"adopt"`` or ``"fail"``.
    :raises OptimizationJobOwnedElsewhereError: a job of that name belongs to someone else.
    """
    for name in candidate_job_names(base_name, try_number):
        existing = find(name)
        if existing is not None:
            return choice_for_existing(existing, owner, try_number, if_exists, base_name)
    return JobChoice(base_name, create=True, reason="no job of that name exists yet")


def choice_for_existing(
    existing: ExistingJob, owner: JobOwner, try_number: int, if_exists: IfExists, base_name: str
) -> JobChoice:
    """
    Decide what to do about one job found under the task's name.

    :param existing: the job found.
    :param owner: the running task instance.
    :param try_number: the running try's number.
    :param if_exists: ``"attach"``, ``"adopt"`` or ``"fail"``.
    :param base_name: the configured (rendered) job name.
    :raises OptimizationJobOwnedElsewhereError: the job belongs to someone else and adopting was not asked for.
    """
    if existing.owner != owner:
        if if_exists == "adopt":
            return JobChoice(existing.name, create=False, reason="if_exists='adopt' attaches to any job of that name")
        raise OptimizationJobOwnedElsewhereError(foreign_job_message(existing, owner))
    if existing.created_by_try == tag_value(try_number):
        return JobChoice(existing.name, create=False, reason=f"this try (try {try_number}) created it")
    if existing.status in FAILURE_STATUSES:
        return JobChoice(
            job_name_for_try(base_name, try_number),
            create=True,
            reason=f"this task's job {existing.name!r} from an earlier try ended {existing.status}; running it again",
        )
    if if_exists == "fail":
        raise AirflowException(
            f"Optimization job {existing.name!r} from an earlier try of this task exists ({existing.status}) and "
            "if_exists='fail'. Use if_exists='attach' to wait on it."
        )
    return JobChoice(existing.name, create=False, reason=f"this task's job from an earlier try is {existing.status}")


def foreign_job_message(existing: ExistingJob, owner: JobOwner) -> str:
    """
    Explain that a same-named job belongs to someone else, and what to do.

    :param existing: the job found.
    :param owner: the running task instance.
    """
    owned_by = (
        f"is owned by {existing.owner.describe()}"
        if existing.owner is not None
        else "carries no Airflow owner tags (created by hand, by other tooling or by an older provider)"
    )
    return (
        f"An optimization job named {existing.name!r} already exists ({existing.status}) and {owned_by}; this task "
        f"is {owner.describe()}. Give each DAG run its own job name, for example "
        f"job_name_per_run({_prefix_of(existing.name)!r}) (from airflow_provider_optjob.operators.optimization_job), "
        "which renders the run id into the name; or delete the other job, or set if_exists='adopt' to wait on it "
        "and hand its outcome downstream as this task's."
    )


def _prefix_of(job_name: str) -> str:
    """Cut a job name to a prefix that :func:`~airflow_provider_optjob.model.name.job_name_per_run` accepts."""
    return job_name[:MAX_PER_RUN_PREFIX].rstrip("-") or "optimization-job"

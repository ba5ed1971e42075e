"""Which task instance a job belongs to: owner tags, and the name each try of a task uses.

A job created by the create operator carries four tags naming its owner (:data:`OWNER_TAG_KEYS`): the DAG
id, the task id, the run id and the map index (``-1`` for a task that is not mapped), and a fifth,
``airflow:try_number``, that says which try created it (informational: it is not part of the owner).

Tag values follow AWS's tag rules: at most 256 characters of letters, digits, spaces and ``_ . : / = + - @``.
Any other character becomes ``_``; a longer value keeps its first 247 characters and ends with ``-`` and 8
hex digits of its SHA-256, so two long values stay apart. Owners are compared on these stored forms.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

DAG_ID_TAG = "airflow:dag_id"
TASK_ID_TAG = "airflow:task_id"
RUN_ID_TAG = "airflow:run_id"
MAP_INDEX_TAG = "airflow:map_index"
TRY_NUMBER_TAG = "airflow:try_number"
#: The tags that together name the task instance owning a job.
OWNER_TAG_KEYS: tuple[str, ...] = (DAG_ID_TAG, TASK_ID_TAG, RUN_ID_TAG, MAP_INDEX_TAG)

MAX_TAG_VALUE_LENGTH = 256
MAX_JOB_NAME_LENGTH = 63
_DISALLOWED_TAG_CHARACTERS = re.compile(r"[^\w .:/=+\-@]")
_DIGEST_LENGTH = 8


def tag_value(value: object) -> str:
    """
    Turn a value into a valid AWS tag value (see the module docstring for the rule).

    :param value: the value to store; converted with ``str``.
    """
    text = _DISALLOWED_TAG_CHARACTERS.sub("_", str(value))
    if len(text) <= MAX_TAG_VALUE_LENGTH:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:_DIGEST_LENGTH]
    return f"{text[: MAX_TAG_VALUE_LENGTH - _DIGEST_LENGTH - 1]}-{digest}"


@dataclass(frozen=True)
class JobOwner:
    """
    The task instance a job belongs to, in the stored (tag value) form.

    :param dag_id: the DAG id.
    :param task_id: the task id.
    :param run_id: the DAG run id.
    :param map_index: the map index (``"-1"`` for a task that is not mapped).
    """

    dag_id: str
    task_id: str
    run_id: str
    map_index: str

    @classmethod
    def of_task_instance(cls, task_instance: Any) -> JobOwner:
        """
        Build the owner that a running task instance stands for.

        :param task_instance: ``context["ti"]`` (Airflow 2 or 3).
        """
        map_index = getattr(task_instance, "map_index", -1)
        return cls(
            dag_id=tag_value(task_instance.dag_id),
            task_id=tag_value(task_instance.task_id),
            run_id=tag_value(task_instance.run_id),
            map_index=tag_value(-1 if map_index is None else map_index),
        )

    @classmethod
    def from_tags(cls, tags: Iterable[Mapping[str, str]]) -> JobOwner | None:
        """
        Read the owner from a job's tags; ``None`` when the job does not carry all owner tags.

        :param tags: the job's tags, as ``ListTags`` returns them (``[{"Key": ..., "Value": ...}]``).
        """
        values = {tag.get("Key"): tag.get("Value") for tag in tags}
        if any(not isinstance(values.get(key), str) for key in OWNER_TAG_KEYS):
            return None
        return cls(*(str(values[key]) for key in OWNER_TAG_KEYS))

    def tags(self, try_number: int) -> list[dict[str, str]]:
        """
        Return the tags to create a job with.

        :param try_number: the try that creates the job.
        """
        values = (self.dag_id, self.task_id, self.run_id, self.map_index, tag_value(try_number))
        return [
            {"Key": key, "Value": value} for key, value in zip((*OWNER_TAG_KEYS, TRY_NUMBER_TAG), values, strict=True)
        ]

    def describe(self) -> str:
        """Name the owner for an error message."""
        return f"dag_id={self.dag_id!r}, task_id={self.task_id!r}, run_id={self.run_id!r}, map_index={self.map_index}"


def with_owner_tags(config: Mapping[str, Any], owner: JobOwner, try_number: int) -> dict[str, Any]:
    """
    Return the request with the owner tags added (replacing any the user gave under the same keys).

    :param config: the ``CreateOptimizationJob`` request.
    :param owner: the task instance creating the job.
    :param try_number: the try that creates the job.
    """
    own_tags = owner.tags(try_number)
    own_keys = {tag["Key"] for tag in own_tags}
    user_tags = [tag for tag in config.get("Tags") or [] if tag.get("Key") not in own_keys]
    return {**config, "Tags": [*user_tags, *own_tags]}


def job_name_for_try(base_name: str, try_number: int) -> str:
    """
    Return the name a try uses when it re-runs a job: ``<base>-r<try_number>``, within the 63-character rule.

    The base is cut (and trailing hyphens dropped) to make room for the suffix, so the same base and try
    always give the same name.

    :param base_name: the configured (rendered) job name.
    :param try_number: the task's try number (2 or more).
    """
    suffix = f"-r{try_number}"
    return f"{base_name[: MAX_JOB_NAME_LENGTH - len(suffix)].rstrip('-')}{suffix}"


def candidate_job_names(base_name: str, try_number: int) -> list[str]:
    """
    Return the names earlier tries may have used, newest first: ``<base>-r<n>`` down to ``<base>``.

    :param base_name: the configured (rendered) job name.
    :param try_number: the task's current try number.
    """
    derived = [job_name_for_try(base_name, number) for number in range(max(try_number, 1), 1, -1)]
    return [*derived, base_name]


def current_try_number(context: Mapping[str, Any]) -> int:
    """
    Return the running try's number (1 for the first try).

    :param context: the task's context (its ``ti`` is read).
    """
    number = getattr(context["ti"], "try_number", None)
    return number if isinstance(number, int) and number > 0 else 1

"""The emulator's optimization-job store and its status-over-time model.

A job's life is a *timeline*: consecutive phases ``(status, start, end)`` anchored at its creation time, the
last one open-ended. The status a request sees is read off the timeline at the moment of the request, so no
background thread moves jobs along. Stopping, forcing a final state or injecting a status splices new phases
into the timeline at "now".

A *held* job does not move on its own: its timeline ends in its current status, open-ended, and the rest of its
plan waits in :attr:`Job.upcoming` until :meth:`OptimizationJobStore.advance` moves it on, one step per request.
Tests use held jobs to act on a job in a known status however slow the machine is.
"""

from __future__ import annotations

import base64
import copy
import json
import threading
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from botocore.utils import parse_to_aware_datetime

from airflow_provider_optjob.testing.protocol import ACCOUNT_ID, AwsError, validation_error

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

STARTING = "STARTING"
INPROGRESS = "INPROGRESS"
COMPLETED = "COMPLETED"
FAILED = "FAILED"
STOPPING = "STOPPING"
STOPPED = "STOPPED"
TERMINAL_STATUSES = frozenset({COMPLETED, FAILED, STOPPED})
FINAL_STATUSES = frozenset({COMPLETED, FAILED})

DEFAULT_FAILURE_REASON = "ClientError: Scripted failure injected by the SageMaker emulator."
DEFAULT_LIST_MAX_RESULTS = 50

OPTIMIZATION_TYPES = {
    "ModelQuantizationConfig": "Quantization",
    "ModelCompilationConfig": "Compilation",
    "ModelShardingConfig": "Sharding",
    "ModelSpeculativeDecodingConfig": "SpeculativeDecoding",
}

_ECHOED_MEMBERS = (
    "ModelSource",
    "DeploymentInstanceType",
    "MaxInstanceCount",
    "OptimizationEnvironment",
    "OptimizationConfigs",
    "OutputConfig",
    "RoleArn",
    "StoppingCondition",
    "VpcConfig",
    "TrainingPlanArns",
)


def default_inference_image(region: str, instance_type: str) -> str:
    """Return a plausible ``RecommendedInferenceImage`` for a region and deployment instance type.

    :param region: the AWS region of the job.
    :param instance_type: the job's ``DeploymentInstanceType``.
    """
    registry = f"763104351884.dkr.ecr.{region}.amazonaws.com"
    if instance_type.startswith(("ml.inf", "ml.trn")):
        return f"{registry}/djl-inference:0.29.0-neuronx-sdk2.19.1"
    return f"{registry}/djl-inference:0.31.0-lmi13.0.0-cu124"


@dataclass(frozen=True)
class Durations:
    """How long a job stays in each transient status, in seconds.

    :param starting_seconds: time in ``STARTING``.
    :param inprogress_seconds: time in ``INPROGRESS``.
    :param stopping_seconds: time in ``STOPPING`` after a stop request.
    """

    starting_seconds: float = 1.0
    inprogress_seconds: float = 4.0
    stopping_seconds: float = 1.0

    def __post_init__(self) -> None:
        for name in ("starting_seconds", "inprogress_seconds", "stopping_seconds"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")


@dataclass(frozen=True)
class JobScript:
    """How a job with a given name should behave; applied when it is created (or at once if it exists).

    :param final_status: the status the job ends in when left alone (``COMPLETED`` or ``FAILED``, or any
        other string to emulate a status the API may add later).
    :param failure_reason: the ``FailureReason`` reported for a ``FAILED`` job.
    :param starting_seconds: overrides the global ``STARTING`` duration.
    :param inprogress_seconds: overrides the global ``INPROGRESS`` duration.
    :param stopping_seconds: overrides the global ``STOPPING`` duration.
    :param recommended_inference_image: the image reported on completion (default: a DJL LMI image).
    :param omit_optimization_output: report no ``OptimizationOutput`` at all on completion.
    :param phases: explicit ``(status, seconds)`` phases replacing ``STARTING``/``INPROGRESS``, e.g.
        ``[("STARTING", 1), ("PAUSED", 2), ("INPROGRESS", 1)]``.
    :param hold: hold the job: it stays in each status of its plan until moved on request (the durations are
        then ignored); ``False`` runs it on its timings; ``None`` follows the store's ``hold_jobs`` setting.
    """

    final_status: str = COMPLETED
    failure_reason: str | None = None
    starting_seconds: float | None = None
    inprogress_seconds: float | None = None
    stopping_seconds: float | None = None
    recommended_inference_image: str | None = None
    omit_optimization_output: bool = False
    phases: tuple[tuple[str, float], ...] | None = None
    hold: bool | None = None

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JobScript:
        """Build a script from its JSON form (as sent over the control API).

        :param data: the script fields.
        :raises ValueError: on unknown fields or bad values.
        """
        allowed = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - allowed
        if unknown:
            raise ValueError(f"unknown script fields: {sorted(unknown)}")
        fields = dict(data)
        if fields.get("phases") is not None:
            phases = []
            for item in fields["phases"]:
                status, seconds = item
                if not isinstance(status, str) or not status or float(seconds) < 0:
                    raise ValueError(f"bad phase {item!r}: expected [status, seconds >= 0]")
                phases.append((status, float(seconds)))
            fields["phases"] = tuple(phases)
        script = cls(**fields)
        if not isinstance(script.final_status, str) or not script.final_status:
            raise ValueError("final_status must be a non-empty string")
        if script.hold is not None and not isinstance(script.hold, bool):
            raise ValueError("hold must be true, false or null")
        for name in ("starting_seconds", "inprogress_seconds", "stopping_seconds"):
            value = getattr(script, name)
            if value is not None and float(value) < 0:
                raise ValueError(f"{name} must be >= 0")
        return script


@dataclass
class Phase:
    """One status held over ``[start, end)``; ``end`` is ``None`` for the open-ended last phase."""

    status: str
    start: float
    end: float | None


@dataclass
class Job:
    """An emulated optimization job.

    :param name: ``OptimizationJobName``.
    :param arn: ``OptimizationJobArn``.
    :param region: the region the job was created in.
    :param request: the CreateOptimizationJob request as received.
    :param created: creation time (epoch seconds).
    :param script: the behaviour script in effect.
    :param stopping_seconds: how long a stop request keeps the job in ``STOPPING``.
    :param phases: the timeline.
    :param failure_reason: the reason reported while ``FAILED``.
    :param tags: the job's tags (``Tags`` of the create request, then ``AddTags``/``DeleteTags``), in order.
    :param output_model_handed_out: whether the model its ``OutputConfig.SageMakerModel`` names was handed out
        for creation (see :meth:`OptimizationJobStore.take_completed_output_models`).
    :param held: whether the job moves only on request (see :meth:`advance`).
    :param upcoming: the ``(status, seconds)`` steps of its plan that come after the open-ended last phase of
        the timeline, reached only on request (a held job's plan, or the plan a status injected for good
        interrupted).
    """

    name: str
    arn: str
    region: str
    request: dict[str, Any]
    created: float
    script: JobScript
    stopping_seconds: float
    phases: list[Phase] = field(default_factory=list)
    failure_reason: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    output_model_handed_out: bool = False
    held: bool = False
    upcoming: list[tuple[str, float | None]] = field(default_factory=list)

    def phase_at(self, now: float) -> Phase:
        """Return the phase in effect at ``now`` (the first before creation, the last after the end)."""
        for phase in self.phases:
            if phase.end is None or now < phase.end:
                return phase
        return self.phases[-1]

    def status_at(self, now: float) -> str:
        """Return the job's status at ``now``."""
        return self.phase_at(now).status

    def start_time(self, now: float) -> float | None:
        """Return ``OptimizationStartTime``: when the job first reached ``INPROGRESS`` or ``COMPLETED``."""
        for phase in self.phases:
            if phase.start > now:
                break
            if phase.status in (INPROGRESS, COMPLETED):
                return phase.start
        return None

    def end_time(self, now: float) -> float | None:
        """Return ``OptimizationEndTime``: when the job reached its terminal status, if it has."""
        phase = self.phase_at(now)
        if phase.status in TERMINAL_STATUSES and phase.start <= now:
            return phase.start
        return None

    def splice(self, now: float, new: Sequence[tuple[str, float | None]], resume: bool = False) -> None:
        """Replace the timeline from ``now`` on with ``new`` phases.

        :param now: the splice point.
        :param new: ``(status, seconds)`` phases; ``seconds=None`` makes a phase open-ended (it must be last).
        :param resume: after the new phases, continue with what was left of the old timeline.
        """
        now = max(now, self.created)
        kept: list[Phase] = []
        rest: list[tuple[str, float | None]] = []
        for phase in self.phases:
            if phase.start >= now:
                rest.append((phase.status, None if phase.end is None else phase.end - phase.start))
                continue
            if phase.end is None or phase.end > now:
                rest.append((phase.status, None if phase.end is None else phase.end - now))
                phase = replace(phase, end=now)
            kept.append(phase)
        self.phases = kept
        self._append(now, list(new) + (rest if resume else []))

    def _append(self, start: float, new: Sequence[tuple[str, float | None]]) -> None:
        for status, seconds in new:
            if seconds is None:
                self.phases.append(Phase(status, start, None))
                return
            if seconds > 0:
                self.phases.append(Phase(status, start, start + seconds))
                start += seconds
        if not self.phases or self.phases[-1].end is not None:
            last = self.phases[-1].status if self.phases else INPROGRESS
            self.phases.append(Phase(last, start, None))

    def rebuild(self, durations: Durations, hold: bool = False, now: float | None = None) -> None:
        """Rebuild the whole timeline from the creation time and the current script.

        :param durations: the global durations, used where the script sets none.
        :param hold: hold the job, in the status the rebuilt timeline gives at ``now``.
        :param now: the time to hold the job at (default: its creation).
        """
        script = self.script
        if script.phases is not None:
            transient: list[tuple[str, float | None]] = list(script.phases)
        else:
            starting = script.starting_seconds
            inprogress = script.inprogress_seconds
            transient = [
                (STARTING, durations.starting_seconds if starting is None else float(starting)),
                (INPROGRESS, durations.inprogress_seconds if inprogress is None else float(inprogress)),
            ]
        self.phases = []
        self.upcoming = []
        self._append(self.created, [*transient, (script.final_status, None)])
        self.failure_reason = (
            (script.failure_reason or DEFAULT_FAILURE_REASON) if script.final_status == FAILED else None
        )
        self.held = hold
        if hold:
            self._hold_at(self.created if now is None else now)

    def _current_index(self, now: float) -> int:
        current = self.phase_at(now)
        return next(index for index, phase in enumerate(self.phases) if phase is current)

    def _hold_at(self, now: float) -> None:
        """Keep the job in its status at ``now`` until moved: that phase becomes open-ended, the rest upcoming."""
        index = self._current_index(now)
        self.upcoming = self.remaining(now)
        self.phases = [*self.phases[:index], replace(self.phases[index], end=None)]

    def remaining(self, now: float) -> list[tuple[str, float | None]]:
        """Return the ``(status, seconds)`` steps that come after the current status at ``now``.

        :param now: the time of the question.
        """
        after = self.phases[self._current_index(now) + 1 :]
        return [(p.status, None if p.end is None else p.end - p.start) for p in after] + list(self.upcoming)

    def move(self, now: float, steps: Sequence[tuple[str, float | None]]) -> None:
        """Make ``steps`` the job's future from ``now``: the first one now, the others after it.

        A held job shows the first step until moved again, and keeps the others in :attr:`upcoming`. Any other
        job runs the steps on their timings up to the first open-ended one, and keeps the steps after that in
        :attr:`upcoming`.

        :param now: when the first step starts.
        :param steps: ``(status, seconds)`` steps, at least one; ``seconds=None`` is open-ended.
        """
        if self.held:
            head: list[tuple[str, float | None]] = [(steps[0][0], None)]
        else:
            cut = next((index for index, (_, seconds) in enumerate(steps) if seconds is None), len(steps) - 1)
            head = list(steps[: cut + 1])
        self.splice(now, head)
        self.upcoming = list(steps[len(head) :])

    def advance(self, now: float, to: str | None = None) -> str:
        """Move the job on from its status at ``now`` and return its new status.

        Without ``to``, the job goes to the next step of its plan. With ``to``, it goes to the first step of
        the rest of its plan with that status, skipping the ones before. ``to="STOPPING"`` outside the plan is
        a stop; any other status outside it is shown until the job is moved again, after which the plan goes
        on where it was, unless ``to`` is terminal (``COMPLETED``, ``FAILED``, ``STOPPED``), which ends it. A
        held job stays held; a timed one runs the rest of its plan on its timings from ``now``.

        :param now: the time of the move.
        :param to: the status to move to; ``None`` for the next one in the plan.
        :raises PlanEndedError: ``to`` is ``None`` and the job is at the end of its plan.
        """
        remaining = self.remaining(now)
        statuses = [status for status, _ in remaining]
        if to is None:
            if not remaining:
                raise PlanEndedError(
                    f"Optimization job '{self.name}' is {self.status_at(now)}, the end of its plan: there is no "
                    "next status to move it to (name one with 'to')."
                )
            steps = remaining
        elif to in statuses:
            steps = remaining[statuses.index(to) :]
        elif to == STOPPING:
            steps = [(STOPPING, self.stopping_seconds), (STOPPED, None)]
        elif to in TERMINAL_STATUSES:
            steps = [(to, None)]
        else:
            steps = [(to, None), *remaining]
        self.move(now, steps)
        status = self.status_at(now)
        if status == FAILED and self.failure_reason is None:
            self.failure_reason = self.script.failure_reason or DEFAULT_FAILURE_REASON
        return status

    def optimization_types(self) -> list[str]:
        """Return ``OptimizationTypes``, derived from the keys of ``OptimizationConfigs``."""
        types: list[str] = []
        for config in self.request.get("OptimizationConfigs", []):
            for key in config:
                label = OPTIMIZATION_TYPES.get(key, key.removeprefix("Model").removesuffix("Config"))
                if label not in types:
                    types.append(label)
        return types

    def describe(self, now: float) -> dict[str, Any]:
        """Return the DescribeOptimizationJob response at ``now`` (timestamps as epoch seconds)."""
        phase = self.phase_at(now)
        status = phase.status
        result: dict[str, Any] = {
            "OptimizationJobArn": self.arn,
            "OptimizationJobStatus": status,
            "OptimizationJobName": self.name,
            "CreationTime": _ms(self.created),
            "LastModifiedTime": _ms(max(self.created, phase.start)),
        }
        start, end = self.start_time(now), self.end_time(now)
        if start is not None:
            result["OptimizationStartTime"] = _ms(start)
        if end is not None:
            result["OptimizationEndTime"] = _ms(end)
        if status == FAILED:
            result["FailureReason"] = self.failure_reason or DEFAULT_FAILURE_REASON
        for member in _ECHOED_MEMBERS:
            if member in self.request:
                result[member] = copy.deepcopy(self.request[member])
        if status == COMPLETED and not self.script.omit_optimization_output:
            image = self.script.recommended_inference_image or default_inference_image(
                self.region, str(self.request.get("DeploymentInstanceType", ""))
            )
            result["OptimizationOutput"] = {"RecommendedInferenceImage": image}
        return result

    def summary(self, now: float) -> dict[str, Any]:
        """Return the ListOptimizationJobs summary of this job at ``now``."""
        described = self.describe(now)
        summary: dict[str, Any] = {
            key: described[key]
            for key in (
                "OptimizationJobName",
                "OptimizationJobArn",
                "CreationTime",
                "OptimizationJobStatus",
                "OptimizationStartTime",
                "OptimizationEndTime",
                "LastModifiedTime",
                "DeploymentInstanceType",
                "MaxInstanceCount",
            )
            if key in described
        }
        summary["OptimizationTypes"] = self.optimization_types()
        return summary


def _ms(timestamp: float) -> float:
    return round(timestamp, 3)


def _not_found(name: str) -> AwsError:
    return AwsError("ResourceNotFound", f"Could not find optimization job '{name}'.")


def _epoch(value: Any) -> float:
    return parse_to_aware_datetime(value).timestamp()


class PlanEndedError(Exception):
    """A job asked to move to its next status has none: it is at the end of its plan."""


#: The summary members a list is sorted by, for each ``SortBy``; the name makes every key unique.
_LIST_SORT_FIELDS = {
    "Name": ("OptimizationJobName", "CreationTime"),
    "CreationTime": ("CreationTime", "OptimizationJobName"),
    "Status": ("OptimizationJobStatus", "CreationTime", "OptimizationJobName"),
}


def _sort_key(summary: dict[str, Any], sort_by: str) -> tuple[Any, ...]:
    return tuple(summary[member] for member in _LIST_SORT_FIELDS[sort_by])


def _comes_after(key: tuple[Any, ...], last_key: tuple[Any, ...], descending: bool) -> bool:
    return key < last_key if descending else key > last_key


def _encode_token(last_key: tuple[Any, ...]) -> str:
    return base64.urlsafe_b64encode(json.dumps({"after": list(last_key)}).encode()).decode()


def _decode_token(token: str, sort_by: str) -> tuple[Any, ...]:
    """Return the sort key of the last summary of the previous page (a token from another ``SortBy`` is invalid)."""
    try:
        after = json.loads(base64.urlsafe_b64decode(token.encode()))["after"]
    except (ValueError, KeyError, TypeError) as exc:
        raise validation_error(f"Invalid pagination token '{token}'.") from exc
    members = _LIST_SORT_FIELDS[sort_by]
    if not isinstance(after, list) or len(after) != len(members):
        raise validation_error(f"Invalid pagination token '{token}'.")
    for member, value in zip(members, after, strict=True):
        wanted = (int, float) if member == "CreationTime" else str
        if isinstance(value, bool) or not isinstance(value, wanted):
            raise validation_error(f"Invalid pagination token '{token}'.")
    return tuple(after)


class OptimizationJobStore:
    """Thread-safe store of emulated optimization jobs, scripts and durations.

    :param durations: the global durations for new jobs.
    :param clock: the time source (epoch seconds); injectable for unit tests.
    :param hold_jobs: hold new jobs (see :meth:`advance`) unless their script says otherwise.
    """

    def __init__(
        self, durations: Durations | None = None, clock: Callable[[], float] = time.time, hold_jobs: bool = False
    ) -> None:
        self._lock = threading.RLock()
        self._clock = clock
        self.durations = durations or Durations()
        self.hold_jobs = hold_jobs
        self._jobs: dict[str, Job] = {}
        self._scripts: dict[str, JobScript] = {}

    def now(self) -> float:
        """Return the current time of the store's clock."""
        return self._clock()

    def reset(self) -> None:
        """Forget every job and script (durations and ``hold_jobs`` are kept)."""
        with self._lock:
            self._jobs.clear()
            self._scripts.clear()

    def configure(self, durations: Durations, hold_jobs: bool | None = None) -> None:
        """Set the global durations, and whether to hold jobs, for jobs created from now on.

        :param durations: the new durations.
        :param hold_jobs: hold new jobs whose script does not say; ``None`` keeps the setting.
        """
        with self._lock:
            self.durations = durations
            if hold_jobs is not None:
                self.hold_jobs = hold_jobs

    def _holds(self, script: JobScript) -> bool:
        return self.hold_jobs if script.hold is None else script.hold

    def job_age(self, name: str) -> float | None:
        """Seconds since the job's creation, or ``None`` if there is no such job.

        :param name: the job name.
        """
        with self._lock:
            job = self._jobs.get(name)
            return None if job is None else self.now() - job.created

    def _get(self, name: str) -> Job:
        job = self._jobs.get(name)
        if job is None:
            raise _not_found(name)
        return job

    # --- API operations -------------------------------------------------------------------------------

    def create(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        """CreateOptimizationJob.

        :param params: the validated request.
        :param region: the request's region.
        """
        name = params["OptimizationJobName"]
        with self._lock:
            if name in self._jobs:
                raise AwsError("ResourceInUse", f"Optimization job '{name}' already exists.")
            script = self._scripts.get(name, JobScript())
            stopping = script.stopping_seconds
            job = Job(
                name=name,
                arn=f"arn:aws:sagemaker:{region}:{ACCOUNT_ID}:optimization-job/{name}",
                region=region,
                request=copy.deepcopy(params),
                created=self.now(),
                script=script,
                stopping_seconds=self.durations.stopping_seconds if stopping is None else float(stopping),
                tags={tag["Key"]: tag.get("Value", "") for tag in params.get("Tags", [])},
            )
            job.rebuild(self.durations, self._holds(script))
            self._jobs[name] = job
            return {"OptimizationJobArn": job.arn}

    def describe(self, name: str) -> dict[str, Any]:
        """DescribeOptimizationJob.

        :param name: the job name.
        """
        with self._lock:
            return self._get(name).describe(self.now())

    def stop(self, name: str) -> None:
        """StopOptimizationJob.

        A job in ``STARTING``/``INPROGRESS`` (or any non-terminal status) goes ``STOPPING``, then ``STOPPED``;
        a held job stays ``STOPPING`` until moved on (:meth:`advance`). Stopping a ``STOPPING`` job is a no-op;
        stopping a terminal job is a ``ValidationException``.

        :param name: the job name.
        """
        with self._lock:
            job = self._get(name)
            now = self.now()
            status = job.status_at(now)
            if status == STOPPING:
                return
            if status in TERMINAL_STATUSES:
                raise validation_error(
                    f"Optimization job '{name}' is in status {status} and cannot be stopped; only jobs that "
                    "have not finished can be stopped."
                )
            job.move(now, [(STOPPING, job.stopping_seconds), (STOPPED, None)])

    def delete(self, name: str) -> None:
        """DeleteOptimizationJob: only jobs in a terminal status can be deleted (stop it first otherwise).

        :param name: the job name.
        """
        with self._lock:
            job = self._get(name)
            status = job.status_at(self.now())
            if status not in TERMINAL_STATUSES:
                raise validation_error(
                    f"Optimization job '{name}' is in status {status}; only jobs in status COMPLETED, FAILED "
                    "or STOPPED can be deleted. Stop the job and delete it once it is STOPPED."
                )
            del self._jobs[name]

    def tag_operation(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        """AddTags, ListTags or DeleteTags on an optimization job's ARN.

        :param operation: ``AddTags``, ``ListTags`` or ``DeleteTags``.
        :param params: the validated request (``ResourceArn`` names an optimization job).
        """
        name = str(params["ResourceArn"]).rsplit("/", 1)[-1]
        with self._lock:
            job = self._get(name)
            if operation == "AddTags":
                job.tags.update({tag["Key"]: tag.get("Value", "") for tag in params["Tags"]})
                return {"Tags": [{"Key": key, "Value": job.tags[key]} for key in (t["Key"] for t in params["Tags"])]}
            if operation == "DeleteTags":
                for key in params["TagKeys"]:
                    job.tags.pop(key, None)
                return {}
            return {"Tags": [{"Key": key, "Value": value} for key, value in job.tags.items()]}

    def list_jobs(self, params: dict[str, Any], lag_seconds: float = 0.0) -> dict[str, Any]:
        """ListOptimizationJobs with filters (names, status, creation and last-modified times), sorting and pages.

        ``NextToken`` carries the sort key of the last summary returned, and the next page starts after it, so a
        job created or changed between two page requests neither shifts the pages nor shows up twice (unless a
        status change moves it under ``SortBy=Status``).

        :param params: the validated request.
        :param lag_seconds: answer from the jobs as they were this many seconds ago (the ``list_lag`` fault):
            newer jobs are left out and changes since then are not seen yet.
        """
        max_results = int(params.get("MaxResults", DEFAULT_LIST_MAX_RESULTS))
        sort_by = params.get("SortBy", "CreationTime")
        after = _decode_token(params["NextToken"], sort_by) if params.get("NextToken") else None
        descending = params.get("SortOrder", "Descending") == "Descending"
        with self._lock:
            as_of = self.now() - lag_seconds
            summaries = [job.summary(as_of) for job in self._jobs.values() if job.created <= as_of]
        summaries = [s for s in summaries if _matches(s, params)]
        if after is not None:
            summaries = [s for s in summaries if _comes_after(_sort_key(s, sort_by), after, descending)]
        summaries.sort(key=lambda summary: _sort_key(summary, sort_by), reverse=descending)
        page = summaries[:max_results]
        result: dict[str, Any] = {"OptimizationJobSummaries": page}
        if len(summaries) > max_results:
            result["NextToken"] = _encode_token(_sort_key(page[-1], sort_by))
        return result

    # --- control operations ---------------------------------------------------------------------------

    def script_job(self, name: str, script: JobScript) -> bool:
        """Script the job called ``name``: for a later create, and at once (timeline rebuilt) if it exists.

        An existing job's new timeline is laid out from its creation time; if the script holds it, it is held
        in the status that timeline gives now.

        :param name: the job name.
        :param script: the behaviour.
        :return: whether an existing job was re-scripted.
        """
        with self._lock:
            self._scripts[name] = script
            job = self._jobs.get(name)
            if job is None:
                return False
            job.script = script
            if script.stopping_seconds is not None:
                job.stopping_seconds = float(script.stopping_seconds)
            job.rebuild(self.durations, self._holds(script), self.now())
            return True

    def finish_job(self, name: str, status: str, failure_reason: str | None = None) -> None:
        """Move a job to a final status now (``complete_job`` / ``fail_job``).

        :param name: the job name.
        :param status: the status to hold from now on.
        :param failure_reason: the reason, for ``FAILED``.
        """
        with self._lock:
            job = self._get(name)
            if status == FAILED:
                job.failure_reason = failure_reason or DEFAULT_FAILURE_REASON
            job.move(self.now(), [(status, None)])

    def set_status(self, name: str, status: str, seconds: float | None = None) -> None:
        """Give a job an arbitrary status now.

        The status holds for ``seconds`` (then the rest of the timeline resumes), or until the job is moved
        again if ``None`` (:meth:`advance` then goes on with the steps after the status it replaced).

        :param name: the job name.
        :param status: any status string, including ones the API does not list (e.g. ``PAUSED``).
        :param seconds: how long to hold it.
        """
        with self._lock:
            job = self._get(name)
            now = self.now()
            if seconds is not None:
                job.splice(now, [(status, seconds)], resume=True)
                return
            remaining = job.remaining(now)
            job.splice(now, [(status, None)])
            job.upcoming = remaining

    def advance(self, name: str, to: str | None = None) -> str:
        """Move a job on now, held or not: to the next status of its plan, or to ``to``.

        See :meth:`Job.advance`. A held job stays held; a timed one runs the rest of its plan from now.

        :param name: the job name.
        :param to: the status to move to; ``None`` for the next one in its plan.
        :return: the job's new status.
        :raises PlanEndedError: ``to`` is ``None`` and the job is at the end of its plan.
        """
        with self._lock:
            return self._get(name).advance(self.now(), to)

    def take_completed_output_models(self) -> list[tuple[dict[str, Any], str]]:
        """Hand out, once each, the completed jobs whose ``OutputConfig.SageMakerModel`` names a model to create.

        SageMaker creates that model when the job completes; the emulator creates it when it next serves a
        SageMaker request after that.

        :return: ``(DescribeOptimizationJob response, region)`` of each such job not handed out before.
        """
        with self._lock:
            now = self.now()
            taken: list[tuple[dict[str, Any], str]] = []
            for job in self._jobs.values():
                output_config = job.request.get("OutputConfig") or {}
                if job.output_model_handed_out or "SageMakerModel" not in output_config:
                    continue
                if job.status_at(now) == COMPLETED:
                    job.output_model_handed_out = True
                    taken.append((job.describe(now), job.region))
            return taken

    def snapshot(self) -> list[dict[str, Any]]:
        """Return every job's status and timeline, for the control API."""
        with self._lock:
            now = self.now()
            return [
                {
                    "name": job.name,
                    "status": job.status_at(now),
                    "created": job.created,
                    "held": job.held,
                    "phases": [{"status": p.status, "start": p.start, "end": p.end} for p in job.phases],
                    "upcoming": [status for status, _ in job.upcoming],
                }
                for job in self._jobs.values()
            ]


def _matches(summary: dict[str, Any], params: dict[str, Any]) -> bool:
    name_contains = params.get("NameContains")
    if name_contains and name_contains.lower() not in summary["OptimizationJobName"].lower():
        return False
    if params.get("StatusEquals") and summary["OptimizationJobStatus"] != params["StatusEquals"]:
        return False
    wanted_type = params.get("OptimizationContains")
    if wanted_type and wanted_type.lower() not in [t.lower() for t in summary["OptimizationTypes"]]:
        return False
    bounds = (
        ("CreationTimeAfter", "CreationTime", 1),
        ("CreationTimeBefore", "CreationTime", -1),
        ("LastModifiedTimeAfter", "LastModifiedTime", 1),
        ("LastModifiedTimeBefore", "LastModifiedTime", -1),
    )
    for param, member, direction in bounds:
        if params.get(param) is None:
            continue
        bound = _epoch(params[param])
        value = float(summary[member])
        if (direction > 0 and value <= bound) or (direction < 0 and value >= bound):
            return False
    return True

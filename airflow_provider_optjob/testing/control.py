"""A small synchronous client (stdlib only) for the emulator's control API under ``/_emulator/``."""

from __future__ import annotations

import contextlib
import json
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import quote

if TYPE_CHECKING:
    from collections.abc import Sequence

CONTROL_PATH = "/_emulator"


class EmulatorControlError(RuntimeError):
    """The emulator rejected a control request.

    :param status: the HTTP status.
    :param message: the emulator's explanation.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"emulator control request failed ({status}): {message}")
        self.status = status
        self.message = message


class EmulatorControl:
    """Drive a running emulator (in this process or another one) over HTTP.

    :param url: the emulator's base URL, e.g. ``http://127.0.0.1:5055``.
    :param timeout: seconds to wait for each control request; it only ends a request the emulator never answers,
        so it is generous: an emulator in a test process on a busy machine may take seconds to answer.
    """

    def __init__(self, url: str, timeout: float = 60.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"EmulatorControl({self.url!r})"

    def _request(self, method: str, path: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            f"{self.url}{CONTROL_PATH}/{path}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", errors="replace")
            with contextlib.suppress(ValueError, AttributeError):
                detail = json.loads(detail).get("message", detail)
            raise EmulatorControlError(exc.code, detail) from exc
        return cast("dict[str, Any]", json.loads(body or b"{}"))

    @staticmethod
    def _job_path(job_name: str, action: str) -> str:
        return f"jobs/{quote(job_name, safe='')}/{action}"

    def connections(self) -> dict[str, int]:
        """Return the TCP connections the emulator's server has ``accepted`` so far and holds ``open`` now.

        The server keeps a connection open between requests, as SageMaker's endpoints do, so a client with a
        connection pool opens few.
        """
        return cast("dict[str, int]", self._request("GET", "connections"))

    def health(self) -> bool:
        """Tell whether the emulator answers."""
        try:
            return self._request("GET", "health").get("status") == "ok"
        except (OSError, EmulatorControlError):
            return False

    def reset(self, moto: bool = True) -> None:
        """Clear jobs, scripts, faults, call counts, the request log and the issued keys.

        Durations and the credential lifetime are kept.

        :param moto: also reset moto's state (models, endpoints, roles, ...).
        """
        self._request("POST", "reset", {"moto": moto})

    def configure(
        self,
        starting_seconds: float | None = None,
        inprogress_seconds: float | None = None,
        stopping_seconds: float | None = None,
        hold_jobs: bool | None = None,
    ) -> dict[str, Any]:
        """Change the global settings for jobs created from now on; ``None`` keeps a value.

        The settings outlive :meth:`reset`: a test that changes them restores them (pass it what
        ``configure()`` returned before).

        :param starting_seconds: time in ``STARTING``.
        :param inprogress_seconds: time in ``INPROGRESS``.
        :param stopping_seconds: time in ``STOPPING``.
        :param hold_jobs: hold new jobs: each stays in its current status until :meth:`advance_job` (or
            another control call, or ``StopOptimizationJob``) moves it; a script's ``hold`` wins.
        :return: the settings now in effect: the three durations and ``hold_jobs``.
        """
        payload: dict[str, Any] = {
            key: value
            for key, value in (
                ("starting_seconds", starting_seconds),
                ("inprogress_seconds", inprogress_seconds),
                ("stopping_seconds", stopping_seconds),
                ("hold_jobs", hold_jobs),
            )
            if value is not None
        }
        return self._request("POST", "config", payload)

    def script_job(
        self,
        job_name: str,
        final_status: str = "FAILED",
        failure_reason: str | None = None,
        starting_seconds: float | None = None,
        inprogress_seconds: float | None = None,
        stopping_seconds: float | None = None,
        recommended_inference_image: str | None = None,
        omit_optimization_output: bool = False,
        phases: Sequence[tuple[str, float]] | None = None,
        hold: bool | None = None,
    ) -> bool:
        """Script how the job called ``job_name`` behaves.

        The script applies to a job created later with that name, and at once to an existing one (its timeline
        is rebuilt from its creation time). Scripts last until :meth:`reset`.

        :param job_name: the job name.
        :param final_status: where the job ends up when left alone; ``COMPLETED``, ``FAILED``, or any string.
        :param failure_reason: the ``FailureReason`` of a ``FAILED`` job.
        :param starting_seconds: time in ``STARTING`` (default: the global setting).
        :param inprogress_seconds: time in ``INPROGRESS`` (default: the global setting).
        :param stopping_seconds: time in ``STOPPING`` after a stop (default: the global setting).
        :param recommended_inference_image: ``OptimizationOutput.RecommendedInferenceImage`` on completion.
        :param omit_optimization_output: leave ``OptimizationOutput`` out of a completed job.
        :param phases: ``(status, seconds)`` phases replacing ``STARTING``/``INPROGRESS``; statuses may be
            anything, e.g. ``[("STARTING", 0.5), ("PAUSED", 2), ("INPROGRESS", 1)]``.
        :param hold: hold the job: it stays in each status of its plan (``STARTING``, ``INPROGRESS``, then
            ``final_status``; or ``phases``, then ``final_status``) until :meth:`advance_job` moves it on, and the
            durations are ignored. An existing job is held in the status its re-scripted timeline gives now.
            ``False`` runs it on its timings even under ``configure(hold_jobs=True)``; ``None`` follows that
            setting.
        :return: whether an existing job was re-scripted.
        """
        payload: dict[str, Any] = {
            "final_status": final_status,
            "failure_reason": failure_reason,
            "starting_seconds": starting_seconds,
            "inprogress_seconds": inprogress_seconds,
            "stopping_seconds": stopping_seconds,
            "recommended_inference_image": recommended_inference_image,
            "omit_optimization_output": omit_optimization_output,
            "hold": hold,
        }
        if phases is not None:
            payload["phases"] = [[status, seconds] for status, seconds in phases]
        result = self._request("POST", self._job_path(job_name, "script"), payload)
        return bool(result.get("applied_to_existing_job"))

    def advance_job(self, job_name: str, to: str | None = None) -> str:
        """Move an existing job on now, held or not, and return its new status.

        Without ``to``, the job goes to the next status of its plan: ``STARTING`` -> ``INPROGRESS`` -> the
        scripted final status (``COMPLETED``, or ``FAILED`` with the scripted failure reason), or through the
        scripted ``phases``; ``STOPPING`` -> ``STOPPED``. With ``to``, it skips ahead to that status in the rest
        of its plan; ``to="STOPPING"`` outside the plan is a stop; any other status outside it is reported until
        the job is moved again, then the plan goes on where it was (a terminal one, ``COMPLETED``, ``FAILED``
        or ``STOPPED``, ends it).

        A held job stays held: it shows the new status until moved again. A job on a timed plan runs the rest
        of it on its timings from now.

        :param job_name: the job name.
        :param to: the status to move to; ``None`` for the next one.
        :return: the job's status after the move.
        :raises EmulatorControlError: 404 for an unknown job; 409 when ``to`` is ``None`` and the job is at the
            end of its plan (e.g. ``COMPLETED``).
        """
        return str(self._request("POST", self._job_path(job_name, "advance"), {"to": to})["status"])

    def complete_job(self, job_name: str) -> None:
        """Move an existing job to ``COMPLETED`` now.

        :param job_name: the job name.
        """
        self._request("POST", self._job_path(job_name, "complete"), {})

    def fail_job(self, job_name: str, failure_reason: str | None = None) -> None:
        """Move an existing job to ``FAILED`` now.

        :param job_name: the job name.
        :param failure_reason: the ``FailureReason`` to report.
        """
        self._request("POST", self._job_path(job_name, "fail"), {"failure_reason": failure_reason})

    def set_job_status(self, job_name: str, status: str, seconds: float | None = None) -> None:
        """Give an existing job any status now, e.g. one the API does not list yet (``"PAUSED"``).

        :param job_name: the job name.
        :param status: the status string to report.
        :param seconds: hold it this long, then resume the job's timeline; ``None`` holds it until the job is
            moved again (:meth:`advance_job` then goes on with the steps after the status it replaced).
        """
        self._request("POST", self._job_path(job_name, "status"), {"status": status, "seconds": seconds})

    def jobs(self) -> list[dict[str, Any]]:
        """Return every job with its current status, timeline, ``held`` and ``upcoming`` statuses (for debugging)."""
        return cast("list[dict[str, Any]]", self._request("GET", "jobs")["jobs"])

    def add_fault(
        self,
        kind: str,
        operation: str = "*",
        count: int | None = None,
        seconds: float | None = None,
        delay_seconds: float = 1.0,
        status_code: int = 500,
        after_create_seconds: float = 1.0,
        message: str | None = None,
        lag_seconds: float = 0.0,
    ) -> dict[str, Any]:
        """Inject a fault. Several can be active; latencies add up, the earliest error-producing one wins.

        A throttled or denied ``ListOptimizationJobs`` is a ``throttle`` or ``access_denied`` fault on that
        operation; a List that lags behind Describe is a ``list_lag`` fault.

        :param kind: ``throttle``, ``server_error``, ``latency``, ``not_found_after_create``,
            ``access_denied``, ``expired_token``, ``connection_reset``, ``list_lag`` or ``hold`` (each matching
            request waits, unanswered, until :meth:`release_fault`; two minutes at most).
        :param operation: the operation it hits (e.g. ``DescribeOptimizationJob``, ``CreateModel``,
            ``AssumeRole``) or ``"*"`` for all.
        :param count: affect only the next ``count`` matching calls.
        :param seconds: stay active only this long from now.
        :param delay_seconds: for ``latency``.
        :param status_code: for ``server_error``: 500 (``InternalFailure``) or 503 (``ServiceUnavailable``).
        :param after_create_seconds: for ``not_found_after_create``: Describe/Stop of a job answer
            ``ResourceNotFound`` until the job is this old.
        :param message: overrides the error message.
        :param lag_seconds: for ``list_lag``: ``ListOptimizationJobs`` answers from the jobs as they were this
            many seconds ago (a job that finished more recently is listed as still running, a newer job not at
            all), while Describe answers from the present.
        :return: the fault as stored (with its ``id``).
        """
        payload: dict[str, Any] = {
            "kind": kind,
            "operation": operation,
            "count": count,
            "seconds": seconds,
            "delay_seconds": delay_seconds,
            "status_code": status_code,
            "after_create_seconds": after_create_seconds,
            "message": message,
            "lag_seconds": lag_seconds,
        }
        return cast("dict[str, Any]", self._request("POST", "faults", payload)["fault"])

    def faults(self) -> list[dict[str, Any]]:
        """Return the faults still active."""
        return cast("list[dict[str, Any]]", self._request("GET", "faults")["faults"])

    def clear_faults(self) -> None:
        """Remove every fault; requests that a ``hold`` keeps are let through."""
        self._request("DELETE", "faults")

    def held_requests(self, fault_id: str) -> int:
        """Return how many requests a ``hold`` fault keeps unanswered now.

        :param fault_id: the ``id`` :meth:`add_fault` returned.
        :raises EmulatorControlError: if there is no such ``hold`` fault.
        """
        return int(self._request("GET", f"faults/{quote(fault_id, safe='')}/held")["held"])

    def release_fault(self, fault_id: str) -> None:
        """Answer the requests a ``hold`` fault keeps, and end the fault.

        :param fault_id: the ``id`` :meth:`add_fault` returned.
        :raises EmulatorControlError: if there is no such ``hold`` fault.
        """
        self._request("POST", f"faults/{quote(fault_id, safe='')}/release")

    def call_counts(self) -> dict[str, int]:
        """Return the number of requests received per operation name, faulted and moto-delegated ones included."""
        return cast("dict[str, int]", self._request("GET", "calls")["calls"])

    def reset_call_counts(self) -> None:
        """Zero the call counts."""
        self._request("DELETE", "calls")

    def requests(self, operation: str | None = None) -> list[dict[str, Any]]:
        """Return the request log, oldest first (the latest 10,000 AWS requests since the last reset).

        Each entry: ``seq``, ``time`` (epoch seconds), ``operation`` (e.g. ``DescribeOptimizationJob``,
        ``AssumeRole``; ``None`` for REST calls such as S3's), ``service`` (the SigV4 signing name, e.g.
        ``sagemaker``, ``sts``), ``access_key_id`` (the key that signed it; ``None`` if unsigned), ``status``
        (the HTTP status answered; ``None`` if the connection was dropped) and ``error_code`` (an error the
        emulator answered itself, such as an injected fault or ``ExpiredTokenException``; else ``None``); a
        request that names an optimization job (``OptimizationJobName``) also has ``job_name``.

        :param operation: only the entries of this operation.
        """
        entries = cast("list[dict[str, Any]]", self._request("GET", "requests")["requests"])
        return [entry for entry in entries if operation is None or entry.get("operation") == operation]

    def access_keys_used(self, operation: str | None = None) -> list[str]:
        """Return the distinct access key ids that signed requests, in order of first use.

        :param operation: only the requests of this operation, e.g. ``DescribeOptimizationJob``.
        """
        keys: dict[str, None] = {}
        for entry in self.requests(operation):
            if entry.get("access_key_id"):
                keys.setdefault(str(entry["access_key_id"]), None)
        return list(keys)

    def clear_requests(self) -> None:
        """Empty the request log."""
        self._request("DELETE", "requests")

    def credential_lifetime(self) -> float | None:
        """Return the lifetime of the credentials STS ``AssumeRole*`` issues (``None``: moto's default)."""
        return cast("float | None", self._request("GET", "credentials")["lifetime_seconds"])

    def set_credential_lifetime(self, seconds: float | None) -> float | None:
        """Set the lifetime of the credentials STS ``AssumeRole*`` issues from now on.

        Their ``Expiration`` says the real expiry, and a request signed with one of them after it is rejected
        with ``ExpiredTokenException`` (``ExpiredToken`` for query-protocol services such as STS). A shorter
        ``DurationSeconds`` in the request wins.

        :param seconds: the lifetime (> 0); ``None`` restores moto's (``DurationSeconds``, one hour by default).
        :return: the lifetime now in effect.
        """
        return cast(
            "float | None", self._request("POST", "credentials", {"lifetime_seconds": seconds})["lifetime_seconds"]
        )

    def expire_credentials(self, access_key_id: str) -> dict[str, Any]:
        """Let a key the emulator's STS issued expire now, so that a test needs no wait for its lifetime.

        :param access_key_id: the issued key.
        :return: the key's record, as in :meth:`issued_credentials`, now expired.
        :raises EmulatorControlError: for a key the emulator did not issue.
        """
        return self._request("POST", f"credentials/{quote(access_key_id, safe='')}/expire")

    def issued_credentials(self) -> list[dict[str, Any]]:
        """Return the keys STS issued since the last reset, oldest first.

        Each: ``access_key_id``, ``operation`` (e.g. ``AssumeRole``), ``issued_at`` and ``expires_at`` (epoch
        seconds), ``expiration`` (as the response said it) and ``expired``.
        """
        return cast("list[dict[str, Any]]", self._request("GET", "credentials")["issued"])

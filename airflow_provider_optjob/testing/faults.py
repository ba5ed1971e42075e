"""Fault injection for the emulator: throttling, 5xx, latency, eventual consistency, auth errors, resets, holds.

Eventual consistency comes in two kinds: a job that Describe does not find right after its creation
(``not_found_after_create``), and a ListOptimizationJobs that answers from an older view of the jobs than
Describe does (``list_lag``).

A ``hold`` keeps each matching request unanswered until the test releases the fault: a test that needs "this
call is in flight while I look" holds it for as long as it looks, whatever the speed of the machine.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from airflow_provider_optjob.testing.protocol import ACCOUNT_ID, AwsError

if TYPE_CHECKING:
    from collections.abc import Callable

THROTTLE = "throttle"
SERVER_ERROR = "server_error"
LATENCY = "latency"
NOT_FOUND_AFTER_CREATE = "not_found_after_create"
ACCESS_DENIED = "access_denied"
EXPIRED_TOKEN = "expired_token"
CONNECTION_RESET = "connection_reset"
LIST_LAG = "list_lag"
HOLD = "hold"
FAULT_KINDS = frozenset(
    {
        THROTTLE,
        SERVER_ERROR,
        LATENCY,
        NOT_FOUND_AFTER_CREATE,
        ACCESS_DENIED,
        EXPIRED_TOKEN,
        CONNECTION_RESET,
        LIST_LAG,
        HOLD,
    }
)
#: The longest a held request waits for its release, so that a test that never releases ends.
HOLD_LIMIT_SECONDS = 120.0
ALL_OPERATIONS = "*"
EVENTUALLY_CONSISTENT_OPERATIONS = frozenset({"DescribeOptimizationJob", "StopOptimizationJob"})
#: The operation a ``list_lag`` fault delays the view of.
LAGGING_LIST_OPERATION = "ListOptimizationJobs"


@dataclass
class Fault:
    """One injected fault.

    :param id: the fault's identifier (for listing).
    :param kind: one of :data:`FAULT_KINDS`.
    :param operation: the operation it applies to, or ``"*"`` for every operation.
    :param count: how many matching calls it affects; ``None`` for no limit.
    :param seconds: how long (from when it was set) it stays active; ``None`` for no limit.
    :param set_at: when it was set (epoch seconds).
    :param delay_seconds: for ``latency``: how long to wait before answering.
    :param status_code: for ``server_error``: 500 (``InternalFailure``) or 503 (``ServiceUnavailable``).
    :param after_create_seconds: for ``not_found_after_create``: how long after a job's creation it is
        reported missing.
    :param message: overrides the error message.
    :param lag_seconds: for ``list_lag``: how old the view of the jobs is that ``ListOptimizationJobs``
        answers from (a job changed less than this long ago is listed as it was before the change; a job
        created less than this long ago is not listed).
    :param fired: how many calls it has affected so far.
    """

    id: str
    kind: str
    operation: str = ALL_OPERATIONS
    count: int | None = None
    seconds: float | None = None
    set_at: float = 0.0
    delay_seconds: float = 1.0
    status_code: int = 500
    after_create_seconds: float = 1.0
    message: str | None = None
    lag_seconds: float = 0.0
    fired: int = 0

    def active(self, now: float) -> bool:
        """Tell whether the fault still applies (count not used up, time window not over)."""
        if self.count is not None and self.fired >= self.count:
            return False
        return self.seconds is None or now < self.set_at + self.seconds

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form of the fault."""
        return asdict(self)


class Hold:
    """The gate of one ``hold`` fault: requests wait at it until it is released."""

    def __init__(self) -> None:
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._waiting = 0

    @property
    def waiting(self) -> int:
        """Return how many requests wait at the gate now."""
        with self._lock:
            return self._waiting

    def wait(self, limit_seconds: float = HOLD_LIMIT_SECONDS) -> None:
        """Wait until the gate is released, or for ``limit_seconds`` at most.

        :param limit_seconds: the longest wait.
        """
        with self._lock:
            self._waiting += 1
        try:
            self._released.wait(limit_seconds)
        finally:
            with self._lock:
                self._waiting -= 1

    def release(self) -> None:
        """Let every waiting and later request through."""
        self._released.set()


@dataclass
class FaultDecision:
    """What the faults active for one request amount to.

    :param delay_seconds: total latency to add before answering.
    :param list_lag_seconds: for ``ListOptimizationJobs``: how far in the past the jobs are listed as of.
    :param error: the error to answer with instead of the real response, if any.
    :param reset_connection: drop the connection without any response.
    :param holds: the gates of the ``hold`` faults the request waits at before it is answered.
    :param fired: ids of the faults that applied.
    """

    delay_seconds: float = 0.0
    list_lag_seconds: float = 0.0
    error: AwsError | None = None
    reset_connection: bool = False
    holds: list[Hold] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)


def _fault_error(fault: Fault, operation: str, job_name: str | None) -> AwsError:
    resource = f"arn:aws:sagemaker:*:{ACCOUNT_ID}:optimization-job/{job_name or '*'}"
    if fault.kind == THROTTLE:
        return AwsError("ThrottlingException", fault.message or "Rate exceeded")
    if fault.kind == SERVER_ERROR:
        if fault.status_code == 503:
            return AwsError("ServiceUnavailable", fault.message or "Service is unavailable.", 503)
        return AwsError(
            "InternalFailure",
            fault.message or "The request processing has failed because of an unknown error.",
            fault.status_code,
        )
    if fault.kind == ACCESS_DENIED:
        return AwsError(
            "AccessDeniedException",
            fault.message
            or (
                f"User: arn:aws:sts::{ACCOUNT_ID}:assumed-role/emulator/testing is not authorized to "
                f"perform: sagemaker:{operation} on resource: {resource} because no identity-based policy "
                f"allows the sagemaker:{operation} action"
            ),
        )
    if fault.kind == EXPIRED_TOKEN:
        return AwsError(
            "ExpiredTokenException", fault.message or "The security token included in the request is expired"
        )
    return AwsError("ResourceNotFound", fault.message or f"Could not find optimization job '{job_name or ''}'.")


class FaultRegistry:
    """Thread-safe set of active faults.

    :param clock: the time source (epoch seconds).
    """

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._faults: list[Fault] = []
        self._holds: dict[str, Hold] = {}
        self._ids = itertools.count(1)

    def add(
        self,
        kind: str,
        operation: str = ALL_OPERATIONS,
        count: int | None = None,
        seconds: float | None = None,
        delay_seconds: float = 1.0,
        status_code: int = 500,
        after_create_seconds: float = 1.0,
        message: str | None = None,
        lag_seconds: float = 0.0,
    ) -> Fault:
        """Activate a fault (see :class:`Fault` for the parameters).

        :raises ValueError: for an unknown kind or out-of-range values.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if not operation:
            raise ValueError("operation must be an operation name or '*'")
        if count is not None and count < 1:
            raise ValueError("count must be >= 1")
        if seconds is not None and seconds <= 0:
            raise ValueError("seconds must be > 0")
        if delay_seconds < 0 or after_create_seconds < 0 or lag_seconds < 0:
            raise ValueError("delay_seconds, after_create_seconds and lag_seconds must be >= 0")
        if kind == SERVER_ERROR and not 500 <= status_code <= 599:
            raise ValueError("status_code must be a 5xx code")
        with self._lock:
            fault = Fault(
                id=f"fault-{next(self._ids)}",
                kind=kind,
                operation=operation,
                count=count,
                seconds=seconds,
                set_at=self._clock(),
                delay_seconds=float(delay_seconds),
                status_code=int(status_code),
                after_create_seconds=float(after_create_seconds),
                message=message,
                lag_seconds=float(lag_seconds),
            )
            self._faults.append(fault)
            if kind == HOLD:
                self._holds[fault.id] = Hold()
            return fault

    def clear(self) -> None:
        """Remove every fault; held requests are let through."""
        with self._lock:
            self._faults.clear()
            holds, self._holds = self._holds, {}
        for hold in holds.values():
            hold.release()

    def _hold(self, fault_id: str) -> Hold:
        with self._lock:
            hold = self._holds.get(fault_id)
        if hold is None:
            raise KeyError(f"no hold fault {fault_id!r}")
        return hold

    def held(self, fault_id: str) -> int:
        """Return how many requests a ``hold`` fault keeps waiting now.

        :param fault_id: the fault's id.
        :raises KeyError: if there is no such ``hold`` fault.
        """
        return self._hold(fault_id).waiting

    def release(self, fault_id: str) -> None:
        """Let the requests a ``hold`` fault keeps, and any later ones it would match, through.

        :param fault_id: the fault's id.
        :raises KeyError: if there is no such ``hold`` fault.
        """
        hold = self._hold(fault_id)
        hold.release()
        with self._lock:
            self._faults = [f for f in self._faults if f.id != fault_id]

    def list(self) -> list[dict[str, Any]]:
        """Return the faults still active, in JSON form."""
        with self._lock:
            now = self._clock()
            self._faults = [f for f in self._faults if f.active(now)]
            return [f.to_dict() for f in self._faults]

    def decide(self, operation: str, job_name: str | None, job_age: float | None) -> FaultDecision:
        """Work out which faults apply to one request, and use them up.

        Latency faults add up, the longest list lag applies; the first error-producing fault (in the order they
        were set) decides the answer.

        :param operation: the request's operation name.
        :param job_name: the ``OptimizationJobName`` in the request, if any.
        :param job_age: seconds since that job's creation, or ``None`` if it does not exist.
        """
        decision = FaultDecision()
        with self._lock:
            now = self._clock()
            self._faults = [f for f in self._faults if f.active(now)]
            for fault in self._faults:
                if fault.operation in (ALL_OPERATIONS, operation) and self._apply(
                    fault, decision, operation, job_name, job_age
                ):
                    fault.fired += 1
                    decision.fired.append(fault.id)
        return decision

    def _apply(
        self, fault: Fault, decision: FaultDecision, operation: str, job_name: str | None, job_age: float | None
    ) -> bool:
        """Add one fault that matches the operation to the decision; tell whether it applied."""
        if fault.kind == LATENCY:
            decision.delay_seconds += fault.delay_seconds
        elif fault.kind == LIST_LAG:
            if operation != LAGGING_LIST_OPERATION:
                return False
            decision.list_lag_seconds = max(decision.list_lag_seconds, fault.lag_seconds)
        elif fault.kind == HOLD:
            decision.holds.append(self._holds[fault.id])
        elif decision.error is not None or decision.reset_connection:
            return False
        elif fault.kind == NOT_FOUND_AFTER_CREATE:
            if operation not in EVENTUALLY_CONSISTENT_OPERATIONS or job_age is None:
                return False
            if job_age >= fault.after_create_seconds:
                return False
            decision.error = _fault_error(fault, operation, job_name)
        elif fault.kind == CONNECTION_RESET:
            decision.reset_connection = True
        else:
            decision.error = _fault_error(fault, operation, job_name)
        return True

"""The emulator's WSGI application.

Requests are routed three ways:

* ``/_emulator/...``: the control API (JSON), used by
  :class:`~airflow_provider_optjob.testing.control.EmulatorControl`;
* ``X-Amz-Target: SageMaker.<OptimizationJob operation>``: handled here, against botocore's service model;
* everything else (other SageMaker operations, STS, ...): delegated to moto's server application; the STS
  responses that issue credentials are post-processed (lifetime, record of the keys, see
  :mod:`~airflow_provider_optjob.testing.credentials`), and SageMaker models follow SageMaker where moto does not
  (a taken name is refused; a completed job's ``OutputConfig.SageMakerModel`` is created, see
  :mod:`~airflow_provider_optjob.testing.job_models`).

Every AWS request is counted by operation name and logged with the access key that signed it (and the job it
names, for an optimization-job request); a request signed with a key the emulator issued that has expired is
rejected (``ExpiredTokenException``); then it passes through fault injection.
"""

from __future__ import annotations

import contextlib
import io
import socket
import struct
import threading
import time
import traceback
from collections import Counter
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response  # noqa: TID253
from werkzeug.wsgi import get_input_stream  # noqa: TID253

from airflow_provider_optjob.testing.credentials import ISSUING_OPERATIONS, CredentialRegistry
from airflow_provider_optjob.testing.faults import FaultRegistry
from airflow_provider_optjob.testing.job_models import create_job_output_model, refuse_taken_model_names
from airflow_provider_optjob.testing.optimization_jobs import (
    Durations,
    JobScript,
    OptimizationJobStore,
    PlanEndedError,
)
from airflow_provider_optjob.testing.protocol import (
    AwsError,
    AwsRequest,
    error_response,
    json_error_response,
    json_response,
    query_parameter,
)
from airflow_provider_optjob.testing.request_log import RequestLog
from airflow_provider_optjob.testing.validation import sagemaker_service_model, validate_request

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

CONTROL_PREFIX = "/_emulator/"
#: The WSGI environ key under which a request's log entry (operation, job name, status) travels to the access log.
REQUEST_ENTRY_KEY = "optjob.request_entry"
SAGEMAKER_TARGET_PREFIX = "SageMaker"
OPTIMIZATION_JOB_OPERATIONS = frozenset(
    {
        "CreateOptimizationJob",
        "DescribeOptimizationJob",
        "ListOptimizationJobs",
        "StopOptimizationJob",
        "DeleteOptimizationJob",
    }
)
#: Tagging operations the emulator answers itself when their ``ResourceArn`` is an optimization job's.
TAG_OPERATIONS = frozenset({"AddTags", "ListTags", "DeleteTags"})


def create_moto_app() -> WSGIApplication:
    """Build moto's server WSGI application (the one ``moto_server`` runs), through its public entry point."""
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    _check_endpoint_instance_types_against_the_service_model()
    refuse_taken_model_names()
    app: WSGIApplication = DomainDispatcherApplication(create_backend_app)
    return app


def _check_endpoint_instance_types_against_the_service_model() -> None:
    """Make moto's ``CreateEndpointConfig`` accept the instance types botocore's model lists.

    moto checks them against a list of its own that lacks the types optimization jobs deploy to
    (``ml.g5``, ``ml.g6``, ``ml.inf2``, ...), so the deploy half of a pipeline could not run.
    """
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import FakeEndpointConfig

    allowed = frozenset(sagemaker_service_model().shape_for("ProductionVariantInstanceType").metadata.get("enum", ()))

    def validate_instance_type(self: Any, instance_type: str) -> None:
        if instance_type not in allowed:
            raise ValidationError(
                message=f"Value '{instance_type}' at 'instanceType' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(sorted(allowed))}]"
            )

    FakeEndpointConfig.validate_instance_type = validate_instance_type  # type: ignore[method-assign]


class ControlError(Exception):
    """A bad control-API request.

    :param message: what is wrong.
    :param status: the HTTP status to answer with.
    """

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _drop_connection(environ: WSGIEnvironment) -> None:
    sock = environ.get("werkzeug.socket")
    if isinstance(sock, socket.socket):
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    raise ConnectionResetError("connection reset injected by the SageMaker emulator")


class EmulatorApp:
    """The emulator as a WSGI application; holds all emulator state.

    :param durations: the default status durations of new jobs.
    :param clock: the time source (epoch seconds).
    :param moto_app_factory: builds the WSGI app other requests are delegated to (moto's server app by
        default), on first use.
    :param credential_lifetime_seconds: lifetime of the credentials STS ``AssumeRole*`` issues; ``None`` keeps
        moto's (the requested ``DurationSeconds``, one hour by default).
    """

    def __init__(
        self,
        durations: Durations | None = None,
        clock: Callable[[], float] = time.time,
        moto_app_factory: Callable[[], WSGIApplication] = create_moto_app,
        credential_lifetime_seconds: float | None = None,
    ) -> None:
        self.jobs = OptimizationJobStore(durations, clock)
        self.faults = FaultRegistry(clock)
        self.credentials = CredentialRegistry(credential_lifetime_seconds, clock)
        self.requests = RequestLog(clock)
        self._calls: Counter[str] = Counter()
        self._calls_lock = threading.Lock()
        #: Tells the connections of the server that serves the app (set by that server's owner).
        self.connection_counts: Callable[[], dict[str, int]] | None = None
        self._moto_app_factory = moto_app_factory
        self._moto_app: WSGIApplication | None = None
        self._moto_lock = threading.Lock()

    # --- state --------------------------------------------------------------------------------------

    def call_counts(self) -> dict[str, int]:
        """Return the number of requests received per operation name (faulted and delegated ones included)."""
        with self._calls_lock:
            return dict(self._calls)

    def reset_call_counts(self) -> None:
        """Zero the call counts."""
        with self._calls_lock:
            self._calls.clear()

    def reset(self, moto: bool = True) -> None:
        """Clear jobs, scripts, faults, call counts, the request log and the issued keys, and moto's state.

        Durations and the credential lifetime are kept.

        :param moto: also reset moto's backends (through ``/moto-api/reset``); they are process-wide.
        """
        self.jobs.reset()
        self.faults.clear()
        self.reset_call_counts()
        self.requests.clear()
        self.credentials.clear()
        if moto and self._moto_app is not None:
            from werkzeug.test import Client

            Client(self._moto_app).post("/moto-api/reset")

    def moto_app(self) -> WSGIApplication:
        """Return the delegate application, building it on first use."""
        with self._moto_lock:
            if self._moto_app is None:
                self._moto_app = self._moto_app_factory()
            return self._moto_app

    # --- WSGI ---------------------------------------------------------------------------------------

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Answer one WSGI request."""
        path = str(environ.get("PATH_INFO", ""))
        if path.startswith(CONTROL_PREFIX):
            return self._control(environ, path)(environ, start_response)
        body = get_input_stream(environ).read()
        request = AwsRequest(environ, body)
        entry = self.requests.record(request.operation, request.signing_service, request.access_key_id)
        environ[REQUEST_ENTRY_KEY] = entry  # the access log names the operation and the job from it
        start_response = self._recording_start_response(entry, start_response)
        try:
            response = self._aws(environ, request, entry)
        except AwsError as error:
            self.requests.update(entry, error_code=error.code)
            response = error_response(error, request)
        except (TimeoutError, ConnectionError):
            raise
        except Exception as exc:
            traceback.print_exc()
            self.requests.update(entry, error_code="InternalFailure")
            response = error_response(AwsError("InternalFailure", f"Emulator error: {exc!r}", 500), request)
        if response is None:
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            if request.is_query_protocol and request.operation in ISSUING_OPERATIONS:
                return self._issue_credentials(environ, request)(environ, start_response)
            return self.moto_app()(environ, start_response)
        return response(environ, start_response)

    def _recording_start_response(self, entry: dict[str, Any], start_response: StartResponse) -> StartResponse:
        log = self.requests

        def recording(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            with contextlib.suppress(ValueError):
                log.update(entry, status=int(status.split(" ", 1)[0]))
            return start_response(status, headers, exc_info)

        return cast("StartResponse", recording)

    def _issue_credentials(self, environ: WSGIEnvironment, request: AwsRequest) -> Response:
        """Let moto answer an STS ``AssumeRole*``, then record the key and apply the configured lifetime."""
        from werkzeug.test import run_wsgi_app

        app_iter, status, headers = run_wsgi_app(self.moto_app(), environ, buffered=True)
        body = b"".join(app_iter)
        if status.startswith("200"):
            duration = query_parameter(environ, request.body, "DurationSeconds")
            try:
                requested = float(duration) if duration is not None else None
            except ValueError:
                requested = None
            assert request.operation is not None
            body = self.credentials.issue(request.operation, body, requested)
        kept = [(name, value) for name, value in headers.items() if name.lower() != "content-length"]
        return Response(body, status=status, headers=kept)

    def _aws(self, environ: WSGIEnvironment, request: AwsRequest, entry: dict[str, Any]) -> Response | None:
        operation = request.operation
        ours = request.service_prefix == SAGEMAKER_TARGET_PREFIX and (
            operation in OPTIMIZATION_JOB_OPERATIONS
            or (operation in TAG_OPERATIONS and ":optimization-job/" in str(request.json_params().get("ResourceArn")))
        )
        if operation:
            with self._calls_lock:
                self._calls[operation] += 1
            self.credentials.check(request.access_key_id, request.is_query_protocol)
        params: dict[str, Any] = request.json_params() if ours else {}
        list_lag_seconds = self._apply_faults(environ, operation, params, entry) if operation else 0.0
        if request.service_prefix == SAGEMAKER_TARGET_PREFIX:
            for described, region in self.jobs.take_completed_output_models():
                create_job_output_model(described, region)
        if not ours:
            return None
        assert operation is not None
        validate_request(operation, params)
        return json_response(self._dispatch(operation, params, request.region, list_lag_seconds))

    def _apply_faults(
        self, environ: WSGIEnvironment, operation: str, params: dict[str, Any], entry: dict[str, Any]
    ) -> float:
        """Delay, hold, drop or fail one request as the active faults say; return the List lag they set."""
        job_name = params.get("OptimizationJobName")
        job_name = job_name if isinstance(job_name, str) else None
        if job_name is not None:
            self.requests.update(entry, job_name=job_name)
        decision = self.faults.decide(
            operation, job_name, self.jobs.job_age(job_name) if job_name is not None else None
        )
        if decision.delay_seconds > 0:
            time.sleep(decision.delay_seconds)
        for hold in decision.holds:
            hold.wait()
        if decision.reset_connection:
            _drop_connection(environ)
        if decision.error is not None:
            raise decision.error
        return decision.list_lag_seconds

    def _dispatch(
        self, operation: str, params: dict[str, Any], region: str, list_lag_seconds: float = 0.0
    ) -> dict[str, Any] | None:
        if operation == "CreateOptimizationJob":
            return self.jobs.create(params, region)
        if operation == "DescribeOptimizationJob":
            return self.jobs.describe(params["OptimizationJobName"])
        if operation == "ListOptimizationJobs":
            return self.jobs.list_jobs(params, list_lag_seconds)
        if operation == "StopOptimizationJob":
            self.jobs.stop(params["OptimizationJobName"])
            return None
        if operation in TAG_OPERATIONS:
            return self.jobs.tag_operation(operation, params)
        self.jobs.delete(params["OptimizationJobName"])
        return None

    # --- control API --------------------------------------------------------------------------------

    def _control(self, environ: WSGIEnvironment, path: str) -> Response:
        request = Request(environ)
        try:
            payload = request.get_json(force=True, silent=True) if request.method == "POST" else None
            if payload is None:
                payload = {}
            if not isinstance(payload, dict):
                raise ControlError("request body must be a JSON object")
            parts = [unquote(p) for p in path[len(CONTROL_PREFIX) :].strip("/").split("/") if p]
            result = self._route(request.method, parts, payload)
        except ControlError as exc:
            return json_error_response(AwsError("EmulatorControlError", str(exc), exc.status))
        except (TypeError, ValueError, KeyError) as exc:
            return json_error_response(AwsError("EmulatorControlError", f"bad request: {exc}", 400))
        return json_response(result)

    def _route(self, method: str, parts: list[str], payload: dict[str, Any]) -> dict[str, Any]:
        routes: dict[str, Callable[[str, list[str], dict[str, Any]], dict[str, Any] | None]] = {
            "health": self._health_route,
            "reset": self._reset_route,
            "config": self._config_route,
            "credentials": self._credentials_route,
            "requests": self._requests_route,
            "calls": self._calls_route,
            "faults": self._faults_route,
            "jobs": self._jobs_route,
            "connections": self._connections_route,
        }
        route = routes.get(parts[0] if parts else "")
        answer = route(method, parts, payload) if route is not None else None
        if answer is None:
            raise ControlError(f"no control endpoint {method} {CONTROL_PREFIX}{'/'.join(parts)}", 404)
        return answer

    def _connections_route(self, method: str, parts: list[str], payload: dict[str, Any]) -> dict[str, Any] | None:
        if method != "GET" or len(parts) != 1:
            return None
        if self.connection_counts is None:
            raise ControlError("the server of this emulator does not count its connections", 404)
        return self.connection_counts()

    def _health_route(self, method: str, parts: list[str], payload: dict[str, Any]) -> dict[str, Any] | None:
        return {"status": "ok"} if method == "GET" else None

    def _reset_route(self, method: str, parts: list[str], payload: dict[str, Any]) -> dict[str, Any] | None:
        if method != "POST":
            return None
        self.reset(moto=bool(payload.get("moto", True)))
        return {}

    def _config_route(self, method: str, parts: list[str], payload: dict[str, Any]) -> dict[str, Any] | None:
        if method == "POST":
            self._configure(payload)
        durations = self.jobs.durations
        return {
            "starting_seconds": durations.starting_seconds,
            "inprogress_seconds": durations.inprogress_seconds,
            "stopping_seconds": durations.stopping_seconds,
            "hold_jobs": self.jobs.hold_jobs,
        }

    def _credentials_route(self, method: str, parts: list[str], payload: dict[str, Any]) -> dict[str, Any] | None:
        if len(parts) == 3 and parts[2] == "expire" and method == "POST":
            try:
                return self.credentials.expire(parts[1])
            except KeyError as exc:
                raise ControlError(str(exc.args[0]), 404) from None
        if len(parts) != 1:
            return None
        if method == "POST":
            if "lifetime_seconds" not in payload:
                raise ControlError("'lifetime_seconds' is required (a number of seconds, or null)")
            self.credentials.set_lifetime(payload["lifetime_seconds"])
        return {"lifetime_seconds": self.credentials.lifetime_seconds, "issued": self.credentials.issued()}

    def _requests_route(self, method: str, parts: list[str], payload: dict[str, Any]) -> dict[str, Any] | None:
        if len(parts) != 1:
            return None
        if method == "DELETE":
            self.requests.clear()
        return {"requests": self.requests.entries()}

    def _calls_route(self, method: str, parts: list[str], payload: dict[str, Any]) -> dict[str, Any] | None:
        if method == "DELETE":
            self.reset_call_counts()
        return {"calls": self.call_counts()}

    def _faults_route(self, method: str, parts: list[str], payload: dict[str, Any]) -> dict[str, Any] | None:
        if len(parts) == 3 and parts[2] in ("held", "release"):
            return self._hold_route(method, parts[1], parts[2])
        if len(parts) != 1:
            return None
        if method == "POST":
            return {"fault": self.faults.add(**payload).to_dict()}
        if method == "DELETE":
            self.faults.clear()
        return {"faults": self.faults.list()}

    def _hold_route(self, method: str, fault_id: str, action: str) -> dict[str, Any] | None:
        try:
            if action == "held" and method == "GET":
                return {"held": self.faults.held(fault_id)}
            if action == "release" and method == "POST":
                self.faults.release(fault_id)
                return {"released": fault_id}
        except KeyError as exc:
            raise ControlError(str(exc.args[0]), 404) from None
        return None

    def _jobs_route(self, method: str, parts: list[str], payload: dict[str, Any]) -> dict[str, Any] | None:
        if len(parts) == 1 and method == "GET":
            return {"jobs": self.jobs.snapshot()}
        if len(parts) == 3 and method == "POST":
            return self._job_action(parts[1], parts[2], payload)
        return None

    def _configure(self, payload: dict[str, Any]) -> None:
        """Apply a ``POST /_emulator/config``: durations and ``hold_jobs``, each kept when left out."""
        current = self.jobs.durations
        hold_jobs = payload.get("hold_jobs")
        if hold_jobs is not None and not isinstance(hold_jobs, bool):
            raise ControlError("'hold_jobs' must be true, false or null")
        self.jobs.configure(
            Durations(
                starting_seconds=float(payload.get("starting_seconds", current.starting_seconds)),
                inprogress_seconds=float(payload.get("inprogress_seconds", current.inprogress_seconds)),
                stopping_seconds=float(payload.get("stopping_seconds", current.stopping_seconds)),
            ),
            hold_jobs,
        )

    def _advance_job(self, name: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Apply a ``POST /_emulator/jobs/<name>/advance``: ``{"to": status or null}``; answer the new status."""
        to = payload.get("to")
        if to is not None and (not isinstance(to, str) or not to):
            raise ControlError("'to' must be a non-empty string or null")
        try:
            return {"status": self.jobs.advance(name, to)}
        except PlanEndedError as exc:
            raise ControlError(str(exc), 409) from exc

    def _job_action(self, name: str, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        try:
            if action == "script":
                return {"applied_to_existing_job": self.jobs.script_job(name, JobScript.from_dict(payload))}
            if action == "complete":
                self.jobs.finish_job(name, "COMPLETED")
                return {}
            if action == "fail":
                self.jobs.finish_job(name, "FAILED", payload.get("failure_reason"))
                return {}
            if action == "advance":
                return self._advance_job(name, payload)
            if action == "status":
                status = payload.get("status")
                if not isinstance(status, str) or not status:
                    raise ControlError("'status' must be a non-empty string")
                seconds = payload.get("seconds")
                self.jobs.set_status(name, status, None if seconds is None else float(seconds))
                return {}
        except AwsError as exc:
            raise ControlError(exc.message, 404) from exc
        raise ControlError(f"unknown job action {action!r}", 404)

"""AWS wire-protocol helpers for the emulator: JSON 1.1 and query-protocol responses and errors."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from werkzeug.wrappers import Response  # noqa: TID253

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

JSON_CONTENT_TYPE = "application/x-amz-json-1.1"
DEFAULT_REGION = "us-east-1"
ACCOUNT_ID = "123456789012"


class AwsError(Exception):
    """An AWS service error, rendered as the error body a real endpoint would send.

    :param code: the error code, e.g. ``ResourceNotFound`` or ``ThrottlingException``.
    :param message: the human-readable message.
    :param status: the HTTP status code.
    """

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


def validation_error(message: str) -> AwsError:
    """Build a ``ValidationException``.

    :param message: the human-readable message.
    """
    return AwsError("ValidationException", message)


class AwsRequest:
    """The parts of an incoming AWS request the emulator needs, parsed once.

    :param environ: the WSGI environ.
    :param body: the raw request body (already read from ``wsgi.input``).
    """

    def __init__(self, environ: Mapping[str, Any], body: bytes) -> None:
        self.body = body
        self.target: str | None = environ.get("HTTP_X_AMZ_TARGET")
        self.region = region_from_authorization(environ.get("HTTP_AUTHORIZATION"))
        scope = credential_scope(environ)
        self.access_key_id: str | None = scope[0] if scope and scope[0] else None
        self.signing_service: str | None = scope[3] if len(scope) == 5 and scope[3] else None
        self.service_prefix: str | None = None
        self.operation: str | None = None
        self.is_query_protocol = False
        if self.target and "." in self.target:
            self.service_prefix, self.operation = self.target.rsplit(".", 1)
        else:
            action = query_parameter(environ, body, "Action")
            if action:
                self.operation = action
                self.is_query_protocol = True

    def json_params(self) -> dict[str, Any]:
        """Decode the JSON 1.1 body, raising ``SerializationException`` for anything but an object."""
        if not self.body.strip():
            return {}
        try:
            decoded = json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AwsError("SerializationException", f"Request body is not valid JSON: {exc}") from exc
        if not isinstance(decoded, dict):
            raise AwsError("SerializationException", "Request body must be a JSON object")
        return decoded


def query_parameter(environ: Mapping[str, Any], body: bytes, name: str) -> str | None:
    """Return a query-protocol parameter, from the query string or a form-encoded body.

    :param environ: the WSGI environ.
    :param body: the raw request body.
    :param name: the parameter, e.g. ``Action`` or ``DurationSeconds``.
    """
    sources: list[str] = [str(environ.get("QUERY_STRING", ""))]
    if "x-www-form-urlencoded" in str(environ.get("CONTENT_TYPE", "")):
        sources.append(body.decode("utf-8", errors="replace"))
    for source in sources:
        values = parse_qs(source).get(name)
        if values:
            return values[0]
    return None


def credential_scope(environ: Mapping[str, Any]) -> list[str]:
    """Split a request's SigV4 credential (``Authorization`` header, else presigned ``X-Amz-Credential``).

    :param environ: the WSGI environ.
    :return: e.g. ``["AKID", "20240101", "us-east-1", "sagemaker", "aws4_request"]``; ``[]`` for an unsigned request.
    """
    header = environ.get("HTTP_AUTHORIZATION")
    if header and "Credential=" in str(header):
        scope = str(header).split("Credential=", 1)[1].split(",", 1)[0].strip()
    else:
        values = parse_qs(str(environ.get("QUERY_STRING", ""))).get("X-Amz-Credential")
        if not values:
            return []
        scope = values[0].strip()
    return scope.split("/") if scope else []


def region_from_authorization(header: str | None) -> str:
    """Extract the region from a SigV4 ``Authorization`` header's credential scope.

    :param header: the header value, e.g.
        ``AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-1/sagemaker/aws4_request, ...``.
    :return: the region, or ``us-east-1`` when the header is missing or not SigV4.
    """
    if not header or "Credential=" not in header:
        return DEFAULT_REGION
    scope = header.split("Credential=", 1)[1].split(",", 1)[0].strip()
    parts = scope.split("/")
    if len(parts) == 5 and parts[2]:
        return parts[2]
    return DEFAULT_REGION


def _request_id_headers() -> dict[str, str]:
    return {"x-amzn-RequestId": str(uuid.uuid4())}


def json_response(payload: Mapping[str, Any] | None, status: int = 200) -> Response:
    """Render a JSON 1.1 success response.

    :param payload: the response members; ``None`` for operations without output.
    :param status: the HTTP status code.
    """
    body = json.dumps(payload if payload is not None else {}, separators=(",", ":"))
    return Response(body, status=status, content_type=JSON_CONTENT_TYPE, headers=_request_id_headers())


def json_error_response(error: AwsError) -> Response:
    """Render an error the way a JSON 1.1 AWS service does (``__type`` + ``message``).

    :param error: the error to render.
    """
    body = json.dumps({"__type": error.code, "message": error.message})
    headers = _request_id_headers()
    headers["x-amzn-ErrorType"] = error.code
    return Response(body, status=error.status, content_type=JSON_CONTENT_TYPE, headers=headers)


def query_error_response(error: AwsError) -> Response:
    """Render an error the way a query-protocol AWS service (e.g. STS) does: an XML ``ErrorResponse``.

    :param error: the error to render.
    """
    headers = _request_id_headers()
    fault_type = "Receiver" if error.status >= 500 else "Sender"
    body = (
        "<ErrorResponse><Error>"
        f"<Type>{fault_type}</Type><Code>{escape(error.code)}</Code><Message>{escape(error.message)}</Message>"
        f"</Error><RequestId>{headers['x-amzn-RequestId']}</RequestId></ErrorResponse>"
    )
    return Response(body, status=error.status, content_type="text/xml", headers=headers)


def error_response(error: AwsError, request: AwsRequest | None) -> Response:
    """Render an error in the protocol of the request it answers.

    :param error: the error to render.
    :param request: the request, or ``None`` when it could not be parsed (JSON is used).
    """
    if request is not None and request.is_query_protocol:
        return query_error_response(error)
    return json_error_response(error)


def join_messages(messages: Iterable[str]) -> str:
    """Join constraint messages the way AWS does: ``N validation error(s) detected: a; b``.

    :param messages: the individual constraint failures.
    """
    items = list(messages)
    noun = "error" if len(items) == 1 else "errors"
    return f"{len(items)} validation {noun} detected: " + "; ".join(items)

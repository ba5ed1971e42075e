"""Temporary credentials the emulator's STS issues: a configurable lifetime, and each key with its expiry.

STS itself is moto's. The emulator post-processes the responses of the operations that issue a new access key
(``AssumeRole``, ``AssumeRoleWithWebIdentity``, ``AssumeRoleWithSAML``): it records the key with its expiry and,
when a lifetime is configured, rewrites ``Credentials.Expiration`` to the real expiry. A later request signed
with a recorded key that has expired is rejected, as AWS does; keys the emulator did not issue are accepted.
"""

from __future__ import annotations

import math
import re
import threading
import time
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow_provider_optjob.testing.protocol import AwsError

if TYPE_CHECKING:
    from collections.abc import Callable

ISSUING_OPERATIONS = frozenset({"AssumeRole", "AssumeRoleWithWebIdentity", "AssumeRoleWithSAML"})
EXPIRED_TOKEN_MESSAGE = "The security token included in the request is expired"

_ACCESS_KEY_ID = re.compile(r"<AccessKeyId>\s*([^<\s]+)\s*</AccessKeyId>")
_EXPIRATION = re.compile(r"<Expiration>\s*([^<]*?)\s*</Expiration>")


def iso8601(epoch_seconds: float) -> str:
    """Format an instant as STS does in ``Expiration``, with milliseconds: ``2026-03-01T12:00:00.250Z``.

    :param epoch_seconds: the instant (epoch seconds).
    """
    moment = datetime.fromtimestamp(epoch_seconds, timezone.utc)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"


def _parse_epoch(text: str) -> float | None:
    from botocore.utils import parse_timestamp

    try:
        return float(parse_timestamp(text).timestamp())
    except (TypeError, ValueError, OverflowError):
        return None


def validate_lifetime(seconds: float | None) -> float | None:
    """Check a credential lifetime: ``None`` (moto's default) or a finite number of seconds > 0.

    :param seconds: the lifetime.
    :raises ValueError: for anything else.
    """
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)):
        raise ValueError(f"credential lifetime must be a number of seconds or null, not {seconds!r}")
    value = float(seconds)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"credential lifetime must be > 0 seconds, not {seconds!r}")
    return value


@dataclass(frozen=True)
class IssuedCredential:
    """One access key issued by the emulator's STS.

    :param access_key_id: the key.
    :param operation: the STS operation that issued it, e.g. ``AssumeRole``.
    :param issued_at: when (epoch seconds, emulator clock).
    :param expires_at: when it expires (epoch seconds, emulator clock).
    :param expiration: ``Credentials.Expiration`` as the response said it.
    """

    access_key_id: str
    operation: str
    issued_at: float
    expires_at: float
    expiration: str

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return asdict(self)


class CredentialRegistry:
    """Thread-safe record of the keys the emulator issued, and the lifetime of new ones.

    :param lifetime_seconds: lifetime of issued credentials; ``None`` keeps the one moto gives
        (``DurationSeconds``, by default one hour).
    :param clock: the time source (epoch seconds).
    """

    def __init__(self, lifetime_seconds: float | None = None, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._lifetime = validate_lifetime(lifetime_seconds)
        self._issued: dict[str, IssuedCredential] = {}

    @property
    def lifetime_seconds(self) -> float | None:
        """Return the lifetime of credentials issued from now on (``None``: moto's default)."""
        return self._lifetime

    def set_lifetime(self, seconds: float | None) -> None:
        """Set the lifetime of credentials issued from now on; ``None`` restores moto's default.

        :param seconds: the lifetime, > 0.
        :raises ValueError: for a bad value.
        """
        value = validate_lifetime(seconds)
        with self._lock:
            self._lifetime = value

    def issue(self, operation: str, body: bytes, requested_seconds: float | None = None) -> bytes:
        """Record the key in an STS response body; with a lifetime configured, rewrite its ``Expiration``.

        The effective lifetime is the configured one, or the requested ``DurationSeconds`` if shorter.

        :param operation: the STS operation, e.g. ``AssumeRole``.
        :param body: moto's XML response body.
        :param requested_seconds: the request's ``DurationSeconds``, if any.
        :return: the response body to send.
        """
        text = body.decode("utf-8", errors="replace")
        key_match = _ACCESS_KEY_ID.search(text)
        expiration_match = _EXPIRATION.search(text)
        if key_match is None or expiration_match is None:
            return body
        with self._lock:
            now = self._clock()
            lifetime = self._lifetime
            if lifetime is not None:
                if requested_seconds is not None and 0 < requested_seconds < lifetime:
                    lifetime = requested_seconds
                expires_at = now + lifetime
                expiration = iso8601(expires_at)
                start, end = expiration_match.span(1)
                text = text[:start] + expiration + text[end:]
                body = text.encode("utf-8")
            else:
                expiration = expiration_match.group(1)
                moto_expiry = _parse_epoch(expiration)
                if moto_expiry is None:
                    return body
                expires_at = now + (moto_expiry - time.time())
            access_key_id = key_match.group(1)
            self._issued[access_key_id] = IssuedCredential(
                access_key_id=access_key_id,
                operation=operation,
                issued_at=now,
                expires_at=expires_at,
                expiration=expiration,
            )
        return body

    def check(self, access_key_id: str | None, query_protocol: bool) -> None:
        """Reject a request signed with an issued key that has expired.

        :param access_key_id: the key that signed the request, if any.
        :param query_protocol: the request uses the query protocol (STS, IAM, ...): the error code is then
            ``ExpiredToken``, else ``ExpiredTokenException`` (JSON services such as SageMaker).
        :raises ~airflow_provider_optjob.testing.protocol.AwsError: ``ExpiredTokenException`` or
            ``ExpiredToken``, HTTP 400.
        """
        if access_key_id is None:
            return
        with self._lock:
            issued = self._issued.get(access_key_id)
            expired = issued is not None and self._clock() >= issued.expires_at
        if expired:
            raise AwsError("ExpiredToken" if query_protocol else "ExpiredTokenException", EXPIRED_TOKEN_MESSAGE)

    def expire(self, access_key_id: str) -> dict[str, Any]:
        """Let an issued key expire now, whatever its lifetime: later requests signed with it are rejected.

        :param access_key_id: a key this emulator's STS issued.
        :return: the key's record in JSON form, now expired.
        :raises KeyError: for a key the emulator did not issue.
        """
        with self._lock:
            issued = self._issued.get(access_key_id)
            if issued is None:
                raise KeyError(f"no issued credentials with access key id {access_key_id!r}")
            now = self._clock()
            expired = replace(issued, expires_at=min(issued.expires_at, now), expiration=iso8601(now))
            self._issued[access_key_id] = expired
        return {**expired.to_dict(), "expired": True}

    def issued(self) -> list[dict[str, Any]]:
        """Return every issued key with its expiry (and whether it has expired), oldest first, in JSON form."""
        with self._lock:
            now = self._clock()
            return [
                {**credential.to_dict(), "expired": now >= credential.expires_at}
                for credential in self._issued.values()
            ]

    def clear(self) -> None:
        """Forget the issued keys (they are accepted again); the lifetime is kept."""
        with self._lock:
            self._issued.clear()

"""Run the SageMaker emulator in its own process: ``python -m airflow_provider_optjob.testing``."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import FrameType


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optjob-emulator",
        description=(
            "Local SageMaker endpoint: optimization jobs emulated (status over time, scripted failures, "
            "fault injection under /_emulator/), every other AWS call served by moto."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=5055, help="port to bind; 0 picks a free one (default: %(default)s)"
    )
    parser.add_argument("--starting-seconds", type=float, default=1.0, help="time in STARTING (default: %(default)s)")
    parser.add_argument(
        "--inprogress-seconds", type=float, default=4.0, help="time in INPROGRESS (default: %(default)s)"
    )
    parser.add_argument("--stopping-seconds", type=float, default=1.0, help="time in STOPPING (default: %(default)s)")
    parser.add_argument(
        "--credential-lifetime-seconds",
        "--credential-lifetime",
        dest="credential_lifetime_seconds",
        type=_positive_seconds,
        default=None,
        metavar="SECONDS",
        help=(
            "lifetime of the credentials STS AssumeRole* issues; requests signed with them are rejected "
            "(ExpiredTokenException) once expired (default: moto's, DurationSeconds or one hour)"
        ),
    )
    parser.add_argument("--log-requests", action="store_true", help="log every request")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGINT or SIGTERM.

    :param argv: the command-line arguments (default: ``sys.argv[1:]``).
    :return: the exit status.
    """
    args = _parser().parse_args(argv)
    from airflow_provider_optjob.testing.emulator import SageMakerEmulator

    try:
        emulator = SageMakerEmulator(
            host=args.host,
            port=args.port,
            starting_seconds=args.starting_seconds,
            inprogress_seconds=args.inprogress_seconds,
            stopping_seconds=args.stopping_seconds,
            log_requests=args.log_requests,
            credential_lifetime_seconds=args.credential_lifetime_seconds,
        )
        emulator.start()
    except (OSError, ValueError) as exc:
        print(f"optjob-emulator: cannot start: {exc}", file=sys.stderr, flush=True)
        return 2

    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, _on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    print(f"SageMaker emulator listening on {emulator.url}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())

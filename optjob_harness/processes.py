"""Processes of a local deployment: each in its own process group, logged to a file, stopped for good on exit."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from pathlib import Path

#: How long :func:`stop_processes` waits after SIGTERM before it sends SIGKILL.
STOP_GRACE_SECONDS = 20.0


class DeploymentProcessError(RuntimeError):
    """A process of the deployment exited while it was expected to run.

    :param process: the process that exited.
    :param while_doing: what the deployment was waiting for when it noticed.
    """

    def __init__(self, process: ManagedProcess, while_doing: str) -> None:
        super().__init__(
            f"{process.name} exited with code {process.returncode} while waiting for {while_doing} "
            f"(log: {process.log_path}); its last lines:\n{process.log_tail(20)}"
        )
        self.process = process


@dataclass
class ManagedProcess:
    """One process of the deployment, started in a new session (its own process group).

    :param name: a short name, also the log file's stem (``scheduler``, ``triggerer-0``, ...).
    :param popen: the running process.
    :param log_path: the file its stdout and stderr go to.
    :param expected_to_exit: set when the deployment killed or stopped it on purpose.
    :param frozen: set while it is stopped with SIGSTOP.
    """

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    expected_to_exit: bool = False
    frozen: bool = False
    started_at: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        """The process id, which is also its process group id."""
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit code, or ``None`` while it runs."""
        return self.popen.poll()

    def running(self) -> bool:
        """Tell whether the process has not exited (a frozen process still runs)."""
        return self.popen.poll() is None

    def signal_group(self, signum: int) -> None:
        """Send a signal to the whole process group (the process and the children it started).

        :param signum: the signal, e.g. ``signal.SIGSTOP``.
        """
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, signum)

    def log_text(self) -> str:
        """Return the whole log (stdout and stderr) written so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines: int = 15) -> str:
        """Return the last lines of the log.

        :param lines: how many lines.
        """
        return "\n".join(self.log_text().splitlines()[-lines:])


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_process(
    name: str, command: Sequence[str], env: Mapping[str, str], logs: Path, niceness: int = 0
) -> ManagedProcess:
    """Start ``command`` in a new session, with stdout and stderr appended to ``logs/<name>.log``.

    :param name: the process's short name.
    :param command: the command line.
    :param env: the complete environment of the process.
    :param logs: the directory for log files.
    :param niceness: a CPU priority below normal (``nice``) for it and every child it starts later.
    :return: the started process.
    """
    log_path = logs / f"{name}.log"
    with log_path.open("ab") as log_file:
        popen = subprocess.Popen(
            list(command), env=dict(env), stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
        )
    if niceness:
        # Set from here, not in a preexec_fn (unsafe with threads): the interpreter has only begun to start.
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, popen.pid, niceness)
    return ManagedProcess(name=name, popen=popen, log_path=log_path)


def stop_processes(processes: Iterable[ManagedProcess], grace_seconds: float = STOP_GRACE_SECONDS) -> None:
    """Stop every process group: SIGTERM (and SIGCONT for frozen ones), then SIGKILL after ``grace_seconds``.

    :param processes: the processes to stop; those that have exited are skipped.
    :param grace_seconds: how long to wait for all of them after SIGTERM.
    """
    remaining = [process for process in processes if process.running()]
    for process in remaining:
        process.expected_to_exit = True
        process.signal_group(signal.SIGTERM)
        process.signal_group(signal.SIGCONT)
        process.frozen = False
    deadline = time.monotonic() + grace_seconds
    for process in remaining:
        try:
            process.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.signal_group(signal.SIGKILL)
            process.popen.wait()
    # Children that outlived their group leader (task runners, trigger runners) go too.
    for process in remaining:
        process.signal_group(signal.SIGKILL)


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    watched: Callable[[], Iterable[ManagedProcess]],
    interval: float = 0.5,
) -> None:
    """Poll ``condition`` until it holds; fail early if a watched process exits unexpectedly.

    :param condition: returns ``True`` when done.
    :param timeout: seconds before :class:`TimeoutError`.
    :param what: what is awaited, for error messages.
    :param watched: returns the processes that must keep running.
    :param interval: seconds between two polls.
    :raises DeploymentProcessError: a watched process exited.
    :raises TimeoutError: the condition did not hold in time.
    """
    deadline = time.monotonic() + timeout
    while True:
        check_alive(watched(), what)
        if condition():
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def check_alive(processes: Iterable[ManagedProcess], what: str) -> None:
    """Raise if a process that should run has exited.

    :param processes: the processes to check.
    :param what: what the caller was doing, for the error message.
    :raises DeploymentProcessError: one of them exited.
    """
    for process in processes:
        if not process.expected_to_exit and not process.running():
            raise DeploymentProcessError(process, what)

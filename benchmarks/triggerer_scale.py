"""Triggerer-at-scale benchmark: N optimization-job triggers in one event loop, ours vs the provider's way.

Run from the repository root::

    .venv/bin/python benchmarks/triggerer_scale.py                      # default run (~10-15 min)
    .venv/bin/python benchmarks/triggerer_scale.py --triggers 1000 --poll-interval 5 --large-triggers 3000
    .venv/bin/python benchmarks/triggerer_scale.py --quick              # smoke run (~2 min)
    .venv/bin/python benchmarks/triggerer_scale.py --coalescing --modes plain --name coalescing   # ~13 min

It starts the SageMaker emulator in its own process, then runs every scenario (implementation x
credential mode x N) in a fresh subprocess (``benchmarks/triggerer_scenario.py``), samples the
emulator's CPU and call counts from here, reads its TCP connection counts around each scenario, and
writes ``benchmarks/results/latest.json``, ``benchmarks/results/latest.png`` and a Markdown table
(printed, and ``latest.md``).
See ``benchmarks/README.md`` for what each metric means.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

ROLE_ARN = "arn:aws:iam::123456789012:role/bench"
CONN_IDS = {"plain": "bench_plain", "role": "bench_role"}
EMULATOR_SAMPLE_SECONDS = 0.5

# Targets at N = --triggers, for our trigger (issue 7, and since first looks come from the shared List).
TARGET_RSS_KB_PER_TRIGGER = 16.0
TARGET_MAX_LAG_MS = 100.0
#: Largest event-loop lag with the full (generation 2) garbage collections taken out.
TARGET_LAG_OUTSIDE_FULL_GC_MS = 50.0
TARGET_EVENT_DELAY_MARGIN_S = 1.0
TARGET_CPU_RATIO = 0.1
TARGET_DESCRIBES_PER_INTERVAL = 1.0
#: (Describe + List calls) / N for the whole wait.
TARGET_CALLS_PER_JOB = 1.1
TARGET_FIRST_LOOKS_SECONDS = 10.0
# Targets of coalesced polling (issue 13), against our trigger describing each job every interval.
TARGET_CALLS_PER_JOB_PER_INTERVAL = 0.05
#: Lead of a --coalescing run: long enough for every trigger's first safety-net Describe (at most 5 minutes
#: after its first look) to fall inside the steady window, so the calls measured there include it.
COALESCING_LEAD_SECONDS = 310.0
#: Environment variable of ``[sagemaker_optimization_job] coalesced_polling``.
COALESCED_POLLING_VARIABLE = "AIRFLOW__SAGEMAKER_OPTIMIZATION_JOB__COALESCED_POLLING"


@dataclass(frozen=True)
class Scenario:
    implementation: str  # "ours" | "ours-per-job" (coalesced polling off) | "baseline"
    mode: str  # "plain" | "role"
    triggers: int
    poll_interval: float

    @property
    def label(self) -> str:
        return f"{self.implementation}/{self.mode}/N={self.triggers}"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--triggers", type=int, default=1000, help="N for every scenario (default: %(default)s)")
    parser.add_argument(
        "--large-triggers",
        type=int,
        default=3000,
        help="also run our trigger at this N, both credential modes; 0 skips (default: %(default)s)",
    )
    parser.add_argument(
        "--large-baseline",
        action="store_true",
        help="also run the baseline (plain credentials) at --large-triggers",
    )
    parser.add_argument(
        "--baseline-role-triggers",
        type=int,
        default=200,
        help="N for the baseline with an assumed role, which is very slow per trigger; our trigger is also "
        "run at this N for a like-for-like ratio (default: %(default)s)",
    )
    parser.add_argument("--poll-interval", type=float, default=5.0, help="seconds between polls (default: %(default)s)")
    parser.add_argument(
        "--large-poll-interval",
        type=float,
        default=None,
        help="poll interval for the --large-triggers scenarios (default: --poll-interval)",
    )
    parser.add_argument(
        "--window",
        type=float,
        default=40.0,
        help="job finish times are spread over this many seconds (default: %(default)s)",
    )
    parser.add_argument(
        "--lead",
        type=float,
        default=None,
        help="seconds from trigger start to the first job finish (default: max(15, 3 x poll interval))",
    )
    parser.add_argument("--implementations", default="ours,baseline", help="comma-separated subset of ours,baseline")
    parser.add_argument("--modes", default="plain,role", help="comma-separated subset of plain,role")
    parser.add_argument("--output-dir", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--name", default="latest", help="base name of the result files (default: %(default)s)")
    parser.add_argument("--quick", action="store_true", help="smoke run: N=200, no large scenarios, 15 s window")
    parser.add_argument(
        "--coalescing",
        action="store_true",
        help="compare our trigger with coalesced polling (one shared List per interval) against the same trigger "
        f"describing each job every interval, at --triggers N; lead {COALESCING_LEAD_SECONDS:g} s unless --lead",
    )
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG chart")
    args = parser.parse_args(argv)
    if args.quick:
        args.triggers = min(args.triggers, 200)
        args.large_triggers = 0
        args.baseline_role_triggers = min(args.baseline_role_triggers, 100)
        args.window = 15.0
    return args


def build_scenarios(args: argparse.Namespace) -> list[Scenario]:
    implementations = [item.strip() for item in args.implementations.split(",") if item.strip()]
    modes = [item.strip() for item in args.modes.split(",") if item.strip()]
    if args.coalescing:
        return [
            Scenario(implementation, mode, args.triggers, args.poll_interval)
            for mode in modes
            for implementation in ("ours-per-job", "ours")
        ]
    large_poll = args.large_poll_interval or args.poll_interval
    scenarios: list[Scenario] = []
    for mode in modes:
        role_n = min(args.triggers, args.baseline_role_triggers) if mode == "role" else args.triggers
        for implementation in implementations:
            n = role_n if implementation == "baseline" else args.triggers
            scenarios.append(Scenario(implementation, mode, n, args.poll_interval))
        if mode == "role" and "ours" in implementations and "baseline" in implementations and role_n != args.triggers:
            scenarios.append(Scenario("ours", mode, role_n, args.poll_interval))
    if args.large_triggers:
        for mode in modes:
            if "ours" in implementations:
                scenarios.append(Scenario("ours", mode, args.large_triggers, large_poll))
        if args.large_baseline and "baseline" in implementations and "plain" in modes:
            scenarios.append(Scenario("baseline", "plain", args.large_triggers, large_poll))
    return scenarios


# Emulator ---------------------------------------------------------------------------------------------


def start_emulator(log_path: Path) -> tuple[subprocess.Popen[str], str]:
    log = log_path.open("w")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "airflow_provider_optjob.testing",
            "--port",
            "0",
            "--starting-seconds",
            "0",
            "--inprogress-seconds",
            "4",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline().strip()
    if not line.startswith("SageMaker emulator listening on "):
        process.kill()
        raise RuntimeError(f"emulator did not start: {line!r}; see {log_path}")
    return process, line.rsplit(" ", 1)[1]


def stop_emulator(process: subprocess.Popen[str]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def emulator_http_mode(url: str) -> str:
    """Say whether the emulator's server keeps HTTP connections open between requests (it counts them if so)."""
    from airflow_provider_optjob.testing import EmulatorControl
    from benchmarks.triggerer_scenario import emulator_connections

    if emulator_connections(EmulatorControl(url, timeout=60)) is None:
        return "one connection per request (no connection counts)"
    return "keep-alive"


def connection_env(url: str) -> dict[str, str]:
    extra = {"endpoint_url": url, "region_name": "us-east-1"}
    role_extra = {
        **extra,
        "role_arn": ROLE_ARN,
        "assume_role_method": "assume_role",
        # AssumeRole goes to the emulator (moto) too; the provider never uses the global endpoint_url for it.
        "service_config": {"sts": {"endpoint_url": url}},
    }
    base = {"conn_type": "aws", "login": "testing", "password": "testing"}
    return {
        f"AIRFLOW_CONN_{CONN_IDS['plain'].upper()}": json.dumps({**base, "extra": extra}),
        f"AIRFLOW_CONN_{CONN_IDS['role'].upper()}": json.dumps({**base, "extra": role_extra}),
    }


# One scenario -----------------------------------------------------------------------------------------


def run_scenario(
    scenario: Scenario, args: argparse.Namespace, url: str, emulator_pid: int, workdir: Path, index: int
) -> dict[str, Any]:
    import psutil

    from airflow_provider_optjob.testing import EmulatorControl
    from benchmarks.triggerer_scenario import emulator_connections

    control = EmulatorControl(url, timeout=60)
    control.reset()
    connections_before = emulator_connections(control)
    lead = args.lead
    if lead is None:
        lead = COALESCING_LEAD_SECONDS if args.coalescing else max(15.0, 3 * scenario.poll_interval)
    spec = {
        "implementation": scenario.implementation,
        "mode": scenario.mode,
        "conn_id": CONN_IDS[scenario.mode],
        "url": url,
        "triggers": scenario.triggers,
        "poll_interval": scenario.poll_interval,
        "lead_seconds": lead,
        "window_seconds": args.window,
        "deadline_margin_seconds": 600.0,
        "job_prefix": f"bench{index}-{scenario.implementation}-{scenario.mode}",
        "seed": 7,
    }
    home = workdir / f"airflow-home-{index}"
    home.mkdir()
    spec_path = workdir / f"spec-{index}.json"
    result_path = workdir / f"result-{index}.json"
    log_path = workdir / f"scenario-{index}.log"
    spec_path.write_text(json.dumps(spec))
    env = {
        **os.environ,
        **connection_env(url),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        COALESCED_POLLING_VARIABLE: str(scenario.implementation != "ours-per-job"),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH", "")])),
    }
    emulator = psutil.Process(emulator_pid)
    # (time, emulator cpu seconds, DescribeOptimizationJob calls, ListOptimizationJobs calls)
    samples: list[tuple[float, float, int, int]] = []
    started = time.time()
    with log_path.open("w") as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.triggerer_scenario", str(spec_path), str(result_path)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        while child.poll() is None:
            times = emulator.cpu_times()
            try:
                counts = control.call_counts()
                describes, lists = counts.get("DescribeOptimizationJob", 0), counts.get("ListOptimizationJobs", 0)
            except OSError:
                describes, lists = -1, -1
            samples.append((time.time(), times.user + times.system, describes, lists))
            time.sleep(EMULATOR_SAMPLE_SECONDS)
    scenario_seconds = time.time() - started
    connections_after = emulator_connections(control)
    if child.returncode != 0 or not result_path.exists():
        tail = log_path.read_text()[-4000:]
        raise RuntimeError(f"scenario {scenario.label} failed ({child.returncode}); log tail:\n{tail}")
    raw: dict[str, Any] = json.loads(result_path.read_text())
    metrics = analyse(scenario, raw, samples)
    metrics.update(connection_metrics(raw, samples, connections_before, connections_after))
    metrics["scenario_seconds"] = scenario_seconds
    metrics["log"] = str(log_path)
    return metrics


def percentile(values: list[float], fraction: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def analyse(scenario: Scenario, raw: dict[str, Any], samples: list[tuple[float, float, int, int]]) -> dict[str, Any]:
    n = scenario.triggers
    poll = scenario.poll_interval
    go: float = raw["go"]
    last: float = raw["last_event"]
    arrivals: dict[str, float] = raw["arrivals"]
    finishes: dict[str, float] = raw["finishes"]
    calls: dict[str, int] = raw["calls"]
    describes = calls.get("DescribeOptimizationJob", 0)
    lists = calls.get("ListOptimizationJobs", 0)

    # The start burst lasts until every trigger has had its first look.
    burst_seconds, first_looks_by = first_looks_done(raw, samples, n)

    lag_samples: list[tuple[float, float, float]] = [(t, value, cpu) for t, value, cpu in raw["lag"]]
    lags_ms = [value * 1000 for _, value, _ in lag_samples]
    burst_limit = go + (burst_seconds if burst_seconds is not None else 2 * poll)
    burst_lags = [value * 1000 for t, value, _ in lag_samples if t <= burst_limit]
    steady_lags = [value * 1000 for t, value, _ in lag_samples if t > burst_limit]
    worst = max(lag_samples, key=lambda sample: sample[1], default=None)
    # Lag the loop's own thread spent on CPU (running callbacks), as opposed to waiting for a core or the GIL.
    busy_lags_ms = [min(value, cpu) * 1000 for _, value, cpu in lag_samples]
    gc_pauses = [(t, generation, seconds) for t, generation, seconds in raw["gc_pauses"] if t >= go]

    rss_samples = [rss for t, rss, _ in raw["samples"]]
    rss_peak = max([raw["rss_before"], *rss_samples])
    cpu_before = raw["cpu_before"][2]
    cpu_seconds = raw["cpu_after"][2] - cpu_before
    cpu_burst = None
    burst_cpu_points = [cpu for t, _, cpu in raw["samples"] if t <= burst_limit]
    if burst_cpu_points:
        cpu_burst = burst_cpu_points[-1] - cpu_before

    delays = [arrivals[name] - finishes[name] for name in arrivals if name in finishes]
    success = sum(1 for status in raw["statuses"].values() if status == "success")

    # Describe calls per active trigger per poll interval, over sliding windows of one interval.
    order = sorted(arrivals.values())
    worst_rate = 0.0
    window_points = [(t, d) for t, _, d, _ in samples if t >= go and d >= 0]
    # Windows a little shorter than one interval (the sample clock is not the emulator's), unscaled: a
    # trigger that polls at most once per interval makes at most one call in any of them.
    for i, (t_end, d_end) in enumerate(window_points):
        start = next(((t, d) for t, d in window_points[: i + 1] if t >= t_end - (poll - 0.5)), None)
        if start is None or t_end - start[0] < poll - 1.5:
            continue
        active = n - _count_le(order, start[0])
        if active >= max(10, n // 20):
            worst_rate = max(worst_rate, (d_end - start[1]) / active)
    expected_polls = sum(1 + (arrivals[name] - go) / poll for name in arrivals)
    steady = steady_calls(samples, burst_limit, min(finishes.values(), default=last), n, poll)

    emulator_points = [(t, cpu) for t, cpu, _, _ in samples if go <= t <= last]
    emulator_cpu = emulator_points[-1][1] - emulator_points[0][1] if len(emulator_points) > 1 else None
    emulator_peak = 0.0
    for (t0, c0), (t1, c1) in zip(emulator_points, emulator_points[2:], strict=False):
        emulator_peak = max(emulator_peak, (c1 - c0) / max(t1 - t0, 1e-9))
    wall = last - go
    return {
        "label": scenario.label,
        "implementation": scenario.implementation,
        "mode": scenario.mode,
        "triggers": n,
        "poll_interval": poll,
        "lead_seconds": raw["spec"]["lead_seconds"],
        "window_seconds": raw["spec"]["window_seconds"],
        "events": len(arrivals),
        "success_events": success,
        "non_success_examples": dict(list(raw["messages"].items())[:3]),
        "task_errors": raw["task_error_count"],
        "pending": raw["pending"],
        "creation_seconds": raw["creation_seconds"],
        "wall_seconds": wall,
        "first_looks_seconds": burst_seconds,
        "first_looks_measured_by": first_looks_by,
        "rss_before_mb": raw["rss_before"] / 2**20,
        "rss_peak_mb": rss_peak / 2**20,
        "rss_after_mb": raw["rss_after"] / 2**20,
        "rss_growth_mb": (rss_peak - raw["rss_before"]) / 2**20,
        "rss_kb_per_trigger": (rss_peak - raw["rss_before"]) / 1024 / n,
        "lag_max_ms": max(lags_ms) if lags_ms else None,
        "lag_p99_ms": percentile(lags_ms, 0.99),
        "lag_p50_ms": percentile(lags_ms, 0.50),
        "burst_lag_max_ms": max(burst_lags) if burst_lags else None,
        "steady_lag_max_ms": max(steady_lags) if steady_lags else None,
        "steady_lag_p99_ms": percentile(steady_lags, 0.99),
        "lag_max_at_s": None if worst is None else worst[0] - go,
        "lag_max_loop_thread_cpu_ms": None if worst is None else worst[2] * 1000,
        "busy_lag_max_ms": max(busy_lags_ms) if busy_lags_ms else None,
        "gc_max_pause_ms": max((seconds for _, _, seconds in gc_pauses), default=0.0) * 1000,
        "gc_total_seconds": sum(seconds for _, _, seconds in gc_pauses),
        "gc_gen2_collections": sum(1 for _, generation, _ in gc_pauses if generation == 2),
        **full_gc_lags(lag_samples, gc_pauses),
        "cpu_seconds": cpu_seconds,
        "cpu_burst_seconds": cpu_burst,
        "cpu_ms_per_trigger": cpu_seconds * 1000 / n,
        "describe_calls": describes,
        "cpu_seconds_per_1000_polls": cpu_seconds / describes * 1000 if describes else None,
        "calls": calls,
        "api_calls_per_job": sum(calls.values()) / n,
        "describe_list_calls_per_job": (describes + lists) / n,
        "describes_per_job": describes / n,
        "assume_role_calls": calls.get("AssumeRole", 0),
        "describes_per_job_per_interval": describes / expected_polls if expected_polls else None,
        "list_calls": lists,
        "calls_per_job_per_interval": (describes + lists) / expected_polls if expected_polls else None,
        "steady_calls_per_job_per_interval": steady["rate"],
        "steady_window_s": steady["seconds"],
        "worst_window_describes_per_job_per_interval": worst_rate,
        "event_delay_p50_s": percentile(delays, 0.50),
        "event_delay_p99_s": percentile(delays, 0.99),
        "event_delay_max_s": max(delays) if delays else None,
        "emulator_cpu_seconds": emulator_cpu,
        "emulator_mean_cores": emulator_cpu / wall if emulator_cpu is not None and wall > 0 else None,
        "emulator_peak_cores": emulator_peak,
    }


def first_looks_done(
    raw: dict[str, Any], samples: list[tuple[float, float, int, int]], n: int
) -> tuple[float | None, str]:
    """
    Return the seconds from start until every trigger has had its first look at its job, and how they were found.

    Our trigger with coalesced polling: when the scenario saw its job watchers hold every trigger, none awaiting
    the List that gives it its first look, and the first trigger's Describe done (``first_looks`` in its result).
    Otherwise (the baseline, or coalesced polling off), every trigger describes its job first: until the
    emulator has seen N Describe calls (0.5 s resolution). ``None`` if that never happened.
    """
    go: float = raw["go"]
    looks = raw.get("first_looks")
    if looks is not None and looks["coalescing"]:
        done_at = looks["done_at"]
        return (None if done_at is None else done_at - go), "job watchers' Lists and first Describe"
    end = next((t for t, _, d, _ in samples if t >= go and d >= n), None)
    return (None if end is None else end - go), "N Describe calls"


def full_gc_lags(
    lag_samples: list[tuple[float, float, float]], gc_pauses: list[tuple[float, int, float]]
) -> dict[str, float | None]:
    """
    The largest event-loop lag with full (generation 2) garbage collections taken out, and the longest of those.

    Each heartbeat's lag loses the time full collections ran during its sleep: a collection in any thread holds
    the GIL, so it stalls the loop, and it walks every object of the process, Airflow's included. What is left is
    what the triggers' own work (and the machine's load) cost the loop.
    """
    from benchmarks.triggerer_scenario import HEARTBEAT_SECONDS

    full = [(end - seconds, end) for end, generation, seconds in gc_pauses if generation == 2]
    outside = []
    for woke, lag, _ in lag_samples:
        slept = woke - lag - HEARTBEAT_SECONDS
        in_gc = sum(max(0.0, min(woke, end) - max(slept, start)) for start, end in full)
        outside.append(max(0.0, lag - in_gc) * 1000)
    return {
        "lag_outside_full_gc_max_ms": max(outside, default=None),
        "gc_gen2_max_pause_ms": max((end - start for start, end in full), default=0.0) * 1000,
    }


def connection_metrics(
    raw: dict[str, Any],
    samples: list[tuple[float, float, int, int]],
    before: dict[str, float] | None,
    after: dict[str, float] | None,
) -> dict[str, Any]:
    """
    TCP connections the emulator accepted in the whole scenario and while the triggers ran; its counts after it.

    The whole scenario includes creating the jobs (one connection per scripted job). While the triggers ran leaves
    out the benchmark's own control requests meanwhile, one connection each (the orchestrator's samples, the
    scenario's first-look checks and its reading of the counts), give or take one. ``None`` when the emulator's
    server does not count connections.

    :param raw: the scenario's result, with its counts just before and after the triggers ran.
    :param samples: the orchestrator's emulator samples, one control request each.
    :param before: the counts before the scenario started.
    :param after: the counts after it ended.
    """
    start, end = raw["connections_before"], raw["connections_after"]
    waiting = None
    if start is not None and end is not None:
        own = 1 + (raw["first_looks"] or {}).get("control_requests", 0)
        sampled = sum(1 for t, *_ in samples if start["time"] < t <= end["time"])
        waiting = int(end["accepted"] - start["accepted"]) - own - sampled
    scenario = None
    if before is not None and after is not None:
        scenario = int(after["accepted"] - before["accepted"])
    return {
        "emulator_connections_accepted": scenario,
        "emulator_connections_accepted_waiting": waiting,
        "emulator_connections_after": None if after is None else {"accepted": after["accepted"], "open": after["open"]},
    }


def steady_calls(
    samples: list[tuple[float, float, int, int]], start: float, end: float, n: int, poll: float
) -> dict[str, float | None]:
    """
    Describe + List calls per job per interval while every trigger waits: after every trigger's first look, before
    the first job ends. Join and final Describe calls are left out; what is left is the cost of waiting itself.
    """
    points = [(t, d + lists) for t, _, d, lists in samples if start <= t <= end and d >= 0 and lists >= 0]
    if len(points) < 2 or points[-1][0] - points[0][0] < poll:
        return {"rate": None, "seconds": None}
    (t0, c0), (t1, c1) = points[0], points[-1]
    return {"rate": (c1 - c0) / (n * (t1 - t0) / poll), "seconds": t1 - t0}


def _count_le(ordered: list[float], value: float) -> int:
    import bisect

    return bisect.bisect_right(ordered, value)


# Report -----------------------------------------------------------------------------------------------


def find(results: list[dict[str, Any]], implementation: str, mode: str, n: int) -> dict[str, Any] | None:
    return next(
        (r for r in results if r["implementation"] == implementation and r["mode"] == mode and r["triggers"] == n),
        None,
    )


RATIO_METRICS = (
    "first_looks_seconds",
    "describe_list_calls_per_job",
    "rss_kb_per_trigger",
    "lag_max_ms",
    "lag_p99_ms",
    "cpu_seconds",
    "cpu_seconds_per_1000_polls",
    "event_delay_p99_s",
    "wall_seconds",
)


def comparisons(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Ours / baseline for every (mode, N) that has both."""
    rows = []
    for baseline in (r for r in results if r["implementation"] == "baseline"):
        ours = find(results, "ours", baseline["mode"], baseline["triggers"])
        if ours is None:
            continue
        ratios = {}
        for metric in RATIO_METRICS:
            a, b = ours.get(metric), baseline.get(metric)
            ratios[metric] = a / b if isinstance(a, int | float) and isinstance(b, int | float) and b else None
        rows.append({"mode": baseline["mode"], "triggers": baseline["triggers"], "ratios": ratios})
    return rows


COALESCING_METRICS = (
    "steady_calls_per_job_per_interval",
    "calls_per_job_per_interval",
    "event_delay_p99_s",
    "rss_kb_per_trigger",
    "lag_max_ms",
    "busy_lag_max_ms",
    "cpu_seconds",
)


def coalescing_comparisons(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Coalesced polling / per-job Describe, for every (mode, N) that has both; below 1 is better."""
    rows = []
    for per_job in (r for r in results if r["implementation"] == "ours-per-job"):
        ours = find(results, "ours", per_job["mode"], per_job["triggers"])
        if ours is None:
            continue
        ratios = {}
        for metric in COALESCING_METRICS:
            a, b = ours.get(metric), per_job.get(metric)
            ratios[metric] = a / b if isinstance(a, int | float) and isinstance(b, int | float) and b else None
        rows.append({"mode": per_job["mode"], "triggers": per_job["triggers"], "ratios": ratios})
    return rows


def evaluate_coalescing_targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Issue 13's targets for coalesced polling, where a run has both variants of our trigger."""
    checks: list[dict[str, Any]] = []
    for row in coalescing_comparisons(results):
        mode, n = row["mode"], row["triggers"]
        ours, per_job = find(results, "ours", mode, n), find(results, "ours-per-job", mode, n)
        assert ours is not None
        assert per_job is not None
        poll = ours["poll_interval"]
        steady, delay = ours["steady_calls_per_job_per_interval"], ours["event_delay_p99_s"]
        checks.append(
            {
                "target": f"API calls per job per interval while waiting ({mode}, N={n})",
                "value": steady,
                "limit": f"<= {TARGET_CALLS_PER_JOB_PER_INTERVAL:g}",
                "met": steady is not None and steady <= TARGET_CALLS_PER_JOB_PER_INTERVAL,
                "note": f"per-job Describe: {fmt(per_job['steady_calls_per_job_per_interval'], 3)}; whole wait incl. "
                f"first and last Describe: {fmt(ours['calls_per_job_per_interval'], 3)}",
            }
        )
        checks.append(
            {
                "target": f"p99 delay from job end to event ({mode}, N={n})",
                "value": delay,
                "limit": f"<= {poll + TARGET_EVENT_DELAY_MARGIN_S:g} s",
                "met": delay is not None and delay <= poll + TARGET_EVENT_DELAY_MARGIN_S,
                "note": "",
            }
        )
        for metric, title in (("rss_kb_per_trigger", "memory per trigger"), ("lag_max_ms", "max loop lag")):
            ratio = row["ratios"][metric]
            checks.append(
                {
                    "target": f"{title} vs per-job Describe ({mode}, N={n})",
                    "value": ratio,
                    "limit": "<= 1 (no worse)",
                    "met": ratio is not None and ratio <= 1.0,
                    "note": f"{fmt(ours[metric], 1)} vs {fmt(per_job[metric], 1)}",
                }
            )
    return checks


def marginal_rss(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """RSS growth per *additional* trigger of ours, between its smallest and largest N in each mode.

    Growth divided by N also carries one-time costs (the SageMaker service model, the shared client);
    the slope between two N leaves those out.
    """
    slopes = {}
    for mode in ("plain", "role"):
        runs = sorted(
            (r for r in results if r["implementation"] == "ours" and r["mode"] == mode), key=lambda r: r["triggers"]
        )
        if len(runs) >= 2 and runs[-1]["triggers"] > runs[0]["triggers"]:
            small, large = runs[0], runs[-1]
            slope = (large["rss_growth_mb"] - small["rss_growth_mb"]) * 1024 / (large["triggers"] - small["triggers"])
            slopes[mode] = {"kb_per_trigger": slope, "between": [small["triggers"], large["triggers"]]}
    return slopes


def baseline_pair(
    results: list[dict[str, Any]], mode: str, n: int
) -> tuple[dict[str, Any], dict[str, Any], str] | None:
    """
    Return ours and the baseline in ``mode`` at N = ``n``, else at the largest N both ran at, and a note saying so.

    The baseline may be skipped at the largest N (``--large-baseline``) and runs at a smaller N with an assumed role.
    """
    pairs = []
    for baseline in (r for r in results if r["implementation"] == "baseline" and r["mode"] == mode):
        ours = find(results, "ours", mode, baseline["triggers"])
        if ours is not None:
            pairs.append((ours, baseline))
    if not pairs:
        return None
    ours, baseline = max(pairs, key=lambda pair: (pair[1]["triggers"] == n, pair[1]["triggers"]))
    note = "" if baseline["triggers"] == n else f"compared at N={baseline['triggers']} (baseline not run at N={n})"
    return ours, baseline, note


def evaluate_targets(results: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    checks: list[dict[str, Any]] = []
    slopes = marginal_rss(results)

    def add(name: str, value: Any, limit: str, met: bool | None, note: str = "") -> None:
        checks.append({"target": name, "value": value, "limit": limit, "met": met, "note": note})

    def at_most(value: float | None, limit: float) -> bool:
        return value is not None and value <= limit

    for mode in ("plain", "role"):
        ours = find(results, "ours", mode, n)
        if ours is None:
            continue
        poll = ours["poll_interval"]
        add(
            f"RSS growth per trigger ({mode})",
            ours["rss_kb_per_trigger"],
            f"<= {TARGET_RSS_KB_PER_TRIGGER:g} KB",
            at_most(ours["rss_kb_per_trigger"], TARGET_RSS_KB_PER_TRIGGER),
            (
                f"marginal {slopes[mode]['kb_per_trigger']:.1f} KB/trigger between N={slopes[mode]['between']}"
                if mode in slopes
                else ""
            ),
        )
        add(
            f"max event-loop lag incl. start burst ({mode})",
            ours["lag_max_ms"],
            f"< {TARGET_MAX_LAG_MS:g} ms",
            ours["lag_max_ms"] is not None and ours["lag_max_ms"] < TARGET_MAX_LAG_MS,
            f"largest lag at {fmt(ours['lag_max_at_s'], 1)} s with {fmt(ours['lag_max_loop_thread_cpu_ms'], 0)} ms "
            f"loop-thread CPU; max on-CPU lag {fmt(ours['busy_lag_max_ms'], 0)} ms; "
            f"p99 {fmt(ours['lag_p99_ms'], 1)} ms",
        )
        add(
            f"max event-loop lag outside full GCs ({mode})",
            ours["lag_outside_full_gc_max_ms"],
            f"<= {TARGET_LAG_OUTSIDE_FULL_GC_MS:g} ms",
            at_most(ours["lag_outside_full_gc_max_ms"], TARGET_LAG_OUTSIDE_FULL_GC_MS),
            f"full (gen 2) collections: {ours['gc_gen2_collections']}, longest "
            f"{fmt(ours['gc_gen2_max_pause_ms'], 1)} ms",
        )
        add(
            f"p99 event delay ({mode})",
            ours["event_delay_p99_s"],
            f"<= {poll + TARGET_EVENT_DELAY_MARGIN_S:g} s",
            at_most(ours["event_delay_p99_s"], poll + TARGET_EVENT_DELAY_MARGIN_S),
        )
        add(
            f"Describe calls per job per poll interval ({mode})",
            ours["worst_window_describes_per_job_per_interval"],
            f"<= {TARGET_DESCRIBES_PER_INTERVAL:g}",
            ours["worst_window_describes_per_job_per_interval"] <= TARGET_DESCRIBES_PER_INTERVAL + 0.02,
            f"average {ours['describes_per_job_per_interval']:.3f}; worst sliding window shown",
        )
        add(
            f"API calls per job, whole wait ({mode})",
            ours["describe_list_calls_per_job"],
            f"<= {TARGET_CALLS_PER_JOB:g}",
            at_most(ours["describe_list_calls_per_job"], TARGET_CALLS_PER_JOB),
            f"{ours['describe_calls']} Describe + {ours['list_calls']} List calls for {ours['triggers']} jobs",
        )
        add(
            f"first looks done ({mode})",
            ours["first_looks_seconds"],
            f"<= {TARGET_FIRST_LOOKS_SECONDS:g} s",
            at_most(ours["first_looks_seconds"], TARGET_FIRST_LOOKS_SECONDS),
            f"measured by: {ours['first_looks_measured_by']}",
        )
        pair = baseline_pair(results, mode, n)
        if pair is not None:
            ours_same, baseline, note = pair
            ratio = ours_same["cpu_seconds"] / baseline["cpu_seconds"]
            add(
                f"CPU for the whole wait vs baseline ({mode})",
                ratio,
                f"< {TARGET_CPU_RATIO:g}",
                ratio < TARGET_CPU_RATIO,
                note,
            )
    return checks


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        return f"{value:.{digits}f}"
    return str(value)


TABLE_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("wall s", "wall_seconds", 1),
    ("first looks done (s)", "first_looks_seconds", 1),
    ("RSS growth MB", "rss_growth_mb", 1),
    ("RSS KB/trigger", "rss_kb_per_trigger", 1),
    ("max lag ms", "lag_max_ms", 1),
    ("burst max lag ms", "burst_lag_max_ms", 1),
    ("steady max lag ms", "steady_lag_max_ms", 1),
    ("p99 lag ms", "lag_p99_ms", 1),
    ("max lag at s (loop-thread CPU ms)", "_lag_at", 1),
    ("max on-CPU lag ms", "busy_lag_max_ms", 1),
    ("max lag outside full GCs ms", "lag_outside_full_gc_max_ms", 1),
    ("max GC pause ms; full GCs: count, longest ms", "_gc", 1),
    ("CPU s (wait)", "cpu_seconds", 2),
    ("CPU s start burst", "cpu_burst_seconds", 2),
    ("CPU s / 1000 polls", "cpu_seconds_per_1000_polls", 2),
    ("API calls/job", "api_calls_per_job", 2),
    ("Describe + List calls/job (whole wait)", "describe_list_calls_per_job", 2),
    ("AssumeRole calls", "assume_role_calls", 0),
    ("Describe/job/interval (avg, worst)", "_describe_rate", 2),
    ("List calls", "list_calls", 0),
    ("API calls/job/interval (whole wait, steady)", "_calls_rate", 3),
    ("event delay p50 s", "event_delay_p50_s", 2),
    ("event delay p99 s", "event_delay_p99_s", 2),
    ("events ok", "_events", 0),
    ("emulator cores mean/peak", "_emulator", 2),
    ("emulator connections accepted (while waiting, whole scenario)", "_connections", 0),
)


def cell(result: dict[str, Any], key: str, digits: int) -> str:
    if key == "_calls_rate":
        return (
            f"{fmt(result.get('calls_per_job_per_interval'), digits)}, "
            f"{fmt(result.get('steady_calls_per_job_per_interval'), digits)}"
        )
    if key == "_describe_rate":
        return (
            f"{fmt(result['describes_per_job_per_interval'], 2)}, "
            f"{fmt(result['worst_window_describes_per_job_per_interval'], 2)}"
        )
    if key == "_lag_at":
        return f"{fmt(result['lag_max_at_s'], 1)} ({fmt(result['lag_max_loop_thread_cpu_ms'], 0)})"
    if key == "_gc":
        return (
            f"{fmt(result['gc_max_pause_ms'], 1)}; "
            f"{result['gc_gen2_collections']}, {fmt(result['gc_gen2_max_pause_ms'], 1)}"
        )
    if key == "_events":
        return f"{result['success_events']}/{result['triggers']}"
    if key == "_emulator":
        return f"{fmt(result['emulator_mean_cores'], 2)}/{fmt(result['emulator_peak_cores'], 2)}"
    if key == "_connections":
        return (
            f"{fmt(result.get('emulator_connections_accepted_waiting'))}, "
            f"{fmt(result.get('emulator_connections_accepted'))}"
        )
    return fmt(result.get(key), digits)


def markdown(report: dict[str, Any]) -> str:
    results: list[dict[str, Any]] = report["results"]
    lines = [
        f"Poll interval {report['args']['poll_interval']:g} s, job finishes spread over "
        f"{report['args']['window']:g} s; {report['machine']['cpus']} CPUs, "
        f"load before run {report['machine']['loadavg_before']}. Emulator HTTP: {report['emulator']['http']}.",
        "",
        "| metric | " + " | ".join(r["label"] for r in results) + " |",
        "|---|" + "---:|" * len(results),
    ]
    for title, key, digits in TABLE_COLUMNS:
        lines.append(f"| {title} | " + " | ".join(cell(r, key, digits) for r in results) + " |")
    rows = report["comparisons"]
    if rows:
        lines += ["", "Ours / baseline (same mode, same N; below 1 is better for us):", ""]
        lines.append("| mode, N | " + " | ".join(RATIO_METRICS) + " |")
        lines.append("|---|" + "---:|" * len(RATIO_METRICS))
        for row in rows:
            values = " | ".join(fmt(row["ratios"][m], 3) for m in RATIO_METRICS)
            lines.append(f"| {row['mode']}, {row['triggers']} | {values} |")
    rows = report.get("coalescing_comparisons", [])
    if rows:
        lines += ["", "Coalesced polling / per-job Describe (same mode, same N; below 1 is better):", ""]
        lines.append("| mode, N | " + " | ".join(COALESCING_METRICS) + " |")
        lines.append("|---|" + "---:|" * len(COALESCING_METRICS))
        for row in rows:
            values = " | ".join(fmt(row["ratios"][m], 3) for m in COALESCING_METRICS)
            lines.append(f"| {row['mode']}, {row['triggers']} | {values} |")
    if report["targets"]:
        lines += ["", f"Targets at N={report['args']['triggers']} (our trigger):", ""]
        lines += ["| target | value | limit | met | note |", "|---|---:|---|---|---|"]
        for check in report["targets"]:
            lines.append(
                f"| {check['target']} | {fmt(check['value'], 3)} | {check['limit']} | "
                f"{fmt(check['met'])} | {check['note']} |"
            )
    return "\n".join(lines)


def chart(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results: list[dict[str, Any]] = report["results"]
    panels = (
        ("RSS growth per trigger (KB)", "rss_kb_per_trigger", True),
        ("max event-loop lag (ms)", "lag_max_ms", True),
        ("CPU seconds, whole wait", "cpu_seconds", True),
        ("CPU seconds per 1000 polls", "cpu_seconds_per_1000_polls", False),
        ("p99 event delay (s)", "event_delay_p99_s", False),
        ("wall time (s)", "wall_seconds", False),
    )
    groups = sorted({(r["mode"], r["triggers"]) for r in results}, key=lambda g: (g[0], g[1]))
    figure, axes = plt.subplots(2, 3, figsize=(15, 8))
    colors = {"ours": "#2b8cbe", "ours-per-job": "#7bccc4", "baseline": "#e34a33"}
    implementations = [name for name in colors if any(r["implementation"] == name for r in results)]
    width = 0.76 / len(implementations)
    offsets = [(index - (len(implementations) - 1) / 2) * width for index in range(len(implementations))]
    for axis, (title, key, log_scale) in zip(axes.flat, panels, strict=True):
        for offset, implementation in zip(offsets, implementations, strict=True):
            xs, ys = [], []
            for position, (mode, n) in enumerate(groups):
                result = find(results, implementation, mode, n)
                if result is not None and result.get(key) is not None:
                    xs.append(position + offset)
                    ys.append(max(result[key], 1e-3))
            bars = axis.bar(xs, ys, width, label=implementation, color=colors[implementation])
            axis.bar_label(bars, labels=[fmt(y, 1) for y in ys], fontsize=7)
        axis.set_title(title, fontsize=10)
        axis.set_xticks(range(len(groups)), [f"{mode}\nN={n}" for mode, n in groups], fontsize=8)
        if log_scale:
            axis.set_yscale("log")
        if key == "rss_kb_per_trigger":
            axis.axhline(TARGET_RSS_KB_PER_TRIGGER, color="grey", linestyle="--", linewidth=0.8)
        if key == "lag_max_ms":
            axis.axhline(TARGET_MAX_LAG_MS, color="grey", linestyle="--", linewidth=0.8)
    axes.flat[0].legend(fontsize=8)
    figure.suptitle(
        f"Optimization-job triggers in one event loop: {' vs '.join(implementations)} "
        f"(poll {report['args']['poll_interval']:g} s; dashed: targets)",
        fontsize=11,
    )
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    scenarios = build_scenarios(args)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    load_before = [round(x, 2) for x in os.getloadavg()]
    print(f"{len(scenarios)} scenarios: " + ", ".join(s.label for s in scenarios), flush=True)
    results: list[dict[str, Any]] = []
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="optjob-bench-") as tmp:
        workdir = Path(tmp)
        emulator, url = start_emulator(workdir / "emulator.log")
        try:
            http_mode = emulator_http_mode(url)
            print(f"emulator HTTP: {http_mode}", flush=True)
            for index, scenario in enumerate(scenarios):
                print(f"[{time.time() - started:6.0f} s] running {scenario.label} ...", flush=True)
                result = run_scenario(scenario, args, url, emulator.pid, workdir, index)
                results.append(result)
                print(
                    f"    wall {result['wall_seconds']:.1f} s, RSS {result['rss_kb_per_trigger']:.1f} KB/trigger, "
                    f"max lag {result['lag_max_ms']:.0f} ms, CPU {result['cpu_seconds']:.2f} s, "
                    f"p99 delay {fmt(result['event_delay_p99_s'], 2)} s, "
                    f"first looks done {fmt(result['first_looks_seconds'], 1)} s, "
                    f"{result['describe_list_calls_per_job']:.2f} Describe + List calls/job, "
                    f"connections accepted {cell(result, '_connections', 0)}, "
                    f"events ok {result['success_events']}/{result['triggers']}",
                    flush=True,
                )
        finally:
            stop_emulator(emulator)
    report = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "total_seconds": time.time() - started,
        "args": {key: (str(value) if isinstance(value, Path) else value) for key, value in vars(args).items()},
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_before": load_before,
            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
        },
        "versions": versions(),
        "emulator": {"http": http_mode},
        "results": [{k: v for k, v in r.items() if k != "log"} for r in results],
        "comparisons": comparisons(results),
        "coalescing_comparisons": coalescing_comparisons(results),
        "marginal_rss": marginal_rss(results),
        "targets": evaluate_targets(results, args.triggers) + evaluate_coalescing_targets(results),
    }
    json_path = args.output_dir / f"{args.name}.json"
    json_path.write_text(json.dumps(report, indent=2, default=str))
    table = markdown(report)
    (args.output_dir / f"{args.name}.md").write_text(table + "\n")
    if not args.no_chart:
        chart(report, args.output_dir / f"{args.name}.png")
    print()
    print(table)
    print(f"\nWrote {json_path} (total {report['total_seconds']:.0f} s).")
    return 0


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("apache-airflow", "apache-airflow-providers-amazon", "aiobotocore", "botocore", "moto"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "-"
    return found


if __name__ == "__main__":
    sys.exit(main())

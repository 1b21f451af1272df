"""Failure detection against a real Prometheus: how long until a dead or hung vLLM replica is caught.

Starts Debian's `prometheus` with the scrape interval of the component's ServiceMonitor
(2 s), the rule groups the component ships in its PrometheusRule, and a 1 s evaluation
interval, against local HTTP servers that answer /metrics like vLLM 0.33 replicas (one
load thread per replica moves the token counters). Then, concurrently on separate replicas:

- dead replica: the server is closed (connection refused, like a crashed pod);
- hung engine: the token counter freezes while the server keeps answering with running
  requests > 0; the real progress probe runs against it every second, as a kubelet would.

It measures the time from each fault to VllmReplicaDown / VllmEngineHung firing (polling
/api/v1/alerts every 0.2 s) and to the probe's first failure, writes
build/bench/failure_detection.json and prints a table. It prints numbers; it asserts nothing.
Local addresses only; every loop is bounded; Prometheus and the servers are stopped at the end.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from llmops.components.observability import manifests

from tests.support.fake_vllm import FakeVllm

REPO = Path(__file__).resolve().parents[2]
PROBE = REPO / "images" / "vllm" / "progress_probe.py"
OUTPUT = REPO / "build" / "bench" / "failure_detection.json"

TRIALS = int(os.environ.get("LLMOPS_BENCH_TRIALS", "12"))
HEALTHY_CONTROLS = 2
EVALUATION_INTERVAL = "1s"
PROBE_PERIOD_S = 1.0  # kubelet periodSeconds
ALERT_POLL_S = 0.2
WARMUP_S = 12.0  # long enough for every target to have a full 8 s window of moving counters
FAULT_SPREAD_S = 6.0  # faults land at random times over this span, i.e. at random scrape phases
DETECTION_TIMEOUT_S = 40.0


def find_prometheus() -> str:
    found = shutil.which("prometheus")
    if found:
        return found
    try:
        from tests.support.tools import require_tool

        return require_tool("prometheus")
    except BaseException as exc:  # pytest's skip/fail outcomes are BaseExceptions
        raise SystemExit(f"prometheus is needed for this benchmark: {exc}") from None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Replica:
    role: str  # "dead" | "hung" | "healthy"
    pod: str
    server: FakeVllm
    frozen: threading.Event = field(default_factory=threading.Event)
    fault_at: float | None = None
    alert_at: float | None = None
    probe_at: float | None = None
    probe_failed_before_fault: bool = False


def load_loop(replica: Replica, stop: threading.Event) -> None:
    """A busy replica: two running requests, a few tokens every 50 ms, until frozen or stopped."""
    while not stop.wait(0.05):
        if not replica.frozen.is_set():
            replica.server.generate(5)


def probe_loop(replica: Replica, state_dir: Path, stop: threading.Event) -> None:
    """Run the real probe script once a second, like an exec liveness probe with periodSeconds 1."""
    url, state = replica.server.url, state_dir / f"{replica.pod}.json"
    next_run = time.monotonic()
    while not stop.is_set() and replica.probe_at is None:
        result = subprocess.run(
            [sys.executable, str(PROBE), "--url", url, "--state-file", str(state)],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if result.returncode != 0:
            if replica.fault_at is None:
                replica.probe_failed_before_fault = True
            else:
                replica.probe_at = time.time()
        next_run += PROBE_PERIOD_S
        stop.wait(max(0.0, next_run - time.monotonic()))


def poll_alerts(
    base: str,
    by_pod: dict[str, Replica],
    expected: dict[str, str],
    false_alerts: set[tuple[str, str]],
    stop: threading.Event,
) -> None:
    """Record when each replica's expected alert is first seen firing; anything else is a false alert."""
    while not stop.wait(ALERT_POLL_S):
        try:
            alerts = get_json(f"{base}/api/v1/alerts")["data"]["alerts"]
        except OSError:
            continue
        now = time.time()
        for alert in alerts:
            name, pod = alert["labels"].get("alertname"), alert["labels"].get("pod", "")
            if alert["state"] != "firing" or not name or not name.startswith("Vllm"):
                continue
            replica = by_pod.get(pod)
            if replica is None or expected.get(replica.role) != name or replica.fault_at is None:
                false_alerts.add((name, pod))
            elif replica.alert_at is None:
                replica.alert_at = now


def prometheus_config(replicas: list[Replica], rule_file: Path) -> dict[str, Any]:
    endpoint = manifests.vllm_service_monitor_manifest("bench", "bench", {"app": "vllm"})["spec"][
        "endpoints"
    ][0]
    return {
        "global": {"scrape_interval": endpoint["interval"], "evaluation_interval": EVALUATION_INTERVAL},
        "rule_files": [str(rule_file)],
        "scrape_configs": [
            {
                # The job label the ServiceMonitor's relabeling sets, so the shipped rules run unchanged.
                "job_name": manifests.VLLM_JOB,
                "scrape_interval": endpoint["interval"],
                "scrape_timeout": endpoint["scrapeTimeout"],
                "metrics_path": endpoint["path"],
                # Per-target labels stand in for what the ServiceMonitor adds in a cluster.
                "static_configs": [
                    {
                        "targets": [f"127.0.0.1:{r.server.port}"],
                        "labels": {
                            "namespace": "bench",
                            "pod": r.pod,
                            "llmops_model": "tiny",
                            "node": "local",
                        },
                    }
                    for r in replicas
                ],
            }
        ],
    }


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.load(response)


def wait_until(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"benchmark setup failed: {what} within {timeout:.0f}s")


def percentiles(samples: list[float]) -> dict[str, float | int | None]:
    if not samples:
        return {"p50": None, "p95": None, "max": None, "n": 0}
    ordered = sorted(samples)
    if len(ordered) == 1:
        p50 = p95 = ordered[0]
    else:
        cuts = statistics.quantiles(ordered, n=100, method="inclusive")
        p50, p95 = cuts[49], cuts[94]
    return {"p50": round(p50, 2), "p95": round(p95, 2), "max": round(ordered[-1], 2), "n": len(ordered)}


def run(
    trials: int = TRIALS,
    prometheus: str | None = None,
    warmup_s: float = WARMUP_S,
    fault_spread_s: float = FAULT_SPREAD_S,
) -> dict[str, Any]:
    """One round: `trials` dead and `trials` hung replicas plus healthy controls, faults concurrent."""
    prometheus = prometheus or find_prometheus()
    rng = random.Random(int(os.environ.get("LLMOPS_BENCH_SEED", "0")) or None)
    stop = threading.Event()
    replicas = [
        *(Replica("dead", f"dead-{i}", FakeVllm(running=2)) for i in range(trials)),
        *(Replica("hung", f"hung-{i}", FakeVllm(running=2)) for i in range(trials)),
        *(Replica("healthy", f"healthy-{i}", FakeVllm(running=2)) for i in range(HEALTHY_CONTROLS)),
    ]
    threads: list[threading.Thread] = []
    workdir = Path(tempfile.mkdtemp(prefix="llmops-bench-"))
    process: subprocess.Popen[bytes] | None = None
    false_alerts: set[tuple[str, str]] = set()
    try:
        for replica in replicas:
            replica.server.start()
            thread = threading.Thread(target=load_loop, args=(replica, stop), daemon=True)
            thread.start()
            threads.append(thread)

        rule_file = workdir / "llmops.rules.yaml"
        rule_file.write_text(yaml.safe_dump({"groups": manifests.alert_rule_groups()}))
        config_file = workdir / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(prometheus_config(replicas, rule_file)))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        log = (workdir / "prometheus.log").open("wb")
        process = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        wait_until(
            lambda: urllib.request.urlopen(f"{base}/-/ready", timeout=1).status == 200, 30, "Prometheus ready"
        )
        wait_until(
            lambda: (
                sum(t["health"] == "up" for t in get_json(f"{base}/api/v1/targets")["data"]["activeTargets"])
                == len(replicas)
            ),
            30,
            "every target scraped",
        )

        state_dir = workdir / "probe-state"
        state_dir.mkdir()
        for replica in replicas:
            if replica.role == "hung":
                thread = threading.Thread(target=probe_loop, args=(replica, state_dir, stop), daemon=True)
                thread.start()
                threads.append(thread)
        time.sleep(warmup_s)

        # Poll alerts from a separate thread so that detection is timed while faults are still
        # being injected (injecting first and polling afterwards would add the injection span).
        expected = {"dead": "VllmReplicaDown", "hung": "VllmEngineHung"}
        by_pod = {r.pod: r for r in replicas}
        poller = threading.Thread(
            target=poll_alerts, args=(base, by_pod, expected, false_alerts, stop), daemon=True
        )
        poller.start()
        threads.append(poller)

        # Faults at random moments, so they land at every phase of the scrape and evaluation cycles.
        faults = sorted(
            ((rng.uniform(0, fault_spread_s), r) for r in replicas if r.role != "healthy"), key=lambda f: f[0]
        )
        start = time.monotonic()
        for offset, replica in faults:
            time.sleep(max(0.0, start + offset - time.monotonic()))
            replica.fault_at = time.time()
            if replica.role == "dead":
                replica.server.stop()
            else:
                replica.frozen.set()

        deadline = time.monotonic() + DETECTION_TIMEOUT_S
        while time.monotonic() < deadline:
            pending = [r for r in replicas if r.role != "healthy" and r.alert_at is None]
            pending += [r for r in replicas if r.role == "hung" and r.probe_at is None]
            if not pending:
                break
            time.sleep(ALERT_POLL_S)
        # A few more polls: an alert on a healthy control that fires late still counts as false.
        time.sleep(2.0)
    finally:
        stop.set()
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        for replica in replicas:
            replica.server.stop()
        for thread in threads:
            thread.join(timeout=15)
        shutil.rmtree(workdir, ignore_errors=True)

    def delays(role: str, attr: str) -> list[float]:
        return [
            getattr(r, attr) - r.fault_at
            for r in replicas
            if r.role == role and r.fault_at is not None and getattr(r, attr) is not None
        ]

    def missed(role: str, attr: str) -> int:
        return sum(1 for r in replicas if r.role == role and getattr(r, attr) is None)

    return {
        "dead_replica_alert_s": percentiles(delays("dead", "alert_at")),
        "hung_engine_alert_s": percentiles(delays("hung", "alert_at")),
        "hung_engine_probe_s": percentiles(delays("hung", "probe_at")),
        "trials": trials,
        "missed": {
            "dead_replica_alert": missed("dead", "alert_at"),
            "hung_engine_alert": missed("hung", "alert_at"),
            "hung_engine_probe": missed("hung", "probe_at"),
        },
        "false_alerts": sorted(f"{name} {pod}" for name, pod in false_alerts),
        "probe_failures_before_fault": sum(r.probe_failed_before_fault for r in replicas),
        "setup": {
            "scrape_interval": "2s",
            "evaluation_interval": EVALUATION_INTERVAL,
            "probe_period_s": PROBE_PERIOD_S,
            "probe_stall_seconds": 8,
            "alert_poll_s": ALERT_POLL_S,
            "prometheus": prometheus,
        },
    }


def main() -> None:
    results = run()
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(json.dumps(results, indent=2) + "\n")
    targets = {"dead_replica_alert_s": 5.0, "hung_engine_alert_s": 10.0, "hung_engine_probe_s": 10.0}
    print(f"{'signal':<24}{'p50 s':>8}{'p95 s':>8}{'max s':>8}{'n':>4}{'target p95':>12}")
    for key, target in targets.items():
        row = results[key]
        cells = [f"{row[k]:>8.2f}" if row[k] is not None else f"{'-':>8}" for k in ("p50", "p95", "max")]
        print(f"{key:<24}{''.join(cells)}{row['n']:>4}{f'<= {target:g}':>12}")
    print(
        f"trials per fault: {results['trials']}; missed: {results['missed']}; "
        f"false alerts: {results['false_alerts'] or 'none'}; "
        f"probe failures before a fault: {results['probe_failures_before_fault']}"
    )
    print(f"wrote {OUTPUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()

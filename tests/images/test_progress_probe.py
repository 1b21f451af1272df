"""The progress probe, run as the kubelet runs it (a fresh process per check) against a real HTTP server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fake_vllm import FakeVllm

REPO = Path(__file__).resolve().parents[2]
PROBE = REPO / "images" / "vllm" / "progress_probe.py"


@pytest.fixture
def replica() -> Iterator[FakeVllm]:
    server = FakeVllm().start()
    yield server
    server.stop()


def run_probe(url: str, state: Path, stall: float = 8.0, *extra: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(PROBE), "--url", url, "--state-file", str(state)]
    return subprocess.run(
        [*command, "--stall-seconds", str(stall), *extra],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def write_state(state: Path, tokens: float, age_seconds: float) -> None:
    state.write_text(json.dumps({"tokens": tokens, "changed_at": time.time() - age_seconds}))


def test_script_is_executable_stdlib_only() -> None:
    assert os.access(PROBE, os.X_OK), f"{PROBE} must be executable (chmod +x): the Dockerfile copies it as-is"
    assert PROBE.read_text().startswith("#!/usr/bin/env python3\n")
    # Run it with site-packages disabled: any non-stdlib import would fail here.
    result = subprocess.run(
        [sys.executable, "-S", "-I", str(PROBE), "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


def test_symlink_ships_the_same_script_in_the_package() -> None:
    link = REPO / "components" / "serving" / "progress_probe.py"
    assert link.is_symlink(), f"{link} must be a relative symlink to {PROBE}"
    assert os.readlink(link) == "../../images/vllm/progress_probe.py"
    assert link.resolve() == PROBE


def test_healthy_replica_passes_while_tokens_increase(replica: FakeVllm, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    replica.set(running=3)
    for _ in range(3):
        replica.generate(50)
        result = run_probe(replica.url, state)
        assert result.returncode == 0, result.stderr
    assert json.loads(state.read_text())["tokens"] == 150


def test_progress_after_a_long_gap_resets_the_clock(replica: FakeVllm, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    replica.set(running=2, generation_tokens=200)
    write_state(state, tokens=100, age_seconds=60)  # older than the limit, but tokens moved since
    result = run_probe(replica.url, state)
    assert result.returncode == 0, result.stderr
    assert "progressing" in result.stdout


def test_progress_after_a_long_gap_backdates_the_clock_by_at_most_a_second(
    replica: FakeVllm, tmp_path: Path
) -> None:
    """Tokens seen after a 60 s gap between runs must not start the stall clock 30 s in the past."""
    state = tmp_path / "state.json"
    replica.set(running=2, generation_tokens=200)
    write_state(state, tokens=100, age_seconds=60)
    before = time.time()
    assert run_probe(replica.url, state).returncode == 0
    changed_at = json.loads(state.read_text())["changed_at"]
    assert before - 1.0 <= changed_at <= time.time()
    # ...so the next run with a frozen counter is far from the 8 s limit.
    result = run_probe(replica.url, state)
    assert result.returncode == 0, result.stderr


def test_idle_replica_passes_however_long_nothing_is_generated(replica: FakeVllm, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    replica.set(running=0, generation_tokens=10)
    write_state(state, tokens=10, age_seconds=3600)
    result = run_probe(replica.url, state)
    assert result.returncode == 0, result.stderr
    assert "idle" in result.stdout
    # Idle restarts the stall clock: a request arriving now gets the full budget.
    replica.set(running=1)
    result = run_probe(replica.url, state)
    assert result.returncode == 0, result.stderr


def test_stalled_replica_fails_exactly_at_the_limit(replica: FakeVllm, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    replica.set(running=4, generation_tokens=500)
    write_state(state, tokens=500, age_seconds=7.0)
    passed = run_probe(replica.url, state, 8.0)
    assert passed.returncode == 0, passed.stderr
    write_state(state, tokens=500, age_seconds=8.5)
    failed = run_probe(replica.url, state, 8.0)
    assert failed.returncode == 1
    assert "engine hung: 4 requests running" in failed.stderr
    assert "--stall-seconds=8" in failed.stderr


def test_stalled_replica_fails_within_stall_seconds_in_real_time(replica: FakeVllm, tmp_path: Path) -> None:
    """Kubelet-style loop: the first failure comes after the limit, and before limit + 2 periods."""
    state = tmp_path / "state.json"
    replica.set(running=1)
    replica.generate(10)
    first = run_probe(replica.url, state, 1.0)
    assert first.returncode == 0, first.stderr  # the counter just moved: healthy
    frozen_at = json.loads(state.read_text())["changed_at"]
    failure: subprocess.CompletedProcess[str] | None = None
    for _ in range(40):  # bounded: 40 x 0.1 s is far above the 1 s limit
        time.sleep(0.1)
        result = run_probe(replica.url, state, 1.0)
        if result.returncode != 0:
            failure = result
            break
    assert failure is not None, "the probe never failed on a frozen token counter"
    assert "engine hung" in failure.stderr
    # The state still records when the counter last moved: the failure measures from there.
    assert json.loads(state.read_text())["changed_at"] == frozen_at


def test_metrics_endpoint_down_fails_with_the_reason(replica: FakeVllm, tmp_path: Path) -> None:
    url = replica.url
    replica.stop()
    result = run_probe(url, tmp_path / "state.json")
    assert result.returncode == 1
    assert f"cannot read {url}" in result.stderr
    assert "not answering its metrics endpoint" in result.stderr


def test_metrics_without_vllm_series_fail_and_name_the_missing_metric(tmp_path: Path) -> None:
    class Empty(FakeVllm):
        def render(self) -> str:
            return "# no vllm metrics here\nprocess_cpu_seconds_total 1\n"

    server = Empty().start()
    try:
        result = run_probe(server.url, tmp_path / "state.json")
    finally:
        server.stop()
    assert result.returncode == 1
    assert "no vllm:num_requests_running, vllm:generation_tokens_total" in result.stderr
    assert "--disable-log-stats" in result.stderr


def test_corrupt_state_file_is_replaced_not_fatal(replica: FakeVllm, tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{half a json")
    replica.set(running=1)
    result = run_probe(replica.url, state)
    assert result.returncode == 0, result.stderr
    assert json.loads(state.read_text())["tokens"] == 0
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"], "temporary files must not be left behind"


def test_sums_over_engines_and_ignores_label_values_with_spaces() -> None:
    sys.path.insert(0, str(PROBE.parent))
    try:
        import progress_probe
    finally:
        sys.path.pop(0)
    text = (
        "# HELP vllm:generation_tokens_total x\n"
        'vllm:generation_tokens_total{model_name="a b",engine="0"} 10\n'
        'vllm:generation_tokens_total{model_name="a b",engine="1"} 5 1700000000000\n'
        'vllm:generation_tokens_created{model_name="a b",engine="1"} 1.7e9\n'
        "vllm:num_requests_running 2\n"
    )
    sums = progress_probe.parse_sums(text, (progress_probe.RUNNING, progress_probe.GENERATED))
    assert sums == {"vllm:generation_tokens_total": 15.0, "vllm:num_requests_running": 2.0}


@pytest.mark.parametrize(("flag", "value"), [("--stall-seconds", "0"), ("--timeout", "-1")])
def test_bad_flags_are_rejected_with_the_value(flag: str, value: str, tmp_path: Path) -> None:
    result = run_probe("http://127.0.0.1:1/metrics", tmp_path / "s.json", 8.0, flag, value)
    assert result.returncode == 2
    assert f"{flag} must be > 0" in result.stderr


def test_bad_env_value_names_the_variable(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(PROBE), "--state-file", str(tmp_path / "s.json")],
        capture_output=True,
        text=True,
        env={**os.environ, "LLMOPS_PROBE_STALL_SECONDS": "eight"},
        check=False,
    )
    assert result.returncode != 0
    assert "LLMOPS_PROBE_STALL_SECONDS='eight' is not a number" in result.stderr

#!/usr/bin/env python3
"""Liveness check for a vLLM replica whose engine is hung while its HTTP server still answers.

vLLM's `/health` only says the API process is alive; an engine stuck in a CUDA call or a
dead collective keeps `/health` green while every request times out. This probe reads the
replica's own Prometheus endpoint and fails when requests are running but the generation
token counter has not moved for `--stall-seconds`:

- `vllm:num_requests_running` summed over engines > 0, and
- `vllm:generation_tokens_total` summed over engines unchanged since `--stall-seconds` ago.

Idle replicas (no running request) pass and restart the stall clock, so a request arriving
after a long idle spell gets the full budget. A metrics endpoint that does not answer fails
the probe: the kubelet runs this only after the startup probe passed, so a silent server
is a dead server.

The kubelet starts a fresh process for every exec probe, so the last token count and the
time it last changed live in a small JSON state file (written atomically: a probe killed
by its timeout must never leave a half-written file that fails the next run).

Python standard library only: it runs inside the stock vLLM image. Exit 0 = healthy,
1 = unhealthy (the reason is printed; the kubelet records it in the pod's events).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import time
import urllib.error
import urllib.request
from typing import Any

DEFAULT_URL = "http://127.0.0.1:8000/metrics"
# 8 s with a 1-2 s probe period and failureThreshold 1 restarts a hung engine within ~10 s,
# while a healthy engine emits a token every few tens of milliseconds per running request.
DEFAULT_STALL_SECONDS = 8.0
DEFAULT_STATE_FILE = os.path.join(tempfile.gettempdir(), "llmops-progress-probe.json")
# A busy API server can take a moment to render /metrics; one slow read must not restart a
# healthy engine. Keep the kubelet's timeoutSeconds above this (3 s).
DEFAULT_TIMEOUT_SECONDS = 2.0

RUNNING = "vllm:num_requests_running"
GENERATED = "vllm:generation_tokens_total"


class ProbeError(Exception):
    """A reason to fail the probe, printed as-is."""


def parse_sums(text: str, names: tuple[str, ...]) -> dict[str, float]:
    """Sum the samples of each metric in `names` over all label sets (engines, models).

    Only the Prometheus text exposition format matters here: `name{labels} value [ts]`.
    Label values may contain spaces, so the value is taken after the closing brace.
    """
    sums: dict[str, float] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        brace = line.find("{")
        space = line.find(" ")
        if brace != -1 and (space == -1 or brace < space):
            name = line[:brace]
            rest = line[line.rfind("}") + 1 :]
        else:
            name, _, rest = line.partition(" ")
        if name not in names:
            continue
        fields = rest.split()
        if not fields:
            continue
        try:
            value = float(fields[0])
        except ValueError:
            continue
        if math.isnan(value):
            continue
        sums[name] = sums.get(name, 0.0) + value
    return sums


def fetch(url: str, timeout: float) -> str:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.read().decode("utf-8", errors="replace")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ProbeError(
            f"cannot read {url}: {reason}; the vLLM API server is not answering its metrics endpoint"
        ) from exc


def load_state(path: str) -> dict[str, float] | None:
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        changed_at = float(data["changed_at"])
        return {
            "tokens": float(data["tokens"]),
            "changed_at": changed_at,
            "seen_at": float(data.get("seen_at", changed_at)),
        }
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        # Missing or unreadable state (first run, or a foreign file): start a fresh stall clock
        # instead of failing; the worst case is one extra probe period before detection.
        return None


def save_state(path: str, tokens: float, changed_at: float, seen_at: float) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".progress-probe-", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"tokens": tokens, "changed_at": changed_at, "seen_at": seen_at}, handle)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# Tokens that appear between two probe runs were produced somewhere in that interval; the
# stall clock starts at its midpoint (the unbiased estimate), backdated by at most this much
# so a long gap between runs (a paused probe, a container restart) never makes it jump.
MAX_BACKDATE_SECONDS = 1.0


def check(url: str, stall_seconds: float, state_file: str, timeout: float, clock: Any = time.time) -> str:
    """Return a one-line verdict for a healthy replica; raise ProbeError for an unhealthy one."""
    sums = parse_sums(fetch(url, timeout), (RUNNING, GENERATED))
    # Read the clock after the scrape: the sample is as old as this moment, not the process start.
    now = float(clock())
    missing = [name for name in (RUNNING, GENERATED) if name not in sums]
    if missing:
        raise ProbeError(
            f"{url} answered but has no {', '.join(missing)}; the engine's metrics are off "
            "(started with --disable-log-stats?) or this is not a vLLM server"
        )
    running, tokens = sums[RUNNING], sums[GENERATED]
    previous = load_state(state_file)

    # The stall clock restarts while idle, on the first run, and when the wall clock stepped
    # backwards; it restarts on any token change too (a counter reset after an engine
    # restart included), at the midpoint since the previous run.
    if previous is None or running <= 0 or now < previous["seen_at"]:
        save_state(state_file, tokens, now, now)
        state = "idle" if running <= 0 else "progressing"
        return f"ok: {state}, {running:g} running, {tokens:g} tokens generated"
    if tokens != previous["tokens"]:
        changed_at = now - min((now - previous["seen_at"]) / 2, MAX_BACKDATE_SECONDS)
        save_state(state_file, tokens, changed_at, now)
        return f"ok: progressing, {running:g} running, {tokens:g} tokens generated"

    stalled_for = now - previous["changed_at"]
    if stalled_for >= stall_seconds:
        raise ProbeError(
            f"engine hung: {running:g} requests running but {GENERATED} stayed at {tokens:g} "
            f"for {stalled_for:.1f}s (limit --stall-seconds={stall_seconds:g})"
        )
    save_state(state_file, tokens, previous["changed_at"], now)
    return f"ok: {running:g} running, no new token for {stalled_for:.1f}s (limit {stall_seconds:g}s)"


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise SystemExit(
            f"{name}={value!r} is not a number of seconds; set e.g. {name}={default:g}"
        ) from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--url",
        default=os.environ.get("LLMOPS_PROBE_METRICS_URL", DEFAULT_URL),
        help=f"the replica's metrics URL (env LLMOPS_PROBE_METRICS_URL; default {DEFAULT_URL})",
    )
    parser.add_argument(
        "--stall-seconds",
        type=float,
        default=_env_float("LLMOPS_PROBE_STALL_SECONDS", DEFAULT_STALL_SECONDS),
        help="fail when requests run but no token was generated for this long "
        f"(env LLMOPS_PROBE_STALL_SECONDS; default {DEFAULT_STALL_SECONDS:g})",
    )
    parser.add_argument(
        "--state-file",
        default=os.environ.get("LLMOPS_PROBE_STATE_FILE", DEFAULT_STATE_FILE),
        help=f"where the last token count is kept between runs (default {DEFAULT_STATE_FILE})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=_env_float("LLMOPS_PROBE_TIMEOUT_SECONDS", DEFAULT_TIMEOUT_SECONDS),
        help=f"HTTP timeout in seconds (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    args = parser.parse_args(argv)
    if not args.stall_seconds > 0:
        parser.error(f"--stall-seconds must be > 0, got {args.stall_seconds:g}")
    if not args.timeout > 0:
        parser.error(f"--timeout must be > 0, got {args.timeout:g}")
    try:
        print(check(args.url, args.stall_seconds, args.state_file, args.timeout))
    except ProbeError as exc:
        print(f"progress probe failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

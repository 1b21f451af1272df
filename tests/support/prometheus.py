"""A real Prometheus over backfilled series, on a free local port (no scraping, no network)."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.support.tools import require_tool


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def backfilled_prometheus(folder: Path, openmetrics: Sequence[str]) -> Iterator[str]:
    """Write `openmetrics` lines (ending in '# EOF') into TSDB blocks with promtool, serve them
    with Prometheus, and yield its base URL."""
    promtool = require_tool("promtool")
    prometheus = require_tool("prometheus")
    source = folder / "series.om"
    source.write_text("\n".join(openmetrics) + "\n")
    data = folder / "data"
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", "--quiet", str(source), str(data)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    config = folder / "prometheus.yml"
    config.write_text("global:\n  scrape_interval: 1m\n")
    port = _free_port()
    log_path = folder / "prometheus.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={data}",
                "--storage.tsdb.retention.time=100y",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"{base}/-/ready", timeout=2) as response:
                        if response.status == 200:
                            break
                except OSError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"prometheus did not become ready: {log_path.read_text()[-2000:]}")
                time.sleep(0.2)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=10)


def instant(base: str, expression: str, at: float) -> list[dict[str, Any]]:
    """The result vector of `expression` evaluated at `at` (Unix seconds)."""
    query = urllib.parse.urlencode({"query": expression, "time": str(at)})
    with urllib.request.urlopen(f"{base}/api/v1/query?{query}", timeout=10) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    return body["data"]["result"]

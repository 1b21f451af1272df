"""A local HTTP server that answers `/metrics` like a vLLM 0.33 replica.

Used by the progress-probe tests and the failure-detection benchmark. Only the series the
probe, the alert rules and the dashboards read are served; names, types and labels follow
../shared/reference/vllm/metrics.txt (counters exposed as `<name>_total`, histograms as
`_bucket/_sum/_count`). Binds 127.0.0.1 on an ephemeral port.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TTFT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class FakeVllm:
    """Thread-safe replica state plus the server that exposes it."""

    def __init__(self, model: str = "tiny", running: float = 0, waiting: float = 0) -> None:
        self.model = model
        self._lock = threading.Lock()
        self.running = running
        self.waiting = waiting
        self.generation_tokens = 0.0
        self.prompt_tokens = 0.0
        self.kv_cache_usage = 0.1
        self.requests_ok = 0.0
        self.ttft_count = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- state changes (called from tests and load threads) ---
    def set(self, **fields: float) -> None:
        with self._lock:
            for key, value in fields.items():
                if not hasattr(self, key):
                    raise AttributeError(f"FakeVllm has no field {key!r}")
                setattr(self, key, value)

    def generate(self, tokens: float) -> None:
        with self._lock:
            self.generation_tokens += tokens
            self.prompt_tokens += tokens * 4
            self.requests_ok += 1
            self.ttft_count += 1

    def render(self) -> str:
        with self._lock:
            labels = f'model_name="{self.model}",engine="0"'
            lines = [
                "# HELP vllm:num_requests_running Number of requests in model execution batches.",
                "# TYPE vllm:num_requests_running gauge",
                f"vllm:num_requests_running{{{labels}}} {self.running}",
                "# TYPE vllm:num_requests_waiting gauge",
                f"vllm:num_requests_waiting{{{labels}}} {self.waiting}",
                "# TYPE vllm:kv_cache_usage_perc gauge",
                f"vllm:kv_cache_usage_perc{{{labels}}} {self.kv_cache_usage}",
                "# TYPE vllm:generation_tokens counter",
                f"vllm:generation_tokens_total{{{labels}}} {self.generation_tokens}",
                "# TYPE vllm:prompt_tokens counter",
                f"vllm:prompt_tokens_total{{{labels}}} {self.prompt_tokens}",
                "# TYPE vllm:request_success counter",
                f'vllm:request_success_total{{{labels},finished_reason="stop"}} {self.requests_ok}',
                "# TYPE vllm:time_to_first_token_seconds histogram",
            ]
            # Every observed request lands in the 0.1 s bucket: cumulative counts below it are 0.
            for le in TTFT_BUCKETS:
                count = self.ttft_count if le >= 0.1 else 0.0
                lines.append(f'vllm:time_to_first_token_seconds_bucket{{{labels},le="{le}"}} {count}')
            lines.append(f'vllm:time_to_first_token_seconds_bucket{{{labels},le="+Inf"}} {self.ttft_count}')
            lines.append(f"vllm:time_to_first_token_seconds_sum{{{labels}}} {self.ttft_count * 0.1}")
            lines.append(f"vllm:time_to_first_token_seconds_count{{{labels}}} {self.ttft_count}")
            return "\n".join(lines) + "\n"

    # --- server lifecycle ---
    def start(self) -> FakeVllm:
        replica = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = replica.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05})
        self._thread.daemon = True
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeVllm.start() was not called")
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    def stop(self) -> None:
        """Close the listening socket: later scrapes get 'connection refused', like a dead pod."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

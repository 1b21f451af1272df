"""A local stand-in for Azure's instance metadata service and Key Vault, on 127.0.0.1.

It answers what the bootstrap fragment asks, checks what a real service checks (the
`Metadata: true` header, the token's audience, the bearer token on Key Vault) and records
every request line and header for the tests.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ACCESS_TOKEN = "eyJ0eXAi.fake-access-token"
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"


@dataclass
class FakeAzure:
    secrets: dict[str, str] = field(default_factory=dict)
    compute: dict[str, str] = field(default_factory=dict)
    public_ip: str = "198.51.100.9"
    events: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


def _handler(state: FakeAzure) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: str, content_type: str = "application/json") -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parsed = urllib.parse.urlparse(self.path)
            query = dict(urllib.parse.parse_qsl(parsed.query))
            state.requests.append({"path": parsed.path, "query": query, "headers": dict(self.headers)})
            if parsed.path.startswith("/metadata/"):
                if self.headers.get("Metadata") != "true":
                    return self._send(400, json.dumps({"error": "Bad request: Metadata header missing"}))
                return self._metadata(parsed.path, query)
            if parsed.path.startswith("/secrets/"):
                if self.headers.get("Authorization") != f"Bearer {ACCESS_TOKEN}":
                    return self._send(401, json.dumps({"error": {"code": "Unauthorized"}}))
                if query.get("api-version") is None:
                    return self._send(400, json.dumps({"error": {"code": "MissingApiVersionParameter"}}))
                name = parsed.path.removeprefix("/secrets/")
                if name not in state.secrets:
                    return self._send(403, json.dumps({"error": {"code": "Forbidden"}}))
                return self._send(200, json.dumps({"value": state.secrets[name], "id": self.path}))
            return self._send(404, "{}")

        def _metadata(self, path: str, query: dict[str, str]) -> None:
            if path == "/metadata/identity/oauth2/token":
                if query.get("resource") != "https://vault.azure.net":
                    return self._send(400, json.dumps({"error": "invalid_resource"}))
                return self._send(200, json.dumps({"access_token": ACCESS_TOKEN, "token_type": "Bearer"}))
            if path == "/metadata/scheduledevents":
                return self._send(200, json.dumps({"DocumentIncarnation": 1, "Events": state.events}))
            if query.get("format") != "text":
                return self._send(400, "{}")
            if path == "/metadata/instance/network/interface/0/ipv4/ipAddress/0/publicIpAddress":
                return self._send(200, state.public_ip, "text/plain")
            key = path.removeprefix("/metadata/instance/compute/")
            if key in state.compute:
                return self._send(200, state.compute[key], "text/plain")
            return self._send(404, "", "text/plain")

    return Handler


@contextmanager
def fake_azure(state: FakeAzure) -> Iterator[FakeAzure]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()

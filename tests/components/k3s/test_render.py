"""The rendered cloud-init documents, K3s settings and kubeconfig (pure Python, no Pulumi)."""

from __future__ import annotations

import base64
import shlex

import jsonschema
import pytest
import yaml
from llmops.components.aws.checks import BOOTSTRAP
from llmops.components.k3s.render import (
    AGENT_TOKEN_FILE,
    GPU_TAINT,
    K3S_CONFIG_PATH,
    NODE_ETC_DIR,
    NODE_LIB_DIR,
    SERVER_TAINT,
    TOKEN_FILE,
    FlannelBackend,
    NodeExternalIp,
    SecretFile,
    agent_config,
    pool_labels,
    render_cloud_init,
    render_kubeconfig,
    script_text,
    server_config,
)
from llmops.components.k3s.versions import K3S_VERSION

from tests.components.k3s.cloud_init_schema import cloud_config_schema

SECRETS = [
    SecretFile("/llmops/p/s/dev/servers/token", TOKEN_FILE),
    SecretFile(
        "/llmops/p/s/dev/servers/server-ca.crt", "/var/lib/rancher/k3s/server/tls/server-ca.crt", "0644"
    ),
]


def _server_document(**overrides: object) -> str:
    config = server_config(
        node_index=0,
        server_count=1,
        tls_sans=["203.0.113.10", "10.20.0.10"],
        first_server_address="10.20.0.10",
    )
    kwargs: dict[str, object] = {
        "role": "server",
        "k3s_config": config,
        "secrets": SECRETS,
        "bootstrap": BOOTSTRAP,
    }
    kwargs.update(overrides)
    return render_cloud_init(**kwargs)  # type: ignore[arg-type]


def _agent_document() -> str:
    labels = pool_labels(pool="l4-spot", cloud="aws", capacity="spot", gpu=True)
    return render_cloud_init(
        role="agent",
        k3s_config=agent_config(server_address="10.20.0.10", node_labels=labels),
        secrets=[SecretFile("/llmops/p/s/dev/pools/l4-spot/agent-token", TOKEN_FILE)],
        bootstrap=BOOTSTRAP,
        node_external_ip=NodeExternalIp.FROM_CLOUD,
    )


def _files(document: str) -> dict[str, dict[str, str]]:
    return {entry["path"]: entry for entry in yaml.safe_load(document)["write_files"]}


@pytest.mark.parametrize("render", [_server_document, _agent_document], ids=["server", "agent"])
def test_cloud_init_is_valid_cloud_config(render) -> None:
    document = render()
    assert document.startswith("#cloud-config\n")
    parsed = yaml.safe_load(document)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in jsonschema.Draft4Validator(cloud_config_schema()).iter_errors(parsed)
    ]
    assert errors == []
    # The schema lets unknown top-level keys through (cloud-init only warns); ours are exact.
    assert set(parsed) == {"write_files", "runcmd"}


def test_schema_check_catches_a_broken_document() -> None:
    """The checker is live: a write_files entry without a path is rejected."""
    validator = jsonschema.Draft4Validator(cloud_config_schema())
    assert list(validator.iter_errors({"write_files": [{"content": "x"}]}))


@pytest.mark.parametrize("role", ["server", "agent"])
def test_cloud_init_ships_the_scripts_verbatim_and_runs_the_role_script(role: str) -> None:
    document = _server_document() if role == "server" else _agent_document()
    files = _files(document)
    assert files[f"{NODE_LIB_DIR}/lib.sh"]["content"] == script_text("lib.sh")
    # The cloud's fragment lands beside lib.sh, which sources it.
    assert files[f"{NODE_LIB_DIR}/cloud.sh"]["content"] == BOOTSTRAP.text()
    assert files[f"{NODE_LIB_DIR}/{role}.sh"]["content"] == script_text(f"{role}.sh")
    assert files[f"{NODE_LIB_DIR}/{role}.sh"]["permissions"] == "0755"
    assert yaml.safe_load(document)["runcmd"] == [[f"{NODE_LIB_DIR}/{role}.sh"]]
    for path in (K3S_CONFIG_PATH, f"{NODE_ETC_DIR}/bootstrap.env", f"{NODE_ETC_DIR}/secrets.list"):
        assert files[path]["permissions"] == "0600"


def test_bootstrap_env_pins_the_version_and_names_the_backend() -> None:
    files = _files(_server_document())
    env = dict(line.split("=", 1) for line in files[f"{NODE_ETC_DIR}/bootstrap.env"]["content"].splitlines())
    assert shlex.split(env["K3S_VERSION"]) == [K3S_VERSION]
    assert env["LLMOPS_CLOUD"] == "aws"
    secrets_list = files[f"{NODE_ETC_DIR}/secrets.list"]["content"].splitlines()
    assert secrets_list == [
        f"/llmops/p/s/dev/servers/token {TOKEN_FILE} 0600",
        "/llmops/p/s/dev/servers/server-ca.crt /var/lib/rancher/k3s/server/tls/server-ca.crt 0644",
    ]


def test_single_server_settings() -> None:
    config = server_config(
        node_index=0,
        server_count=1,
        tls_sans=["203.0.113.10", "10.20.0.10"],
        first_server_address="10.20.0.10",
    )
    assert config["tls-san"] == ["203.0.113.10", "10.20.0.10"]
    assert config["secrets-encryption"] is True
    assert config["token-file"] == TOKEN_FILE
    assert config["agent-token-file"] == AGENT_TOKEN_FILE
    assert config["node-taint"] == [SERVER_TAINT.render()]
    assert config["flannel-backend"] == "vxlan"
    assert "cluster-init" not in config and "server" not in config


def test_three_servers_first_initialises_etcd_others_join_it() -> None:
    configs = [
        server_config(
            node_index=i, server_count=3, tls_sans=["api.example"], first_server_address="10.20.0.10"
        )
        for i in range(3)
    ]
    assert configs[0]["cluster-init"] is True and "server" not in configs[0]
    for config in configs[1:]:
        assert config["server"] == "https://10.20.0.10:6443"
        assert "cluster-init" not in config


def test_wireguard_backend_and_external_ip() -> None:
    config = server_config(
        node_index=0,
        server_count=1,
        tls_sans=["a"],
        first_server_address="10.20.0.10",
        flannel_backend=FlannelBackend.WIREGUARD_NATIVE,
        node_external_ip="203.0.113.10",
    )
    assert config["flannel-backend"] == "wireguard-native"
    assert config["node-external-ip"] == "203.0.113.10"


@pytest.mark.parametrize("count", [0, 2, 4])
def test_server_count_other_than_one_or_three_is_refused(count: int) -> None:
    with pytest.raises(ValueError, match=f"server_count: {count} is not 1 or 3"):
        server_config(node_index=0, server_count=count, tls_sans=["a"], first_server_address="10.20.0.10")


def test_agent_settings_label_and_taint_gpu_nodes() -> None:
    config = yaml.safe_load(_files(_agent_document())[K3S_CONFIG_PATH]["content"])
    assert config["server"] == "https://10.20.0.10:6443"
    assert config["token-file"] == TOKEN_FILE
    assert sorted(config["node-label"]) == [
        "llmops.io/capacity=spot",
        "llmops.io/cloud=aws",
        "llmops.io/pool=l4-spot",
        "nvidia.com/gpu.present=true",
    ]
    assert config["node-taint"] == ["nvidia.com/gpu=true:NoSchedule"]
    assert GPU_TAINT.render() == "nvidia.com/gpu=true:NoSchedule"


def test_secret_fields_with_whitespace_are_refused() -> None:
    with pytest.raises(ValueError, match="whitespace"):
        _server_document(secrets=[SecretFile("/a b", "/x")])


def test_kubeconfig_embeds_the_certificates() -> None:
    text = render_kubeconfig(
        cluster_name="dev",
        api_address="203.0.113.10",
        ca_pem="CA",
        client_cert_pem="CERT",
        client_key_pem="KEY",
    )
    config = yaml.safe_load(text)
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    assert cluster["server"] == "https://203.0.113.10:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]) == b"CA"
    assert base64.b64decode(user["client-certificate-data"]) == b"CERT"
    assert base64.b64decode(user["client-key-data"]) == b"KEY"
    assert config["current-context"] == "dev"
    assert config["contexts"][0]["context"] == {"cluster": "dev", "user": "dev-admin"}


def test_renderer_and_pool_checks_import_without_pulumi() -> None:
    """The pure parts stay cheap to import (and to test)."""
    import subprocess
    import sys

    code = (
        "import sys, components.k3s.render, components.k3s.pool, components.k3s.pki; "
        "import llmops.components.k3s.readiness; "
        "sys.exit(1 if 'pulumi' in sys.modules else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0

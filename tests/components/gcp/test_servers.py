"""`GcpK3sServers`: one secret per bootstrap file with IAM per secret, nothing secret in metadata."""

from __future__ import annotations

import re
from typing import Any

import jsonschema
import pytest
import yaml
from llmops.components.gcp import GcpK3sServers, GcpK3sServersArgs, GcpNetwork, GcpNetworkArgs
from llmops.components.gcp.iam import account_id
from llmops.components.k3s import ClusterArgsError, K3sCluster, K3sClusterArgs
from llmops.components.k3s.render import K3S_CONFIG_PATH, NODE_ETC_DIR

from tests.components.gcp.mocks import GCP_PROJECT, MOCK_STATIC_IP, GcpRecordingMocks
from tests.components.gcp.stack import build_gcp_dev
from tests.components.k3s.cloud_init_schema import cloud_config_schema
from tests.components.k3s.mocks import RecordingMocks, Resolved, run_program


@pytest.fixture(scope="module")
def built() -> tuple[RecordingMocks, dict[str, Resolved]]:
    return run_program(lambda: build_gcp_dev()["outputs"], mocks=GcpRecordingMocks())


def test_one_secret_per_bootstrap_file_each_readable_by_the_server_account_only(
    built: tuple[RecordingMocks, dict[str, Resolved]],
) -> None:
    mocks, _ = built
    secrets = {
        r.name: r.inputs
        for r in mocks.of_type("gcp:secretmanager/secret:Secret")
        if r.name.startswith("dev-")
    }
    readers = {r.name: r.inputs for r in mocks.of_type("gcp:secretmanager/secretIamMember:SecretIamMember")}
    document = yaml.safe_load(mocks.named("dev-server-0").inputs["metadata"]["user-data"])
    files = {e["path"]: e["content"] for e in document["write_files"]}
    listed = [line.split()[0] for line in files[f"{NODE_ETC_DIR}/secrets.list"].splitlines()]
    # Every file the server fetches is its own secret, and every secret is fetched.
    assert sorted(listed) == sorted(
        f"projects/{GCP_PROJECT}/secrets/{s['secretId']}" for s in secrets.values()
    )
    assert len(listed) >= 8  # CAs and keys, service-account key, tokens
    account = mocks.named("dev-server-sa").inputs["accountId"]
    for name, secret in secrets.items():
        reader = readers[f"{name}-reader"]
        assert reader["secretId"] == secret["secretId"]
        assert reader["role"] == "roles/secretmanager.secretAccessor"
        assert reader["member"] == f"serviceAccount:{account}@{GCP_PROJECT}.iam.gserviceaccount.com"
        assert "secretData" in mocks.named(f"{name}-value").secret_inputs


def test_no_secret_value_in_the_server_metadata(built: tuple[RecordingMocks, dict[str, Resolved]]) -> None:
    mocks, _ = built
    metadata = str(mocks.named("dev-server-0").inputs["metadata"])
    values = [r.inputs["secretData"] for r in mocks.of_type("gcp:secretmanager/secretVersion:SecretVersion")]
    assert values and all(isinstance(v, str) and v for v in values)
    for value in values:
        assert value.strip() not in metadata
    assert "PRIVATE KEY" not in metadata


def test_server_instance(built: tuple[RecordingMocks, dict[str, Resolved]]) -> None:
    mocks, resolved = built
    server = mocks.named("dev-server-0").inputs
    assert server["tags"] == ["dev-net-node", "dev-net-server"]
    assert server["zone"] == "us-central1-b"
    (interface,) = server["networkInterfaces"]
    assert interface["networkIp"] == "10.30.0.10"
    assert interface["accessConfigs"] == [{"natIp": MOCK_STATIC_IP}]
    assert server["metadata"]["block-project-ssh-keys"] == "true"
    assert server["serviceAccount"]["scopes"] == ["https://www.googleapis.com/auth/cloud-platform"]
    assert server["shieldedInstanceConfig"]["enableSecureBoot"] is True
    document = yaml.safe_load(server["metadata"]["user-data"])
    assert list(jsonschema.Draft4Validator(cloud_config_schema()).iter_errors(document)) == []
    files = {e["path"]: e["content"] for e in document["write_files"]}
    assert MOCK_STATIC_IP in yaml.safe_load(files[K3S_CONFIG_PATH])["tls-san"]
    assert "LLMOPS_CLOUD=gcp" in files[f"{NODE_ETC_DIR}/bootstrap.env"]
    assert resolved["api"].value == f"https://{MOCK_STATIC_IP}:6443"
    assert resolved["kubeconfig"].secret


def test_three_servers_are_refused_until_there_is_a_load_balancer() -> None:
    def program() -> dict[str, Any]:
        network = GcpNetwork("n", GcpNetworkArgs(api_allowed_cidrs=["198.51.100.0/24"]))
        K3sCluster(
            "c",
            K3sClusterArgs(
                host=GcpK3sServers(GcpK3sServersArgs(network=network, project="p")), server_count=3
            ),
        )
        return {}

    with pytest.raises(ClusterArgsError, match="not yet built on GCP"):
        run_program(program, mocks=GcpRecordingMocks())


def test_service_account_ids_fit_gcp_limits() -> None:
    run_program(lambda: {}, mocks=GcpRecordingMocks())  # account ids hash the project and stack
    for name in (
        "a",
        "gcp-dev-server",
        "a-very-long-pool-name-for-the-l4-spot-machines-in-europe",
        "UPPER_case.pool",
    ):
        ident = account_id(name)
        assert re.fullmatch(r"[a-z][-a-z0-9]{4,28}[a-z0-9]", ident), ident

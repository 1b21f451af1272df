"""`K3sCluster` under Pulumi mocks: PKI chain, kubeconfig, secrets, server settings, HA."""

from __future__ import annotations

import base64
import json
import re

import pytest
import yaml
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from llmops.components.aws import AwsK3sServers, AwsK3sServersArgs, AwsNetwork, AwsNetworkArgs
from llmops.components.k3s import ClusterArgsError, K3sCluster, K3sClusterArgs, pki
from llmops.components.k3s.render import K3S_CONFIG_PATH, NODE_ETC_DIR

from tests.components.aws.stack import build_aws_dev
from tests.components.k3s.mocks import MOCK_EIP, RecordingMocks, Resolved, run_program


@pytest.fixture(scope="module")
def dev() -> tuple[RecordingMocks, dict[str, Resolved]]:
    return run_program(lambda: build_aws_dev()["outputs"])


@pytest.fixture(scope="module")
def dev_ha() -> tuple[RecordingMocks, dict[str, Resolved]]:
    return run_program(lambda: build_aws_dev(server_count=3)["outputs"])


def _cert(pem: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem.encode())


def _server_user_data(mocks: RecordingMocks, index: int) -> dict:
    document = mocks.named(f"aws-dev-server-{index}").inputs["userData"]
    assert document.startswith("#cloud-config\n")
    return yaml.safe_load(document)


def _file(document: dict, path: str) -> str:
    return next(entry["content"] for entry in document["write_files"] if entry["path"] == path)


# --- the certificates chain correctly (real signatures) ---


def test_admin_certificate_is_signed_by_the_client_ca(dev) -> None:
    _, out = dev
    client_ca, admin = _cert(out["client_ca"].value), _cert(out["admin_cert"].value)
    admin.verify_directly_issued_by(client_ca)  # raises on a bad signature or issuer mismatch
    assert admin.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "system:masters"
    assert admin.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == pki.ADMIN_COMMON_NAME
    usages = admin.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.CLIENT_AUTH in usages
    assert admin.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_admin_certificate_is_not_signed_by_the_server_ca(dev) -> None:
    """The verification above can fail: a different CA's key does not verify the admin cert."""
    _, out = dev
    with pytest.raises((ValueError, InvalidSignature)):
        _cert(out["admin_cert"].value).verify_directly_issued_by(_cert(out["server_ca"].value))


@pytest.mark.parametrize("role", [spec.role for spec in pki.CLUSTER_CAS])
def test_every_cluster_ca_is_a_self_signed_ca(dev, role: str) -> None:
    mocks, _ = dev
    recorded = mocks.named(f"aws-dev-{role}")
    assert recorded.inputs["isCaCertificate"] is True
    assert set(recorded.inputs["allowedUses"]) >= {"cert_signing", "digital_signature"}
    assert "privateKeyPem" in recorded.secret_inputs


def test_server_ca_is_a_ca(dev) -> None:
    _, out = dev
    server_ca = _cert(out["server_ca"].value)
    server_ca.verify_directly_issued_by(server_ca)
    assert server_ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert server_ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign is True


def test_kubeconfig_carries_the_server_ca_and_the_admin_identity(dev) -> None:
    _, out = dev
    assert out["kubeconfig"].secret, "the kubeconfig output must be a secret"
    config = yaml.safe_load(out["kubeconfig"].value)
    cluster = config["clusters"][0]["cluster"]
    user = config["users"][0]["user"]
    assert cluster["server"] == f"https://{MOCK_EIP}:6443"
    assert base64.b64decode(cluster["certificate-authority-data"]).decode() == out["server_ca"].value
    assert base64.b64decode(user["client-certificate-data"]).decode() == out["admin_cert"].value
    key = serialization.load_pem_private_key(base64.b64decode(user["client-key-data"]), password=None)
    admin = _cert(out["admin_cert"].value)
    assert key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == admin.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_provider_uses_the_kubeconfig_and_waits_for_the_server(dev) -> None:
    mocks, out = dev
    provider = mocks.named("aws-dev-provider")
    assert provider.type == "pulumi:providers:kubernetes"
    assert provider.inputs["kubeconfig"] == out["kubeconfig"].value
    assert "kubeconfig" in provider.secret_inputs


# --- secrets reach the servers through SSM SecureStrings only ---


def test_every_secret_is_a_secure_string_with_a_secret_value(dev) -> None:
    mocks, _ = dev
    parameters = mocks.of_type("aws:ssm/parameter:Parameter")
    server_keys = {
        p.inputs["name"].rsplit("/servers/", 1)[1] for p in parameters if "/servers/" in p.inputs["name"]
    }
    expected = {"token", "agent-token", "service.key"}
    for spec in pki.CLUSTER_CAS:
        expected |= {f"{spec.relative_path}.crt", f"{spec.relative_path}.key"}
    assert server_keys == expected
    for parameter in parameters:
        assert parameter.inputs["type"] == "SecureString"
        assert "value" in parameter.secret_inputs, parameter.name
        assert parameter.inputs["name"].startswith("/llmops/llmops/aws-dev/aws-dev/")


def test_no_secret_appears_in_plain_inputs_anywhere(dev) -> None:
    """Tokens and private keys only ever travel as secrets (user data carries parameter names)."""
    mocks, out = dev
    secrets = [out["agent_token"].value]
    secrets += [
        r.inputs["value"] for r in mocks.of_type("aws:ssm/parameter:Parameter") if ".key" in r.inputs["name"]
    ]
    secrets += [
        r.inputs["value"] for r in mocks.of_type("aws:ssm/parameter:Parameter") if "token" in r.inputs["name"]
    ]
    assert len(secrets) >= 8
    for resource in mocks.resources:
        for key, value in resource.inputs.items():
            if key in resource.secret_inputs:
                continue
            text = json.dumps(value)
            for secret in secrets:
                assert secret.strip() not in text, f"{resource.name}.{key} holds a secret in plain text"


def test_server_role_reads_only_its_own_parameters(dev) -> None:
    mocks, _ = dev
    policy = json.loads(mocks.named("aws-dev-server-read-secrets").inputs["policy"])
    (statement,) = policy["Statement"]
    assert statement["Action"] == ["ssm:GetParameter"]
    server_parameters = [
        r for r in mocks.of_type("aws:ssm/parameter:Parameter") if "/servers/" in r.inputs["name"]
    ]
    assert len(statement["Resource"]) == len(server_parameters)
    assert all(
        arn.endswith(tuple(p.inputs["name"] for p in server_parameters)) for arn in statement["Resource"]
    )
    assert "*" not in json.dumps(statement["Resource"])
    assert not mocks.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")


def test_server_user_data_places_every_ca_before_k3s_starts(dev) -> None:
    mocks, _ = dev
    document = _server_user_data(mocks, 0)
    placed = {line.split()[1] for line in _file(document, f"{NODE_ETC_DIR}/secrets.list").splitlines()}
    for spec in pki.CLUSTER_CAS:
        assert {spec.cert_path, spec.key_path} <= placed
    assert pki.SERVICE_ACCOUNT_KEY_PATH in placed
    config = yaml.safe_load(_file(document, K3S_CONFIG_PATH))
    assert MOCK_EIP in config["tls-san"]
    assert config["secrets-encryption"] is True
    assert "cluster-init" not in config


def test_server_instance_is_hardened(dev) -> None:
    mocks, _ = dev
    server = mocks.named("aws-dev-server-0")
    assert server.inputs["metadataOptions"]["httpTokens"] == "required"
    assert server.inputs["rootBlockDevice"]["encrypted"] is True
    assert server.inputs["rootBlockDevice"]["volumeType"] == "gp3"
    assert server.inputs["instanceType"] == "m7i.large"
    assert server.inputs["privateIp"] == "10.20.0.10"


# --- three servers: embedded etcd behind a load balancer ---


def test_ha_first_server_initialises_etcd_and_the_others_join(dev_ha) -> None:
    mocks, out = dev_ha
    configs = [yaml.safe_load(_file(_server_user_data(mocks, i), K3S_CONFIG_PATH)) for i in range(3)]
    assert configs[0].get("cluster-init") is True
    first = mocks.named("aws-dev-server-0").inputs["privateIp"]
    assert [c.get("server") for c in configs[1:]] == [f"https://{first}:6443"] * 2
    subnets = {mocks.named(f"aws-dev-server-{i}").inputs["subnetId"] for i in range(3)}
    assert len(subnets) == 2  # spread over both zones
    balancer = mocks.named("aws-dev-api-lb")
    assert balancer.type == "aws:lb/loadBalancer:LoadBalancer"
    assert out["api_endpoint"].value == f"https://{balancer.name}.elb.us-east-1.amazonaws.com:6443"
    assert all(balancer.name + ".elb" in c["tls-san"][0] for c in configs)
    assert len(mocks.of_type("aws:lb/targetGroupAttachment:TargetGroupAttachment")) == 3


# --- bad args fail before any resource ---


@pytest.mark.parametrize("count", [2, 5])
def test_server_count_must_be_one_or_three(count: int) -> None:
    def build() -> dict:
        network = AwsNetwork("net", AwsNetworkArgs(api_allowed_cidrs=["198.51.100.0/24"]))
        K3sCluster(
            "bad", K3sClusterArgs(host=AwsK3sServers(AwsK3sServersArgs(network=network)), server_count=count)
        )
        return {}

    mocks = RecordingMocks()
    with pytest.raises(ClusterArgsError) as raised:
        run_program(build, mocks=mocks)
    assert f"args.server_count: {count} is not 1 or 3" in str(raised.value)
    assert "use 1 (single server) or 3" in str(raised.value)
    assert [r.name for r in mocks.resources if r.name.startswith("bad")] == []


def test_three_servers_need_the_load_balancer_rule_in_the_network() -> None:
    def build() -> dict:
        network = AwsNetwork("net", AwsNetworkArgs(api_allowed_cidrs=["198.51.100.0/24"]))
        K3sCluster(
            "ha", K3sClusterArgs(host=AwsK3sServers(AwsK3sServersArgs(network=network)), server_count=3)
        )
        return {}

    mocks = RecordingMocks()
    with pytest.raises(ClusterArgsError, match=re.escape("set AwsNetworkArgs.api_load_balancer=True")):
        run_program(build, mocks=mocks)
    assert [r.name for r in mocks.resources if r.name.startswith("ha")] == []


# --- preview: values unknown until deploy ---


def test_preview_keeps_the_kubeconfig_secret_with_unknown_values() -> None:
    mocks, out = run_program(lambda: build_aws_dev()["outputs"], preview=True)
    assert out["kubeconfig"].secret
    assert any(r.type == "aws:ec2/instance:Instance" for r in mocks.resources)
    assert any(r.type == "pulumi:providers:kubernetes" for r in mocks.resources)


def test_user_data_fits_the_ec2_limit(dev) -> None:
    """EC2 refuses user data above 16 KB (before base64)."""
    mocks, _ = dev
    sizes = [len(r.inputs["userData"].encode()) for r in mocks.of_type("aws:ec2/instance:Instance")]
    sizes += [
        len(base64.b64decode(r.inputs["userData"]))
        for r in mocks.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    ]
    assert sizes and max(sizes) < 16 * 1024, sizes

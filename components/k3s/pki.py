"""The cluster's certificate plan: which CAs K3s needs, where it looks for them, what they may sign.

Pure data, no Pulumi imports. `K3sCluster` turns it into `pulumi_tls` resources; the tests turn
the same plan into certificates with the `cryptography` package and verify real signatures, so
the subject and extension choices live in one place.

K3s skips generating its own CAs when it finds these files before its first start
(K3s documentation, "Using Custom CA Certificates"): every CA is a pair `<name>.crt` + `<name>.key`
under /var/lib/rancher/k3s/server/tls, the etcd ones in its `etcd/` sub-folder, plus `service.key`,
the service-account token signing key.
"""

from __future__ import annotations

from dataclasses import dataclass

K3S_TLS_DIR = "/var/lib/rancher/k3s/server/tls"

# ECDSA P-256 is what K3s generates itself; short keys keep every PEM well under the
# 4 KB limit of the smallest cloud secret stores (a standard parameter on one of them).
KEY_ALGORITHM = "ECDSA"
ECDSA_CURVE = "P256"
# The service-account signing key is RSA: the API server's JWT signer expects RSA or ECDSA,
# and RSA is what K3s itself writes to service.key.
SERVICE_ACCOUNT_KEY_ALGORITHM = "RSA"
SERVICE_ACCOUNT_RSA_BITS = 2048

CA_VALIDITY_HOURS = 10 * 365 * 24
CA_EARLY_RENEWAL_HOURS = 0
CA_ALLOWED_USES: tuple[str, ...] = ("cert_signing", "crl_signing", "digital_signature", "key_encipherment")

# The admin client certificate: Kubernetes maps the organisation to a group, and
# system:masters is bound to cluster-admin by the API server's bootstrap RBAC.
ADMIN_COMMON_NAME = "llmops-admin"
ADMIN_ORGANIZATION = "system:masters"
ADMIN_VALIDITY_HOURS = 365 * 24
# Pulumi re-issues the certificate on the first `pulumi up` within 30 days of expiry.
ADMIN_EARLY_RENEWAL_HOURS = 30 * 24
ADMIN_ALLOWED_USES: tuple[str, ...] = ("digital_signature", "key_encipherment", "client_auth")


@dataclass(frozen=True)
class CaSpec:
    """One cluster CA: its role (resource-name suffix), subject and place on disk."""

    role: str
    common_name: str
    relative_path: str

    @property
    def cert_path(self) -> str:
        return f"{K3S_TLS_DIR}/{self.relative_path}.crt"

    @property
    def key_path(self) -> str:
        return f"{K3S_TLS_DIR}/{self.relative_path}.key"


SERVER_CA = CaSpec("server-ca", "k3s-server-ca", "server-ca")
CLIENT_CA = CaSpec("client-ca", "k3s-client-ca", "client-ca")
REQUEST_HEADER_CA = CaSpec("request-header-ca", "k3s-request-header-ca", "request-header-ca")
ETCD_PEER_CA = CaSpec("etcd-peer-ca", "etcd-peer-ca", "etcd/peer-ca")
ETCD_SERVER_CA = CaSpec("etcd-server-ca", "etcd-server-ca", "etcd/server-ca")

CLUSTER_CAS: tuple[CaSpec, ...] = (SERVER_CA, CLIENT_CA, REQUEST_HEADER_CA, ETCD_PEER_CA, ETCD_SERVER_CA)

SERVICE_ACCOUNT_KEY_PATH = f"{K3S_TLS_DIR}/service.key"


def ca_subject(spec: CaSpec, cluster_name: str) -> dict[str, str]:
    """Subject of a CA certificate; the cluster name tells two clusters' CAs apart in a trust store."""
    return {"common_name": spec.common_name, "organization": cluster_name}


def admin_subject() -> dict[str, str]:
    return {"common_name": ADMIN_COMMON_NAME, "organization": ADMIN_ORGANIZATION}

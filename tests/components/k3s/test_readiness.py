"""`wait_for_api` against a real local TLS server that demands a client certificate."""

from __future__ import annotations

import datetime
import http.server
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from llmops.components.k3s.readiness import ApiNotReadyError, wait_for_api


def _pem_key(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _issue(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate | None,
    issuer_key,
    *,
    ca: bool,
    **ext,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer.subject if issuer else name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if "san" in ext:
        builder = builder.add_extension(x509.SubjectAlternativeName(ext["san"]), critical=False)
    if "usage" in ext:
        builder = builder.add_extension(x509.ExtendedKeyUsage([ext["usage"]]), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@dataclass
class Pki:
    server_ca: str
    client_cert: str
    client_key: str
    stranger_cert: str
    stranger_key: str


@dataclass
class Api:
    url: str
    pki: Pki
    answers: list[int]
    requests: list[str]


@pytest.fixture(scope="module")
def pki_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Pki, Path, Path, Path]:
    folder = tmp_path_factory.mktemp("pki")
    server_ca_key, client_ca_key = (
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP256R1()),
    )
    server_ca = _issue("server-ca", server_ca_key, None, server_ca_key, ca=True)
    client_ca = _issue("client-ca", client_ca_key, None, client_ca_key, ca=True)
    serving_key = ec.generate_private_key(ec.SECP256R1())
    serving = _issue(
        "k3s", serving_key, server_ca, server_ca_key, ca=False,
        san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))], usage=ExtendedKeyUsageOID.SERVER_AUTH,
    )  # fmt: skip
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _issue(
        "admin", client_key, client_ca, client_ca_key, ca=False, usage=ExtendedKeyUsageOID.CLIENT_AUTH
    )
    stranger_key = ec.generate_private_key(ec.SECP256R1())
    stranger = _issue(
        "stranger", stranger_key, None, stranger_key, ca=False, usage=ExtendedKeyUsageOID.CLIENT_AUTH
    )
    (folder / "serving.crt").write_text(_pem(serving))
    (folder / "serving.key").write_text(_pem_key(serving_key))
    (folder / "client-ca.crt").write_text(_pem(client_ca))
    pki = Pki(_pem(server_ca), _pem(client), _pem_key(client_key), _pem(stranger), _pem_key(stranger_key))
    return pki, folder / "serving.crt", folder / "serving.key", folder / "client-ca.crt"


@pytest.fixture
def api(pki_files) -> Iterator[Api]:
    pki, cert, key, client_ca = pki_files
    answers: list[int] = []
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            requests.append(self.path)
            self.send_response(answers.pop(0) if answers else 200)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    context.load_verify_locations(str(client_ca))
    context.verify_mode = ssl.CERT_REQUIRED  # like the K3s API: only the client CA's certificates
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Api(f"https://127.0.0.1:{server.server_address[1]}", pki, answers, requests)
    finally:
        server.shutdown()
        server.server_close()


def test_returns_once_readyz_answers(api: Api) -> None:
    api.answers.extend([503, 503])
    wait_for_api(
        server_url=api.url, ca_pem=api.pki.server_ca, client_cert_pem=api.pki.client_cert,
        client_key_pem=api.pki.client_key, timeout_s=10, interval_s=0.01,
    )  # fmt: skip
    assert api.requests == ["/readyz"] * 3


def test_times_out_with_a_message_that_says_what_to_do(api: Api) -> None:
    api.answers.extend([503] * 1000)
    with pytest.raises(ApiNotReadyError) as raised:
        wait_for_api(
            server_url=api.url, ca_pem=api.pki.server_ca, client_cert_pem=api.pki.client_cert,
            client_key_pem=api.pki.client_key, timeout_s=0.2, interval_s=0.01,
            shell_hint="open a shell with `cloud-cli ssh server-0`",
        )  # fmt: skip
    message = str(raised.value)
    assert f"the Kubernetes API at {api.url} was not ready" in message
    assert "last answer: HTTP 503" in message
    # The cloud's server host supplies how to reach a server's shell.
    assert "Fix: open a shell with `cloud-cli ssh server-0`, read /var/log/cloud-init-output.log" in message


def test_a_certificate_from_another_ca_is_not_accepted(api: Api) -> None:
    with pytest.raises(ApiNotReadyError):
        wait_for_api(
            server_url=api.url, ca_pem=api.pki.server_ca, client_cert_pem=api.pki.stranger_cert,
            client_key_pem=api.pki.stranger_key, timeout_s=0.2, interval_s=0.05,
        )  # fmt: skip
    assert api.requests == []


def test_a_server_outside_the_trusted_ca_is_not_trusted(api: Api, pki_files) -> None:
    """Pinning the cluster's server CA: a different CA in the kubeconfig fails the TLS check."""
    pki, *_ = pki_files
    with pytest.raises(ApiNotReadyError, match="CERTIFICATE_VERIFY_FAILED"):
        wait_for_api(
            server_url=api.url, ca_pem=pki.stranger_cert, client_cert_pem=pki.client_cert,
            client_key_pem=pki.client_key, timeout_s=0.1, interval_s=0.05,
        )  # fmt: skip

"""The plan's mocks with recording and real TLS, and a harness that runs a program under them.

The TLS resources are emulated with the `cryptography` package from the inputs the component
gives `pulumi_tls` (algorithm, subject, is_ca_certificate, allowed_uses, the CA key and cert),
so the tests verify real signatures over certificates built from the component's own choices.
The mapping of `allowed_uses` to X.509 extensions follows the TLS provider's documentation.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from llmops.components.aws import plan_mocks
from llmops.infra.plan import PlanMocks

MOCK_AMI = plan_mocks.PLAN_AMI
MOCK_EIP = plan_mocks.PLAN_PUBLIC_IP
PROJECT = "llmops"
STACK = "aws-dev"
AVAILABILITY_ZONES = ["us-east-1a", "us-east-1b", "us-east-1c"]
"""What the plan's mocks answer for the default region (components/aws/plan_mocks.py)."""

_KEY_USAGE_FLAGS = {
    "digital_signature": "digital_signature",
    "content_commitment": "content_commitment",
    "key_encipherment": "key_encipherment",
    "data_encipherment": "data_encipherment",
    "key_agreement": "key_agreement",
    "cert_signing": "key_cert_sign",
    "crl_signing": "crl_sign",
}
_EXTENDED_USAGES = {
    "server_auth": ExtendedKeyUsageOID.SERVER_AUTH,
    "client_auth": ExtendedKeyUsageOID.CLIENT_AUTH,
}


def _name(subject: Mapping[str, Any] | None) -> x509.Name:
    subject = subject or {}
    attributes = []
    if subject.get("organization"):
        attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, subject["organization"]))
    if subject.get("commonName"):
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, subject["commonName"]))
    return x509.Name(attributes)


def _load_key(pem: str) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey)
    return key


def _private_key(inputs: Mapping[str, Any]) -> dict[str, str]:
    if inputs.get("algorithm") == "RSA":
        key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = rsa.generate_private_key(
            public_exponent=65537, key_size=int(inputs.get("rsaBits", 2048))
        )
    else:
        curves = {
            "P224": ec.SECP224R1(),
            "P256": ec.SECP256R1(),
            "P384": ec.SECP384R1(),
            "P521": ec.SECP521R1(),
        }
        key = ec.generate_private_key(curves[inputs.get("ecdsaCurve", "P224")])
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return {"privateKeyPem": pem, "publicKeyPem": public}


def _sign(
    *,
    subject: x509.Name,
    public_key: Any,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    inputs: Mapping[str, Any],
) -> str:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(hours=int(inputs["validityPeriodHours"])))
    )
    is_ca = bool(inputs.get("isCaCertificate"))
    builder = builder.add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
    uses = list(inputs.get("allowedUses") or [])
    flags = {flag: False for flag in _KEY_USAGE_FLAGS.values()}
    for use in uses:
        if use in _KEY_USAGE_FLAGS:
            flags[_KEY_USAGE_FLAGS[use]] = True
    if any(flags.values()):
        builder = builder.add_extension(
            x509.KeyUsage(**flags, encipher_only=False, decipher_only=False), critical=True
        )
    extended = [_EXTENDED_USAGES[use] for use in uses if use in _EXTENDED_USAGES]
    if extended:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=False)
    certificate = builder.sign(issuer_key, hashes.SHA256())
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


# How the engine marks a secret value on the wire (pulumi.runtime.rpc._special_secret_sig).
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"


def _is_secret(value: Any) -> bool:
    return isinstance(value, dict) and value.get(_SIG_KEY) == _SECRET_SIG


def _reveal(value: Any) -> Any:
    """The value with every secret wrapper removed."""
    if _is_secret(value):
        return _reveal(value["value"])
    if isinstance(value, dict):
        return {key: _reveal(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_reveal(item) for item in value]
    return value


@dataclass
class Recorded:
    type: str
    name: str
    inputs: dict[str, Any]
    """Inputs with secret wrappers removed."""
    secret_inputs: set[str]
    """Top-level input names that arrived as secrets."""
    provider: str | None


class RecordingMocks(PlanMocks):
    """The plan's mocks (every cloud answer comes from its kit), recording every resource and call.

    On top, for the tests only: TLS resources get real keys and certificates made with
    `cryptography` from the component's own inputs, so signatures can be verified, and random
    passwords are `p` * length.
    """

    def __init__(self) -> None:
        super().__init__(preview=False)
        self.resources: list[Recorded] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        secret_inputs = {key for key, value in args.inputs.items() if _is_secret(value)}
        inputs = _reveal(dict(args.inputs))
        self.resources.append(Recorded(args.typ, args.name, inputs, secret_inputs, args.provider))
        resource_id, outputs = super().new_resource(args)
        outputs = {
            **_reveal(outputs),
            **inputs,
            **{k: v for k, v in _reveal(outputs).items() if k not in inputs},
        }
        typ = args.typ
        if typ == "tls:index/privateKey:PrivateKey":
            outputs.update(_private_key(inputs))
        elif typ == "tls:index/selfSignedCert:SelfSignedCert":
            key = _load_key(inputs["privateKeyPem"])
            name = _name(inputs.get("subject"))
            outputs["certPem"] = _sign(
                subject=name, public_key=key.public_key(), issuer=name, issuer_key=key, inputs=inputs
            )
        elif typ == "tls:index/certRequest:CertRequest":
            key = _load_key(inputs["privateKeyPem"])
            request = (
                x509.CertificateSigningRequestBuilder()
                .subject_name(_name(inputs.get("subject")))
                .sign(key, hashes.SHA256())
            )
            outputs["certRequestPem"] = request.public_bytes(serialization.Encoding.PEM).decode()
        elif typ == "tls:index/locallySignedCert:LocallySignedCert":
            request = x509.load_pem_x509_csr(inputs["certRequestPem"].encode())
            ca_cert = x509.load_pem_x509_certificate(inputs["caCertPem"].encode())
            outputs["certPem"] = _sign(
                subject=request.subject,
                public_key=request.public_key(),
                issuer=ca_cert.subject,
                issuer_key=_load_key(inputs["caPrivateKeyPem"]),
                inputs=inputs,
            )
        elif typ == "random:index/randomPassword:RandomPassword":
            outputs["result"] = "p" * int(inputs.get("length", 16))
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append((args.token, dict(args.args)))
        return super().call(args)

    def of_type(self, typ: str) -> list[Recorded]:
        return [r for r in self.resources if r.type == typ]

    def named(self, name: str) -> Recorded:
        matches = [r for r in self.resources if r.name == name]
        assert len(matches) == 1, (
            f"{len(matches)} resources named {name!r}: {[r.name for r in self.resources]}"
        )
        return matches[0]


@dataclass
class Resolved:
    value: Any
    known: bool
    secret: bool


def run_program(
    build: Callable[[], Mapping[str, pulumi.Output[Any]]],
    *,
    preview: bool = False,
    mocks: RecordingMocks | None = None,
) -> tuple[RecordingMocks, dict[str, Resolved]]:
    """Run `build` as a Pulumi program under the mocks; resolve the outputs it returns.

    Pass `mocks` to inspect what was registered when `build` raises."""
    mocks = mocks or RecordingMocks()
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=STACK, preview=preview)
    resolved: dict[str, Resolved] = {}

    @pulumi.runtime.test
    def program() -> Any:
        outputs = build()

        async def collect() -> bool:
            for key, output in outputs.items():
                resolved[key] = Resolved(
                    value=await output.future(),
                    known=await output.is_known(),
                    secret=await output.is_secret(),
                )
            return True

        return asyncio.ensure_future(collect())

    program()
    return mocks, resolved

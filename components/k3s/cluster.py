"""`K3sCluster`: the K3s control plane, its PKI and tokens, and a Kubernetes provider for it."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Mapping, Sequence
from dataclasses import dataclass, field

import pulumi
import pulumi_kubernetes as k8s
import pulumi_random as random
import pulumi_tls as tls
from llmops.components.errors import InputError, Problem, field_path, raise_if
from llmops.components.k3s import pki
from llmops.components.k3s.host import K3sServerHost
from llmops.components.k3s.overlay import Overlay
from llmops.components.k3s.readiness import wait_for_api
from llmops.components.k3s.render import (
    AGENT_TOKEN_FILE,
    SERVER_TAINT,
    TOKEN_FILE,
    FlannelBackend,
    NodeTaint,
    SecretFile,
    pool_labels,
    render_cloud_init,
    render_kubeconfig,
    server_config,
)
from llmops.components.k3s.versions import K3S_VERSION

SERVER_COUNTS = (1, 3)


@dataclass(kw_only=True)
class K3sClusterArgs:
    """Inputs of `K3sCluster`."""

    host: K3sServerHost
    """Cloud that runs the servers: `llmops.components.cloud.kit(cloud).server_host(...)`."""
    server_count: int = 1
    """1, or 3 for an HA control plane on embedded etcd; default: one server."""
    k3s_version: str = K3S_VERSION
    """K3s release on the servers (agents take it from `agent_join`); default: the pinned one."""
    flannel_backend: FlannelBackend = FlannelBackend.VXLAN
    """Pod network; default: VXLAN inside one cloud. Use WIREGUARD_NATIVE when agents span clouds."""
    server_taints: Sequence[NodeTaint] = (SERVER_TAINT,)
    """Taints of the servers; default: control-plane PreferNoSchedule, so workloads prefer agents."""
    extra_tls_sans: Sequence[str] = ()
    """More names for the API certificate (a DNS record you point at it); default: none."""
    disable: Sequence[str] = ("traefik",)
    """Bundled K3s add-ons to leave out; default: Traefik (models are reached through Services)."""
    overlay: Overlay | None = None
    """Nodes span clouds: WireGuard between static public addresses, flannel's MTU for it and the
    pod and service ranges written out (components/k3s/overlay.py); default: one cloud."""
    api_ready_timeout_s: int = 900
    """On `pulumi up`, how long the provider waits for a new API to answer /readyz; default: 15
    minutes. 0 turns the wait off. Never waits in preview or under mocks."""


@dataclass(frozen=True)
class K3sAgentJoin:
    """What an agent pool needs to join the cluster. Pass it to a pool's args as `join`."""

    cluster_name: str
    server_address: str
    """Private address of the first server; agents register through it."""
    agent_token: pulumi.Output[str] = field(repr=False)
    """Agent join token (secret); it cannot join a server."""
    k3s_version: str
    flannel_backend: FlannelBackend
    overlay: Overlay | None = None
    """Set when the cluster spans clouds; a pool's copy names its own reserved address set."""
    public_server_address: pulumi.Output[str] | None = None
    """Static public address of the first server, for agents in another cloud than the servers."""
    server_cloud: str = ""
    """Cloud of the servers."""

    def server_address_for(self, cloud: str) -> pulumi.Output[str]:
        """The address an agent in `cloud` registers through: the private one inside the servers'
        cloud, the public one from elsewhere."""
        if self.public_server_address is not None and cloud != self.server_cloud:
            return self.public_server_address
        return pulumi.Output.from_input(self.server_address)


ClusterArgsError = InputError
"""Kept for old imports: bad cluster args raise the project's one input error."""


def cluster_problems(
    *, server_count: int, k3s_version: str, path: str = "args", keys: Mapping[str, str] | None = None
) -> list[Problem]:
    """Problems of the cloud-neutral cluster settings; `keys` maps field names to the caller's keys."""
    keys = keys or {}
    problems: list[Problem] = []
    if server_count not in SERVER_COUNTS:
        problems.append(
            Problem(
                field_path(path, keys, "server_count"),
                server_count,
                "is not 1 or 3",
                "use 1 (single server) or 3 (HA on embedded etcd, which needs an odd quorum)",
            )
        )
    if not k3s_version.startswith("v") or "+k3s" not in k3s_version:
        problems.append(
            Problem(
                field_path(path, keys, "k3s_version"),
                k3s_version,
                "is not a K3s release tag",
                f"write it like {K3S_VERSION!r}",
            )
        )
    return problems


def validate_cluster_args(args: K3sClusterArgs, *, path: str = "args") -> list[Problem]:
    return cluster_problems(server_count=args.server_count, k3s_version=args.k3s_version, path=path)


def _talks_to_real_clouds() -> bool:
    """False in preview and under Pulumi's mocks (tests, the offline plan): nothing to wait for."""
    from pulumi.runtime.mocks import MockMonitor

    return not pulumi.runtime.is_dry_run() and not isinstance(
        pulumi.runtime.settings.get_monitor(), MockMonitor
    )


class K3sCluster(pulumi.ComponentResource):
    """K3s servers with a PKI generated in the program, so the kubeconfig needs no read-back."""

    api_address: pulumi.Output[str]
    """Address of the API (IP or DNS name)."""
    api_endpoint: pulumi.Output[str]
    """`https://<api_address>:6443`."""
    kubeconfig: pulumi.Output[str]
    """Admin kubeconfig (secret), certificates embedded."""
    provider: k8s.Provider
    """Kubernetes provider for this cluster; it waits for the servers to exist."""
    agent_join: K3sAgentJoin
    """Join settings for agent pools."""
    certificate_authorities: dict[str, tls.SelfSignedCert]
    """The cluster CAs by role (`server-ca`, `client-ca`, ...), for users who trust them elsewhere."""
    admin_certificate: tls.LocallySignedCert
    """The admin client certificate (`O=system:masters`), signed by the client CA."""
    servers: list[pulumi.Resource]
    server_external_addresses: list[pulumi.Output[str]]
    """Static public address of each server (WireGuard peers and firewalls of other clouds)."""

    def __init__(self, name: str, args: K3sClusterArgs, opts: pulumi.ResourceOptions | None = None):
        problems = validate_cluster_args(args)
        if not problems:
            problems = args.host.validate(name, args.server_count)
        raise_if(f"K3sCluster {name!r}", problems)
        super().__init__("llmops:k3s:K3sCluster", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        token = random.RandomPassword(f"{name}-token", length=48, special=False, opts=child)
        agent_token = random.RandomPassword(f"{name}-agent-token", length=48, special=False, opts=child)

        # Providers mark these outputs secret themselves; wrapping them again makes that hold
        # whatever engine runs the program (the offline plan's mocks included).
        secret = pulumi.Output.secret
        agent_token_value = secret(agent_token.result)
        secrets: dict[str, pulumi.Output[str]] = {
            "token": secret(token.result),
            "agent-token": agent_token_value,
        }
        files: dict[str, tuple[str, str]] = {
            "token": (TOKEN_FILE, "0600"),
            "agent-token": (AGENT_TOKEN_FILE, "0600"),
        }

        self.certificate_authorities = {}
        for spec in pki.CLUSTER_CAS:
            key = tls.PrivateKey(
                f"{name}-{spec.role}-key",
                algorithm=pki.KEY_ALGORITHM,
                ecdsa_curve=pki.ECDSA_CURVE,
                opts=child,
            )
            subject = pki.ca_subject(spec, name)
            cert = tls.SelfSignedCert(
                f"{name}-{spec.role}",
                private_key_pem=secret(key.private_key_pem),
                subject=tls.SelfSignedCertSubjectArgs(
                    common_name=subject["common_name"], organization=subject["organization"]
                ),
                is_ca_certificate=True,
                validity_period_hours=pki.CA_VALIDITY_HOURS,
                early_renewal_hours=pki.CA_EARLY_RENEWAL_HOURS,
                allowed_uses=list(pki.CA_ALLOWED_USES),
                set_subject_key_id=True,
                opts=child,
            )
            self.certificate_authorities[spec.role] = cert
            secrets[f"{spec.relative_path}.crt"] = cert.cert_pem  # public, stored beside its key
            secrets[f"{spec.relative_path}.key"] = secret(key.private_key_pem)
            files[f"{spec.relative_path}.crt"] = (spec.cert_path, "0644")
            files[f"{spec.relative_path}.key"] = (spec.key_path, "0600")

        service_key = tls.PrivateKey(
            f"{name}-service-account-key",
            algorithm=pki.SERVICE_ACCOUNT_KEY_ALGORITHM,
            rsa_bits=pki.SERVICE_ACCOUNT_RSA_BITS,
            opts=child,
        )
        secrets["service.key"] = secret(service_key.private_key_pem)
        files["service.key"] = (pki.SERVICE_ACCOUNT_KEY_PATH, "0600")

        admin_key = tls.PrivateKey(
            f"{name}-admin-key", algorithm=pki.KEY_ALGORITHM, ecdsa_curve=pki.ECDSA_CURVE, opts=child
        )
        admin_subject = pki.admin_subject()
        admin_request = tls.CertRequest(
            f"{name}-admin-request",
            private_key_pem=secret(admin_key.private_key_pem),
            subject=tls.CertRequestSubjectArgs(
                common_name=admin_subject["common_name"], organization=admin_subject["organization"]
            ),
            opts=child,
        )
        client_ca = self.certificate_authorities[pki.CLIENT_CA.role]
        client_ca_key_pem = secrets[f"{pki.CLIENT_CA.relative_path}.key"]
        self.admin_certificate = tls.LocallySignedCert(
            f"{name}-admin",
            cert_request_pem=admin_request.cert_request_pem,
            ca_private_key_pem=client_ca_key_pem,
            ca_cert_pem=client_ca.cert_pem,
            validity_period_hours=pki.ADMIN_VALIDITY_HOURS,
            early_renewal_hours=pki.ADMIN_EARLY_RENEWAL_HOURS,
            allowed_uses=list(pki.ADMIN_ALLOWED_USES),
            opts=child,
        )

        host = args.host
        endpoints = host.reserve_endpoints(name, args.server_count, self)
        secret_files = [
            SecretFile(locator=host.secret_locator(name, key), path=path, mode=mode)
            for key, (path, mode) in files.items()
        ]
        labels = pool_labels(pool=f"{name}-servers", cloud=host.cloud, capacity="on-demand", gpu=False)
        wireguard = args.flannel_backend is FlannelBackend.WIREGUARD_NATIVE

        def user_data_for(index: int) -> pulumi.Output[str]:
            def render(values: list[str]) -> str:
                api_address, external_address = values
                config = server_config(
                    node_index=index,
                    server_count=args.server_count,
                    tls_sans=[api_address, *endpoints.private_addresses, *args.extra_tls_sans],
                    first_server_address=endpoints.private_addresses[0],
                    flannel_backend=args.flannel_backend,
                    node_taints=args.server_taints,
                    node_labels=labels,
                    disable=args.disable,
                    node_external_ip=external_address if wireguard else None,
                )
                return render_cloud_init(
                    role="server",
                    k3s_config=config,
                    secrets=secret_files,
                    bootstrap=host.bootstrap,
                    k3s_version=args.k3s_version,
                    overlay=args.overlay,
                )

            return pulumi.Output.all(endpoints.api_address, endpoints.external_addresses[index]).apply(render)

        self.servers = host.create_servers(
            name,
            user_data=[user_data_for(i) for i in range(args.server_count)],
            secrets=secrets,
            endpoints=endpoints,
            parent=self,
        )

        self.api_address = endpoints.api_address
        self.server_external_addresses = list(endpoints.external_addresses)
        self.api_endpoint = endpoints.api_address.apply(lambda address: f"https://{address}:6443")
        server_ca = self.certificate_authorities[pki.SERVER_CA.role]

        wait_for_ready = args.api_ready_timeout_s > 0 and _talks_to_real_clouds()

        def kubeconfig_of(values: list[str | None]) -> str | Awaitable[str]:
            api_address, ca_pem, cert_pem, key_pem = values[:4]
            # An engine that does not compute TLS outputs (a mock) leaves them None; the
            # kubeconfig then carries empty fields rather than failing the whole program.
            kubeconfig = render_kubeconfig(
                cluster_name=name,
                api_address=api_address or "",
                ca_pem=ca_pem or "",
                client_cert_pem=cert_pem or "",
                client_key_pem=key_pem or "",
            )
            if not (wait_for_ready and api_address and ca_pem and cert_pem and key_pem):
                return kubeconfig
            wait = functools.partial(
                wait_for_api,
                server_url=f"https://{api_address}:6443",
                ca_pem=ca_pem,
                client_cert_pem=cert_pem,
                client_key_pem=key_pem,
                timeout_s=args.api_ready_timeout_s,
                shell_hint=host.shell_hint,
            )

            async def when_ready() -> str:
                # In a worker thread: the wait must not block the engine's event loop.
                await asyncio.get_running_loop().run_in_executor(None, wait)
                return kubeconfig

            return when_ready()

        # The server ids join the inputs so the wait starts once the machines exist.
        server_ids = [r.id for r in self.servers if isinstance(r, pulumi.CustomResource)]
        self.kubeconfig = pulumi.Output.secret(
            pulumi.Output.all(
                endpoints.api_address,
                server_ca.cert_pem,
                self.admin_certificate.cert_pem,
                admin_key.private_key_pem,
                *server_ids,
            ).apply(kubeconfig_of)
        )
        self.provider = k8s.Provider(
            f"{name}-provider",
            kubeconfig=self.kubeconfig,
            opts=pulumi.ResourceOptions(parent=self, depends_on=self.servers),
        )
        self.agent_join = K3sAgentJoin(
            cluster_name=name,
            server_address=endpoints.private_addresses[0],
            agent_token=agent_token_value,
            k3s_version=args.k3s_version,
            flannel_backend=args.flannel_backend,
            overlay=args.overlay,
            public_server_address=endpoints.external_addresses[0] if args.overlay else None,
            server_cloud=host.cloud,
        )
        self.register_outputs(
            {
                "apiAddress": self.api_address,
                "apiEndpoint": self.api_endpoint,
                "kubeconfig": self.kubeconfig,
            }
        )

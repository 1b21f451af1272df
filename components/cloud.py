"""The cloud seam: which clouds exist, and the one kit object each exports.

This module is the only place outside `components/<cloud>/` that names a cloud. The generic
layers (`components/k3s/`, `infra/`) ask `kit(cloud)` for everything cloud-specific: the
network, the K3s server host, the GPU pool, the node bootstrap fragment, the GPU machine
table, the plan's mock answers, the preflight and the price look-ups. Adding a cloud is one
folder (`components/<cloud>/kit.py` exporting `KIT`), one line in `_KITS`, one `Cloud`
member and a stack file (docs/architecture.md).

Pure Python: a kit module imports its provider SDK only inside the methods that build
resources, so the config layer can look machines up without loading Pulumi.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pulumi
    import pulumi_kubernetes as k8s
    from llmops.components.errors import Problem
    from llmops.components.k3s.cluster import K3sAgentJoin
    from llmops.components.k3s.host import K3sServerHost
    from llmops.components.k3s.render import FlannelBackend, NodeBootstrap
    from llmops.components.pools import GpuNodePoolArgs


class Cloud(StrEnum):
    """Clouds with a kit in this version; the config accepts only these."""

    AWS = "aws"
    GCP = "gcp"
    AZURE = "azure"


# One line per cloud: where its kit lives ("module:attribute").
_KITS: dict[Cloud, str] = {
    Cloud.AWS: "llmops.components.aws.kit:KIT",
    Cloud.GCP: "llmops.components.gcp.kit:KIT",
    Cloud.AZURE: "llmops.components.azure.kit:KIT",
}

DEFAULT_CLOUD = Cloud.AWS
"""The cloud a K3s cluster runs on when the stack does not say."""


@dataclass(frozen=True)
class GpuMachine:
    """What one machine type carries: the GPU model and how many."""

    instance_type: str
    gpu: str
    gpu_count: int


@dataclass(frozen=True)
class ScalablePool:
    """What a node autoscaler needs to know of one pool: its name, capacity and fallback."""

    name: str
    capacity: str
    """`spot`, `mixed` or `on-demand`: spot pools are preferred over their fallbacks."""
    fallback_pool: str | None = None
    pool: Any = None
    """The pool as the kit built it (its own GPU pool component), for what the autoscaler needs of
    the built groups (names, zones, sizes); None where the kit needs no more than the above."""


@dataclass(frozen=True, kw_only=True)
class NetworkSpec:
    """What the generic layer asks of a cloud's network."""

    api_allowed_cidrs: Sequence[str]
    flannel_backend: FlannelBackend
    api_load_balancer: bool
    allow_public_api: bool = False
    """Let `api_allowed_cidrs` cover more than `max_public_share` of the internet."""
    max_public_share: float = 0.001
    """Largest share of the public IPv4 space the API ranges may cover together."""
    cross_cloud: bool = False
    """The cluster's nodes span clouds: the network leaves room for `CloudKit.admit_peers`."""


@dataclass(frozen=True, kw_only=True)
class ImageRegistry:
    """A repository the stack pushes its serving image to, and the login that push needs."""

    repository_url: pulumi.Output[str]
    """`<registry host>/<repository>`, the image's name without tag or digest."""
    address: pulumi.Output[str]
    """The registry host the login is for."""
    username: pulumi.Output[str]
    password: pulumi.Output[str]
    """Secret; short-lived where the cloud issues tokens (ECR: 12 hours, read at each `pulumi up`)."""
    cache_tag: str = "buildcache"
    """Tag of the BuildKit cache manifest (the one mutable tag)."""
    cache_repository_url: pulumi.Output[str] | None = None
    """Repository of the BuildKit cache; default: `repository_url` itself (where the registry can keep
    one tag mutable among immutable ones, as ECR can)."""


@dataclass(frozen=True)
class NodeAddresses:
    """Static public IPv4 addresses reserved for one group of nodes (a pool), known before they boot."""

    addresses: Sequence[pulumi.Output[str]]
    """One per node the group can have (its max); firewalls of every cloud admit exactly these."""
    address_set: str = ""
    """Name the nodes claim an address by at boot; empty where the cloud assigns them natively."""
    claim_script: Path | None = None
    """The cloud's `cloud_claim_address` shell fragment; None where no claim is needed."""
    native_pool: Any = None
    """Id of what the machines take an address from natively (an address prefix), or None."""
    grants: Sequence[Any] = ()
    """What the nodes need to claim the addresses, applied by the pool (a policy document, a role)."""


@dataclass(frozen=True)
class PeerRanges:
    """The cluster's nodes by role, as static public addresses of every cloud (this one's included:
    with `flannel-external-ip` nodes of one cloud reach each other through those addresses too)."""

    servers: Sequence[pulumi.Output[str]]
    agents: Sequence[pulumi.Output[str]]


@dataclass(frozen=True)
class PeerPort:
    """One opening a cross-cloud cluster needs: protocol, port, from which role to which role."""

    protocol: str
    port: int
    sources: str
    """`agents`, `servers` or `nodes` (both)."""
    targets: str
    """`servers` or `agents` or `nodes`."""
    description: str


PEER_PORTS: tuple[PeerPort, ...] = (
    PeerPort("tcp", 6443, "agents", "servers", "Kubernetes API and K3s supervisor from the agents"),
    PeerPort("udp", 51820, "nodes", "nodes", "flannel WireGuard between all nodes"),
    PeerPort("tcp", 10250, "servers", "agents", "kubelet on the agents from the servers"),
)
"""Every opening between nodes of different clouds, and nothing else; each kit's firewall follows it."""


def peer_sources(peers: PeerRanges, port: PeerPort) -> list[pulumi.Output[str]]:
    if port.sources == "agents":
        return list(peers.agents)
    if port.sources == "servers":
        return list(peers.servers)
    return [*peers.servers, *peers.agents]


class CloudKit(Protocol):
    """Everything the generic layers need from one cloud."""

    cloud: str
    """The `Cloud` value, also the `llmops.io/cloud` label value."""
    display_name: str
    region_key: str
    """Provider config key holding the region, e.g. `<provider>:region`."""
    default_region: str
    default_server_instance_type: str
    """Machine type of the K3s servers when the stack does not name one."""
    instance_type_example: str
    """Machine types quoted in fix messages."""
    bootstrap: NodeBootstrap
    """Shell fragment the node bootstrap sources: secret fetch, external address."""
    image_ships_gpu_driver: bool
    """Whether the GPU pools' machine image carries the NVIDIA driver (the GPU operator then
    installs none)."""
    node_autoscaler_unavailable: str | None
    """Why `cluster_autoscaler` builds nothing on this cloud yet; None where it does. The config
    refuses `nodeAutoscaling.enabled: true` with this reason."""
    credentials_hint: str
    """How to give `llmops prices refresh` the cloud's credentials, quoted when there are none."""

    # --- machines (pure)
    def gpu_of(self, instance_type: str) -> str | None: ...
    def gpu_families(self) -> Mapping[str, str]: ...
    def machine(self, instance_type: str) -> GpuMachine | None: ...

    # --- checks before any resource (pure)
    def validate_pool(
        self, name: str, args: GpuNodePoolArgs, *, path: str, keys: Mapping[str, str]
    ) -> list[Problem]: ...
    def validate_network(self, spec: NetworkSpec, *, path: str, keys: Mapping[str, str]) -> list[Problem]: ...
    def validate_servers(self, server_count: int, spec: NetworkSpec, *, path: str) -> list[Problem]: ...
    def validate_provider(
        self,
        provider_keys: Mapping[str, Any],
        pools: Mapping[str, GpuNodePoolArgs],
        *,
        keys: Mapping[str, str],
    ) -> list[Problem]:
        """Checks against the stack's provider keys (`<cloud>:region`, ...): the keys the kit needs
        and what the region offers `pools` (each pool's key path -> its args)."""
        ...

    # --- resources (import the provider SDK lazily)
    def network(self, name: str, spec: NetworkSpec) -> Any: ...
    def server_host(
        self, network: Any, instance_type: str | None, *, session_manager: bool = False
    ) -> K3sServerHost:
        """The K3s servers; `session_manager`: remote shells through the cloud's session service."""
        ...

    def gpu_pool(
        self,
        name: str,
        network: Any,
        join: K3sAgentJoin,
        args: GpuNodePoolArgs,
        *,
        session_manager: bool = False,
    ) -> pulumi.Resource: ...
    def spot_termination_handler(self, name: str, provider: k8s.Provider) -> pulumi.Resource | None: ...

    # --- clusters spanning clouds: static node addresses and the firewall openings between clouds
    public_ipv4_usd_per_hour: float
    """Price of one static public IPv4 address, reserved or in use (the plan's cost line)."""
    public_ipv4_price_source: str
    """Where that price comes from, and when it was read."""
    cross_cloud_servers_unavailable: str | None
    """Why this cloud cannot host the servers of a cluster with pools in other clouds; None where it can."""
    internet_path_mtu: int
    """MTU of a node's packets to the internet (the WireGuard overlay subtracts its overhead from the
    smallest of the cluster's clouds)."""
    max_node_addresses: int | None
    """Most static addresses one pool reserves here (the config refuses a larger `max`); None: no limit."""

    def reserved_addresses(self, count: int) -> int:
        """How many addresses are paid for when a pool reserves `count` (a prefix rounds up). Pure."""
        ...

    def reserve_node_addresses(self, name: str, network: Any, count: int) -> NodeAddresses:
        """`count` static public addresses for pool `name`, tagged for it, before its nodes exist."""
        ...

    def admit_peers(self, name: str, network: Any, peers: PeerRanges) -> list[pulumi.Resource]:
        """Open `network`'s firewall for `PEER_PORTS` from exactly `peers` (after every address exists)."""
        ...

    # --- model store: the cloud's shared file system for weights (None: the cloud has none yet)
    model_store_kind: str | None
    """The `modelStore.kind` of this cloud's own store (`efs`, `filestore`), or None."""

    def model_store(
        self,
        name: str,
        network: Any,
        pools: Sequence[pulumi.Resource],
        provider: k8s.Provider,
        namespace: pulumi.Input[str],
        *,
        size_gib: int,
        throughput_mode: str,
        provisioned_mibps: float,
    ) -> pulumi.Output[str]:
        """Build the store for the cluster's nodes; returns the name of its ReadWriteMany claim."""
        ...

    # --- serving image registry (None: the cloud has none yet)
    image_registry_unavailable: str | None
    """Why `image_registry` builds nothing on this cloud yet; None where it does. The config
    refuses `images.vllm: build` with this reason."""

    def image_registry(self, name: str, pools: Sequence[pulumi.Resource]) -> ImageRegistry | None:
        """A private repository for the serving image; the nodes of `pools` may pull from exactly
        that repository and nothing else."""
        ...

    def model_store_cost(
        self,
        throughput_mode: str,
        stored_gb: float,
        read_gb_per_month: float,
        written_gb_per_month: float,
        provisioned_mibps: float,
        *,
        size_gib: int | None = None,
    ) -> dict[str, float]:
        """Monthly cost by part (`monthly_usd` the total); `size_gib` is the store's configured size,
        which stores billed by provisioned capacity price."""
        ...

    def cluster_autoscaler(
        self,
        cluster_name: str,
        servers: K3sServerHost,
        provider: k8s.Provider,
        pools: Sequence[ScalablePool],
        *,
        idle_s: int,
    ) -> pulumi.Resource | None:
        """cluster-autoscaler with this cloud's provider and group discovery, resizing `pools`."""
        ...

    def region(self) -> str | None:
        """The region of the running Pulumi program (its provider config), if set."""
        ...

    def known_regions(self) -> Collection[str]:
        """Every region name the config accepts for `region_key` (pure)."""
        ...

    # --- the offline plan's answers for this cloud's provider functions and computed outputs
    plan_invokes: Mapping[str, Callable[[Mapping[str, Any]], dict[str, Any]]]
    plan_outputs: Mapping[str, Callable[[str], dict[str, Any]]]

    def plan_default_outputs(
        self, type_token: str, name: str, inputs: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Outputs the cloud computes for a resource without its own `plan_outputs` entry."""
        ...

    # --- live account checks and prices (optional SDK, imported lazily)
    def preflight_wanted(self, environ: Mapping[str, str]) -> bool: ...
    def preflight(self, region: str, instance_types: Sequence[str]) -> dict[str, Any]: ...
    def credentials_available(self) -> bool: ...
    def refresh_prices(self, regions: Sequence[str], instance_types: Sequence[str] | None) -> list[Any]: ...


class NoModelStore:
    """The model-store part of a kit whose cloud has no shared file system built yet: the config
    refuses `modelStore.kind` of that cloud's own kind, and `nfs`, `pvc` or `none` still work."""

    model_store_kind: str | None = None
    display_name: str

    def model_store(
        self,
        name: str,
        network: Any,
        pools: Sequence[pulumi.Resource],
        provider: k8s.Provider,
        namespace: pulumi.Input[str],
        *,
        size_gib: int,
        throughput_mode: str,
        provisioned_mibps: float,
    ) -> pulumi.Output[str]:
        raise NotImplementedError(
            f"no model store on {self.display_name} yet: set llmops:modelStore to kind nfs (an NFS export "
            "the nodes reach), pvc (an existing ReadWriteMany claim) or none"
        )

    def model_store_cost(
        self,
        throughput_mode: str,
        stored_gb: float,
        read_gb_per_month: float,
        written_gb_per_month: float,
        provisioned_mibps: float,
        *,
        size_gib: int | None = None,
    ) -> dict[str, float]:
        return {}


def kit(cloud: Cloud | str) -> CloudKit:
    """The kit of `cloud` (imported on first use)."""
    spec = _KITS[Cloud(cloud)]
    module, _, attribute = spec.partition(":")
    return getattr(importlib.import_module(module), attribute)


def all_kits() -> list[CloudKit]:
    return [kit(cloud) for cloud in _KITS]


def registered_clouds() -> list[Cloud]:
    return list(_KITS)

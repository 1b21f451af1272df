"""`GcpNetwork`: a VPC for a K3s cluster, one subnetwork per region, firewall rules for K3s only."""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
from llmops.components.k3s.render import API_PORT, FlannelBackend
from llmops.components.netguard import DEFAULT_MAX_PUBLIC_SHARE, range_problems

KUBELET_PORT = 10250
FLANNEL_VXLAN_PORT = 8472
WIREGUARD_PORTS = (51820, 51821)  # IPv4 and IPv6 tunnels of K3s's wireguard-native backend
ETCD_PORTS = (2379, 2380)  # client and peer, between servers only
# K3s's default pod and service ranges; the VPC's subnetworks must not overlap them.
K3S_CLUSTER_CIDR = "10.42.0.0/16"
K3S_SERVICE_CIDR = "10.43.0.0/16"
# GCP reserves the first two and the last two addresses of every subnetwork.
_GCP_RESERVED_LOW = 2
SERVER_HOST_OFFSET = 10
"""Servers take fixed internal addresses from the 10th host of their subnetwork on."""

# Monthly prices for the egress choice (cloud.google.com/vpc/network-pricing: "Cloud NAT
# pricing" and "External IP address pricing", list prices in us-central1 as of 2025).
HOURS_PER_MONTH = 730.0
NAT_GATEWAY_USD_PER_VM_HOUR = 0.0014
"""Cloud NAT: per VM using the gateway, up to 32 VMs; above that a flat 0.044 $/h per gateway."""
NAT_GATEWAY_MAX_USD_PER_HOUR = 0.044
NAT_DATA_USD_PER_GIB = 0.045
"""Cloud NAT data processing, both directions."""
EXTERNAL_IP_USD_PER_HOUR = 0.005
"""An in-use external IPv4 address on a standard VM."""
EXTERNAL_IP_SPOT_USD_PER_HOUR = 0.0025
"""An in-use external IPv4 address on a spot VM."""


class Egress(enum.Enum):
    """How the GPU nodes reach the internet (images, K3s releases, the model hub)."""

    EXTERNAL_IPS = "external-ips"
    """Each node gets an ephemeral external IPv4 (0.005 $/h, 0.0025 $/h on spot); needed for
    WireGuard between clouds, where peers dial the node's public address. Inbound is still
    only what the firewall opens."""
    CLOUD_NAT = "cloud-nat"
    """Nodes keep only internal addresses and leave through a Cloud NAT gateway per region
    (0.0014 $/h per VM up to 32 VMs, plus 0.045 $/GiB processed); nothing on the internet can
    address them. Google APIs (Secret Manager) go through Private Google Access."""


def egress_usd_per_month(egress: Egress, *, nodes: int, spot_nodes: int = 0, nat_gib: float = 0.0) -> float:
    """Monthly cost of the egress choice for `nodes` VMs (of which `spot_nodes` spot), list prices."""
    if egress is Egress.EXTERNAL_IPS:
        standard = nodes - spot_nodes
        return HOURS_PER_MONTH * (
            standard * EXTERNAL_IP_USD_PER_HOUR + spot_nodes * EXTERNAL_IP_SPOT_USD_PER_HOUR
        )
    hourly = (
        min(nodes * NAT_GATEWAY_USD_PER_VM_HOUR, NAT_GATEWAY_MAX_USD_PER_HOUR)
        if nodes <= 32
        else NAT_GATEWAY_MAX_USD_PER_HOUR
    )
    return HOURS_PER_MONTH * hourly + nat_gib * NAT_DATA_USD_PER_GIB


class NetworkArgsError(ValueError):
    """Bad `GcpNetworkArgs`, all problems in one message."""


@dataclass(kw_only=True)
class GcpNetworkArgs:
    """Inputs of `GcpNetwork`."""

    api_allowed_cidrs: Sequence[str]
    """IPv4 ranges that may reach the Kubernetes API on 6443 (your office, CI); required, no default."""
    regions: Sequence[str] = ("us-central1",)
    """Regions with nodes; one subnetwork each, the first hosts the servers. Default: us-central1."""
    network_cidr: str = "10.30.0.0/16"
    """Range the subnetworks are cut from; default: 10.30.0.0/16, clear of K3s's 10.42/16 and 10.43/16."""
    subnet_prefix: int = 20
    """Size of each region's subnetwork; default: /20 (4,092 usable addresses)."""
    egress: Egress = Egress.EXTERNAL_IPS
    """Internet access of the nodes; default: external IPs (cheaper than NAT below about 3 nodes
    per region, and what WireGuard between clouds needs). See `Egress` for the prices."""
    flannel_backend: FlannelBackend = FlannelBackend.VXLAN
    """Pod network between nodes; decides which overlay port is opened. Default: VXLAN."""
    wireguard_peer_cidrs: Sequence[str] = ()
    """Other clouds' node addresses allowed to reach WireGuard UDP; default: none (one cloud)."""
    allow_public_api: bool = False
    """Let `api_allowed_cidrs` cover more than `max_public_share` of the internet; default: refused."""
    max_public_share: float = DEFAULT_MAX_PUBLIC_SHARE
    """Largest share of the public IPv4 space the API ranges may cover together."""


def subnet_cidrs(network_cidr: str, count: int, prefix: int) -> list[str]:
    """The first `count` /`prefix` blocks of `network_cidr`, one per region, in address order."""
    blocks = ipaddress.ip_network(network_cidr, strict=True).subnets(new_prefix=prefix)
    return [str(next(blocks)) for _ in range(count)]


def server_address(subnet_cidr: str, index: int) -> str:
    """Fixed internal address of server `index` in its subnetwork, clear of GCP's reserved ones."""
    subnet = ipaddress.ip_network(subnet_cidr, strict=True)
    offset = SERVER_HOST_OFFSET + index
    if offset < _GCP_RESERVED_LOW or offset >= subnet.num_addresses - 2:
        raise ValueError(f"subnetwork {subnet_cidr} has no host number {offset} for a server")
    return str(subnet.network_address + offset)


def validate_network_args(args: GcpNetworkArgs, *, path: str = "args") -> list[str]:
    problems: list[str] = []
    try:
        network = ipaddress.ip_network(args.network_cidr, strict=True)
    except ValueError as exc:
        network = None
        problems.append(
            f"{path}.network_cidr: {args.network_cidr!r} is not a network address ({exc}); "
            "write e.g. '10.30.0.0/16'"
        )
    if network is not None and not isinstance(network, ipaddress.IPv4Network):
        problems.append(
            f"{path}.network_cidr: {args.network_cidr!r} is IPv6; use an IPv4 range such as '10.30.0.0/16'"
        )
    elif isinstance(network, ipaddress.IPv4Network):
        if not network.is_private:
            problems.append(
                f"{path}.network_cidr: {args.network_cidr!r} is not a private range; use one inside "
                "10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16"
            )
        for what, k3s_range in (("pod", K3S_CLUSTER_CIDR), ("service", K3S_SERVICE_CIDR)):
            if network.overlaps(ipaddress.ip_network(k3s_range)):
                problems.append(
                    f"{path}.network_cidr: {args.network_cidr!r} overlaps K3s's {what} range {k3s_range}; "
                    "pick another range, e.g. '10.30.0.0/16'"
                )
        if not network.prefixlen <= args.subnet_prefix <= 29:
            problems.append(
                f"{path}.subnet_prefix: /{args.subnet_prefix} does not fit inside {args.network_cidr}; "
                f"use /{network.prefixlen} to /29"
            )
        elif 2 ** (args.subnet_prefix - network.prefixlen) < len(args.regions):
            problems.append(
                f"{path}.subnet_prefix: {len(args.regions)} subnetworks of /{args.subnet_prefix} "
                f"do not fit in {args.network_cidr}; use a longer prefix or a larger range"
            )
    if not args.regions:
        problems.append(f"{path}.regions: [] is empty; name at least one region, e.g. ['us-central1']")
    if len(set(args.regions)) != len(args.regions):
        problems.append(f"{path}.regions: {list(args.regions)!r} names a region twice; remove the repeat")
    # Address arithmetic, not string compares (components/netguard.py, shared with every cloud):
    # 0.0.0.0/1 + 128.0.0.0/1 is the internet too.
    guarded = range_problems(
        f"{path}.api_allowed_cidrs",
        list(args.api_allowed_cidrs),
        max_public_share=args.max_public_share,
        allow_public=args.allow_public_api,
        open_key="allow_public_api",
    ) + range_problems(
        f"{path}.wireguard_peer_cidrs",
        list(args.wireguard_peer_cidrs),
        what="the WireGuard overlay",
        max_public_share=args.max_public_share,
        open_key=None,
    )
    problems += [str(problem) for problem in guarded]
    if args.wireguard_peer_cidrs and args.flannel_backend is not FlannelBackend.WIREGUARD_NATIVE:
        problems.append(
            f"{path}.wireguard_peer_cidrs: set while flannel_backend is "
            f"{args.flannel_backend.value!r}; use FlannelBackend.WIREGUARD_NATIVE for nodes in other clouds"
        )
    if args.flannel_backend is FlannelBackend.WIREGUARD_NATIVE and args.egress is Egress.CLOUD_NAT:
        problems.append(
            f"{path}.egress: 'cloud-nat' leaves the nodes without a public address, but WireGuard peers in "
            "other clouds dial it; use Egress.EXTERNAL_IPS with wireguard-native"
        )
    return problems


class GcpNetwork(pulumi.ComponentResource):
    """Custom-mode VPC, a subnetwork per region, firewall rules by network tag. No inbound SSH."""

    network: gcp.compute.Network
    """The VPC (escape hatch: peerings, extra rules)."""
    network_id: pulumi.Output[str]
    regions: list[str]
    subnet_cidrs: dict[str, str]
    """Region -> subnetwork range, known before deployment (servers take fixed addresses from it)."""
    subnetwork_ids: dict[str, pulumi.Output[str]]
    egress: Egress
    node_tag: str
    """Network tag of every node (servers and agents): kubelet and overlay between nodes."""
    server_tag: str
    """Network tag of the servers: API from the nodes and the allowed ranges, etcd between servers."""
    firewalls: list[gcp.compute.Firewall]
    agent_tags: tuple[str, ...] = ()
    """Extra network tags of the GPU agents (`peers.admit_peers` targets the kubelet rule with one)."""

    def __init__(self, name: str, args: GcpNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        problems = validate_network_args(args)
        if problems:
            raise NetworkArgsError(f"GcpNetwork {name!r}:\n" + "\n".join(f"  - {p}" for p in problems))
        super().__init__("llmops:gcp:GcpNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.regions = list(args.regions)
        self.egress = args.egress
        self.node_tag = f"{name}-node"
        self.server_tag = f"{name}-server"
        self.subnet_cidrs = dict(
            zip(
                self.regions,
                subnet_cidrs(args.network_cidr, len(self.regions), args.subnet_prefix),
                strict=True,
            )
        )

        self.network = gcp.compute.Network(
            f"{name}-vpc",
            auto_create_subnetworks=False,
            routing_mode="REGIONAL",
            description=f"llmops K3s cluster network {name}",
            opts=child,
        )
        self.network_id = self.network.id
        self.subnetwork_ids = {}
        for region, cidr in self.subnet_cidrs.items():
            subnetwork = gcp.compute.Subnetwork(
                f"{name}-{region}",
                region=region,
                network=self.network.id,
                ip_cidr_range=cidr,
                # Secret Manager and the image registries without an external address (Cloud NAT mode).
                private_ip_google_access=True,
                opts=child,
            )
            self.subnetwork_ids[region] = subnetwork.id
            if args.egress is Egress.CLOUD_NAT:
                router = gcp.compute.Router(
                    f"{name}-{region}-router", region=region, network=self.network.id, opts=child
                )
                gcp.compute.RouterNat(
                    f"{name}-{region}-nat",
                    router=router.name,
                    region=region,
                    nat_ip_allocate_option="AUTO_ONLY",
                    source_subnetwork_ip_ranges_to_nat="LIST_OF_SUBNETWORKS",
                    subnetworks=[
                        gcp.compute.RouterNatSubnetworkArgs(
                            name=subnetwork.id, source_ip_ranges_to_nats=["ALL_IP_RANGES"]
                        )
                    ],
                    opts=child,
                )

        def rule(
            suffix: str,
            description: str,
            protocol: str,
            ports: Sequence[str],
            *,
            target: str,
            source_tags: Sequence[str] = (),
            source_ranges: Sequence[str] = (),
        ) -> gcp.compute.Firewall:
            return gcp.compute.Firewall(
                f"{name}-{suffix}",
                network=self.network.id,
                description=description,
                direction="INGRESS",
                allows=[gcp.compute.FirewallAllowArgs(protocol=protocol, ports=list(ports))],
                source_tags=list(source_tags) or None,
                source_ranges=list(source_ranges) or None,
                target_tags=[target],
                opts=child,
            )

        if args.flannel_backend is FlannelBackend.WIREGUARD_NATIVE:
            overlay_ports = [f"{WIREGUARD_PORTS[0]}-{WIREGUARD_PORTS[1]}"]
            overlay_what = "K3s WireGuard overlay"
        else:
            overlay_ports = [str(FLANNEL_VXLAN_PORT)]
            overlay_what = "K3s flannel VXLAN overlay"
        nodes = [self.node_tag]
        self.firewalls = [
            rule(
                "kubelet",
                "kubelet (logs, exec, metrics) between nodes",
                "tcp",
                [str(KUBELET_PORT)],
                target=self.node_tag,
                source_tags=nodes,
            ),
            rule(
                "overlay",
                f"{overlay_what} between nodes",
                "udp",
                overlay_ports,
                target=self.node_tag,
                source_tags=nodes,
            ),
            rule(
                "api-nodes",
                "Kubernetes API from the cluster's nodes",
                "tcp",
                [str(API_PORT)],
                target=self.server_tag,
                source_tags=nodes,
            ),
            rule(
                "etcd",
                "embedded etcd between servers",
                "tcp",
                [f"{ETCD_PORTS[0]}-{ETCD_PORTS[1]}"],
                target=self.server_tag,
                source_tags=[self.server_tag],
            ),
        ]
        if args.api_allowed_cidrs:
            self.firewalls.append(
                rule(
                    "api-allowed",
                    "Kubernetes API from the stack's allowed ranges",
                    "tcp",
                    [str(API_PORT)],
                    target=self.server_tag,
                    source_ranges=args.api_allowed_cidrs,
                )
            )
        if args.wireguard_peer_cidrs:
            self.firewalls.append(
                rule(
                    "wireguard-peers",
                    "K3s WireGuard overlay from nodes in other clouds",
                    "udp",
                    [f"{WIREGUARD_PORTS[0]}-{WIREGUARD_PORTS[1]}"],
                    target=self.node_tag,
                    source_ranges=args.wireguard_peer_cidrs,
                )
            )
        self.register_outputs(
            {"networkId": self.network.id, "subnetworkIds": self.subnetwork_ids, "nodeTag": self.node_tag}
        )

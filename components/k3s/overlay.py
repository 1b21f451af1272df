"""The pod network of a cluster whose nodes span clouds: WireGuard between public addresses. Pure Python.

Every node of such a cluster reaches every other one at a static public IPv4 address it knows
in advance (K3s's maintainers: a wireguard-native node "needs to know its public IP, and the IP
should be static", k3s-io/k3s#9535; k3s-io/k3s#5717). The servers set `flannel-external-ip`, so
flannel's WireGuard peers are those public addresses even between nodes of one cloud.

MTU: flannel's WireGuard backend gives its device the backend's `MTU` (by default the node's
uplink MTU) minus 80 bytes (flannel `pkg/backend/wireguard/wireguard_network.go`, `overhead = 80`):
the worst case of an IPv6 outer header (40) + UDP (8) + WireGuard's data header (16: type,
receiver index, counter) and its 16-byte Poly1305 tag, the same budget `wg-quick` leaves
(1500 - 80 = 1420; over IPv4 the overhead is 60). The uplink MTU is not the path MTU between
clouds: a machine may use jumbo frames inside its own network and still leave it at 1500, and
some networks default below 1500. So the backend is told the smallest internet path MTU of the
clouds in use (each kit's `internet_path_mtu`), and pods get that minus 80.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WIREGUARD_PORT = 51820
"""UDP port of flannel's IPv4 WireGuard device (51821 is the IPv6 one, unused here)."""
WIREGUARD_OVERHEAD = 80
"""Bytes flannel subtracts from the backend MTU for its WireGuard device (see the module text)."""
PATH_MTU = 1500
"""Ethernet's; a cluster's overlay takes the smallest `internet_path_mtu` of its clouds instead."""
CLUSTER_CIDR = "10.42.0.0/16"
"""Pod range (K3s's default, written out: every cloud's network stays clear of it)."""
SERVICE_CIDR = "10.43.0.0/16"
"""Service range (K3s's default, written out)."""
KEEPALIVE_S = 25
"""WireGuard persistent keepalive, as K3s's own wireguard-native template sets it."""
FLANNEL_CONF_PATH = "/etc/llmops/flannel-net-conf.json"
"""Where the node's flannel network config lands; K3s reads it through `flannel-conf`."""


@dataclass(frozen=True, kw_only=True)
class Overlay:
    """How nodes of a cross-cloud cluster join the pod network; the same on every node but the claim."""

    path_mtu: int = PATH_MTU
    cluster_cidr: str = CLUSTER_CIDR
    service_cidr: str = SERVICE_CIDR
    address_set: str = ""
    """Name of the reserved public addresses this node claims at boot; empty where the cloud
    assigns one from the set itself (or the node is a server with its own address)."""
    claim_script: Path | None = None
    """The cloud's `cloud_claim_address` fragment, appended to its bootstrap fragment."""
    native_address_pool: Any = None
    """A cloud resource id the machines take their public address from natively (a prefix)."""
    grants: tuple[Any, ...] = ()
    """What the pool's nodes need to claim their addresses (the kit applies them to the pool)."""

    @property
    def pod_mtu(self) -> int:
        return self.path_mtu - WIREGUARD_OVERHEAD

    def net_conf(self) -> str:
        """flannel's net-conf.json: K3s's wireguard-native settings plus the backend MTU."""
        document = {
            "Network": self.cluster_cidr,
            "EnableIPv4": True,
            "EnableIPv6": False,
            "Backend": {
                "Type": "wireguard",
                "PersistentKeepaliveInterval": KEEPALIVE_S,
                "Mode": "separate",
                "MTU": self.path_mtu,
            },
        }
        return json.dumps(document, indent=2) + "\n"

    def k3s_settings(self, role: str) -> dict[str, Any]:
        """Keys every node's config.yaml gains (servers also the cluster-wide ranges)."""
        settings: dict[str, Any] = {"flannel-conf": FLANNEL_CONF_PATH}
        if role == "server":
            settings.update(
                {
                    "flannel-external-ip": True,
                    "cluster-cidr": self.cluster_cidr,
                    "service-cidr": self.service_cidr,
                }
            )
        return settings

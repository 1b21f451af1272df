"""One K3s cluster whose GPU pools span clouds: the order the clouds' parts are built in.

Servers in `cluster.cloud`, pools in any cloud, every node at a static public address known in
advance (docs/decisions/130-static-node-addresses.md), WireGuard between all of them
(components/k3s/overlay.py). Each kit builds its own cloud's parts; this module only names the
order, and no cloud:

1. a network per used cloud (its own rules, plus room for the peers' openings);
2. each pool's static addresses, one per node it can have (`max`);
3. the K3s servers (their static addresses come with them);
4. each cloud's firewall opened to exactly every node address of the cluster
   (`components.cloud.PEER_PORTS`), before any agent boots;
5. the pools, each told its address set.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pulumi

if TYPE_CHECKING:
    from llmops.components.cloud import NodeAddresses
    from llmops.components.k3s import K3sCluster
    from llmops.components.k3s.host import K3sServerHost
    from llmops.infra.config import K3sClusterConfig, PoolConfig, StackConfig


def spans_clouds(config: StackConfig) -> bool:
    """Whether the stack builds a K3s cluster with a pool outside the servers' cloud."""
    from llmops.infra.config import K3sClusterConfig

    cluster = config.cluster
    return isinstance(cluster, K3sClusterConfig) and any(p.cloud is not cluster.cloud for p in config.pools)


def used_clouds(config: StackConfig) -> list[str]:
    """The servers' cloud first, then each pool's in the stack's order."""
    from llmops.infra.config import K3sClusterConfig

    clouds: list[str] = [config.cluster.cloud.value] if isinstance(config.cluster, K3sClusterConfig) else []
    for pool in config.pools:
        if pool.cloud.value not in clouds:
            clouds.append(pool.cloud.value)
    return clouds


@dataclass
class SpanningCluster:
    k3s: K3sCluster
    servers: K3sServerHost
    networks: dict[str, Any]
    """Cloud -> its network."""
    pools: list[pulumi.Resource]
    addresses: dict[str, NodeAddresses]
    """Pool name -> its reserved node addresses."""


def build(
    config: StackConfig, cluster: K3sClusterConfig, stack: str, *, autoscaled: Collection[str] = ()
) -> SpanningCluster:
    """Networks, node addresses, peer rules, servers and pools of every used cloud; `autoscaled`:
    the pools cluster-autoscaler resizes."""
    from llmops.components.cloud import PeerRanges, kit
    from llmops.components.k3s import K3S_VERSION, FlannelBackend, K3sCluster, K3sClusterArgs
    from llmops.components.k3s.overlay import Overlay
    from llmops.components.pools import GpuNodePoolArgs
    from llmops.infra.config.fields import network_spec, pool_args

    spec = dataclasses.replace(network_spec(cluster), cross_cloud=True)
    networks = {
        cloud: kit(cloud).network(stack if cloud == cluster.cloud.value else f"{stack}-{cloud}", spec)
        for cloud in used_clouds(config)
    }
    addresses = {
        pool.name: kit(pool.cloud).reserve_node_addresses(pool.name, networks[pool.cloud.value], pool.max)
        for pool in config.pools
    }
    overlay = Overlay(path_mtu=min(kit(cloud).internet_path_mtu for cloud in networks))
    servers = kit(cluster.cloud).server_host(
        networks[cluster.cloud.value], cluster.server_instance_type, session_manager=cluster.session_manager
    )
    k3s = K3sCluster(
        stack,
        K3sClusterArgs(
            host=servers,
            server_count=cluster.servers,
            flannel_backend=FlannelBackend.WIREGUARD_NATIVE,
            k3s_version=cluster.version or K3S_VERSION,
            overlay=overlay,
        ),
    )
    peers = PeerRanges(
        servers=[address.apply(lambda ip: f"{ip}/32") for address in k3s.server_external_addresses],
        agents=[cidr for reserved in addresses.values() for cidr in reserved.addresses],
    )
    admitted: list[pulumi.Resource] = []
    for cloud, network in networks.items():
        admitted += kit(cloud).admit_peers(f"{stack}-{cloud}-peers", network, peers)
    pools = []
    for pool in config.pools:
        reserved = addresses[pool.name]
        join = dataclasses.replace(
            k3s.agent_join,
            overlay=dataclasses.replace(
                overlay,
                address_set=reserved.address_set,
                claim_script=reserved.claim_script,
                native_address_pool=reserved.native_pool,
                grants=tuple(reserved.grants),
            ),
        )
        pools.append(
            kit(pool.cloud).gpu_pool(
                pool.name,
                networks[pool.cloud.value],
                join,
                GpuNodePoolArgs(**pool_args(pool), node_autoscaled=pool.name in autoscaled),
                session_manager=cluster.session_manager,
            )
        )
    return SpanningCluster(k3s=k3s, servers=servers, networks=networks, pools=pools, addresses=addresses)


def autoscaled_pools(config: StackConfig) -> Sequence[PoolConfig]:
    """The pools cluster-autoscaler resizes: those in the servers' cloud (one provider per instance,
    running under the servers' own identity); pools elsewhere keep their size and schedules."""
    from llmops.infra.config import K3sClusterConfig

    cluster = config.cluster
    if not isinstance(cluster, K3sClusterConfig):
        return []
    return [pool for pool in config.pools if pool.cloud is cluster.cloud]


def address_export(config: StackConfig, spanning: SpanningCluster) -> dict[str, Any]:
    """The `nodeAddresses` stack output: what the addresses cost, and each group's ranges (what
    every cloud's firewall admits)."""
    cidrs: dict[str, Any] = {
        "servers": [
            address.apply(lambda ip: f"{ip}/32") for address in spanning.k3s.server_external_addresses
        ]
    }
    cidrs.update({pool: list(reserved.addresses) for pool, reserved in spanning.addresses.items()})
    return {**address_summary(config), "cidrs": cidrs}


def autoscaling_summary(config: StackConfig) -> dict[str, Any]:
    """The `nodeAutoscaling` stack output of a cluster spanning clouds: which pools cluster-autoscaler
    resizes and which keep their size and schedules (docs/multicloud.md)."""
    from llmops.infra.program import node_autoscaling_wanted

    autoscaled = [pool.name for pool in autoscaled_pools(config)] if node_autoscaling_wanted(config) else []
    return {
        "autoscaled": autoscaled,
        "fixed": [pool.name for pool in config.pools if pool.name not in autoscaled],
        "why": "cluster-autoscaler runs one cloud provider, with the servers' cloud identity; pools in "
        "other clouds keep min/desired and their schedules",
    }


def address_summary(config: StackConfig) -> dict[str, Any]:
    """What the static node addresses cost: one per server and one per pool node at `max` (pure)."""
    from llmops.components.cloud import kit
    from llmops.infra.config import K3sClusterConfig

    cluster = config.cluster
    if not isinstance(cluster, K3sClusterConfig):
        return {}
    rows: list[dict[str, Any]] = []
    server_kit = kit(cluster.cloud)
    rows.append(
        {
            "group": "servers",
            "cloud": cluster.cloud.value,
            "addresses": server_kit.reserved_addresses(cluster.servers),
            "usdPerAddressHour": server_kit.public_ipv4_usd_per_hour,
            "source": server_kit.public_ipv4_price_source,
        }
    )
    for pool in config.pools:
        pool_kit = kit(pool.cloud)
        rows.append(
            {
                "group": pool.name,
                "cloud": pool.cloud.value,
                "addresses": pool_kit.reserved_addresses(pool.max),
                "usdPerAddressHour": pool_kit.public_ipv4_usd_per_hour,
                "source": pool_kit.public_ipv4_price_source,
            }
        )
    hourly = sum(row["addresses"] * row["usdPerAddressHour"] for row in rows)
    return {
        "rows": rows,
        "addresses": sum(row["addresses"] for row in rows),
        "usdPerHour": round(hourly, 4),
        "usdPerMonth": round(hourly * HOURS_PER_MONTH, 2),
        "note": "reserved whether or not a node holds one: every pool's max is paid around the clock",
    }


HOURS_PER_MONTH = 720
"""The plan's 30-day month."""

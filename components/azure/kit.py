"""The Azure kit: what `llmops.components.cloud.kit("azure")` hands the generic layers.

Pure at import time: pulumi_azure_native loads inside the methods that build resources.
"""

from __future__ import annotations

import dataclasses
import math
import weakref
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmops.components.azure import machines, plan_mocks
from llmops.components.azure.checks import (
    BOOTSTRAP,
    INSTANCE_TYPE_EXAMPLE,
    server_problems,
    validate_azure_pool,
)
from llmops.components.azure.network_args import AzureNetworkArgs, validate_network_args
from llmops.components.azure.pull_credentials import acr_pull_unavailable
from llmops.components.cloud import (
    CloudKit,
    GpuMachine,
    ImageRegistry,
    NetworkSpec,
    NodeAddresses,
    PeerRanges,
    ScalablePool,
)
from llmops.components.errors import Problem
from llmops.components.pools import GpuNodePoolArgs

if TYPE_CHECKING:
    import pulumi
    import pulumi_kubernetes as k8s
    from llmops.components.azure.network import AzureNetwork
    from llmops.components.k3s.cluster import K3sAgentJoin
    from llmops.components.k3s.host import K3sServerHost

_BUILT_POOLS: weakref.WeakKeyDictionary[Any, dict[str, Any]] = weakref.WeakKeyDictionary()
"""The GPU pools built on each network, so the autoscaler's roles can name their scale sets."""


MAX_PREFIX_ADDRESSES = 16
"""A Public IP Prefix holds /28 (16) to /31 (2) IPv4 addresses."""


def prefix_length(count: int) -> int:
    """The smallest Public IP Prefix holding `count` addresses (at least /31, at most /28)."""
    return 32 - max(1, math.ceil(math.log2(max(count, 2))))


class AzureKit:
    cloud = "azure"
    display_name = "Azure"
    region_key = "azure-native:location"
    default_region = plan_mocks.DEFAULT_REGION
    default_server_instance_type = "Standard_D2s_v5"
    """Regular-priority CPU size of the server: 2 vCPU, 8 GiB."""
    instance_type_example = INSTANCE_TYPE_EXAMPLE
    bootstrap = BOOTSTRAP
    image_ships_gpu_driver = False
    """The pools boot Canonical's Ubuntu image; the GPU operator installs the driver (docs/azure.md)."""
    node_autoscaler_unavailable: str | None = None
    credentials_hint = "none needed: the Azure Retail Prices API is public"
    plan_invokes: Mapping[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = plan_mocks.INVOKES
    plan_outputs: Mapping[str, Callable[[str], dict[str, Any]]] = plan_mocks.COMPUTED_OUTPUTS

    # --- machines
    def gpu_of(self, instance_type: str) -> str | None:
        return machines.gpu_of(instance_type)

    def gpu_families(self) -> Mapping[str, str]:
        return machines.gpu_families()

    def machine(self, instance_type: str) -> GpuMachine | None:
        return machines.gpu_machines().get(instance_type)

    # --- checks
    def validate_pool(
        self, name: str, args: GpuNodePoolArgs, *, path: str, keys: Mapping[str, str]
    ) -> list[Problem]:
        return validate_azure_pool(name, args, path=path, keys=keys)

    def validate_network(self, spec: NetworkSpec, *, path: str, keys: Mapping[str, str]) -> list[Problem]:
        return validate_network_args(self._network_args(spec), path=path, keys=keys)

    def validate_servers(self, server_count: int, spec: NetworkSpec, *, path: str) -> list[Problem]:
        return server_problems(server_count, path=path)

    def validate_provider(
        self,
        provider_keys: Mapping[str, Any],
        pools: Mapping[str, GpuNodePoolArgs],
        *,
        keys: Mapping[str, str],
    ) -> list[Problem]:
        """The location must be one the shipped catalog prices (or the plan cannot cost it)."""
        location = provider_keys.get(self.region_key)
        if location is None:
            return []
        priced = machines.priced_regions()
        if location in priced:
            return []
        return [
            Problem(
                self.region_key,
                location,
                "is not a location the Azure price catalog covers",
                f"use one of {', '.join(priced)}, or price it first: "
                f"llmops prices refresh --cloud azure --region {location}",
            )
        ]

    # --- resources
    @staticmethod
    def _network_args(spec: NetworkSpec) -> AzureNetworkArgs:
        return AzureNetworkArgs(
            api_allowed_cidrs=list(spec.api_allowed_cidrs),
            flannel_backend=spec.flannel_backend,
            allow_public_api=spec.allow_public_api,
            max_public_share=spec.max_public_share,
            peer_firewall=spec.cross_cloud,
        )

    def network(self, name: str, spec: NetworkSpec) -> AzureNetwork:
        from llmops.components.azure.network import AzureNetwork

        return AzureNetwork(name, self._network_args(spec))

    def server_host(
        self, network: Any, instance_type: str | None, *, session_manager: bool = False
    ) -> K3sServerHost:
        """`session_manager` has no Azure counterpart here yet (Azure Bastion is not built): the
        servers keep no inbound shell either way."""
        from llmops.components.azure.servers import AzureK3sServers, AzureK3sServersArgs

        return AzureK3sServers(
            AzureK3sServersArgs(
                network=network, instance_type=instance_type or self.default_server_instance_type
            )
        )

    # --- clusters spanning clouds
    public_ipv4_usd_per_hour = 0.006
    public_ipv4_price_source = (
        "azure.microsoft.com/pricing/details/ip-addresses (Public IP Prefix: $0.006 per IP per hour; "
        "a standard static address alone: $0.005); not re-read offline"
    )
    cross_cloud_servers_unavailable: str | None = (
        "the servers' group would need the other clouds' agent addresses before the servers exist "
        "(its rules are inline); Azure runs agents of a cluster spanning clouds, not its servers, "
        "in this version"
    )

    max_node_addresses: int | None = MAX_PREFIX_ADDRESSES
    """A Public IP Prefix holds /28 (16) to /31 (2) IPv4 addresses."""

    def reserved_addresses(self, count: int) -> int:
        return 2 ** (32 - prefix_length(count))

    internet_path_mtu = 1500
    """Azure virtual networks use 1500 (Azure docs, "Configure MTU for virtual machines in Azure")."""

    def reserve_node_addresses(self, name: str, network: Any, count: int) -> NodeAddresses:
        """A Public IP Prefix the pool's scale set takes one address per node from, natively."""
        from llmops.components.azure import peers

        return peers.reserve(name, network, count)

    def admit_peers(self, name: str, network: Any, peers: PeerRanges) -> list[pulumi.Resource]:
        from llmops.components.azure import peers as azure_peers

        return azure_peers.admit(name, network, peers)

    def gpu_pool(
        self,
        name: str,
        network: Any,
        join: K3sAgentJoin,
        args: GpuNodePoolArgs,
        *,
        session_manager: bool = False,
    ) -> pulumi.Resource:
        from llmops.components.azure.gpu_pool import AzureGpuNodePool, AzureGpuNodePoolArgs

        shared = {f.name: getattr(args, f.name) for f in dataclasses.fields(GpuNodePoolArgs)}
        pool = AzureGpuNodePool(name, AzureGpuNodePoolArgs(network=network, join=join, **shared))
        _BUILT_POOLS.setdefault(network, {})[name] = pool
        return pool

    # --- model store: a premium Azure Files NFS share behind a private endpoint
    model_store_kind: str | None = "azurefiles"

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
        """A premium NFS 4.1 share reachable only through a private endpoint in the cluster's subnet;
        `throughput_mode` and `provisioned_mibps` are EFS settings (the config refuses them here: a
        premium share's throughput follows its size)."""
        from llmops.components.azure.model_store import AzureFilesModelStore, AzureFilesModelStoreArgs

        store = AzureFilesModelStore(
            name,
            AzureFilesModelStoreArgs(
                network=network, provider=provider, namespace=namespace, size_gib=size_gib
            ),
        )
        return store.claim_name

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
        """The provisioned share (at least 100 GiB, billed whether used or not), the private endpoint's
        hours and the GB it carries; East US list prices (components/azure/model_store.py)."""
        from llmops.components.azure.model_store import monthly_cost

        provisioned = size_gib if size_gib is not None else max(1, round(stored_gb * 1e9 / 1024**3))
        return monthly_cost(provisioned, read_gb_per_month, written_gb_per_month)

    # --- serving image registry
    image_registry_unavailable: str | None = acr_pull_unavailable()

    def image_registry(self, name: str, pools: Sequence[pulumi.Resource]) -> ImageRegistry | None:
        """An Azure Container Registry in the pools' resource group; their managed identities get AcrPull
        on it and nothing else (components/azure/registry.py)."""
        from llmops.components.azure.gpu_pool import AzureGpuNodePool
        from llmops.components.azure.registry import AzureContainerRegistry

        azure_pools = [pool for pool in pools if isinstance(pool, AzureGpuNodePool)]
        if not azure_pools:
            raise ValueError(
                "the serving image's registry on Azure lives in the GPU pools' resource group; "
                "the stack has no Azure pool"
            )
        network = azure_pools[0].network
        return AzureContainerRegistry(
            name,
            resource_group_name=network.resource_group_name,
            location=network.location,
            subscription_id=network.subscription_id,
            node_principal_ids=[pool.identity.principal_id for pool in azure_pools],
        ).registry_login

    def spot_termination_handler(self, name: str, provider: k8s.Provider) -> pulumi.Resource | None:
        """None: each Spot node runs its own Scheduled Events watcher, and the kubelet's graceful node
        shutdown drains it (components/azure/gpu_pool.py)."""
        return None

    def cluster_autoscaler(
        self,
        cluster_name: str,
        servers: K3sServerHost,
        provider: k8s.Provider,
        pools: Sequence[ScalablePool],
        *,
        idle_s: int,
    ) -> pulumi.Resource | None:
        """cluster-autoscaler's Azure provider on the K3s servers under their managed identity (no
        client secret), discovering the pools' scale sets by tag; the identity may list the
        cluster's resource group and resize exactly these scale sets (components/azure/autoscaler.py)."""
        from llmops.components.addons.cluster_autoscaler import (
            ClusterAutoscaler,
            ClusterAutoscalerArgs,
            NodeGroup,
        )
        from llmops.components.azure.autoscaler import (
            azure_values,
            grant_cluster_autoscaler,
            scale_set_pattern,
        )
        from llmops.components.azure.servers import AzureK3sServers

        if not isinstance(servers, AzureK3sServers) or servers.identity is None:
            raise TypeError(
                "cluster-autoscaler on Azure runs under the identity of AzureK3sServers; create them first"
            )
        network = servers.args.network
        built = _BUILT_POOLS.get(network, {})
        missing = [pool.name for pool in pools if pool.name not in built]
        if missing:
            raise ValueError(
                f"cluster-autoscaler on Azure: pools {', '.join(missing)} were not built by this kit on "
                "the servers' network. Fix: build every Azure pool with kit('azure').gpu_pool first"
            )
        # A new role assignment reaches ARM within minutes; until then the autoscaler's list calls
        # fail and it retries on its next loop (10 s).
        grant_cluster_autoscaler(
            cluster_name,
            network,
            servers.identity.principal_id,
            {pool.name: built[pool.name].scale_set.id for pool in pools},
        )
        groups = [
            NodeGroup(
                pool=pool.name,
                capacity=pool.capacity,
                group_name_pattern=scale_set_pattern(pool.name),
                fallback_pool=pool.fallback_pool,
            )
            for pool in pools
        ]
        return ClusterAutoscaler(
            f"{cluster_name}-autoscaler",
            ClusterAutoscalerArgs(
                provider=provider,
                cluster_name=cluster_name,
                region=self.region() or self.default_region,
                node_groups=groups,
                idle_s=idle_s,
                cloud_values=azure_values(
                    subscription_id=network.subscription_id,
                    resource_group=network.resource_group_name,
                    identity_client_id=servers.identity.client_id,
                ),
            ),
        )

    def known_regions(self) -> Collection[str]:
        from llmops.components.azure.regions import AZURE_REGIONS

        return AZURE_REGIONS

    def region(self) -> str | None:
        import pulumi

        return pulumi.Config("azure-native").get("location")

    # --- the offline plan
    def plan_default_outputs(
        self, type_token: str, name: str, inputs: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return plan_mocks.default_outputs(type_token, name, inputs)

    # --- live account checks and prices
    def preflight_wanted(self, environ: Mapping[str, str]) -> bool:
        return False

    def preflight(self, region: str, instance_types: Sequence[str]) -> dict[str, Any]:
        return {"cloud": self.cloud, "region": region, "checked": False, "reason": "no Azure preflight yet"}

    def credentials_available(self) -> bool:
        # The Retail Prices API is public: refreshing prices needs no credentials.
        return True

    def refresh_prices(self, regions: Sequence[str], instance_types: Sequence[str] | None) -> list[Any]:
        import os

        from llmops.components.azure.lookup import RETAIL_PRICES_URL, refresh_prices

        # LLMOPS_AZURE_PRICES_URL points the refresh at a mirror (or a test's local server).
        base_url = os.environ.get("LLMOPS_AZURE_PRICES_URL", RETAIL_PRICES_URL)
        return list(refresh_prices(regions, instance_types, base_url=base_url))


KIT: CloudKit = AzureKit()
"""Typed as the protocol so the type checker holds the kit to it."""

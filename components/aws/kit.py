"""The AWS kit: what `llmops.components.cloud.kit("aws")` hands the generic layers.

Pure at import time: the provider SDK (pulumi_aws) and boto3 load inside the methods that
need them, so the config layer can check machines and networks without either.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmops.components.aws import machines, plan_mocks
from llmops.components.aws.checks import BOOTSTRAP, INSTANCE_TYPE_EXAMPLE, server_problems, validate_aws_pool
from llmops.components.aws.network_args import AwsNetworkArgs, validate_network_args
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
    from llmops.components.aws.network import AwsNetwork
    from llmops.components.k3s.cluster import K3sAgentJoin
    from llmops.components.k3s.host import K3sServerHost


class AwsKit:
    cloud = "aws"
    display_name = "AWS"
    region_key = "aws:region"
    default_region = plan_mocks.DEFAULT_REGION
    default_server_instance_type = "m7i.large"
    """On-demand CPU type of the servers: 2 vCPU, 8 GiB, room for K3s and the CPU add-ons."""
    instance_type_example = INSTANCE_TYPE_EXAMPLE
    bootstrap = BOOTSTRAP
    image_ships_gpu_driver = True
    """The pools boot the Deep Learning Base OSS AMI, which carries the NVIDIA driver."""
    node_autoscaler_unavailable: str | None = None
    credentials_hint = "a profile or access keys in the environment, as the AWS CLI reads them"
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
        return validate_aws_pool(name, args, path=path, keys=keys)

    def validate_network(self, spec: NetworkSpec, *, path: str, keys: Mapping[str, str]) -> list[Problem]:
        return validate_network_args(self._network_args(spec), path=path, keys=keys)

    def validate_servers(self, server_count: int, spec: NetworkSpec, *, path: str) -> list[Problem]:
        return server_problems(server_count, spec.api_load_balancer, path=path)

    def validate_provider(
        self,
        provider_keys: Mapping[str, Any],
        pools: Mapping[str, GpuNodePoolArgs],
        *,
        keys: Mapping[str, str],
    ) -> list[Problem]:
        """Nothing required: without aws:region the program runs in the provider's default region."""
        del provider_keys, pools, keys
        return []

    # --- resources
    @staticmethod
    def _network_args(spec: NetworkSpec) -> AwsNetworkArgs:
        return AwsNetworkArgs(
            api_allowed_cidrs=list(spec.api_allowed_cidrs),
            flannel_backend=spec.flannel_backend,
            api_load_balancer=spec.api_load_balancer,
            allow_public_api=spec.allow_public_api,
            max_public_share=spec.max_public_share,
            peer_firewall=spec.cross_cloud,
        )

    def network(self, name: str, spec: NetworkSpec) -> AwsNetwork:
        from llmops.components.aws.network import AwsNetwork

        return AwsNetwork(name, self._network_args(spec))

    def server_host(
        self, network: Any, instance_type: str | None, *, session_manager: bool = False
    ) -> K3sServerHost:
        from llmops.components.aws.servers import AwsK3sServers, AwsK3sServersArgs

        return AwsK3sServers(
            AwsK3sServersArgs(
                network=network,
                instance_type=instance_type or self.default_server_instance_type,
                session_manager=session_manager,
            )
        )

    def gpu_pool(
        self,
        name: str,
        network: Any,
        join: K3sAgentJoin,
        args: GpuNodePoolArgs,
        *,
        session_manager: bool = False,
    ) -> pulumi.Resource:
        from llmops.components.aws.gpu_pool import AwsGpuNodePool, AwsGpuNodePoolArgs

        shared = {f.name: getattr(args, f.name) for f in dataclasses.fields(GpuNodePoolArgs)}
        pool = AwsGpuNodePool(
            name,
            AwsGpuNodePoolArgs(network=network, join=join, session_manager=session_manager, **shared),
        )
        if join.overlay is not None and join.overlay.grants:
            from llmops.components.aws import peers

            peers.grant_claim(name, pool.role, join.overlay.grants, pool)
        return pool

    # --- clusters spanning clouds
    public_ipv4_usd_per_hour = 0.005
    public_ipv4_price_source = (
        "aws.amazon.com/vpc/pricing (Public IPv4 address: $0.005 per IP per hour, in use or idle; "
        "charged since 2024-02-01); not re-read offline"
    )
    cross_cloud_servers_unavailable: str | None = None

    max_node_addresses: int | None = None

    def reserved_addresses(self, count: int) -> int:
        return count

    internet_path_mtu = 1500
    """EC2 uses 9001 inside a VPC, but traffic through an internet gateway is limited to 1500
    (EC2 user guide, "Network maximum transmission unit (MTU) for your EC2 instance")."""

    def reserve_node_addresses(self, name: str, network: Any, count: int) -> NodeAddresses:
        """Elastic IPs tagged for the pool; each node associates a free one at boot."""
        from llmops.components.aws import peers

        del network
        return peers.reserve(name, count)

    def admit_peers(self, name: str, network: Any, peers: PeerRanges) -> list[pulumi.Resource]:
        from llmops.components.aws import peers as aws_peers

        return aws_peers.admit(name, network, peers)

    # --- model store
    model_store_kind: str | None = "efs"

    # --- serving image registry
    image_registry_unavailable: str | None = None

    def image_registry(self, name: str, pools: Sequence[pulumi.Resource]) -> ImageRegistry | None:
        """An ECR repository; the GPU pools' node roles may pull from it and no other repository."""
        from llmops.components.aws.gpu_pool import AwsGpuNodePool
        from llmops.components.aws.registry import EcrRegistry

        roles = [pool.role for pool in pools if isinstance(pool, AwsGpuNodePool)]
        return EcrRegistry(name, roles).registry

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
        """EFS, a mount target per subnet, NFS only from the nodes, mounts only by the pools' roles."""
        from llmops.components.aws.gpu_pool import AwsGpuNodePool
        from llmops.components.aws.model_store import AwsModelStore, AwsModelStoreArgs, ThroughputMode

        store = AwsModelStore(
            name,
            AwsModelStoreArgs(
                vpc_id=network.vpc.id,
                subnet_ids=network.subnet_ids,
                nodes_security_group_id=network.nodes_security_group_id,
                node_roles=[pool.role for pool in pools if isinstance(pool, AwsGpuNodePool)],
                provider=provider,
                namespace=namespace,
                size_gib=size_gib,
                throughput_mode=ThroughputMode(throughput_mode),
                provisioned_mibps=provisioned_mibps,
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
        """EFS bills what is stored, not `size_gib`."""
        from llmops.components.aws.model_store import ThroughputMode, monthly_cost

        return monthly_cost(
            ThroughputMode(throughput_mode),
            stored_gb,
            read_gb_per_month,
            written_gb_per_month,
            provisioned_mibps,
        )

    def spot_termination_handler(self, name: str, provider: k8s.Provider) -> pulumi.Resource | None:
        """Spot pools on AWS need the Node Termination Handler: cordon and drain on the two-minute notice."""
        from llmops.components.addons.termination_handler import (
            SpotInterruptionHandler,
            SpotInterruptionHandlerArgs,
        )

        return SpotInterruptionHandler(name, SpotInterruptionHandlerArgs(provider=provider))

    def cluster_autoscaler(
        self,
        cluster_name: str,
        servers: K3sServerHost,
        provider: k8s.Provider,
        pools: Sequence[ScalablePool],
        *,
        idle_s: int,
    ) -> pulumi.Resource | None:
        """cluster-autoscaler on the K3s servers under their instance role (no access keys), finding
        each pool's Auto Scaling group by its discovery tags."""
        from llmops.components.addons.cluster_autoscaler import (
            ClusterAutoscaler,
            ClusterAutoscalerArgs,
            NodeGroup,
            name_pattern,
        )
        from llmops.components.aws.autoscaler import attach_cluster_autoscaler_policy
        from llmops.components.aws.servers import AwsK3sServers

        if not isinstance(servers, AwsK3sServers) or servers.role is None:
            raise TypeError(
                "cluster-autoscaler on AWS runs under the role of AwsK3sServers; create them first"
            )
        attach_cluster_autoscaler_policy(f"{cluster_name}-servers", servers.role, cluster_name)
        groups = [
            # AwsGpuNodePool names its group `<pool>-group`; Pulumi appends a random hex suffix.
            NodeGroup(
                pool=pool.name,
                capacity=pool.capacity,
                group_name_pattern=name_pattern(f"{pool.name}-group"),
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
            ),
        )

    def known_regions(self) -> Collection[str]:
        from llmops.components.aws.regions import AWS_REGIONS

        return AWS_REGIONS

    def region(self) -> str | None:
        import pulumi

        return pulumi.Config("aws").get("region")

    # --- the offline plan
    def plan_default_outputs(
        self, type_token: str, name: str, inputs: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        return plan_mocks.default_outputs(type_token, name, inputs or {})

    # --- live account checks and prices
    def preflight_wanted(self, environ: Mapping[str, str]) -> bool:
        # Only explicit credentials count (keys or a profile in the environment): probing the
        # instance-metadata endpoint from a laptop or CI runner would stall every plan.
        return any(environ.get(key) for key in ("AWS_ACCESS_KEY_ID", "AWS_PROFILE"))

    def preflight(self, region: str, instance_types: Sequence[str]) -> dict[str, Any]:
        from llmops.components.aws.lookup import preflight

        return preflight(region, instance_types).to_json()

    def credentials_available(self) -> bool:
        from llmops.components.aws.lookup import credentials_available

        return credentials_available()

    def refresh_prices(self, regions: Sequence[str], instance_types: Sequence[str] | None) -> list[Any]:
        from llmops.components.aws.lookup import refresh_prices

        return list(refresh_prices(regions, instance_types))


KIT: CloudKit = AwsKit()
"""Typed as the protocol so the type checker holds the kit to it."""

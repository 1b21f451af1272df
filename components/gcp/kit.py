"""The GCP kit: what `llmops.components.cloud.kit("gcp")` hands the generic layers.

Pure at import time: the provider SDK (pulumi_gcp) loads inside the methods that build
resources, so the config layer can check machines, pools and networks without it. The stack's
`gcp:project` and `gcp:region` provider keys say where everything goes; the config layer
refuses a GCP stack without them (`validate_provider`).
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmops.components.cloud import (
    CloudKit,
    GpuMachine,
    ImageRegistry,
    NetworkSpec,
    NodeAddresses,
    PeerRanges,
    ScalablePool,
)
from llmops.components.errors import InputError, Problem, as_problem, field_path, key_path
from llmops.components.gcp import plan_mocks
from llmops.components.gcp.bootstrap import BOOTSTRAP
from llmops.components.gcp.checks import gcp_pool_problems, provider_problems
from llmops.components.gcp.machines import ACCELERATOR_FAMILIES, EXAMPLES, MachineTypeError, gpu_machine
from llmops.components.pools import GpuNodePoolArgs

if TYPE_CHECKING:
    import pulumi
    import pulumi_kubernetes as k8s
    from llmops.components.gcp.network import GcpNetwork, GcpNetworkArgs
    from llmops.components.k3s.cluster import K3sAgentJoin
    from llmops.components.k3s.host import K3sServerHost

DEFAULT_REGION = "us-central1"
BILLING_URL_ENV = "LLMOPS_GCP_BILLING_URL"
"""Points `llmops prices refresh --cloud gcp` at another Cloud Billing endpoint (a proxy, a fake)."""


class GcpKit:
    cloud = "gcp"
    display_name = "GCP"
    region_key = "gcp:region"
    default_region = DEFAULT_REGION
    default_server_instance_type = "e2-standard-2"
    """On-demand CPU type of the servers: 2 vCPU, 8 GiB, room for K3s and the CPU add-ons."""
    instance_type_example = EXAMPLES
    bootstrap = BOOTSTRAP
    image_ships_gpu_driver = True
    """The pools boot a Deep Learning VM image family that carries the NVIDIA driver
    (`llmops.components.gcp.gpu_pool.DLVM_IMAGE_FAMILY`), so the GPU operator installs none."""
    node_autoscaler_unavailable: str | None = None
    """cluster-autoscaler's GCE provider runs on the servers; autoscaled pools are zonal MIGs
    (components/gcp/autoscaler.py)."""
    credentials_hint = "export GOOGLE_API_KEY, an API key restricted to the Cloud Billing API"
    plan_invokes: Mapping[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = plan_mocks.INVOKES
    """The one provider function the GCP components call: the registry push login's token."""
    plan_outputs: Mapping[str, Callable[[str], dict[str, Any]]] = {}
    """Computed outputs need the resource's inputs: see `plan_default_outputs`."""

    # --- machines
    def gpu_of(self, instance_type: str) -> str | None:
        try:
            return gpu_machine(instance_type).gpu
        except MachineTypeError:
            return None

    def gpu_families(self) -> Mapping[str, str]:
        return {**ACCELERATOR_FAMILIES, "n1": "T4 or V100 attached (n1-standard-8+T4x1)"}

    def machine(self, instance_type: str) -> GpuMachine | None:
        try:
            found = gpu_machine(instance_type)
        except MachineTypeError:
            return None
        return GpuMachine(instance_type=instance_type, gpu=found.gpu, gpu_count=found.gpu_count)

    # --- checks
    def validate_pool(
        self, name: str, args: GpuNodePoolArgs, *, path: str, keys: Mapping[str, str]
    ) -> list[Problem]:
        # The region is a provider key: its offering check runs in validate_provider.
        return gcp_pool_problems(name, args, region=None, path=path, keys=keys)

    def validate_provider(
        self,
        provider_keys: Mapping[str, Any],
        pools: Mapping[str, GpuNodePoolArgs],
        *,
        keys: Mapping[str, str],
    ) -> list[Problem]:
        problems = provider_problems(provider_keys)
        region = provider_keys.get(self.region_key)
        if not isinstance(region, str) or region not in self.known_regions():
            return problems  # missing, or an unknown region: reported at the region key itself
        from llmops.components.gcp.offerings import regions_offering, zones_offering

        for path, args in pools.items():
            if not args.instance_types or self.gpu_of(args.instance_types[0]) is None:
                continue  # the pool's own check reports the machine type
            instance_type = args.instance_types[0]
            if not zones_offering(instance_type, region):
                elsewhere = ", ".join(regions_offering(instance_type)[:6])
                problems.append(
                    Problem(
                        key_path(field_path(path, keys, "instance_types"), "[0]"),
                        instance_type,
                        f"is not sold in any zone of {self.region_key} {region!r}",
                        f"pick a region that has it ({elsewhere}) or another machine type",
                    )
                )
        return problems

    def validate_network(self, spec: NetworkSpec, *, path: str, keys: Mapping[str, str]) -> list[Problem]:
        from llmops.components.gcp.network import validate_network_args

        problems = []
        for line in validate_network_args(self._network_args(spec, DEFAULT_REGION), path=path):
            field, _, rest = line.partition(": ")
            name = field.removeprefix(f"{path}.")
            base, bracket, index = name.partition("[")
            mapped = keys.get(base, base) + (bracket + index if bracket else "")
            problems.append(as_problem(f"{key_path(path, mapped)}: {rest}"))
        return problems

    def validate_servers(self, server_count: int, spec: NetworkSpec, *, path: str) -> list[Problem]:
        if server_count > 1:
            return [
                Problem(
                    key_path(path, "servers"),
                    server_count,
                    "needs an API load balancer, which is not built on GCP yet",
                    "use servers: 1 on gcp",
                )
            ]
        return []

    # --- resources
    def _network_args(self, spec: NetworkSpec, region: str) -> GcpNetworkArgs:
        from llmops.components.gcp.network import GcpNetworkArgs

        return GcpNetworkArgs(
            api_allowed_cidrs=list(spec.api_allowed_cidrs),
            regions=[region],
            flannel_backend=spec.flannel_backend,
            allow_public_api=spec.allow_public_api,
            max_public_share=spec.max_public_share,
        )

    def _project(self) -> str:
        import pulumi

        return pulumi.Config("gcp").require("project")

    def network(self, name: str, spec: NetworkSpec) -> GcpNetwork:
        from llmops.components.gcp.network import GcpNetwork

        return GcpNetwork(name, self._network_args(spec, self.region() or DEFAULT_REGION))

    def server_host(
        self, network: Any, instance_type: str | None, *, session_manager: bool = False
    ) -> K3sServerHost:
        """`session_manager` has no GCP form yet: refused as an input error, before any resource."""
        if session_manager:
            raise InputError(
                "the GCP servers",
                [
                    Problem(
                        "cluster.sessionManager",
                        True,
                        "has no GCP form yet (the network admits no SSH)",
                        "remove it; read a node's boot log with "
                        "`gcloud compute instances get-serial-port-output <instance>`",
                    )
                ],
            )
        from llmops.components.gcp.servers import GcpK3sServers, GcpK3sServersArgs

        return GcpK3sServers(
            GcpK3sServersArgs(
                network=network,
                project=self._project(),
                machine_type=instance_type or self.default_server_instance_type,
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
        del session_manager  # refused with the servers (server_host), which come first
        from llmops.components.gcp.gpu_pool import GcpGpuNodePool, GcpGpuNodePoolArgs

        shared = {f.name: getattr(args, f.name) for f in dataclasses.fields(GpuNodePoolArgs)}
        pool = GcpGpuNodePool(
            name,
            GcpGpuNodePoolArgs(
                network=network, join=join, project=self._project(), region=self.region(), **shared
            ),
        )
        if join.overlay is not None and join.overlay.address_set:
            from llmops.components.gcp import peers

            peers.grant_claim(name, pool.service_account, join.overlay.address_set, self._project(), pool)
        return pool

    # --- clusters spanning clouds
    public_ipv4_usd_per_hour = 0.01
    public_ipv4_price_source = (
        "cloud.google.com/vpc/network-pricing (static external IPv4: $0.005/h in use by a standard VM, "
        "$0.01/h reserved and unused; the plan counts the higher); not re-read offline"
    )
    cross_cloud_servers_unavailable: str | None = None

    max_node_addresses: int | None = None

    def reserved_addresses(self, count: int) -> int:
        return count

    internet_path_mtu = 1460
    """a VPC network's default MTU is 1460 (Compute Engine docs, "Maximum transmission unit")."""

    def reserve_node_addresses(self, name: str, network: Any, count: int) -> NodeAddresses:
        """Reserved external addresses labelled for the pool; each node swaps its ephemeral one for
        a free one at boot."""
        from llmops.components.gcp import peers

        return peers.reserve(name, self.region() or network.regions[0], count)

    def admit_peers(self, name: str, network: Any, peers: PeerRanges) -> list[pulumi.Resource]:
        from llmops.components.gcp import peers as gcp_peers

        return gcp_peers.admit(name, network, peers)

    # --- model store
    model_store_kind: str | None = "filestore"

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
        """Filestore (Basic HDD) peered into the cluster's VPC, exported to its subnetworks only, NFS
        egress to it from the nodes' tag only; mounted through csi-driver-nfs. EFS's throughput
        settings do not apply (the config refuses them for this kind)."""
        del throughput_mode, provisioned_mibps
        from llmops.components.gcp.gpu_pool import GcpGpuNodePool
        from llmops.components.gcp.model_store import GcpModelStore, GcpModelStoreArgs

        zones = [zone for pool in pools if isinstance(pool, GcpGpuNodePool) for zone in pool.zones]
        store = GcpModelStore(
            name,
            GcpModelStoreArgs(
                network_name=network.network.name,
                network_id=network.network_id,
                node_tag=network.node_tag,
                client_cidrs=list(network.subnet_cidrs.values()),
                # Basic tiers are zonal: the zone most of the pools' zones name, reads elsewhere cross zones.
                zone=max(dict.fromkeys(zones), key=zones.count) if zones else f"{network.regions[0]}-b",
                provider=provider,
                namespace=namespace,
                size_gib=size_gib,
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
        """Filestore bills its provisioned capacity (at least 1 TiB on Basic HDD), not what is stored
        or read."""
        del throughput_mode, stored_gb, read_gb_per_month, written_gb_per_month, provisioned_mibps
        from llmops.components.gcp.model_store import FilestoreTier, monthly_cost

        return monthly_cost(FilestoreTier.BASIC_HDD, size_gib or 0)

    # --- serving image registry
    image_registry_unavailable: str | None = None

    def image_registry(self, name: str, pools: Sequence[pulumi.Resource]) -> ImageRegistry | None:
        """An Artifact Registry repository in the stack's region; the GPU pools' service accounts may
        read it and no other repository (components/gcp/registry.py)."""
        import pulumi
        from llmops.components.gcp.gpu_pool import GcpGpuNodePool
        from llmops.components.gcp.registry import ArtifactRegistry, repository_id

        accounts = [pool.service_account for pool in pools if isinstance(pool, GcpGpuNodePool)]
        return ArtifactRegistry(
            name,
            project=self._project(),
            location=self.region() or self.default_region,
            repository=repository_id(pulumi.get_stack(), name),
            node_service_accounts=accounts,
        ).registry

    def spot_termination_handler(self, name: str, provider: k8s.Provider) -> pulumi.Resource | None:
        """None: every GCP pool's kubelet runs graceful node shutdown inside the 30 s preemption
        notice (components/gcp/shutdown.py, docs/decisions/100-gcp-spot-preemption.md), so no
        cluster-side handler is needed."""
        del name, provider
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
        """cluster-autoscaler's GCE provider on the K3s servers, under their service account (no
        key), finding each pool's zonal MIGs by name prefix; it may resize those MIGs and no other."""
        from llmops.components.addons.cluster_autoscaler import (
            ClusterAutoscaler,
            ClusterAutoscalerArgs,
            NodeGroup,
        )
        from llmops.components.gcp.autoscaler import grant_cluster_autoscaler, group_pattern, zonal_groups
        from llmops.components.gcp.gpu_pool import GcpGpuNodePool
        from llmops.components.gcp.servers import GcpK3sServers

        if not isinstance(servers, GcpK3sServers) or servers.service_account is None:
            raise TypeError(
                "cluster-autoscaler on GCP runs under the service account of GcpK3sServers; create them first"
            )
        built = [p.pool for p in pools]
        if not all(isinstance(pool, GcpGpuNodePool) and pool.zonal_groups for pool in built):
            raise TypeError(
                "cluster-autoscaler on GCP resizes zonal MIGs: build each pool with node_autoscaled=True"
            )
        gcp_pools = [pool for pool in built if isinstance(pool, GcpGpuNodePool)]
        account = servers.service_account
        grant_cluster_autoscaler(
            f"{cluster_name}-servers",
            project=self._project(),
            member=account.email.apply(lambda email: f"serviceAccount:{email}"),
            groups=[(zone, group.name) for pool in gcp_pools for zone, group in pool.zonal_groups.items()],
            cluster_name=cluster_name,
        )
        prefixes = [
            {"name": group.name_prefix, "minSize": group.min_size, "maxSize": group.max_size}
            for scalable, pool in zip(pools, gcp_pools, strict=True)
            for group in zonal_groups(scalable.name, pool.zones, pool.min_size, pool.max_size)
        ]
        return ClusterAutoscaler(
            f"{cluster_name}-autoscaler",
            ClusterAutoscalerArgs(
                provider=provider,
                cluster_name=cluster_name,
                region=self.region() or self.default_region,
                node_groups=[
                    NodeGroup(
                        pool=scalable.name,
                        capacity=scalable.capacity,
                        group_name_pattern=group_pattern(scalable.name, pool.zones),
                        fallback_pool=scalable.fallback_pool,
                    )
                    for scalable, pool in zip(pools, gcp_pools, strict=True)
                ],
                idle_s=idle_s,
                cloud_values={
                    "cloudProvider": "gce",
                    "autoscalingGroupsnamePrefix": prefixes,
                    # Discovery looks in every zone of the servers' region, not only their own zone.
                    "extraArgs": {"regional": True},
                },
            ),
        )

    def region(self) -> str | None:
        import pulumi

        return pulumi.Config("gcp").get("region")

    # --- the offline plan
    def known_regions(self) -> Collection[str]:
        """The regions of the shipped offerings snapshot: every region that sells a GPU machine."""
        from llmops.components.gcp.offerings import known_regions

        return known_regions()

    def plan_default_outputs(
        self, type_token: str, name: str, inputs: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        if not type_token.startswith("gcp:"):
            return {}
        import pulumi

        project = pulumi.Config("gcp").get("project") or plan_mocks.PLAN_PROJECT
        return plan_mocks.computed_outputs(type_token, name, inputs or {}, project=project)

    # --- live account checks and prices
    def preflight_wanted(self, environ: Mapping[str, str]) -> bool:
        """Never: there is no GCP account preflight yet (quotas and spot capacity are not read)."""
        del environ
        return False

    def preflight(self, region: str, instance_types: Sequence[str]) -> dict[str, Any]:
        """No account call: the zones the shipped snapshot says sell each type (`--preflight`
        asked for explicitly), no live spot prices, and a line saying so."""
        from llmops.components.gcp.offerings import zones_offering

        return {
            "region": region,
            "offered_zones": {t: list(zones_offering(t, region)) for t in instance_types},
            "spot_usd_per_h": {},
            "dlami_ami_id": None,
            "problems": [
                "no live GCP account check yet: zones are the shipped snapshot's "
                "(components/gcp/data/offerings.csv), prices the catalog's"
            ],
        }

    def credentials_available(self) -> bool:
        return bool(os.environ.get("GOOGLE_API_KEY"))

    def refresh_prices(self, regions: Sequence[str], instance_types: Sequence[str] | None) -> list[Any]:
        """Current prices from the Cloud Billing Catalog API (host + GPU SKUs per machine type).

        Raises ValueError for a machine type the pools cannot run or an API failure."""
        from llmops.components.capacity.catalog import load_catalog
        from llmops.components.gcp.billing import BILLING_API, BillingApiError, refresh_prices

        if instance_types:
            for instance_type in instance_types:
                try:
                    gpu_machine(instance_type)
                except MachineTypeError as exc:
                    raise ValueError(f"--instance-type {instance_type!r} {exc}") from None
            types = list(instance_types)
        else:
            types = sorted({row.instance_type for row in load_catalog().prices if row.cloud == self.cloud})
        try:
            result = refresh_prices(
                regions,
                types,
                os.environ.get("GOOGLE_API_KEY", ""),
                base_url=os.environ.get(BILLING_URL_ENV, BILLING_API),
            )
        except BillingApiError as exc:
            raise ValueError(str(exc)) from None
        for line in result.missing:
            print(f"not priced: {line}", file=sys.stderr)
        return list(result.rows)


KIT: CloudKit = GcpKit()
"""Typed as the protocol so the type checker holds the kit to it."""

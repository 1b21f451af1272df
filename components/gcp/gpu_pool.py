"""`GcpGpuNodePool`: K3s GPU agents in a regional managed instance group, spot or on-demand."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
from llmops.components.errors import Problem, as_problem, raise_if
from llmops.components.gcp.autoscaler import (
    GPU_LABEL,
    KUBE_ENV_KEY,
    kube_env,
    zonal_groups,
    zone_sizes,
    zone_suffix,
)
from llmops.components.gcp.bootstrap import BOOTSTRAP
from llmops.components.gcp.iam import CLOUD_PLATFORM_SCOPE, node_secret, node_service_account, secret_id
from llmops.components.gcp.machines import GpuMachine, gpu_machine
from llmops.components.gcp.network import Egress, GcpNetwork
from llmops.components.gcp.offerings import zones_offering
from llmops.components.gcp.schedules import mig_scaling_schedules
from llmops.components.gcp.shutdown import graceful_shutdown_kubelet_args
from llmops.components.k3s.cluster import K3sAgentJoin
from llmops.components.k3s.render import (
    TOKEN_FILE,
    FlannelBackend,
    NodeExternalIp,
    SecretFile,
    agent_config,
    pool_labels,
    render_cloud_init,
)
from llmops.components.pools import Capacity, GpuNodePoolArgs

DLVM_IMAGE_PROJECT = "deeplearning-platform-release"
DLVM_IMAGE_FAMILY = "common-cu128-ubuntu-2204-nvidia-570"
"""Deep Learning VM family with CUDA 12.8 and the NVIDIA 570 driver on Ubuntu 22.04 (the
`common-cu<cuda>-ubuntu-<release>-nvidia-<driver>` naming of cloud.google.com/deep-learning-vm/docs/images;
this family is the one public GCE GPU deployments name for driver-ready VMs), so the GPU
operator runs with `driver.enabled=false`."""
DLVM_IMAGE = f"projects/{DLVM_IMAGE_PROJECT}/global/images/family/{DLVM_IMAGE_FAMILY}"
"""A family reference: each new VM boots the family's newest image."""


class TerminationAction(enum.Enum):
    """What Compute Engine does with a preempted spot VM."""

    DELETE = "DELETE"
    """Delete it with its boot disk; the group recreates it when capacity returns. Default."""
    STOP = "STOP"
    """Stop it and keep the disk (billed) for a later restart."""


@dataclass(kw_only=True)
class GcpGpuNodePoolArgs(GpuNodePoolArgs):
    """Inputs of `GcpGpuNodePool`: the shared pool fields plus where the nodes live and what they join.

    `instance_types` holds one machine type (a group runs one template): an accelerator-optimized
    type (`g2-standard-8`) or an N1 host with its GPUs (`n1-standard-8+T4x1`)."""

    network: GcpNetwork
    """Network (a subnetwork in the pool's region, the node tag)."""
    join: K3sAgentJoin
    """Join settings, from `K3sCluster.agent_join`."""
    project: str
    """GCP project id; the nodes read their secret from it."""
    region: str | None = None
    """Region of the group; default: the network's first region."""
    zones: list[str] | None = None
    """Zones the group spreads over; default: every zone of the region that sells the machine type."""
    image: str = DLVM_IMAGE
    """Boot image; default: the Deep Learning VM family with the NVIDIA driver (`DLVM_IMAGE_FAMILY`)."""
    disk_type: str = "pd-balanced"
    """Boot disk type; default: pd-balanced (G2 and A3 also take hyperdisk-balanced)."""
    kms_key: str | None = None
    """Cloud KMS key for the boot disk; default: none, Compute Engine's Google-managed encryption."""
    termination_action: TerminationAction = TerminationAction.DELETE
    """Spot pools: what happens to a preempted VM; default: delete, so the group replaces it."""


def validate_gcp_pool(name: str, args: GcpGpuNodePoolArgs, *, path: str = "args") -> list[Problem]:
    """The stack-independent checks (`gcp.checks.gcp_pool_problems`) plus the network's region."""
    from llmops.components.gcp.checks import gcp_pool_problems

    region = args.region or (args.network.regions[0] if args.network.regions else "")
    problems = gcp_pool_problems(name, args, region=region, path=path)
    lines: list[str] = []
    if region not in args.network.regions:
        lines.append(
            f"{path}.region: {region!r} has no subnetwork in the network (regions: "
            f"{', '.join(args.network.regions)}); add it to GcpNetworkArgs.regions"
        )
    offered = zones_offering(args.instance_types[0], region) if args.instance_types else []
    for z_index, zone in enumerate(args.zones or []):
        if offered and zone not in offered:
            lines.append(
                f"{path}.zones[{z_index}]: {zone!r} does not offer {args.instance_types[0]!r}; "
                f"use zones among {', '.join(offered)}, or leave zones unset"
            )
    if args.zones is not None and not args.zones:
        lines.append(f"{path}.zones: [] is empty; leave it unset to use every zone that offers the type")
    return problems + [as_problem(line) for line in lines]


def _gce_labels(values: dict[str, str]) -> dict[str, str]:
    """Compute Engine labels: lowercase letters, digits, '-' and '_'."""
    return {k.replace("/", "_").replace(".", "-"): v.lower().replace(".", "-") for k, v in values.items()}


class GcpGpuNodePool(pulumi.ComponentResource):
    """GPU agents: instance template (Deep Learning VM, GPU, spot or standard) + regional MIG."""

    template: gcp.compute.InstanceTemplate
    group: gcp.compute.RegionInstanceGroupManager | None
    """The regional managed instance group (escape hatch: health checks, stateful policy); None for a
    pool cluster-autoscaler resizes, which gets `zonal_groups` instead."""
    zonal_groups: dict[str, gcp.compute.InstanceGroupManager]
    """Zone -> zonal MIG of a pool cluster-autoscaler resizes (its GCE provider resizes no regional
    MIG); empty otherwise."""
    autoscaler: gcp.compute.RegionAutoscaler | None
    """Scaling schedules' autoscaler; None without schedules (the group's size is then managed by hand
    or by cluster-autoscaler)."""
    machine: GpuMachine
    zones: list[str]
    min_size: int
    max_size: int
    """The pool's bounds (split over the zonal MIGs for cluster-autoscaler)."""
    labels: dict[str, str]
    """Node labels every agent of this pool carries (select workloads with them)."""
    service_account: gcp.serviceaccount.Account
    """The agents' service account (grants for node add-ons attach to it)."""

    def __init__(self, name: str, args: GcpGpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if(f"GcpGpuNodePool {name!r}", validate_gcp_pool(name, args))
        super().__init__("llmops:gcp:GcpGpuNodePool", name, None, opts)
        join = args.join
        region = args.region or args.network.regions[0]
        self.machine = gpu_machine(args.instance_types[0])
        self.zones = list(args.zones or zones_offering(args.instance_types[0], region))
        self.min_size, self.max_size = args.min_size, args.max_size
        spot = args.capacity is Capacity.SPOT

        account = node_service_account(name, f"K3s GPU agents of pool {name}: reads its agent token", self)
        self.service_account = account
        token = node_secret(
            f"{name}-agent-token",
            project=args.project,
            secret_name=secret_id(join.cluster_name, "pool", name, "agent-token"),
            value=join.agent_token,
            reader=account,
            parent=self,
        )
        self.labels = {
            **args.labels,
            **pool_labels(pool=name, cloud="gcp", capacity=args.capacity.value, gpu=True),
        }
        if args.node_autoscaled:
            # cluster-autoscaler counts a node with this label as not ready until its GPUs are
            # allocatable, instead of adding another node while the GPU operator starts.
            self.labels[GPU_LABEL] = self.machine.accelerator_type

        def user_data_for(server_address: str) -> str:
            config = agent_config(
                server_address=server_address, node_labels=self.labels, node_taints=args.taints
            )
            # Preemption, host maintenance and scale-in all reach the VM as an ACPI shutdown.
            config["kubelet-arg"] = graceful_shutdown_kubelet_args()
            return render_cloud_init(
                role="agent",
                k3s_config=config,
                secrets=[SecretFile(locator=token.locator, path=TOKEN_FILE)],
                bootstrap=BOOTSTRAP,
                k3s_version=join.k3s_version,
                # WireGuard between clouds: the node reads its external IPv4 from the metadata server.
                node_external_ip=(
                    NodeExternalIp.FROM_CLOUD
                    if join.flannel_backend is FlannelBackend.WIREGUARD_NATIVE
                    else NodeExternalIp.NONE
                ),
                # gce://<project>/<zone>/<name>, as node autoscalers match nodes to MIG instances.
                provider_id=True,
                overlay=join.overlay,
            )

        user_data = join.server_address_for("gcp").apply(user_data_for)
        resource_labels = _gce_labels(
            {"llmops-cluster": join.cluster_name, "llmops-pool": name, "llmops-capacity": args.capacity.value}
        )
        machine = self.machine
        self.template = gcp.compute.InstanceTemplate(
            f"{name}-template",
            name_prefix=f"{name}-"[:37],
            description=f"llmops K3s GPU agents of pool {name} ({machine.gpu_count} x {machine.gpu})",
            machine_type=machine.machine_type,
            region=region,
            tags=[args.network.node_tag, *args.network.agent_tags],
            labels=resource_labels,
            disks=[
                gcp.compute.InstanceTemplateDiskArgs(
                    boot=True,
                    auto_delete=True,
                    source_image=args.image,
                    disk_size_gb=args.disk_size_gb,
                    disk_type=args.disk_type,
                    disk_encryption_key=(
                        gcp.compute.InstanceTemplateDiskDiskEncryptionKeyArgs(kms_key_self_link=args.kms_key)
                        if args.kms_key
                        else None
                    ),
                    labels=resource_labels,
                )
            ],
            guest_accelerators=(
                [
                    gcp.compute.InstanceTemplateGuestAcceleratorArgs(
                        type=machine.accelerator_type, count=machine.gpu_count
                    )
                ]
                if machine.attached
                else None
            ),
            network_interfaces=[
                gcp.compute.InstanceTemplateNetworkInterfaceArgs(
                    subnetwork=args.network.subnetwork_ids[region],
                    access_configs=(
                        [gcp.compute.InstanceTemplateNetworkInterfaceAccessConfigArgs()]
                        if args.network.egress is Egress.EXTERNAL_IPS
                        else None
                    ),
                )
            ],
            scheduling=gcp.compute.InstanceTemplateSchedulingArgs(
                # GPUs cannot live-migrate: host maintenance stops the VM.
                on_host_maintenance="TERMINATE",
                automatic_restart=not spot,
                preemptible=spot,
                provisioning_model="SPOT" if spot else "STANDARD",
                instance_termination_action=args.termination_action.value if spot else None,
            ),
            service_account=gcp.compute.InstanceTemplateServiceAccountArgs(
                email=account.email, scopes=[CLOUD_PLATFORM_SCOPE]
            ),
            shielded_instance_config=gcp.compute.InstanceTemplateShieldedInstanceConfigArgs(
                # Secure boot stays off: the image's NVIDIA kernel modules are built on the VM, unsigned.
                enable_secure_boot=False,
                enable_vtpm=True,
                enable_integrity_monitoring=True,
            ),
            metadata={
                "user-data": user_data,
                "block-project-ssh-keys": "true",
                "enable-oslogin": "TRUE",
                # The image carries the driver already.
                "install-nvidia-driver": "False",
                # What a node of this template looks like, for cluster-autoscaler's scale from zero.
                **(
                    {
                        KUBE_ENV_KEY: kube_env(
                            self.labels, args.taints, self.machine.gpu_count, self.machine.accelerator_type
                        )
                    }
                    if args.node_autoscaled
                    else {}
                ),
            },
            opts=pulumi.ResourceOptions(parent=self, depends_on=[token.reader, token.version]),
        )

        self.group = None
        self.zonal_groups = {}
        if args.node_autoscaled:
            self._zonal_groups(name, args)
        else:
            self.group = gcp.compute.RegionInstanceGroupManager(
                f"{name}-group",
                base_instance_name=name,
                region=region,
                distribution_policy_zones=self.zones,
                # ANY: spot capacity from whichever zone has it; EVEN: on-demand spread for availability.
                distribution_policy_target_shape="ANY" if spot else "EVEN",
                versions=[
                    gcp.compute.RegionInstanceGroupManagerVersionArgs(
                        name="primary", instance_template=self.template.self_link_unique
                    )
                ],
                target_size=None
                if args.schedules
                else (args.min_size if args.desired_size is None else args.desired_size),
                update_policy=gcp.compute.RegionInstanceGroupManagerUpdatePolicyArgs(
                    # A new template reaches nodes as they are replaced, never by restarting busy GPU nodes.
                    type="OPPORTUNISTIC",
                    minimal_action="REPLACE",
                    instance_redistribution_type="NONE",
                    max_surge_fixed=0,
                    max_unavailable_fixed=len(self.zones),
                ),
                wait_for_instances=False,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    # Schedules and scaling move the size; a later `pulumi up` must not undo it.
                    ignore_changes=["targetSize"],
                ),
            )

        self.autoscaler = None
        if args.schedules and self.group is not None:
            self.autoscaler = gcp.compute.RegionAutoscaler(
                f"{name}-autoscaler",
                region=region,
                target=self.group.id,
                autoscaling_policy=gcp.compute.RegionAutoscalerAutoscalingPolicyArgs(
                    min_replicas=args.min_size,
                    max_replicas=args.max_size,
                    cooldown_period=300,
                    # CPU is no GPU node's load signal: a target of 100% keeps it from adding
                    # nodes, so the scaling schedules and the min decide the size.
                    cpu_utilization=gcp.compute.RegionAutoscalerAutoscalingPolicyCpuUtilizationArgs(
                        target=1.0
                    ),
                    scaling_schedules=[
                        gcp.compute.RegionAutoscalerAutoscalingPolicyScalingScheduleArgs(
                            name=s.name,
                            schedule=s.schedule,
                            duration_sec=s.duration_sec,
                            min_required_replicas=s.min_required_replicas,
                            time_zone=s.time_zone,
                            description=f"llmops pool {name} window",
                        )
                        for s in mig_scaling_schedules(args.schedules)
                    ],
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs(
            {
                "groupId": self.group.id if self.group is not None else None,
                "zonalGroupIds": {zone: group.id for zone, group in self.zonal_groups.items()},
                "templateId": self.template.id,
                "zones": self.zones,
            }
        )

    def _zonal_groups(self, name: str, args: GcpGpuNodePoolArgs) -> None:
        """One zonal MIG per zone, sized by cluster-autoscaler within its share of min and max."""
        initial = args.min_size if args.desired_size is None else args.desired_size
        starts = zone_sizes(initial, self.zones)
        for group in zonal_groups(name, self.zones, args.min_size, args.max_size):
            self.zonal_groups[group.zone] = gcp.compute.InstanceGroupManager(
                # Pulumi names it `<pool>-<zone>-<hex>`: the autoscaler's discovery prefix.
                f"{name}-{group.zone}",
                base_instance_name=f"{name}-{zone_suffix(group.zone)}",
                zone=group.zone,
                versions=[
                    gcp.compute.InstanceGroupManagerVersionArgs(
                        name="primary", instance_template=self.template.self_link_unique
                    )
                ],
                target_size=starts[group.zone],
                update_policy=gcp.compute.InstanceGroupManagerUpdatePolicyArgs(
                    # As the regional groups: a new template reaches nodes as they are replaced.
                    type="OPPORTUNISTIC",
                    minimal_action="REPLACE",
                    max_surge_fixed=0,
                    max_unavailable_fixed=1,
                ),
                wait_for_instances=False,
                opts=pulumi.ResourceOptions(
                    parent=self,
                    # cluster-autoscaler moves the size; a later `pulumi up` must not undo it.
                    ignore_changes=["targetSize"],
                ),
            )

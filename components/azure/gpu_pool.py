"""`AzureGpuNodePool`: K3s GPU agents in a Virtual Machine Scale Set, Spot or Regular priority."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_azure_native as azure
import yaml
from llmops.components.azure.autoscaler import ACCELERATOR_LABEL, discovery_tags, node_template_tags
from llmops.components.azure.checks import (
    BOOTSTRAP,
    SCRIPTS_DIR,
    WINDOWS_TIME_ZONES,
    cron_times,
    validate_azure_pool,
)
from llmops.components.azure.drivers import GRID_EXTENSION, DriverSource, driver_labels, driver_source
from llmops.components.azure.machines import gpu_machines
from llmops.components.azure.network import AzureNetwork
from llmops.components.azure.secrets import node_identity, secret_locator, secret_name, vault_secret
from llmops.components.azure.servers import ADMIN_USER, custom_data, image_reference, linux_configuration
from llmops.components.errors import raise_if
from llmops.components.k3s.cluster import K3sAgentJoin
from llmops.components.k3s.render import (
    NODE_LIB_DIR,
    TOKEN_FILE,
    FlannelBackend,
    NodeExternalIp,
    SecretFile,
    agent_config,
    pool_labels,
    render_cloud_init,
)
from llmops.components.pools import Capacity, GpuNodePoolArgs, ScalingSchedule

__all__ = ["AzureGpuNodePool", "AzureGpuNodePoolArgs", "autoscale_profiles", "spot_settings"]

IMAGE_SHIPS_GPU_DRIVER = False
"""The pools boot Canonical's plain Ubuntu image; the GPU operator installs the NVIDIA driver, except on
the GRID-only sizes, whose driver the NVIDIA GPU Driver Extension installs (components/azure/drivers.py)."""
SHUTDOWN_GRACE = ("shutdown-grace-period=25s", "shutdown-grace-period-critical-pods=5s")
"""Kubelet graceful node shutdown inside Azure's 30-second Spot eviction notice."""
WATCHER_UNIT = "llmops-scheduled-events.service"


@dataclass(kw_only=True)
class AzureGpuNodePoolArgs(GpuNodePoolArgs):
    """Inputs of `AzureGpuNodePool`: the shared pool fields plus where the nodes live and what they join."""

    network: AzureNetwork
    join: K3sAgentJoin
    encryption_at_host: bool = True
    """Encrypt temp disks and caches too (the subscription needs the EncryptionAtHost feature)."""


def spot_settings(capacity: Capacity) -> dict[str, Any]:
    """Scale set VM profile settings of a capacity mode (plain data, tested without Pulumi)."""
    if capacity is Capacity.SPOT:
        # Delete on eviction (no stopped machines left to pay disks for); -1: pay up to the
        # pay-as-you-go price, so machines are evicted for capacity only, never for price.
        return {"priority": "Spot", "eviction_policy": "Delete", "max_price": -1.0}
    return {"priority": "Regular", "eviction_policy": None, "max_price": None}


def autoscale_profiles(
    schedules: Sequence[ScalingSchedule],
) -> list[dict[str, Any]]:
    """One weekly-recurring autoscale profile per schedule (plain data)."""
    profiles = []
    for schedule in schedules:
        times = cron_times(schedule.recurrence)
        if times is None:  # validate_azure_pool refuses these before any resource
            raise ValueError(f"schedule {schedule.name}: {schedule.recurrence!r} is not a weekly cron")
        hours, minutes, days = times
        profiles.append(
            {
                "name": schedule.name,
                "capacity": {
                    "minimum": str(schedule.min_size),
                    "maximum": str(schedule.max_size),
                    "default": str(schedule.desired_size),
                },
                "days": days,
                "hours": hours,
                "minutes": minutes,
                "time_zone": WINDOWS_TIME_ZONES[schedule.time_zone],
            }
        )
    return profiles


def scale_set_tags(
    cluster_name: str, pool: str, args: GpuNodePoolArgs, labels: dict[str, str]
) -> dict[str, str]:
    """The scale set's tags: who it belongs to, and what cluster-autoscaler's Azure provider
    discovers it by and builds a node of it from when it is empty. Azure tag names cannot hold
    `/`, so llmops' own are `llmops-<key>`. Plain data."""
    (size,) = args.instance_types
    machine = gpu_machines().get(size)
    return {
        "llmops-cluster": cluster_name,
        "llmops-pool": pool,
        "llmops-capacity": args.capacity.value,
        **discovery_tags(cluster_name, args.min_size, args.max_size),
        **node_template_tags(labels, args.taints, machine.gpu_count if machine else None),
    }


def with_eviction_watcher(document: str) -> str:
    """The agent's cloud-config plus the Scheduled Events watcher, started before the bootstrap."""
    config = yaml.safe_load(document.removeprefix("#cloud-config\n"))
    script = f"{NODE_LIB_DIR}/scheduled-events.sh"
    unit = (
        "[Unit]\nDescription=llmops: drain on Azure Spot eviction (Scheduled Events)\n"
        "After=network-online.target\nWants=network-online.target\n\n"
        f"[Service]\nExecStart={script}\nRestart=always\nRestartSec=5\n\n"
        "[Install]\nWantedBy=multi-user.target\n"
    )
    config["write_files"] += [
        {
            "path": script,
            "permissions": "0755",
            "owner": "root:root",
            "content": (SCRIPTS_DIR / "scheduled-events.sh").read_text(),
        },
        {
            "path": f"/etc/systemd/system/{WATCHER_UNIT}",
            "permissions": "0644",
            "owner": "root:root",
            "content": unit,
        },
    ]
    config["runcmd"] = [
        ["systemctl", "daemon-reload"],
        ["systemctl", "enable", "--now", WATCHER_UNIT],
    ] + config["runcmd"]
    return "#cloud-config\n" + yaml.safe_dump(config, sort_keys=False, width=1000)


class AzureGpuNodePool(pulumi.ComponentResource):
    """GPU agents: a Uniform scale set (Ubuntu, managed identity, encrypted disks) and its schedules."""

    scale_set: azure.compute.VirtualMachineScaleSet
    labels: dict[str, str]
    user_data: pulumi.Output[str]
    """The agents' cloud-config (no secret in it: the agent token is read from Key Vault)."""

    def __init__(self, name: str, args: AzureGpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if(f"AzureGpuNodePool {name!r}", validate_azure_pool(name, args))
        super().__init__("llmops:azure:AzureGpuNodePool", name, None, opts)
        join = args.join
        network = args.network
        identity = node_identity(name, network, self)
        self.identity = identity
        self.network = network
        """The agents' managed identity (the kit grants it AcrPull on the serving image's registry)."""
        token_name = secret_name(join.cluster_name, "pools", name, "agent-token")
        token = vault_secret(f"{name}-agent-token", network, token_name, join.agent_token, identity, self)

        (size,) = args.instance_types
        self.labels = {
            **args.labels,
            **pool_labels(pool=name, cloud="azure", capacity=args.capacity.value, gpu=True),
            # What the Azure cluster-autoscaler tells GPU nodes by (components/azure/autoscaler.py).
            ACCELERATOR_LABEL: "nvidia",
            **driver_labels(size),
        }

        def user_data_for(server_address: str) -> str:
            k3s_config = agent_config(
                server_address=server_address, node_labels=self.labels, node_taints=args.taints
            )
            k3s_config["kubelet-arg"] = list(SHUTDOWN_GRACE)
            return with_eviction_watcher(
                render_cloud_init(
                    role="agent",
                    k3s_config=k3s_config,
                    secrets=[
                        SecretFile(locator=secret_locator(network.vault_name, token_name), path=TOKEN_FILE)
                    ],
                    bootstrap=BOOTSTRAP,
                    k3s_version=join.k3s_version,
                    node_external_ip=external_ip,
                    provider_id=True,
                    overlay=join.overlay,
                )
            )

        external_ip = (
            NodeExternalIp.FROM_CLOUD
            if join.flannel_backend is FlannelBackend.WIREGUARD_NATIVE
            else NodeExternalIp.NONE
        )
        self.user_data = join.server_address_for("azure").apply(user_data_for)
        spot = spot_settings(args.capacity)
        extensions = (
            azure.compute.VirtualMachineScaleSetExtensionProfileArgs(
                extensions=[
                    # The GRID driver for the vGPU-only sizes (components/azure/drivers.py).
                    azure.compute.VirtualMachineScaleSetExtensionArgs(
                        name=GRID_EXTENSION.name,
                        publisher=GRID_EXTENSION.publisher,
                        type=GRID_EXTENSION.type,
                        type_handler_version=GRID_EXTENSION.type_handler_version,
                        auto_upgrade_minor_version=True,
                    )
                ]
            )
            if driver_source(size) is DriverSource.GRID_EXTENSION
            else None
        )
        self.scale_set = azure.compute.VirtualMachineScaleSet(
            f"{name}-vmss",
            resource_group_name=network.resource_group_name,
            location=network.location,
            orchestration_mode=azure.compute.OrchestrationMode.UNIFORM,
            sku=azure.compute.SkuArgs(
                name=size,
                tier="Standard",
                capacity=args.min_size if args.desired_size is None else args.desired_size,
            ),
            overprovision=False,
            upgrade_policy=azure.compute.UpgradePolicyArgs(mode=azure.compute.UpgradeMode.MANUAL),
            identity=azure.compute.VirtualMachineScaleSetIdentityArgs(
                type=azure.compute.ResourceIdentityType.USER_ASSIGNED,
                user_assigned_identities=[identity.id],
            ),
            virtual_machine_profile=azure.compute.VirtualMachineScaleSetVMProfileArgs(
                priority=spot["priority"],
                eviction_policy=spot["eviction_policy"],
                billing_profile=None
                if spot["max_price"] is None
                else azure.compute.BillingProfileArgs(max_price=spot["max_price"]),
                os_profile=azure.compute.VirtualMachineScaleSetOSProfileArgs(
                    computer_name_prefix=name[:9].rstrip("-"),
                    admin_username=ADMIN_USER,
                    custom_data=self.user_data.apply(custom_data),
                    linux_configuration=linux_configuration(network.ssh_public_key),
                ),
                storage_profile=azure.compute.VirtualMachineScaleSetStorageProfileArgs(
                    image_reference=image_reference(),
                    os_disk=azure.compute.VirtualMachineScaleSetOSDiskArgs(
                        create_option=azure.compute.DiskCreateOptionTypes.FROM_IMAGE,
                        disk_size_gb=args.disk_size_gb,
                        caching=azure.compute.CachingTypes.READ_WRITE,
                        delete_option=azure.compute.DiskDeleteOptionTypes.DELETE,
                        managed_disk=azure.compute.VirtualMachineScaleSetManagedDiskParametersArgs(
                            storage_account_type=azure.compute.StorageAccountTypes.PREMIUM_LRS
                        ),
                    ),
                ),
                security_profile=azure.compute.SecurityProfileArgs(
                    encryption_at_host=args.encryption_at_host
                ),
                extension_profile=extensions,
                scheduled_events_profile=azure.compute.ScheduledEventsProfileArgs(
                    # Scale-in deletes get the same notice as evictions, so the watcher drains them.
                    terminate_notification_profile=azure.compute.TerminateNotificationProfileArgs(
                        enable=True, not_before_timeout="PT5M"
                    )
                ),
                network_profile=azure.compute.VirtualMachineScaleSetNetworkProfileArgs(
                    network_interface_configurations=[
                        azure.compute.VirtualMachineScaleSetNetworkConfigurationArgs(
                            name="primary",
                            primary=True,
                            # Across clouds: the NIC-level group admits exactly the other clouds' nodes.
                            network_security_group=(
                                azure.compute.SubResourceArgs(id=network.peer_security_group_id)
                                if network.peer_security_group_id is not None
                                else None
                            ),
                            ip_configurations=[
                                azure.compute.VirtualMachineScaleSetIPConfigurationArgs(
                                    name="primary",
                                    primary=True,
                                    subnet=azure.compute.ApiEntityReferenceArgs(id=network.subnet_id),
                                    # A public address per node: the subnet has no default
                                    # outbound access, and WireGuard peers need one.
                                    public_ip_address_configuration=azure.compute.VirtualMachineScaleSetPublicIPAddressConfigurationArgs(
                                        name="public",
                                        sku=azure.compute.PublicIPAddressSkuArgs(name="Standard"),
                                        # Across clouds: addresses from the pool's reserved prefix,
                                        # which the other clouds' firewalls admit.
                                        public_ip_prefix=(
                                            azure.compute.SubResourceArgs(id=join.overlay.native_address_pool)
                                            if join.overlay is not None and join.overlay.native_address_pool
                                            else None
                                        ),
                                    ),
                                )
                            ],
                        )
                    ]
                ),
            ),
            tags=scale_set_tags(join.cluster_name, name, args, self.labels),
            opts=pulumi.ResourceOptions(
                parent=self,
                # The agent token and its reader role exist before the first machine boots.
                depends_on=token,
                # Schedules move the capacity; a later `pulumi up` must not undo it.
                ignore_changes=["sku.capacity"],
            ),
        )
        if args.schedules:
            azure.monitor.AutoscaleSetting(
                f"{name}-schedules",
                resource_group_name=network.resource_group_name,
                location=network.location,
                target_resource_uri=self.scale_set.id,
                enabled=True,
                profiles=[
                    azure.monitor.AutoscaleProfileArgs(
                        name=profile["name"],
                        capacity=azure.monitor.ScaleCapacityArgs(**profile["capacity"]),
                        rules=[],
                        recurrence=azure.monitor.RecurrenceArgs(
                            frequency=azure.monitor.RecurrenceFrequency.WEEK,
                            schedule=azure.monitor.RecurrentScheduleArgs(
                                days=profile["days"],
                                hours=profile["hours"],
                                minutes=profile["minutes"],
                                time_zone=profile["time_zone"],
                            ),
                        ),
                    )
                    for profile in autoscale_profiles(args.schedules)
                ],
                opts=pulumi.ResourceOptions(parent=self),
            )
        self.register_outputs({"scaleSetName": self.scale_set.name})

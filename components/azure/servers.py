"""`AzureK3sServers`: runs a `K3sCluster`'s server on a Regular-priority Azure VM."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure
from llmops.components.azure.checks import BOOTSTRAP, server_problems
from llmops.components.azure.network import AzureNetwork
from llmops.components.azure.secrets import node_identity, secret_locator, secret_name, vault_secret
from llmops.components.errors import Problem
from llmops.components.k3s.host import K3sServerHost, ServerEndpoints

UBUNTU_IMAGE = {
    "publisher": "Canonical",
    "offer": "0001-com-ubuntu-server-jammy",
    "sku": "22_04-lts-gen2",
    "version": "latest",
}
"""Canonical's Ubuntu 22.04 LTS (Gen2) image, servers and GPU pools alike."""
ADMIN_USER = "llmops"


def image_reference() -> azure.compute.ImageReferenceArgs:
    return azure.compute.ImageReferenceArgs(**UBUNTU_IMAGE)


def linux_configuration(ssh_public_key: pulumi.Input[str]) -> azure.compute.LinuxConfigurationArgs:
    return azure.compute.LinuxConfigurationArgs(
        disable_password_authentication=True,
        ssh=azure.compute.SshConfigurationArgs(
            public_keys=[
                azure.compute.SshPublicKeyArgs(
                    path=f"/home/{ADMIN_USER}/.ssh/authorized_keys", key_data=ssh_public_key
                )
            ]
        ),
    )


def custom_data(document: str) -> str:
    return base64.b64encode(document.encode()).decode()


@dataclass(kw_only=True)
class AzureK3sServersArgs:
    """Inputs of `AzureK3sServers`."""

    network: AzureNetwork
    instance_type: str = "Standard_D2s_v5"
    """Regular-priority CPU size; default: Standard_D2s_v5 (2 vCPU, 8 GiB)."""
    disk_size_gb: int = 64
    """Premium SSD OS disk, encrypted at host; default: 64 GB (etcd, images, logs)."""
    encryption_at_host: bool = True
    """Encrypt the temp disk and caches too (the subscription needs the EncryptionAtHost feature)."""


class AzureK3sServers(K3sServerHost):
    """A `K3sServerHost` on Azure: one VM with a static public address and a managed identity."""

    cloud = "azure"
    bootstrap = BOOTSTRAP
    shell_hint = "open a shell with `az vm run-command invoke` or the serial console"

    def __init__(self, args: AzureK3sServersArgs):
        self.args = args
        self.secrets: list[pulumi.Resource] = []
        self.machines: list[azure.compute.VirtualMachine] = []
        self.identity: azure.managedidentity.UserAssignedIdentity | None = None
        self._addresses: list[azure.network.PublicIPAddress] = []

    def secret_locator(self, name: str, key: str) -> str:
        return secret_locator(self.args.network.vault_name, secret_name(name, "servers", key))

    def validate(self, name: str, server_count: int) -> list[Problem]:
        return server_problems(server_count)

    def reserve_endpoints(self, name: str, server_count: int, parent: pulumi.Resource) -> ServerEndpoints:
        network = self.args.network
        self._addresses = [
            azure.network.PublicIPAddress(
                f"{name}-server-{i}-ip",
                resource_group_name=network.resource_group_name,
                location=network.location,
                sku=azure.network.PublicIPAddressSkuArgs(name="Standard"),
                public_ip_allocation_method="Static",
                opts=pulumi.ResourceOptions(parent=parent),
            )
            for i in range(server_count)
        ]
        external = [address.ip_address.apply(lambda ip: ip or "") for address in self._addresses]
        return ServerEndpoints(
            api_address=external[0],
            private_addresses=network.server_addresses[:server_count],
            external_addresses=external,
        )

    def create_servers(
        self,
        name: str,
        *,
        user_data: Sequence[pulumi.Output[str]],
        secrets: Mapping[str, pulumi.Output[str]],
        endpoints: ServerEndpoints,
        parent: pulumi.Resource,
    ) -> list[pulumi.Resource]:
        network = self.args.network
        identity = node_identity(f"{name}-server", network, parent)
        self.identity = identity
        for key, value in secrets.items():
            suffix = key.replace("/", "-").replace(".", "-")
            self.secrets += vault_secret(
                f"{name}-secret-{suffix}",
                network,
                secret_name(name, "servers", key),
                value,
                identity,
                parent,
            )
        ready: list[pulumi.Resource] = []
        for index, document in enumerate(user_data):
            nic = azure.network.NetworkInterface(
                f"{name}-server-{index}-nic",
                resource_group_name=network.resource_group_name,
                location=network.location,
                ip_configurations=[
                    azure.network.NetworkInterfaceIPConfigurationArgs(
                        name="primary",
                        primary=True,
                        subnet=azure.network.SubnetArgs(id=network.subnet_id),
                        private_ip_allocation_method="Static",
                        private_ip_address=endpoints.private_addresses[index],
                        public_ip_address=azure.network.PublicIPAddressArgs(id=self._addresses[index].id),
                    )
                ],
                opts=pulumi.ResourceOptions(parent=parent),
            )
            machine = azure.compute.VirtualMachine(
                f"{name}-server-{index}",
                resource_group_name=network.resource_group_name,
                location=network.location,
                hardware_profile=azure.compute.HardwareProfileArgs(vm_size=self.args.instance_type),
                identity=azure.compute.VirtualMachineIdentityArgs(
                    type=azure.compute.ResourceIdentityType.USER_ASSIGNED,
                    user_assigned_identities=[identity.id],
                ),
                os_profile=azure.compute.OSProfileArgs(
                    computer_name=f"{name}-server-{index}"[:63],
                    admin_username=ADMIN_USER,
                    custom_data=document.apply(custom_data),
                    linux_configuration=linux_configuration(network.ssh_public_key),
                ),
                storage_profile=azure.compute.StorageProfileArgs(
                    image_reference=image_reference(),
                    os_disk=azure.compute.OSDiskArgs(
                        create_option=azure.compute.DiskCreateOptionTypes.FROM_IMAGE,
                        disk_size_gb=self.args.disk_size_gb,
                        delete_option=azure.compute.DiskDeleteOptionTypes.DELETE,
                        managed_disk=azure.compute.ManagedDiskParametersArgs(
                            storage_account_type=azure.compute.StorageAccountTypes.PREMIUM_LRS
                        ),
                    ),
                ),
                security_profile=azure.compute.SecurityProfileArgs(
                    encryption_at_host=self.args.encryption_at_host
                ),
                network_profile=azure.compute.NetworkProfileArgs(
                    network_interfaces=[azure.compute.NetworkInterfaceReferenceArgs(id=nic.id, primary=True)]
                ),
                # Azure tag names cannot hold "/".
                tags={"llmops-cluster": name, "llmops-role": "server"},
                opts=pulumi.ResourceOptions(
                    parent=parent,
                    # The secrets and their role assignments exist before cloud-init reads them.
                    depends_on=self.secrets,
                    # A re-rendered bootstrap must not replace the server and its etcd data.
                    ignore_changes=["osProfile", "storageProfile.imageReference"],
                ),
            )
            self.machines.append(machine)
            ready += [nic, machine]
        return ready

"""`AzureNetwork`: resource group, virtual network, one subnet with a network security group that
opens only what K3s needs, and the cluster's Key Vault (RBAC, one role assignment per secret)."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_azure_native as azure
import pulumi_tls as tls
from llmops.components.azure.network_args import (
    AzureNetworkArgs,
    default_vault_name,
    server_addresses,
    subnet_cidr,
    validate_network_args,
)
from llmops.components.errors import raise_if
from llmops.components.k3s.render import API_PORT, FlannelBackend

__all__ = ["AzureNetwork", "AzureNetworkArgs", "NsgRule", "nsg_rules"]

KUBELET_PORT = 10250
FLANNEL_VXLAN_PORT = 8472
WIREGUARD_PORTS = "51820-51821"
ETCD_PORTS = "2379-2380"


@dataclass(frozen=True)
class NsgRule:
    """One inbound allow rule of the nodes' network security group."""

    name: str
    description: str
    protocol: str
    sources: list[str]
    destinations: list[str]
    ports: str


def nsg_rules(args: AzureNetworkArgs) -> list[NsgRule]:
    """Inbound rules, as plain data (tested without Pulumi): API from the allowed ranges and the
    nodes to the servers only, kubelet and overlay between nodes, etcd between servers, and a deny
    of everything else from inside the virtual network (Azure's defaults allow all of it)."""
    subnet = subnet_cidr(args)
    servers = [f"{address}/32" for address in server_addresses(args)]
    overlay = (
        ("Udp", WIREGUARD_PORTS, "K3s WireGuard overlay between nodes")
        if args.flannel_backend is FlannelBackend.WIREGUARD_NATIVE
        else ("Udp", str(FLANNEL_VXLAN_PORT), "K3s flannel VXLAN overlay between nodes")
    )
    rules = [
        NsgRule(
            name="k3s-api-from-allowed",
            description="Kubernetes API from the stack's allowed ranges, to the servers",
            protocol="Tcp",
            sources=list(args.api_allowed_cidrs),
            destinations=servers,
            ports=str(API_PORT),
        ),
        NsgRule(
            name="k3s-api-from-nodes",
            description="Kubernetes API from the cluster's nodes, to the servers",
            protocol="Tcp",
            sources=[subnet],
            destinations=servers,
            ports=str(API_PORT),
        ),
        NsgRule(
            name="kubelet-between-nodes",
            description="kubelet (logs, exec, metrics) between nodes",
            protocol="Tcp",
            sources=[subnet],
            destinations=[subnet],
            ports=str(KUBELET_PORT),
        ),
        NsgRule(
            name="overlay-between-nodes",
            description=overlay[2],
            protocol=overlay[0],
            sources=[subnet],
            destinations=[subnet],
            ports=overlay[1],
        ),
        NsgRule(
            name="etcd-between-servers",
            description="embedded etcd between servers",
            protocol="Tcp",
            sources=servers,
            destinations=servers,
            ports=ETCD_PORTS,
        ),
    ]
    if args.peer_firewall:
        from llmops.components.azure.peers import subnet_openings

        rules += subnet_openings(subnet)
    return rules


class AzureNetwork(pulumi.ComponentResource):
    """Resource group, virtual network, subnet, its security group and the Key Vault. No inbound SSH."""

    resource_group: azure.resources.ResourceGroup
    resource_group_name: pulumi.Output[str]
    location: pulumi.Output[str]
    subnet_id: pulumi.Output[str]
    subnet_cidr: str
    server_addresses: list[str]
    vault: azure.keyvault.Vault
    vault_name: str
    """Known before deployment: the nodes' secret locators name it."""
    subscription_id: pulumi.Output[str]
    peer_security_group_id: pulumi.Output[str] | None = None
    """The NIC-level group admitting exactly the cluster's nodes (`peers.admit_peers`); None in one cloud."""
    ssh_public_key: pulumi.Output[str]
    """A key Azure requires on Linux VMs; no rule admits SSH and the private half is never used."""

    def __init__(self, name: str, args: AzureNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if(f"AzureNetwork {name!r}", validate_network_args(args))
        super().__init__("llmops:azure:AzureNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        client = azure.authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))
        self.subscription_id = client.subscription_id
        self.subnet_cidr = subnet_cidr(args)
        self.server_addresses = server_addresses(args)
        self.vault_name = args.vault_name or default_vault_name(
            pulumi.get_project(), pulumi.get_stack(), name
        )

        self.resource_group = azure.resources.ResourceGroup(
            f"{name}-rg", tags={"llmops-cluster": name}, opts=child
        )
        self.resource_group_name = self.resource_group.name
        self.location = self.resource_group.location
        group = self.resource_group.name

        rules = [
            azure.network.SecurityRuleArgs(
                name=rule.name,
                description=rule.description,
                priority=100 + 10 * index,
                direction=azure.network.SecurityRuleDirection.INBOUND,
                access=azure.network.SecurityRuleAccess.ALLOW,
                protocol=rule.protocol,
                source_address_prefixes=rule.sources,
                source_port_range="*",
                destination_address_prefixes=rule.destinations,
                destination_port_range=rule.ports,
            )
            for index, rule in enumerate(nsg_rules(args))
        ]
        rules.append(
            # Azure's default rule 65000 admits all traffic inside the virtual network; this one
            # stops it after the rules above, so nodes reach each other only on K3s's ports.
            azure.network.SecurityRuleArgs(
                name="deny-other-vnet-inbound",
                description="nothing else between nodes",
                priority=4000,
                direction=azure.network.SecurityRuleDirection.INBOUND,
                access=azure.network.SecurityRuleAccess.DENY,
                protocol="*",
                source_address_prefix="VirtualNetwork",
                source_port_range="*",
                destination_address_prefix="*",
                destination_port_range="*",
            )
        )
        self.security_group = azure.network.NetworkSecurityGroup(
            f"{name}-nsg",
            resource_group_name=group,
            location=self.location,
            security_rules=rules,
            opts=child,
        )
        self.vnet = azure.network.VirtualNetwork(
            f"{name}-vnet",
            resource_group_name=group,
            location=self.location,
            address_space=azure.network.AddressSpaceArgs(address_prefixes=[args.vnet_cidr]),
            opts=pulumi.ResourceOptions(parent=self, ignore_changes=["subnets"]),
        )
        subnet = azure.network.Subnet(
            f"{name}-nodes",
            resource_group_name=group,
            virtual_network_name=self.vnet.name,
            address_prefix=self.subnet_cidr,
            network_security_group=azure.network.NetworkSecurityGroupArgs(id=self.security_group.id),
            # Nodes reach the internet through their own public addresses, never a default route.
            default_outbound_access=False,
            opts=child,
        )
        self.subnet_id = subnet.id
        self.vault = azure.keyvault.Vault(
            f"{name}-vault",
            vault_name=self.vault_name,
            resource_group_name=group,
            location=self.location,
            properties=azure.keyvault.VaultPropertiesArgs(
                tenant_id=client.tenant_id,
                sku=azure.keyvault.SkuArgs(
                    family=azure.keyvault.SkuFamily.A, name=azure.keyvault.SkuName.STANDARD
                ),
                # Access by Azure RBAC: each machine identity gets "Key Vault Secrets User" on
                # exactly the secrets it reads, never the vault.
                enable_rbac_authorization=True,
                enabled_for_deployment=False,
                enabled_for_template_deployment=False,
                soft_delete_retention_in_days=7,
            ),
            opts=child,
        )
        key = tls.PrivateKey(f"{name}-unused-ssh-key", algorithm="ED25519", opts=child)
        self.ssh_public_key = key.public_key_openssh
        self.register_outputs(
            {
                "resourceGroupName": group,
                "subnetId": subnet.id,
                "securityGroupId": self.security_group.id,
                "vaultName": self.vault_name,
            }
        )

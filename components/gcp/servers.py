"""`GcpK3sServers`: runs a `K3sCluster`'s servers on on-demand Compute Engine VMs."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
from llmops.components.errors import Problem, as_problem
from llmops.components.gcp.bootstrap import BOOTSTRAP, secret_locator
from llmops.components.gcp.iam import (
    CLOUD_PLATFORM_SCOPE,
    NodeSecret,
    node_secret,
    node_service_account,
    secret_id,
)
from llmops.components.gcp.network import GcpNetwork, server_address
from llmops.components.k3s.host import K3sServerHost, ServerEndpoints

DEFAULT_MACHINE_TYPE = "e2-standard-2"
UBUNTU_IMAGE = "projects/ubuntu-os-cloud/global/images/family/ubuntu-2404-lts-amd64"
"""Canonical's Ubuntu 24.04 LTS family on Compute Engine (amd64)."""


@dataclass(kw_only=True)
class GcpK3sServersArgs:
    """Inputs of `GcpK3sServers`."""

    network: GcpNetwork
    """Network the servers live in (the subnetwork of its first region)."""
    project: str
    """GCP project id; the servers' secrets live in its Secret Manager."""
    zone: str | None = None
    """Zone of the server; default: zone `b` of the network's first region (every GCP region has one)."""
    machine_type: str = DEFAULT_MACHINE_TYPE
    """On-demand CPU type; default: e2-standard-2 (2 vCPU, 8 GiB), room for K3s and the CPU add-ons."""
    disk_size_gb: int = 50
    """Boot disk (pd-balanced, encrypted by Compute Engine); default: 50 GB (etcd, images, logs)."""
    image: str = UBUNTU_IMAGE
    """Boot image; default: Ubuntu 24.04 LTS."""


class GcpK3sServers(K3sServerHost):
    """A `K3sServerHost` on Compute Engine. Not a resource itself: its resources are children of the cluster.

    One server with a static external IPv4 as the API address. The server's service account
    can read its own Secret Manager secrets and nothing else.
    """

    cloud = "gcp"
    bootstrap = BOOTSTRAP
    shell_hint = (
        "read the server's boot log with `gcloud compute instances get-serial-port-output <instance>` "
        "(the network admits no SSH)"
    )

    def __init__(self, args: GcpK3sServersArgs):
        self.args = args
        self.region = args.network.regions[0] if args.network.regions else ""
        self.zone = args.zone or f"{self.region}-b"
        self.secrets: dict[str, NodeSecret] = {}
        self.instances: list[gcp.compute.Instance] = []
        self.service_account: gcp.serviceaccount.Account | None = None
        self._addresses: list[gcp.compute.Address] = []

    def secret_locator(self, name: str, key: str) -> str:
        return secret_locator(self.args.project, self._secret_name(name, key))

    @staticmethod
    def _secret_name(name: str, key: str) -> str:
        return secret_id(name, "server", re.sub(r"[^A-Za-z0-9_-]", "-", key))

    def validate(self, name: str, server_count: int) -> list[Problem]:
        problems: list[str] = []
        if server_count > 1:
            problems.append(
                f"args.server_count: {server_count} servers need an API load balancer, which is not yet "
                "built on GCP; use 1 server"
            )
        if not self.zone.startswith(f"{self.region}-"):
            problems.append(
                f"args.zone: {self.zone!r} is not in the network's first region {self.region!r}; "
                f"pick a zone such as '{self.region}-b'"
            )
        return [as_problem(line) for line in problems]

    def reserve_endpoints(self, name: str, server_count: int, parent: pulumi.Resource) -> ServerEndpoints:
        child = pulumi.ResourceOptions(parent=parent)
        subnet = self.args.network.subnet_cidrs[self.region]
        private = [server_address(subnet, i) for i in range(server_count)]
        self._addresses = [
            gcp.compute.Address(
                f"{name}-server-{i}-ip",
                region=self.region,
                address_type="EXTERNAL",
                description=f"llmops K3s server {i} of {name}",
                opts=child,
            )
            for i in range(server_count)
        ]
        external = [address.address for address in self._addresses]
        return ServerEndpoints(
            api_address=external[0], private_addresses=private, external_addresses=external
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
        account = node_service_account(
            f"{name}-server", f"K3s servers of {name}: read their own secrets", parent
        )
        self.service_account = account
        for key, value in secrets.items():
            suffix = re.sub(r"[^A-Za-z0-9-]", "-", key)
            self.secrets[key] = node_secret(
                f"{name}-secret-{suffix}",
                project=self.args.project,
                secret_name=self._secret_name(name, key),
                value=value,
                reader=account,
                parent=parent,
            )
        readable = [r for s in self.secrets.values() for r in (s.version, s.reader)]
        labels = {"llmops-cluster": name, "llmops-role": "server"}
        ready: list[pulumi.Resource] = []
        for index, document in enumerate(user_data):
            instance = gcp.compute.Instance(
                f"{name}-server-{index}",
                machine_type=self.args.machine_type,
                zone=self.zone,
                tags=[network.node_tag, network.server_tag],
                labels=labels,
                boot_disk=gcp.compute.InstanceBootDiskArgs(
                    auto_delete=True,
                    initialize_params=gcp.compute.InstanceBootDiskInitializeParamsArgs(
                        image=self.args.image, size=self.args.disk_size_gb, type="pd-balanced", labels=labels
                    ),
                ),
                network_interfaces=[
                    gcp.compute.InstanceNetworkInterfaceArgs(
                        subnetwork=network.subnetwork_ids[self.region],
                        network_ip=endpoints.private_addresses[index],
                        access_configs=[
                            gcp.compute.InstanceNetworkInterfaceAccessConfigArgs(
                                nat_ip=self._addresses[index].address
                            )
                        ],
                    )
                ],
                metadata={
                    "user-data": document,
                    "block-project-ssh-keys": "true",
                    "enable-oslogin": "TRUE",
                },
                service_account=gcp.compute.InstanceServiceAccountArgs(
                    email=account.email, scopes=[CLOUD_PLATFORM_SCOPE]
                ),
                shielded_instance_config=gcp.compute.InstanceShieldedInstanceConfigArgs(
                    enable_secure_boot=True, enable_vtpm=True, enable_integrity_monitoring=True
                ),
                scheduling=gcp.compute.InstanceSchedulingArgs(
                    on_host_maintenance="MIGRATE", automatic_restart=True, provisioning_model="STANDARD"
                ),
                allow_stopping_for_update=True,
                opts=pulumi.ResourceOptions(
                    parent=parent,
                    # The secrets must be readable before cloud-init runs.
                    depends_on=readable,
                    # A new image in the family must not replace a server (and its etcd data);
                    # upgrade K3s in place instead (docs/gcp.md).
                    ignore_changes=["bootDisk"],
                ),
            )
            self.instances.append(instance)
            ready.append(instance)
        return ready

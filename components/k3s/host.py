"""The seam between `K3sCluster` (cloud-neutral) and the cloud that runs its servers.

`K3sCluster` owns what every cloud shares: the PKI, the tokens, the K3s settings, the
cloud-init documents and the kubeconfig. A `K3sServerHost` owns what is cloud-specific: the
address clients reach, where secrets are stored, and the machines. The host creates its
resources as children of the cluster (it receives the cluster as `parent`), so one
`K3sCluster` is one subtree in `pulumi stack` whatever the cloud. See
docs/decisions/030-k3s-pki-in-program.md.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
from llmops.components.errors import Problem
from llmops.components.k3s.render import NodeBootstrap


@dataclass(frozen=True)
class ServerEndpoints:
    """Addresses known before any server exists (they go into certificates and settings)."""

    api_address: pulumi.Output[str]
    """Address (IP or DNS name) clients use for the API; the kubeconfig points here."""
    private_addresses: Sequence[str]
    """Fixed private address of each server; agents and joining servers use the first."""
    external_addresses: Sequence[pulumi.Output[str]]
    """Public address of each server, for `node-external-ip` across clouds."""


class K3sServerHost(abc.ABC):
    """Creates a cluster's servers on one cloud. Each cloud's kit (`llmops.components.cloud.kit`) has one."""

    cloud: str
    """Value of the `llmops.io/cloud` label on the servers."""
    bootstrap: NodeBootstrap
    """The cloud's bootstrap fragment (secret fetch, external address) the servers' scripts source."""
    shell_hint: str = "open a shell on the server"
    """How to reach a server's shell, quoted when its API does not come up."""

    def validate(self, name: str, server_count: int) -> list[Problem]:
        """Problems with running `server_count` servers here; checked before any resource exists."""
        return []

    @abc.abstractmethod
    def reserve_endpoints(self, name: str, server_count: int, parent: pulumi.Resource) -> ServerEndpoints:
        """Create what fixes the servers' addresses (static IPs, a load balancer), before the servers."""

    @abc.abstractmethod
    def secret_locator(self, name: str, key: str) -> str:
        """Where secret `key` of cluster `name` lives in the cloud's secret store."""

    @abc.abstractmethod
    def create_servers(
        self,
        name: str,
        *,
        user_data: Sequence[pulumi.Output[str]],
        secrets: Mapping[str, pulumi.Output[str]],
        endpoints: ServerEndpoints,
        parent: pulumi.Resource,
    ) -> list[pulumi.Resource]:
        """Store `secrets` (key -> secret value) and start one server per user-data document.

        Returns the resources the API's availability depends on (the kubeconfig's provider waits for them).
        """

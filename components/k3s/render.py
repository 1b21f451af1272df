"""Render K3s node settings, cloud-init user data and the admin kubeconfig. Pure Python.

No Pulumi imports: components call these inside `Output.apply` with resolved values, and the
tests call them directly. The bootstrap logic itself is shell in `scripts/`, shipped verbatim
in cloud-init's `write_files`; only data (settings, secret locations) is generated here.
"""

from __future__ import annotations

import base64
import enum
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from llmops.components.k3s.overlay import FLANNEL_CONF_PATH, Overlay
from llmops.components.k3s.versions import K3S_VERSION

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"

# Where the scripts and their inputs land on the node.
NODE_LIB_DIR = "/usr/local/lib/llmops"
NODE_ETC_DIR = "/etc/llmops"
K3S_CONFIG_PATH = "/etc/rancher/k3s/config.yaml"
TOKEN_FILE = "/etc/rancher/k3s/token"
AGENT_TOKEN_FILE = "/etc/rancher/k3s/agent-token"

API_PORT = 6443

Role = Literal["server", "agent"]


class FlannelBackend(enum.Enum):
    """How pods on different nodes reach each other."""

    VXLAN = "vxlan"
    """K3s's default; nodes in one private network (one VPC)."""
    WIREGUARD_NATIVE = "wireguard-native"
    """Encrypted overlay over public addresses; needed when nodes span clouds."""


class NodeExternalIp(enum.Enum):
    """Whether a node sets `node-external-ip` (needed by WireGuard across clouds)."""

    NONE = ""
    """No external address: nodes talk over the private network."""
    FROM_CLOUD = "cloud"
    """The address the cloud's bootstrap fragment reads on the machine (its metadata service)."""


@dataclass(frozen=True)
class NodeBootstrap:
    """A cloud's part of the node bootstrap: a shell fragment `lib.sh` sources.

    The fragment defines `cloud_prepare_secrets` (install what reading secrets needs),
    `cloud_read_secret <locator>` (print one secret to stdout), `cloud_external_ip` (print
    the machine's public address, or return 1), `cloud_provider_id` (print the kubelet's
    provider id, `<cloud>://...`) and, in `image_credentials`, `cloud_image_credentials`
    (install the kubelet's credential provider for the kit's registry). The generic scripts
    never name a cloud; each cloud's kit ships its fragment beside its components.
    """

    cloud: str
    """Value of the `llmops.io/cloud` label; also names the fragment in logs."""
    script: Path
    """The fragment file (bash, shellcheck-clean)."""
    image_credentials: Path | None = None
    """A second fragment (bash, shellcheck-clean) that defines `cloud_image_credentials`; it lands on
    the node appended to `script`. Default: none, so the agents pull only public images."""

    def text(self) -> str:
        text = self.script.read_text()
        if self.image_credentials is None:
            return text
        extra = self.image_credentials.read_text()
        if extra.startswith("#!"):
            extra = extra.partition("\n")[2]
        return text.rstrip("\n") + "\n\n" + extra


@dataclass(frozen=True)
class SecretFile:
    """A secret the node fetches from the cloud's secret store at boot and writes to `path`."""

    locator: str
    """Name in the cloud's secret store. Not secret itself."""
    path: str
    mode: str = "0600"


@dataclass(frozen=True)
class NodeTaint:
    key: str
    value: str
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"]

    def render(self) -> str:
        return f"{self.key}={self.value}:{self.effect}" if self.value else f"{self.key}:{self.effect}"


GPU_TAINT = NodeTaint("nvidia.com/gpu", "true", "NoSchedule")
# Soft on purpose: with only tainted GPU pools beside them, the servers are where the
# cluster's CPU add-ons (metrics, dashboards) can run; GPU pods cannot land there anyway
# because the servers have no nvidia.com/gpu resource.
SERVER_TAINT = NodeTaint("node-role.kubernetes.io/control-plane", "true", "PreferNoSchedule")


def _server_url(address: str) -> str:
    return f"https://{address}:{API_PORT}"


def server_config(
    *,
    node_index: int,
    server_count: int,
    tls_sans: Sequence[str],
    first_server_address: str,
    flannel_backend: FlannelBackend = FlannelBackend.VXLAN,
    node_taints: Sequence[NodeTaint] = (SERVER_TAINT,),
    node_labels: Mapping[str, str] | None = None,
    disable: Sequence[str] = ("traefik",),
    node_external_ip: str | None = None,
) -> dict[str, Any]:
    """Contents of /etc/rancher/k3s/config.yaml on server `node_index` (0-based)."""
    if server_count not in (1, 3):
        raise ValueError(f"server_count: {server_count} is not 1 or 3")
    if not 0 <= node_index < server_count:
        raise ValueError(f"node_index: {node_index} is outside 0..{server_count - 1}")
    config: dict[str, Any] = {
        "token-file": TOKEN_FILE,
        # A separate agent token: a leaked agent credential cannot join a server.
        "agent-token-file": AGENT_TOKEN_FILE,
        "tls-san": list(dict.fromkeys(tls_sans)),
        "secrets-encryption": True,
        "write-kubeconfig-mode": "0600",
        "flannel-backend": flannel_backend.value,
    }
    if server_count == 3:
        if node_index == 0:
            config["cluster-init"] = True
        else:
            config["server"] = _server_url(first_server_address)
    if node_taints:
        config["node-taint"] = [taint.render() for taint in node_taints]
    if node_labels:
        config["node-label"] = [f"{key}={value}" for key, value in sorted(node_labels.items())]
    if disable:
        config["disable"] = list(disable)
    if node_external_ip:
        config["node-external-ip"] = node_external_ip
    return config


def agent_config(
    *,
    server_address: str,
    node_labels: Mapping[str, str],
    node_taints: Sequence[NodeTaint] = (GPU_TAINT,),
) -> dict[str, Any]:
    """Contents of /etc/rancher/k3s/config.yaml on an agent of a node pool."""
    config: dict[str, Any] = {
        "server": _server_url(server_address),
        "token-file": TOKEN_FILE,
        "node-label": [f"{key}={value}" for key, value in sorted(node_labels.items())],
    }
    if node_taints:
        config["node-taint"] = [taint.render() for taint in node_taints]
    return config


def pool_labels(*, pool: str, cloud: str, capacity: str, gpu: bool) -> dict[str, str]:
    """The labels every agent of a pool carries; workloads and dashboards select on them."""
    labels = {"llmops.io/pool": pool, "llmops.io/cloud": cloud, "llmops.io/capacity": capacity}
    if gpu:
        labels["nvidia.com/gpu.present"] = "true"
    return labels


class _LiteralDumper(yaml.SafeDumper):
    """Writes multi-line strings as `|` blocks so scripts stay readable in the user data."""


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_LiteralDumper.add_representer(str, _str_representer)


def _bootstrap_env(values: Mapping[str, str]) -> str:
    return "".join(f"{key}={shlex.quote(value)}\n" for key, value in values.items())


def script_text(name: str) -> str:
    return (SCRIPTS_DIR / name).read_text()


def render_cloud_init(
    *,
    role: Role,
    k3s_config: Mapping[str, Any],
    secrets: Sequence[SecretFile],
    bootstrap: NodeBootstrap,
    k3s_version: str = K3S_VERSION,
    node_external_ip: NodeExternalIp = NodeExternalIp.NONE,
    provider_id: bool = False,
    overlay: Overlay | None = None,
) -> str:
    """A `#cloud-config` document that writes the scripts and settings, then runs `<role>.sh`.

    `overlay`: the node is part of a cluster spanning clouds (components/k3s/overlay.py): it
    claims its reserved public address, writes flannel's config with the WireGuard MTU and sets
    the cross-cloud K3s keys."""
    for secret in secrets:
        for part in (secret.locator, secret.path, secret.mode):
            if not part or any(ch.isspace() for ch in part):
                raise ValueError(f"secret field {part!r} is empty or contains whitespace")
    env = {
        "K3S_VERSION": k3s_version,
        "LLMOPS_CLOUD": bootstrap.cloud,
        "LLMOPS_NODE_EXTERNAL_IP": node_external_ip.value,
    }
    if provider_id:
        # The kubelet's provider id from the cloud's fragment; node autoscalers need it.
        env["LLMOPS_PROVIDER_ID"] = "cloud"
    secrets_list = "".join(f"{s.locator} {s.path} {s.mode}\n" for s in secrets)
    entry = f"{NODE_LIB_DIR}/{role}.sh"
    cloud_fragment = bootstrap.text()
    overlay_files: list[dict[str, str]] = []
    if overlay is not None:
        k3s_config = {**k3s_config, **overlay.k3s_settings(role)}
        if overlay.address_set:
            env["LLMOPS_ADDRESS_SET"] = overlay.address_set
        if overlay.claim_script is not None:
            cloud_fragment += "\n" + overlay.claim_script.read_text()
        overlay_files.append(
            {
                "path": FLANNEL_CONF_PATH,
                "permissions": "0644",
                "owner": "root:root",
                "content": overlay.net_conf(),
            }
        )
    document = {
        "write_files": [
            {
                "path": f"{NODE_LIB_DIR}/lib.sh",
                "permissions": "0644",
                "owner": "root:root",
                "content": script_text("lib.sh"),
            },
            {
                "path": f"{NODE_LIB_DIR}/cloud.sh",
                "permissions": "0644",
                "owner": "root:root",
                "content": cloud_fragment,
            },
            {
                "path": entry,
                "permissions": "0755",
                "owner": "root:root",
                "content": script_text(f"{role}.sh"),
            },
            {
                "path": f"{NODE_ETC_DIR}/bootstrap.env",
                "permissions": "0600",
                "owner": "root:root",
                "content": _bootstrap_env(env),
            },
            {
                "path": f"{NODE_ETC_DIR}/secrets.list",
                "permissions": "0600",
                "owner": "root:root",
                "content": secrets_list,
            },
            {
                "path": K3S_CONFIG_PATH,
                "permissions": "0600",
                "owner": "root:root",
                "content": yaml.safe_dump(dict(k3s_config), sort_keys=False),
            },
            *overlay_files,
        ],
        "runcmd": [[entry]],
    }
    body = yaml.dump(document, Dumper=_LiteralDumper, sort_keys=False, width=1000)
    return "#cloud-config\n" + body


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def render_kubeconfig(
    *, cluster_name: str, api_address: str, ca_pem: str, client_cert_pem: str, client_key_pem: str
) -> str:
    """An admin kubeconfig with the certificates embedded (no files beside it)."""
    user = f"{cluster_name}-admin"
    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster_name,
                "cluster": {"server": _server_url(api_address), "certificate-authority-data": _b64(ca_pem)},
            }
        ],
        "users": [
            {
                "name": user,
                "user": {
                    "client-certificate-data": _b64(client_cert_pem),
                    "client-key-data": _b64(client_key_pem),
                },
            }
        ],
        "contexts": [{"name": cluster_name, "context": {"cluster": cluster_name, "user": user}}],
        "current-context": cluster_name,
        "preferences": {},
    }
    return yaml.safe_dump(document, sort_keys=False)

"""Cloud-init for K3s nodes on Compute Engine. Pure Python.

`K3sCluster` and the pools render the cloud-neutral document with
`components.k3s.render.render_cloud_init`; this module adds the Compute Engine fragments
(`scripts/gcp.sh`: Secret Manager through the metadata server's token, the external address,
the `gce://` provider id) so `lib.sh`'s cloud steps are answered for GCE. The fragments are
appended to `lib.sh` on the node, so the entry scripts stay the same on every cloud.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from components.k3s.render import (
    NODE_ETC_DIR,
    NODE_LIB_DIR,
    Role,
    SecretFile,
    render_cloud_init,
)
from components.k3s.versions import K3S_VERSION

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"
SECRET_BACKEND = "gcp-secret-manager"
EXTERNAL_IP_FROM_METADATA = "gce-metadata"


def fragments() -> str:
    return (SCRIPTS_DIR / "gcp.sh").read_text()


class _LiteralDumper(yaml.SafeDumper):
    """Multi-line strings as `|` blocks, as `render_cloud_init` writes them."""


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_LiteralDumper.add_representer(str, _str_representer)


def with_gcp_fragments(document: str, *, external_ip: bool = False) -> str:
    """A `render_cloud_init` document made to run on Compute Engine.

    `external_ip`: the node reads its external IPv4 from the metadata server at boot and
    sets `node-external-ip` (WireGuard between clouds); servers know theirs in advance.
    """
    if not document.startswith("#cloud-config\n"):
        raise ValueError("not a #cloud-config document")
    base = yaml.safe_load(document)
    for entry in base["write_files"]:
        if entry["path"] == f"{NODE_LIB_DIR}/lib.sh":
            body = fragments().removeprefix("#!/usr/bin/env bash\n")
            entry["content"] = (
                entry["content"] + "\n# --- Compute Engine (components/gcp/scripts/gcp.sh) ---\n" + body
            )
        elif entry["path"] == f"{NODE_ETC_DIR}/bootstrap.env" and external_ip:
            entry["content"] = entry["content"].replace(
                "LLMOPS_NODE_EXTERNAL_IP=''\n", f"LLMOPS_NODE_EXTERNAL_IP={EXTERNAL_IP_FROM_METADATA}\n"
            )
    return "#cloud-config\n" + yaml.dump(base, Dumper=_LiteralDumper, sort_keys=False, width=1000)


def render_gcp_cloud_init(
    *,
    role: Role,
    k3s_config: Mapping[str, Any],
    secrets: Sequence[SecretFile],
    k3s_version: str = K3S_VERSION,
    external_ip: bool = False,
) -> str:
    """A `#cloud-config` document for a Compute Engine node."""
    document = render_cloud_init(
        role=role,
        k3s_config=k3s_config,
        secrets=secrets,
        secret_backend=SECRET_BACKEND,
        k3s_version=k3s_version,
    )
    return with_gcp_fragments(document, external_ip=external_ip)


def secret_locator(project: str, secret_id: str) -> str:
    """The Secret Manager resource name the node reads: `projects/<project>/secrets/<id>`."""
    return f"projects/{project}/secrets/{secret_id}"

"""The Compute Engine part of the node bootstrap, and where node secrets live. Pure Python.

`BOOTSTRAP` is the fragment (`scripts/cloud.sh`) that `llmops.components.k3s.render.render_cloud_init`
writes beside `lib.sh`: Secret Manager through the metadata server's token, the external
address and the `gce://` provider id from the metadata server. The entry scripts are the same
on every cloud.
"""

from __future__ import annotations

from pathlib import Path

from llmops.components.k3s.render import NodeBootstrap

SCRIPTS_DIR = Path(__file__).resolve().parent / "scripts"
BOOTSTRAP = NodeBootstrap(
    cloud="gcp", script=SCRIPTS_DIR / "cloud.sh", image_credentials=SCRIPTS_DIR / "image-credentials.sh"
)
"""Secrets from Secret Manager, the address and provider id from the metadata server, Artifact
Registry pulls through cloud-provider-gcp's credential provider."""


def secret_locator(project: str, secret_id: str) -> str:
    """The Secret Manager resource name the node reads: `projects/<project>/secrets/<id>`."""
    return f"projects/{project}/secrets/{secret_id}"

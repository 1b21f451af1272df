"""Service accounts for K3s nodes, and Secret Manager secrets each readable by one of them only."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import pulumi
import pulumi_gcp as gcp
from llmops.components.gcp.bootstrap import secret_locator

SECRET_ACCESSOR = "roles/secretmanager.secretAccessor"
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
"""The VM's OAuth scope. Access is decided by IAM (Google's recommended setup); the account
holds no project role, only `secretAccessor` on its own secrets."""


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")


def account_id(name: str) -> str:
    """A service account id (6 to 30 of [a-z0-9-], starting with a letter), unique per stack and name."""
    digest = hashlib.sha256(f"{pulumi.get_project()}/{pulumi.get_stack()}/{name}".encode()).hexdigest()[:6]
    stem = _slug(name)[:19].strip("-") or "node"  # 4 + 19 + 1 + 6 = 30, the limit
    return f"k3s-{stem}-{digest}"


def secret_id(*parts: str) -> str:
    """`llmops-<project>-<stack>-<parts...>`, in Secret Manager's alphabet, unique per stack."""
    text = "-".join(("llmops", pulumi.get_project(), pulumi.get_stack(), *parts))
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text)[:255]


def node_service_account(name: str, description: str, parent: pulumi.Resource) -> gcp.serviceaccount.Account:
    return gcp.serviceaccount.Account(
        f"{name}-sa",
        account_id=account_id(name),
        display_name=f"llmops K3s {name}",
        description=description,
        opts=pulumi.ResourceOptions(parent=parent),
    )


@dataclass(frozen=True)
class NodeSecret:
    secret: gcp.secretmanager.Secret
    version: gcp.secretmanager.SecretVersion
    reader: gcp.secretmanager.SecretIamMember
    locator: str
    """What the node asks Secret Manager for (`projects/<project>/secrets/<id>`)."""


def node_secret(
    resource_name: str,
    *,
    project: str,
    secret_name: str,
    value: pulumi.Input[str],
    reader: gcp.serviceaccount.Account,
    parent: pulumi.Resource,
) -> NodeSecret:
    """One secret, its value kept a Pulumi secret, readable by `reader` alone (IAM on the secret)."""
    child = pulumi.ResourceOptions(parent=parent)
    secret = gcp.secretmanager.Secret(
        resource_name,
        project=project,
        secret_id=secret_name,
        replication=gcp.secretmanager.SecretReplicationArgs(
            auto=gcp.secretmanager.SecretReplicationAutoArgs()
        ),
        labels={"managed-by": "llmops"},
        opts=child,
    )
    version = gcp.secretmanager.SecretVersion(
        f"{resource_name}-value",
        secret=secret.id,
        secret_data=pulumi.Output.secret(value),
        opts=pulumi.ResourceOptions(parent=parent, additional_secret_outputs=["secretData"]),
    )
    member = gcp.secretmanager.SecretIamMember(
        f"{resource_name}-reader",
        project=project,
        secret_id=secret.secret_id,
        role=SECRET_ACCESSOR,
        member=reader.email.apply(lambda email: f"serviceAccount:{email}"),
        opts=child,
    )
    return NodeSecret(secret, version, member, secret_locator(project, secret_name))

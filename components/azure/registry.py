"""The serving image's Azure Container Registry: admin user off, anonymous pull off, AcrPull for the
GPU pools' managed identities on this registry alone, and a nightly ACR Task that purges all but the
newest N images of the serving repository (decision 124).

The registry's name is derived from the subscription and resource group (`registry_name`), the same
way the node bootstrap derives it (scripts/image-credentials.sh), so the agents know the one host
their credential provider serves before the registry exists.

What ACR cannot do here: tags are not immutable (ACR locks single images through its data plane
only, not in ARM), so the content-addressed tags are what keeps a tag naming one image; retention of
untagged manifests and customer-managed keys are Premium features. Encryption at rest uses
Microsoft-managed keys.
"""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Sequence

import pulumi
import pulumi_azure_native as azure
from llmops.components.cloud import ImageRegistry

KEEP_IMAGES = 10
"""Images the purge task keeps (newest first), as on ECR."""
CACHE_TAG = "buildcache"
REPOSITORY = "vllm"
"""The serving image's repository inside the registry (ACR creates it on the first push)."""
DEFAULT_SKU = "Standard"
"""Standard: twice Basic's pull bandwidth for a multi-gigabyte image, 100 GiB included; Premium adds
only geo-replication, private links, retention and customer-managed keys."""
ACR_PULL = "7f951dda-4ed3-4680-a7ca-43fe172d538d"
"""Built-in role AcrPull: pull images, nothing else."""
PUSH_USERNAME = "00000000-0000-0000-0000-000000000000"
"""The user name ACR takes with an ACR refresh token as the password."""
PURGE_SCHEDULE = "0 3 * * *"


def registry_name(subscription_id: str, resource_group: str) -> str:
    """`llmops` and 20 hex digits of SHA-256 over `<subscription>/<resource group>` (lower case): a
    valid ACR name (5-50 letters and digits), one per stack's resource group, the same on the node."""
    digest = hashlib.sha256(f"{subscription_id}/{resource_group}".lower().encode()).hexdigest()
    return f"llmops{digest[:20]}"


def purge_task(keep: int, repository: str = REPOSITORY) -> str:
    """The ACR Task (YAML) deleting all but the newest `keep` serving images and untagged manifests.

    The filter takes the content-addressed tags only (`<base tag>-<12 hex>`), never the build cache.
    """
    return (
        "version: v1.1.0\n"
        "steps:\n"
        f"  - cmd: acr purge --filter '{repository}:.*-[0-9a-f]{{12}}$' --ago 0d --keep {keep} --untagged\n"
        "    disableWorkingDirectoryOverride: true\n"
        "    timeout: 3600\n"
    )


def exchange_refresh_token(
    login_server: str,
    aad_access_token: str,
    tenant: str,
    *,
    endpoint: str | None = None,
    timeout_s: float = 30.0,
) -> str:
    """The ACR refresh token `docker login` takes as a password, for an Entra ID access token
    (the registry's `/oauth2/exchange`). The token travels in the request body, never in a URL."""
    body = urllib.parse.urlencode(
        {
            "grant_type": "access_token",
            "service": login_server,
            "tenant": tenant,
            "access_token": aad_access_token,
        }
    ).encode()
    request = urllib.request.Request(
        endpoint or f"https://{login_server}/oauth2/exchange",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            answer = json.load(response)
    except urllib.error.HTTPError as error:
        raise RuntimeError(
            f"{login_server} refused the token exchange (HTTP {error.code}); the program's identity needs "
            "AcrPush (or Contributor) on the registry"
        ) from None
    token = answer.get("refresh_token") if isinstance(answer, dict) else None
    if not isinstance(token, str) or not token:
        raise RuntimeError(f"{login_server} answered the token exchange without a refresh_token")
    return token


def _under_mocks() -> bool:
    from pulumi.runtime.mocks import MockMonitor
    from pulumi.runtime.settings import get_monitor

    return isinstance(get_monitor(), MockMonitor)


class AzureContainerRegistry(pulumi.ComponentResource):
    """One registry for the serving image, the pools' pull grants and the purge task."""

    def __init__(
        self,
        name: str,
        *,
        resource_group_name: pulumi.Input[str],
        location: pulumi.Input[str],
        subscription_id: pulumi.Input[str],
        node_principal_ids: Sequence[pulumi.Input[str]],
        sku: str = DEFAULT_SKU,
        keep_images: int = KEEP_IMAGES,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("llmops:azure:AzureContainerRegistry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        group = pulumi.Output.from_input(resource_group_name)
        subscription = pulumi.Output.from_input(subscription_id)
        premium = sku == "Premium"
        self.registry = azure.containerregistry.Registry(
            f"{name}-registry",
            registry_name=pulumi.Output.all(subscription, group).apply(
                lambda parts: registry_name(str(parts[0]), str(parts[1]))
            ),
            resource_group_name=group,
            location=location,
            sku=azure.containerregistry.SkuArgs(name=sku),
            admin_user_enabled=False,
            anonymous_pull_enabled=False,
            # Untagged manifests (overwritten cache layers) expire where the SKU can do it.
            policies=azure.containerregistry.PoliciesArgs(
                retention_policy=azure.containerregistry.RetentionPolicyArgs(days=7, status="enabled")
            )
            if premium
            else None,
            opts=child,
        )
        self.pull_grants = [
            azure.authorization.RoleAssignment(
                f"{name}-pull-{i}",
                # A role assignment's name is a GUID; derived from registry and principal it stays stable.
                role_assignment_name=pulumi.Output.all(self.registry.id, principal).apply(
                    lambda parts: str(
                        uuid.uuid5(uuid.NAMESPACE_URL, f"llmops/acr-pull/{parts[0]}/{parts[1]}")
                    )
                ),
                scope=self.registry.id,
                principal_id=principal,
                principal_type=azure.authorization.PrincipalType.SERVICE_PRINCIPAL,
                role_definition_id=subscription.apply(
                    lambda sub: (
                        f"/subscriptions/{sub}/providers/Microsoft.Authorization/roleDefinitions/{ACR_PULL}"
                    )
                ),
                opts=child,
            )
            for i, principal in enumerate(node_principal_ids)
        ]
        self.purge = azure.containerregistry.Task(
            f"{name}-purge",
            registry_name=self.registry.name,
            resource_group_name=group,
            location=location,
            platform=azure.containerregistry.PlatformPropertiesArgs(os="Linux", architecture="amd64"),
            step=azure.containerregistry.EncodedTaskStepArgs(
                type="EncodedTask",
                encoded_task_content=base64.b64encode(purge_task(keep_images).encode()).decode(),
            ),
            trigger=azure.containerregistry.TriggerPropertiesArgs(
                timer_triggers=[
                    azure.containerregistry.TimerTriggerArgs(
                        name="nightly", schedule=PURGE_SCHEDULE, status="Enabled"
                    )
                ]
            ),
            status="Enabled",
            timeout=3600,
            opts=child,
        )
        # The program's own Entra ID token, exchanged for an ACR refresh token at each run (ECR's
        # token is read the same way). The offline plan and unit tests run under mocks: no exchange.
        client = azure.authorization.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))
        token = azure.authorization.get_client_token_output(opts=pulumi.InvokeOutputOptions(parent=self))
        login_server = self.registry.login_server
        password = pulumi.Output.all(login_server, token.token, client.tenant_id).apply(
            lambda parts: (
                "plan-acr-refresh-token"
                if _under_mocks()
                else exchange_refresh_token(str(parts[0]), str(parts[1]), str(parts[2]))
            )
        )
        self.registry_login = ImageRegistry(
            repository_url=pulumi.Output.concat(login_server, "/", REPOSITORY),
            address=login_server,
            username=pulumi.Output.from_input(PUSH_USERNAME),
            password=pulumi.Output.secret(password),
            cache_tag=CACHE_TAG,
        )
        self.register_outputs({"loginServer": login_server})

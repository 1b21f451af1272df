"""The serving image's Artifact Registry repository: Docker format, immutable tags, a cleanup policy
keeping the newest N images, and `roles/artifactregistry.reader` on that repository alone for the GPU
pools' service accounts. The BuildKit cache lives in a second, mutable repository (immutable tags
admit no exception), which the nodes cannot read.

Encryption: Google-managed keys unless `kms_key_name` names a Cloud KMS key (CMEK); the Artifact
Registry service agent needs `roles/cloudkms.cryptoKeyEncrypterDecrypter` on that key, which this
component does not grant (the key is the operator's).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import pulumi
import pulumi_gcp as gcp
from llmops.components.cloud import ImageRegistry

KEEP_IMAGES = 10
"""Images the cleanup policy keeps (newest first), as on ECR: room to roll back well past a bad release."""
CACHE_TAG = "buildcache"
CACHE_MAX_AGE = "604800s"
"""Cache manifests a build no longer tags are deleted after a week."""
READER_ROLE = "roles/artifactregistry.reader"
PUSH_USERNAME = "oauth2accesstoken"
"""The user name Artifact Registry takes with an OAuth access token as the password."""


def registry_host(location: str) -> str:
    return f"{location}-docker.pkg.dev"


IMAGE = "vllm"
"""The image's name inside the repository: Artifact Registry's Docker paths are
`<host>/<project>/<repository>/<image>`, the image part is required."""


def repository_url(location: str, project: str, repository_id: str) -> str:
    """`<location>-docker.pkg.dev/<project>/<repository>/vllm`: the image name without tag or digest."""
    return f"{registry_host(location)}/{project}/{repository_id}/{IMAGE}"


def repository_id(stack: str, name: str) -> str:
    """A repository id unique to the stack (ids are per project and location): lower-case letters,
    digits and hyphens, starting with a letter, at most 63 characters."""
    raw = re.sub(r"[^a-z0-9-]+", "-", f"{stack}-{name}".lower()).strip("-")
    if not raw or not raw[0].isalpha():
        raw = f"llmops-{raw}"
    return raw[:63].rstrip("-")


def cache_repository_id(repository: str) -> str:
    """The build cache's repository id beside `repository` (still at most 63 characters)."""
    return f"{repository[:57].rstrip('-')}-cache"


def cleanup_policies(keep: int) -> list[gcp.artifactregistry.RepositoryCleanupPolicyArgs]:
    """Keep the newest `keep` versions; delete every other one (a keep rule wins over a delete rule)."""
    return [
        gcp.artifactregistry.RepositoryCleanupPolicyArgs(
            id="keep-newest",
            action="KEEP",
            most_recent_versions=gcp.artifactregistry.RepositoryCleanupPolicyMostRecentVersionsArgs(
                keep_count=keep
            ),
        ),
        gcp.artifactregistry.RepositoryCleanupPolicyArgs(
            id="delete-older",
            action="DELETE",
            condition=gcp.artifactregistry.RepositoryCleanupPolicyConditionArgs(tag_state="ANY"),
        ),
    ]


def _url_of(repository: gcp.artifactregistry.Repository) -> pulumi.Output[str]:
    return pulumi.Output.all(repository.location, repository.project, repository.repository_id).apply(
        lambda parts: repository_url(str(parts[0]), str(parts[1]), str(parts[2]))
    )


class ArtifactRegistry(pulumi.ComponentResource):
    """The serving image's repository, its build-cache repository, and the pools' read grants."""

    def __init__(
        self,
        name: str,
        *,
        project: str,
        location: str,
        repository: str,
        node_service_accounts: Sequence[gcp.serviceaccount.Account],
        keep_images: int = KEEP_IMAGES,
        kms_key_name: pulumi.Input[str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("llmops:gcp:ArtifactRegistry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.repository = gcp.artifactregistry.Repository(
            f"{name}-repository",
            project=project,
            location=location,
            repository_id=repository,
            format="DOCKER",
            description="llmops serving image (tags never move; the newest images are kept)",
            docker_config=gcp.artifactregistry.RepositoryDockerConfigArgs(immutable_tags=True),
            cleanup_policies=cleanup_policies(keep_images),
            cleanup_policy_dry_run=False,
            kms_key_name=kms_key_name,
            opts=child,
        )
        cache = cache_repository_id(repository)
        self.cache_repository = gcp.artifactregistry.Repository(
            f"{name}-cache",
            project=project,
            location=location,
            repository_id=cache,
            format="DOCKER",
            description="llmops serving image: BuildKit cache (one tag, rewritten by every build)",
            cleanup_policies=[
                gcp.artifactregistry.RepositoryCleanupPolicyArgs(
                    id="delete-stale-cache",
                    action="DELETE",
                    condition=gcp.artifactregistry.RepositoryCleanupPolicyConditionArgs(
                        tag_state="UNTAGGED", older_than=CACHE_MAX_AGE
                    ),
                )
            ],
            cleanup_policy_dry_run=False,
            kms_key_name=kms_key_name,
            opts=child,
        )
        self.readers = [
            gcp.artifactregistry.RepositoryIamMember(
                f"{name}-reader-{i}",
                project=project,
                location=location,
                repository=self.repository.repository_id,
                role=READER_ROLE,
                member=account.email.apply(lambda email: f"serviceAccount:{email}"),
                opts=child,
            )
            for i, account in enumerate(node_service_accounts)
        ]
        # The program's own credentials push: a short-lived OAuth token, read at each run as ECR's is.
        client = gcp.organizations.get_client_config_output(opts=pulumi.InvokeOutputOptions(parent=self))
        # Built from the repositories' outputs, so the push waits for them to exist.
        self.registry = ImageRegistry(
            repository_url=_url_of(self.repository),
            address=pulumi.Output.from_input(registry_host(location)),
            username=pulumi.Output.from_input(PUSH_USERNAME),
            password=pulumi.Output.secret(client.access_token),
            cache_tag=CACHE_TAG,
            cache_repository_url=_url_of(self.cache_repository),
        )
        self.register_outputs({"repositoryUrl": self.registry.repository_url})

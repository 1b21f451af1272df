"""The serving image's ECR repository: immutable tags, scan on push, KMS encryption, a lifecycle
policy, and pull access for the GPU pools' node roles to exactly this repository."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pulumi
import pulumi_aws as aws
from llmops.components.cloud import ImageRegistry

KEEP_IMAGES = 10
"""Images the lifecycle policy keeps (newest first); older ones expire. Ten builds back is room
to roll back a model by digest well past a bad release."""

CACHE_TAG = "buildcache"

# Actions a node needs to pull one image; GetAuthorizationToken has no resource-level scope.
PULL_ACTIONS = ["ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]


def lifecycle_policy(keep: int = KEEP_IMAGES) -> str:
    return json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": f"keep the newest {keep} images",
                    "selection": {"tagStatus": "any", "countType": "imageCountMoreThan", "countNumber": keep},
                    "action": {"type": "expire"},
                }
            ]
        }
    )


def pull_policy(repository_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "PullServingImage",
                    "Effect": "Allow",
                    "Action": PULL_ACTIONS,
                    "Resource": repository_arn,
                },
                {
                    "Sid": "RegistryLogin",
                    "Effect": "Allow",
                    "Action": "ecr:GetAuthorizationToken",
                    "Resource": "*",
                },
            ],
        }
    )


class EcrRegistry(pulumi.ComponentResource):
    """One ECR repository for the serving image and the node roles' pull grants."""

    def __init__(
        self,
        name: str,
        node_roles: Sequence[aws.iam.Role],
        *,
        keep_images: int = KEEP_IMAGES,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("llmops:aws:EcrRegistry", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.repository = aws.ecr.Repository(
            f"{name}-repository",
            # Tags never move, so a tag names one image for good; the build cache's tag is the one
            # exception (it is rewritten by every build and nothing runs it).
            image_tag_mutability="IMMUTABLE_WITH_EXCLUSION",
            image_tag_mutability_exclusion_filters=[
                aws.ecr.RepositoryImageTagMutabilityExclusionFilterArgs(
                    filter=CACHE_TAG, filter_type="WILDCARD"
                )
            ],
            image_scanning_configuration=aws.ecr.RepositoryImageScanningConfigurationArgs(scan_on_push=True),
            # KMS with the AWS-managed ECR key: no key to pay for or grant the nodes.
            encryption_configurations=[aws.ecr.RepositoryEncryptionConfigurationArgs(encryption_type="KMS")],
            force_delete=False,
            opts=child,
        )
        self.lifecycle = aws.ecr.LifecyclePolicy(
            f"{name}-lifecycle",
            repository=self.repository.name,
            policy=lifecycle_policy(keep_images),
            opts=child,
        )
        self.pull_grants = [
            aws.iam.RolePolicy(
                f"{name}-pull-{i}",
                role=role.id,
                policy=self.repository.arn.apply(pull_policy),
                opts=child,
            )
            for i, role in enumerate(node_roles)
        ]
        token = aws.ecr.get_authorization_token_output(
            registry_id=self.repository.registry_id, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        self.registry = ImageRegistry(
            repository_url=self.repository.repository_url,
            address=token.proxy_endpoint,
            username=token.user_name,
            password=pulumi.Output.secret(token.password),
            cache_tag=CACHE_TAG,
        )
        outputs: dict[str, Any] = {"repositoryUrl": self.repository.repository_url}
        self.register_outputs(outputs)

"""Instance roles for K3s nodes: Session Manager access plus reading their own SSM parameters."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

SSM_MANAGED_INSTANCE_CORE = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"

_EC2_ASSUME_ROLE = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
)


def read_parameters_policy(parameter_arns: Sequence[str]) -> str:
    """A policy that reads exactly these parameters. SecureStrings under the AWS-managed
    `aws/ssm` key need no KMS statement: that key's policy allows use through SSM."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "ReadBootstrapSecrets",
                    "Effect": "Allow",
                    "Action": ["ssm:GetParameter"],
                    "Resource": sorted(parameter_arns),
                }
            ],
        }
    )


@dataclass(frozen=True)
class NodeRole:
    role: aws.iam.Role
    profile: aws.iam.InstanceProfile
    policy: aws.iam.RolePolicy


def node_role(name: str, parameters: Sequence[aws.ssm.Parameter], parent: pulumi.Resource) -> NodeRole:
    """Role + instance profile named `{name}-role`/`{name}-profile`, parented to `parent`."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        f"{name}-role",
        assume_role_policy=_EC2_ASSUME_ROLE,
        description="llmops K3s node: Session Manager, and its own bootstrap parameters",
        opts=child,
    )
    aws.iam.RolePolicyAttachment(
        f"{name}-ssm-core", role=role.name, policy_arn=SSM_MANAGED_INSTANCE_CORE, opts=child
    )
    policy = aws.iam.RolePolicy(
        f"{name}-read-secrets",
        role=role.id,
        policy=pulumi.Output.all(*[p.arn for p in parameters]).apply(read_parameters_policy),
        opts=child,
    )
    profile = aws.iam.InstanceProfile(f"{name}-profile", role=role.name, opts=child)
    return NodeRole(role=role, profile=profile, policy=policy)


def secure_parameter(
    resource_name: str,
    parameter_name: str,
    value: pulumi.Output[str],
    description: str,
    parent: pulumi.Resource,
) -> aws.ssm.Parameter:
    """A SecureString whose value stays a Pulumi secret in state and in every output."""
    return aws.ssm.Parameter(
        resource_name,
        name=parameter_name,
        type="SecureString",
        value=pulumi.Output.secret(value),
        description=description,
        opts=pulumi.ResourceOptions(parent=parent, additional_secret_outputs=["value"]),
    )


def parameter_path(*parts: str) -> str:
    """`/llmops/<project>/<stack>/<parts...>`: unique per stack in one account and region."""
    return "/" + "/".join(("llmops", pulumi.get_project(), pulumi.get_stack(), *parts))

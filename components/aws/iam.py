"""Instance roles for K3s nodes: each reads its own SSM parameters and nothing else.

No AWS-managed policy is attached: `AmazonSSMManagedInstanceCore` allows `ssm:GetParameter(s)` on
every parameter in the account, which would let any node (or a host-network pod on it) read the
cluster's CA keys. Session Manager is an opt-in with `session_manager_policy()`, which grants the
agent's channel actions and no parameter read (docs/decisions/060-node-roles-read-only-their-own.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

# What the SSM agent needs for Session Manager shell sessions, from AWS's "custom IAM instance
# profile for Session Manager" page: register the instance, open the control and data channels.
SESSION_MANAGER_ACTIONS = (
    "ssm:UpdateInstanceInformation",
    "ssmmessages:CreateControlChannel",
    "ssmmessages:CreateDataChannel",
    "ssmmessages:OpenControlChannel",
    "ssmmessages:OpenDataChannel",
)

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


def session_manager_policy() -> str:
    """Session Manager shell access without any `ssm:GetParameter*` (the channel actions take no
    resource-level permissions, hence `*`)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "SessionManagerChannels",
                    "Effect": "Allow",
                    "Action": list(SESSION_MANAGER_ACTIONS),
                    "Resource": "*",
                }
            ],
        }
    )


@dataclass(frozen=True)
class NodeRole:
    role: aws.iam.Role
    profile: aws.iam.InstanceProfile
    policy: aws.iam.RolePolicy


def node_role(
    name: str,
    parameters: Sequence[aws.ssm.Parameter],
    parent: pulumi.Resource,
    *,
    session_manager: bool = False,
) -> NodeRole:
    """Role + instance profile named `{name}-role`/`{name}-profile`, parented to `parent`.

    The role reads exactly `parameters`; with `session_manager`, it also gets the Session Manager
    channel actions (and still no other parameter)."""
    child = pulumi.ResourceOptions(parent=parent)
    role = aws.iam.Role(
        f"{name}-role",
        assume_role_policy=_EC2_ASSUME_ROLE,
        description="llmops K3s node: reads its own bootstrap parameters only",
        opts=child,
    )
    if session_manager:
        aws.iam.RolePolicy(
            f"{name}-session-manager", role=role.id, policy=session_manager_policy(), opts=child
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

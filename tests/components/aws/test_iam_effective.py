"""Every node role's effective IAM statements, evaluated against every SSM parameter the stack makes.

The evaluation covers inline policies and attached managed policies; the AWS-managed documents
an llmops role could be given are written here as data, so attaching one shows up as a read.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest
from llmops.infra.config import RawStack, read_stack_file
from llmops.infra.plan import Plan, run_plan

# AWS-managed policy documents (IAM console, policy versions as of 2025): the statements that
# matter for parameter reads are kept verbatim in shape.
AWS_MANAGED_POLICIES: dict[str, dict[str, Any]] = {
    "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": [
                    "ssm:DescribeAssociation",
                    "ssm:GetDeployablePatchSnapshotForInstance",
                    "ssm:GetDocument",
                    "ssm:DescribeDocument",
                    "ssm:GetManifest",
                    "ssm:GetParameter",
                    "ssm:GetParameters",
                    "ssm:ListAssociations",
                    "ssm:ListInstanceAssociations",
                    "ssm:PutInventory",
                    "ssm:PutComplianceItems",
                    "ssm:PutConfigurePackageResult",
                    "ssm:UpdateAssociationStatus",
                    "ssm:UpdateInstanceAssociationStatus",
                    "ssm:UpdateInstanceInformation",
                ],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "ssmmessages:CreateControlChannel",
                    "ssmmessages:CreateDataChannel",
                    "ssmmessages:OpenControlChannel",
                    "ssmmessages:OpenDataChannel",
                ],
                "Resource": "*",
            },
            {
                "Effect": "Allow",
                "Action": [
                    "ec2messages:AcknowledgeMessage",
                    "ec2messages:DeleteMessage",
                    "ec2messages:FailMessage",
                    "ec2messages:GetEndpoint",
                    "ec2messages:GetMessages",
                    "ec2messages:SendReply",
                ],
                "Resource": "*",
            },
        ],
    },
    "arn:aws:iam::aws:policy/AmazonSSMReadOnlyAccess": {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["ssm:Describe*", "ssm:Get*", "ssm:List*"], "Resource": "*"}
        ],
    },
    "arn:aws:iam::aws:policy/ReadOnlyAccess": {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": ["ssm:Get*", "ssm:Describe*", "ssm:List*"], "Resource": "*"}
        ],
    },
}

# Every API that returns a parameter's value.
PARAMETER_READS = (
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "ssm:GetParameterHistory",
)


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value or [])


def _matches(pattern: str, value: str, *, case: bool) -> bool:
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern)


def _covers(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    if "Action" in statement:
        acts = any(_matches(p, action, case=False) for p in _as_list(statement["Action"]))
    else:
        acts = not any(_matches(p, action, case=False) for p in _as_list(statement["NotAction"]))
    if not acts:
        return False
    if "Resource" in statement:
        patterns = _as_list(statement["Resource"])
        hit = any(_matches(p, resource, case=True) for p in patterns)
        if action == "ssm:GetParametersByPath":
            # A path read returns every parameter under the path.
            hit = hit or any(resource.startswith(p.rstrip("/") + "/") for p in patterns)
        return hit
    return not any(_matches(p, resource, case=True) for p in _as_list(statement["NotResource"]))


def readable(documents: Iterable[Mapping[str, Any]], parameter_arn: str) -> bool:
    """Whether the statements allow any value-returning read of the parameter (explicit Deny wins)."""
    statements = [s for d in documents for s in _as_list_of_dicts(d["Statement"])]
    for action in PARAMETER_READS:
        allowed = any(s["Effect"] == "Allow" and _covers(s, action, parameter_arn) for s in statements)
        denied = any(s["Effect"] == "Deny" and _covers(s, action, parameter_arn) for s in statements)
        if allowed and not denied:
            return True
    return False


def _as_list_of_dicts(value: Any) -> list[Mapping[str, Any]]:
    return [value] if isinstance(value, dict) else list(value)


@dataclasses.dataclass
class RoleView:
    name: str
    documents: list[dict[str, Any]]


def role_views(plan: Plan) -> dict[str, RoleView]:
    """Each role with its inline policies and the documents of its attached managed policies."""
    roles = {r.name: RoleView(r.name, []) for r in plan.of_type("aws:iam/role:Role")}
    # The plan's mocks give a role the id `<name>-id` and the name `<name>`.
    by_ref = {**{f"{n}-id": v for n, v in roles.items()}, **roles}
    for policy in plan.of_type("aws:iam/rolePolicy:RolePolicy"):
        by_ref[policy.inputs["role"]].documents.append(json.loads(policy.inputs["policy"]))
    for attachment in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        arn = attachment.inputs["policyArn"]
        assert arn in AWS_MANAGED_POLICIES, f"{arn} is not written into this test; add its document"
        by_ref[attachment.inputs["role"]].documents.append(AWS_MANAGED_POLICIES[arn])
    return roles


def over_broad_reads(plan: Plan) -> list[str]:
    """Every (role, parameter) read that the role should not have."""
    parameters = {p.inputs["name"]: p for p in plan.of_type("aws:ssm/parameter:Parameter")}
    arns = {name: f"arn:aws:ssm:us-east-1:000000000000:parameter{name}" for name in parameters}
    found = []
    for view in role_views(plan).values():
        for name, arn in arns.items():
            if readable(view.documents, arn) and not _may_read(view.name, name):
                found.append(f"{view.name} can read {name}")
        # A read of a parameter outside this stack (any other parameter in the region).
        if readable(view.documents, "arn:aws:ssm:us-east-1:000000000000:parameter/someone-else/db-password"):
            found.append(f"{view.name} can read parameters of other applications")
    return found


def _may_read(role: str, parameter: str) -> bool:
    """Servers read the server parameters (CA keys among them); a pool's agents its own token."""
    if role.endswith("-server-role"):
        return "/servers/" in parameter
    pool = role.removesuffix("-role")
    return parameter.endswith(f"/pools/{pool}/agent-token")


def _variant(raw: RawStack, **cluster: Any) -> RawStack:
    values = dict(raw.values)
    values["cluster"] = {**values["cluster"], **cluster}
    return dataclasses.replace(raw, values=values)


@pytest.fixture(scope="module")
def raw(repo_root: Path) -> RawStack:
    return read_stack_file(repo_root / "stacks", "aws-dev")


@pytest.mark.parametrize(
    "cluster",
    [{}, {"sessionManager": True}, {"servers": 3, "sessionManager": True}],
    ids=["aws-dev", "session-manager", "three-servers"],
)
def test_no_role_reads_a_parameter_but_its_own(raw: RawStack, cluster: dict[str, Any]) -> None:
    plan = run_plan(_variant(raw, **cluster), "aws-dev")
    roles = role_views(plan)
    assert len(roles) == 3  # the servers and the two pools
    assert over_broad_reads(plan) == []
    parameters = [p.inputs["name"] for p in plan.of_type("aws:ssm/parameter:Parameter")]
    ca_keys = [p for p in parameters if p.endswith(".key")]
    assert ca_keys, "the servers' CA keys are parameters"
    for view in roles.values():
        reads = [
            p
            for p in parameters
            if readable(view.documents, f"arn:aws:ssm:us-east-1:000000000000:parameter{p}")
        ]
        if view.name.endswith("-server-role"):
            assert set(ca_keys) <= set(reads)
        else:
            assert reads == [p for p in parameters if p.endswith(f"/pools/{view.name[:-5]}/agent-token")]


def test_session_manager_grants_channels_and_no_parameter(raw: RawStack) -> None:
    plan = run_plan(_variant(raw, sessionManager=True), "aws-dev")
    policies = {p.name: json.loads(p.inputs["policy"]) for p in plan.of_type("aws:iam/rolePolicy:RolePolicy")}
    session = policies["l4-spot-session-manager"]
    actions = {a for s in session["Statement"] for a in _as_list(s["Action"])}
    assert "ssmmessages:OpenDataChannel" in actions
    assert not any(a.startswith("ssm:Get") for a in actions)
    assert "aws-dev-server-session-manager" in policies


def test_the_check_catches_an_attached_managed_policy(raw: RawStack) -> None:
    """The evaluation is not vacuous: the managed core policy (attached before) shows as over-broad."""
    plan = run_plan(raw, "aws-dev")
    (pool_role,) = [r for r in plan.of_type("aws:iam/role:Role") if r.name == "l4-spot-role"]
    attachment = dataclasses.replace(
        pool_role,
        urn=pool_role.urn + "-attachment",
        type="aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        name="l4-spot-ssm-core",
        inputs={"role": "l4-spot-role", "policyArn": "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"},
    )
    plan.resources.append(attachment)
    found = over_broad_reads(plan)
    assert "l4-spot-role can read /llmops/llmops/aws-dev/aws-dev/servers/client-ca.key" in found
    assert "l4-spot-role can read parameters of other applications" in found


def test_wildcards_and_denies_in_the_evaluator() -> None:
    arn = "arn:aws:ssm:us-east-1:1:parameter/llmops/p/s/servers/client-ca.key"
    allow_path = {
        "Statement": {
            "Effect": "Allow",
            "Action": "ssm:GetParametersByPath",
            "Resource": "arn:aws:ssm:us-east-1:1:parameter/llmops",
        }
    }
    assert readable([allow_path], arn)
    star = {"Statement": [{"Effect": "Allow", "Action": "ssm:Get*", "Resource": "*"}]}
    deny = {"Statement": [{"Effect": "Deny", "Action": "ssm:*", "Resource": "*"}]}
    assert readable([star], arn) and not readable([star, deny], arn)
    not_action = {"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}
    assert readable([not_action], arn)

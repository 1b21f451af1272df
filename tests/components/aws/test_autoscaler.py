"""cluster-autoscaler on AWS: every pool's group is discoverable and scalable from zero; IAM is scoped."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import yaml
from llmops.components.aws.autoscaler import (
    autoscaler_tags,
    cluster_autoscaler_policy,
    discovery_tags,
    gpus_per_node,
    node_template_tags,
)
from llmops.components.k3s.render import GPU_TAINT, NODE_ETC_DIR

from tests.components.aws.stack import build_aws_dev
from tests.components.k3s.mocks import RecordingMocks, run_program

POOLS = ("l4-spot", "l4-on-demand", "l4-mixed")


@pytest.fixture(scope="module")
def dev() -> RecordingMocks:
    return run_program(lambda: build_aws_dev()["outputs"])[0]


def group_tags(mocks: RecordingMocks, pool: str) -> dict[str, tuple[str, bool]]:
    tags = mocks.named(f"{pool}-group").inputs["tags"]
    return {t["key"]: (t["value"], t["propagateAtLaunch"]) for t in tags}


@pytest.mark.parametrize("pool", POOLS)
def test_every_pool_group_carries_discovery_and_node_template_tags(dev: RecordingMocks, pool: str) -> None:
    tags = group_tags(dev, pool)
    template = "k8s.io/cluster-autoscaler/node-template"
    expected = {
        "k8s.io/cluster-autoscaler/enabled": "true",
        "k8s.io/cluster-autoscaler/aws-dev": "owned",
        f"{template}/label/llmops.io/pool": pool,
        f"{template}/label/llmops.io/cloud": "aws",
        f"{template}/label/nvidia.com/gpu.present": "true",
        f"{template}/taint/nvidia.com/gpu": "true:NoSchedule",
        f"{template}/resources/nvidia.com/gpu": "1",
    }
    for key, value in expected.items():
        assert tags[key] == (value, False), key  # group-only: instances do not need them
    # The template's labels are exactly the labels the agents register with.
    user_data = yaml.safe_load(base64.b64decode(dev.named(f"{pool}-template").inputs["userData"]).decode())
    files = {f["path"]: f["content"] for f in user_data["write_files"]}
    k3s = yaml.safe_load(files["/etc/rancher/k3s/config.yaml"])
    registered = dict(label.split("=", 1) for label in k3s["node-label"])
    templated = {k.removeprefix(f"{template}/label/"): v for k, (v, _) in tags.items() if "/label/" in k}
    assert templated == registered
    # And the agent sets its providerID, without which no node maps to this group.
    assert "LLMOPS_PROVIDER_ID=cloud" in files[f"{NODE_ETC_DIR}/bootstrap.env"]


def test_node_template_counts_gpus_from_the_catalog() -> None:
    assert gpus_per_node(["g6.xlarge", "g6.2xlarge"]) == 1
    assert gpus_per_node(["g6.12xlarge", "g6.48xlarge"]) == 4
    assert gpus_per_node(["g6.xlarge", "no-such.type"]) is None
    tags = node_template_tags({"a": "b"}, [GPU_TAINT], 4)
    assert tags == {
        "k8s.io/cluster-autoscaler/node-template/label/a": "b",
        "k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu": "true:NoSchedule",
        "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu": "4",
    }
    assert "k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu" not in node_template_tags(
        {}, [], None
    )
    assert autoscaler_tags("c", {}, [], 1).items() >= discovery_tags("c").items()


def test_tags_fit_auto_scaling_group_limits(dev: RecordingMocks) -> None:
    # ASG tags: keys up to 128 characters, values up to 256, at most 50 per group.
    for pool in POOLS:
        tags = group_tags(dev, pool)
        assert len(tags) <= 50
        assert all(len(k) <= 128 and len(v) <= 256 for k, (v, _) in tags.items())


def policy() -> dict[str, Any]:
    return json.loads(cluster_autoscaler_policy("aws-dev"))


def test_policy_resizes_only_this_clusters_groups() -> None:
    statements = {s["Sid"]: s for s in policy()["Statement"]}
    resize = statements["ResizeThisClustersGroups"]
    assert set(resize["Action"]) == {
        "autoscaling:SetDesiredCapacity",
        "autoscaling:TerminateInstanceInAutoScalingGroup",
    }
    assert resize["Condition"] == {
        "StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/aws-dev": "owned"}
    }
    # Everything without a condition only reads.
    for statement in policy()["Statement"]:
        assert statement["Effect"] == "Allow"
        if "Condition" not in statement:
            assert all(a.split(":")[1].startswith(("Describe", "Get")) for a in statement["Action"]), (
                statement
            )
        assert not any(a.endswith("*") for a in statement["Action"]), "no wildcard actions"


def test_policy_is_valid_iam(fake_aws: None) -> None:
    """IAM itself (moto's model of it) accepts the document, attached to a role."""
    import boto3

    iam = boto3.client("iam")
    iam.create_role(
        RoleName="servers", AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []})
    )
    iam.put_role_policy(
        RoleName="servers", PolicyName="ca", PolicyDocument=cluster_autoscaler_policy("aws-dev")
    )
    stored = iam.get_role_policy(RoleName="servers", PolicyName="ca")["PolicyDocument"]
    assert stored == policy()


def test_condition_key_is_the_discovery_tag() -> None:
    (resize,) = [s for s in policy()["Statement"] if "Condition" in s]
    (key,) = resize["Condition"]["StringEquals"]
    assert key.removeprefix("aws:ResourceTag/") in discovery_tags("aws-dev")

"""`AwsModelStore` under mocks: EFS encrypted, one mount target per subnet, NFS only from the
nodes, IAM scoped to the file system, the pinned driver chart's values, a RWX claim."""

from __future__ import annotations

import json
from typing import Any

import kubernetes_validate
import pytest
from llmops.components.addons.charts import AWS_EFS_CSI_DRIVER
from llmops.components.aws.model_store import (
    AwsModelStoreArgs,
    ThroughputMode,
    driver_values,
    monthly_cost,
    store_problems,
)

from tests.components.aws.stack import build_aws_dev
from tests.components.k3s.mocks import RecordingMocks, run_program
from tests.components.observability.test_helm_values import chart_defaults, walk

# Free-form maps whose chart default is empty.
EXCEPTIONS = {
    "node.resources": "container resources; the chart's default is an empty map",
    "node.nodeSelector": "node labels; the chart's default is an empty map",
}


def _build() -> dict[str, Any]:
    """aws-dev as the program builds it (its store is on by default), three pools."""
    return build_aws_dev()["outputs"]


@pytest.fixture(scope="module")
def planned() -> tuple[RecordingMocks, dict[str, Any]]:
    mocks, outputs = run_program(_build)
    return mocks, outputs


def test_file_system_is_encrypted_and_elastic_by_default(planned) -> None:
    mocks, _ = planned
    (fs,) = mocks.of_type("aws:efs/fileSystem:FileSystem")
    assert fs.inputs["encrypted"] is True
    assert fs.inputs["throughputMode"] == "elastic"
    assert "provisionedThroughputInMibps" not in fs.inputs


def test_a_mount_target_per_subnet_behind_a_group_that_admits_nfs_from_nodes_only(planned) -> None:
    mocks, _ = planned
    targets = mocks.of_type("aws:efs/mountTarget:MountTarget")
    subnets = mocks.of_type("aws:ec2/subnet:Subnet")
    assert len(targets) == len(subnets) == 2
    assert {t.inputs["subnetId"] for t in targets} == {f"{s.name}-id" for s in subnets}
    group = mocks.named("model-store-efs-sg")
    (rule,) = group.inputs["ingress"]
    assert (rule["protocol"], rule["fromPort"], rule["toPort"]) == ("tcp", 2049, 2049)
    assert rule["securityGroups"] == ["aws-dev-nodes-id"]
    assert "cidrBlocks" not in rule
    assert all(t.inputs["securityGroups"] == ["model-store-efs-sg-id"] for t in targets)


def test_only_the_node_roles_mount_and_only_over_tls(planned) -> None:
    mocks, _ = planned
    policy = json.loads(mocks.named("model-store-efs-policy").inputs["policy"])
    deny, allow = policy["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert allow["Principal"]["AWS"] == [
        "arn:aws:iam::000000000000:role/l4-mixed-role",
        "arn:aws:iam::000000000000:role/l4-on-demand-role",
        "arn:aws:iam::000000000000:role/l4-spot-role",
    ]
    fs_arn = "arn:aws:plan:us-east-1:000000000000:model-store-efs"
    for index in (0, 1, 2):
        node = json.loads(mocks.named(f"model-store-node-mount-{index}").inputs["policy"])
        (statement,) = node["Statement"]
        assert statement["Resource"] == fs_arn
        assert statement["Action"] == ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]


def test_the_claim_is_rwx_on_a_static_volume_with_tls_and_iam(planned) -> None:
    mocks, _ = planned
    (volume,) = mocks.of_type("kubernetes:core/v1:PersistentVolume")
    (claim,) = mocks.of_type("kubernetes:core/v1:PersistentVolumeClaim")
    for resource, kind in ((volume, "PersistentVolume"), (claim, "PersistentVolumeClaim")):
        kubernetes_validate.validate(
            {"apiVersion": "v1", "kind": kind, **resource.inputs}, "1.33.0", strict=True
        )
    assert volume.inputs["spec"]["accessModes"] == claim.inputs["spec"]["accessModes"] == ["ReadWriteMany"]
    csi = volume.inputs["spec"]["csi"]
    assert csi["driver"] == "efs.csi.aws.com"
    assert csi["volumeHandle"] == "model-store-efs-id::model-store-access-point-id"
    assert csi["volumeAttributes"] == {"encryptInTransit": "true"}
    assert volume.inputs["spec"]["mountOptions"] == ["iam"]
    assert volume.inputs["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert claim.inputs["spec"]["volumeName"] == volume.inputs["metadata"]["name"]
    assert claim.inputs["metadata"]["namespace"] == "llmops"


def test_the_driver_release_is_the_pinned_chart(planned) -> None:
    mocks, _ = planned
    release = mocks.named("model-store-efs-csi")
    assert release.inputs["chart"] == "aws-efs-csi-driver"
    assert release.inputs["version"] == "4.4.1" == AWS_EFS_CSI_DRIVER.version
    assert release.inputs["repositoryOpts"]["repo"] == AWS_EFS_CSI_DRIVER.repo
    assert release.inputs["values"]["controller"]["create"] is False


def test_every_driver_value_exists_in_the_chart() -> None:
    values = driver_values(_values_args())
    problems, used = walk(values, chart_defaults(AWS_EFS_CSI_DRIVER), EXCEPTIONS)
    assert not problems, "\n".join(problems)
    assert used == set(EXCEPTIONS)


def _values_args() -> AwsModelStoreArgs:
    return AwsModelStoreArgs(
        vpc_id="vpc-1",
        subnet_ids=["s-1"],
        nodes_security_group_id="sg-1",
        node_roles=[],
        provider=None,
        namespace="x",  # type: ignore[arg-type]
    )


def test_bad_args_are_reported_together() -> None:
    args = _values_args()
    args.subnet_ids = []
    args.throughput_mode = ThroughputMode.PROVISIONED
    assert store_problems(args) == [
        "subnet_ids: empty. Fix: pass the cluster's subnets (AwsNetwork.subnet_ids)",
        "node_roles: empty. Fix: pass the GPU pools' node roles (AwsGpuNodePool.role)",
        "provisioned_mibps: 0.0 must be > 0 with throughput mode provisioned. Fix: give the MiB/s to provision, or use elastic",
    ]


def test_monthly_cost_by_throughput_mode() -> None:
    # 100 GB stored, 1 TB read (about 60 starts of a 16 GB model), 100 GB written.
    assert monthly_cost(ThroughputMode.ELASTIC, 100, 1000, 100) == {
        "storage_usd": 30.0,
        "transfer_usd": 36.0,
        "provisioned_usd": 0.0,
        "monthly_usd": 66.0,
    }
    assert monthly_cost(ThroughputMode.BURSTING, 100, 1000, 100)["monthly_usd"] == 30.0
    assert (
        monthly_cost(ThroughputMode.PROVISIONED, 100, 1000, 100, provisioned_mibps=100)["monthly_usd"]
        == 630.0
    )


def test_nfs_store_values_exist_in_the_chart_and_objects_are_schema_valid() -> None:
    from llmops.components.addons.charts import CSI_DRIVER_NFS, load_values
    from llmops.components.addons.nfs_store import NfsModelStore, NfsModelStoreArgs

    problems, _ = walk(load_values(CSI_DRIVER_NFS), chart_defaults(CSI_DRIVER_NFS), {})
    assert not problems, "\n".join(problems)
    mocks, _ = run_program(
        lambda: {
            "claim": NfsModelStore(
                "nfs", NfsModelStoreArgs(server="10.0.0.5", path="/exports/models", namespace="serving")
            ).claim_name
        }
    )
    (volume,) = mocks.of_type("kubernetes:core/v1:PersistentVolume")
    (claim,) = mocks.of_type("kubernetes:core/v1:PersistentVolumeClaim")
    for resource, kind in ((volume, "PersistentVolume"), (claim, "PersistentVolumeClaim")):
        kubernetes_validate.validate(
            {"apiVersion": "v1", "kind": kind, **resource.inputs}, "1.33.0", strict=True
        )
    assert volume.inputs["spec"]["csi"]["volumeAttributes"] == {
        "server": "10.0.0.5",
        "share": "/exports/models",
    }
    release = mocks.named("nfs-nfs-csi")
    assert (release.inputs["chart"], release.inputs["version"]) == ("csi-driver-nfs", "4.13.4")

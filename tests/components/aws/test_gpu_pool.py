"""`AwsGpuNodePool`: launch template hardening, capacity modes, schedules, bad args."""

from __future__ import annotations

import base64
import json
from typing import Any

import jsonschema
import pytest
import yaml
from llmops.components.aws import AwsGpuNodePool, AwsGpuNodePoolArgs, AwsNetwork, AwsNetworkArgs
from llmops.components.aws.gpu_pool import DLAMI_PARAMETER, capacity_distribution
from llmops.components.k3s import Capacity, K3sAgentJoin, PoolConfigError, ScalingSchedule
from llmops.components.k3s.render import K3S_CONFIG_PATH, NODE_ETC_DIR, FlannelBackend
from llmops.components.k3s.versions import K3S_VERSION

from tests.components.aws.stack import build_aws_dev
from tests.components.k3s.cloud_init_schema import cloud_config_schema
from tests.components.k3s.mocks import MOCK_AMI, RecordingMocks, run_program


@pytest.fixture(scope="module")
def dev() -> RecordingMocks:
    return run_program(lambda: build_aws_dev()["outputs"])[0]


def _user_data(mocks: RecordingMocks, pool: str) -> dict[str, Any]:
    encoded = mocks.named(f"{pool}-template").inputs["userData"]
    document = base64.b64decode(encoded).decode()
    assert document.startswith("#cloud-config\n")
    return yaml.safe_load(document)


def _distribution(mocks: RecordingMocks, pool: str) -> dict[str, Any]:
    group = mocks.named(f"{pool}-group").inputs
    return group["mixedInstancesPolicy"]["instancesDistribution"]


def test_launch_template_is_hardened(dev: RecordingMocks) -> None:
    for pool in ("l4-spot", "l4-on-demand", "l4-mixed"):
        template = dev.named(f"{pool}-template").inputs
        assert template["metadataOptions"]["httpTokens"] == "required"
        assert template["metadataOptions"]["httpPutResponseHopLimit"] == 1
        (device,) = template["blockDeviceMappings"]
        assert device["ebs"]["encrypted"] == "true"
        assert device["ebs"]["volumeType"] == "gp3"
        assert device["ebs"]["volumeSize"] == 200
        assert template["imageId"] == MOCK_AMI
        assert "networkInterfaces" not in template  # no public SSH-able interface config
    assert ("aws:ssm/getParameter:getParameter", {"name": DLAMI_PARAMETER}) in dev.calls


def test_agent_user_data_is_valid_cloud_config_and_joins_with_labels_and_taint(dev: RecordingMocks) -> None:
    document = _user_data(dev, "l4-spot")
    assert list(jsonschema.Draft4Validator(cloud_config_schema()).iter_errors(document)) == []
    files = {entry["path"]: entry["content"] for entry in document["write_files"]}
    config = yaml.safe_load(files[K3S_CONFIG_PATH])
    assert config["server"] == "https://10.20.0.10:6443"
    assert set(config["node-label"]) >= {
        "llmops.io/pool=l4-spot",
        "llmops.io/cloud=aws",
        "llmops.io/capacity=spot",
        "nvidia.com/gpu.present=true",
    }
    assert config["node-taint"] == ["nvidia.com/gpu=true:NoSchedule"]
    assert f"K3S_VERSION={K3S_VERSION}" in files[f"{NODE_ETC_DIR}/bootstrap.env"]
    (secret_line,) = files[f"{NODE_ETC_DIR}/secrets.list"].splitlines()
    assert secret_line.startswith("/llmops/llmops/aws-dev/aws-dev/pools/l4-spot/agent-token ")


def test_each_pool_reads_only_its_own_agent_token(dev: RecordingMocks) -> None:
    parameter = dev.named("l4-spot-agent-token")
    assert parameter.inputs["type"] == "SecureString" and "value" in parameter.secret_inputs
    policy = json.loads(dev.named("l4-spot-read-secrets").inputs["policy"])
    # The plan mocks give a parameter the ARN AWS would: arn:aws:ssm:<region>:<account>:parameter<name>.
    assert policy["Statement"][0]["Resource"] == [
        f"arn:aws:ssm:us-east-1:000000000000:parameter{parameter.inputs['name']}"
    ]


def test_spot_pool_is_all_spot_with_price_capacity_optimized(dev: RecordingMocks) -> None:
    distribution = _distribution(dev, "l4-spot")
    assert distribution["onDemandBaseCapacity"] == 0
    assert distribution["onDemandPercentageAboveBaseCapacity"] == 0
    assert distribution["spotAllocationStrategy"] == "price-capacity-optimized"
    group = dev.named("l4-spot-group").inputs
    assert group["capacityRebalance"] is True
    overrides = group["mixedInstancesPolicy"]["launchTemplate"]["overrides"]
    assert [o["instanceType"] for o in overrides] == ["g6.xlarge", "g6.2xlarge", "g6.4xlarge"]
    assert (group["minSize"], group["maxSize"], group["desiredCapacity"]) == (0, 4, 1)
    assert len(group["vpcZoneIdentifiers"]) == 2


def test_on_demand_pool_uses_no_spot(dev: RecordingMocks) -> None:
    distribution = _distribution(dev, "l4-on-demand")
    assert distribution["onDemandPercentageAboveBaseCapacity"] == 100
    assert dev.named("l4-on-demand-group").inputs["capacityRebalance"] is False


def test_mixed_pool_has_an_on_demand_base_and_spot_above(dev: RecordingMocks) -> None:
    distribution = _distribution(dev, "l4-mixed")
    assert distribution["onDemandBaseCapacity"] == 1
    assert distribution["onDemandPercentageAboveBaseCapacity"] == 0


@pytest.mark.parametrize(
    ("capacity", "base", "expected"),
    [(Capacity.SPOT, 3, (0, 0)), (Capacity.ON_DEMAND, 3, (0, 100)), (Capacity.MIXED, 2, (2, 0))],
)
def test_capacity_distribution(capacity: Capacity, base: int, expected: tuple[int, int]) -> None:
    result = capacity_distribution(capacity, base)
    assert (result.on_demand_base_capacity, result.on_demand_percentage_above_base_capacity) == expected


def test_scheduled_actions_follow_the_schedule(dev: RecordingMocks) -> None:
    schedules = {s.name: s.inputs for s in dev.of_type("aws:autoscaling/schedule:Schedule")}
    assert set(schedules) == {"l4-spot-schedule-workday", "l4-spot-schedule-night"}
    workday = schedules["l4-spot-schedule-workday"]
    assert workday["recurrence"] == "0 8 * * 1-5"  # as stacks/Pulumi.aws-dev.yaml writes it
    assert workday["timeZone"] == "Europe/Berlin"
    assert (workday["minSize"], workday["maxSize"], workday["desiredCapacity"]) == (1, 4, 2)
    assert workday["autoscalingGroupName"] == "l4-spot-group-asg"
    assert schedules["l4-spot-schedule-night"]["desiredCapacity"] == 0


# --- bad pool args: one error listing every problem, before any resource ---


def _bad_pool(**fields: Any) -> tuple[str, RecordingMocks]:
    mocks = RecordingMocks()

    def build() -> dict:
        network = AwsNetwork("net", AwsNetworkArgs(api_allowed_cidrs=["198.51.100.0/24"]))
        join = K3sAgentJoin(
            cluster_name="dev",
            server_address="10.20.0.10",
            agent_token=network.vpc.id,
            k3s_version=K3S_VERSION,
            flannel_backend=FlannelBackend.VXLAN,
        )
        args: dict[str, Any] = {"instance_types": ["g6.xlarge"], "max_size": 2}
        args.update(fields)
        AwsGpuNodePool("bad-pool", AwsGpuNodePoolArgs(network=network, join=join, **args))
        return {}

    with pytest.raises(PoolConfigError) as raised:
        run_program(build, mocks=mocks)
    return str(raised.value), mocks


def _assert_nothing_created(mocks: RecordingMocks) -> None:
    assert [r.name for r in mocks.resources if r.name.startswith("bad-pool")] == []


def test_min_greater_than_max() -> None:
    message, mocks = _bad_pool(min_size=3, max_size=1)
    assert "args.min_size: 3 is larger than max (1). Fix: set min <= 1, or raise max to 3" in message
    _assert_nothing_created(mocks)


def test_unknown_instance_family() -> None:
    message, mocks = _bad_pool(instance_types=["g6.xlarge", "m7i.large"])
    assert "args.instance_types[1]: 'm7i.large' is not in a known GPU instance family" in message
    assert "g4dn, g5, g6, g6e" in message
    assert "Fix: use a GPU machine type such as 'g6.xlarge'" in message
    _assert_nothing_created(mocks)


def test_spot_with_max_zero() -> None:
    message, mocks = _bad_pool(capacity=Capacity.SPOT, max_size=0)
    assert (
        "args.max_size: 0 makes a spot pool that can never hold a machine. Fix: set max >= 1, or remove the pool"
        in message
    )
    _assert_nothing_created(mocks)


def test_no_instance_types() -> None:
    message, mocks = _bad_pool(instance_types=[])
    assert "args.instance_types: [] is empty; a pool needs at least one machine type" in message
    _assert_nothing_created(mocks)


def test_all_problems_are_reported_together() -> None:
    message, _ = _bad_pool(
        instance_types=["x1.large"],
        min_size=5,
        max_size=0,
        disk_size_gb=20,
        schedules=[ScalingSchedule(name="s", recurrence="daily", min_size=2, max_size=1, desired_size=1)],
    )
    assert message.startswith("AwsGpuNodePool 'bad-pool': 6 problems in the arguments:")
    for fragment in (
        "args.instance_types[0]: 'x1.large'",
        "args.min_size: 5 is larger than max (0)",
        "args.max_size: 0 makes a spot pool",
        "args.disk_size_gb: 20 is below 100",
        "args.schedules[0].recurrence: 'daily' is not a 5-field cron expression",
        "args.schedules[0]: sizes min 2, desired 1, max 1 are not ordered",
    ):
        assert fragment in message


def test_on_demand_pool_may_be_empty() -> None:
    """max_size 0 is a parked fallback pool, not an error, when it is on-demand."""

    def build() -> dict:
        network = AwsNetwork("net", AwsNetworkArgs(api_allowed_cidrs=["198.51.100.0/24"]))
        join = K3sAgentJoin(
            cluster_name="dev",
            server_address="10.20.0.10",
            agent_token=network.vpc.id,
            k3s_version=K3S_VERSION,
            flannel_backend=FlannelBackend.VXLAN,
        )
        AwsGpuNodePool(
            "parked",
            AwsGpuNodePoolArgs(
                network=network,
                join=join,
                instance_types=["g6.xlarge"],
                capacity=Capacity.ON_DEMAND,
                max_size=0,
            ),
        )
        return {}

    mocks, _ = run_program(build)
    assert mocks.named("parked-group").inputs["maxSize"] == 0


def test_preview_with_unknown_values_still_builds_every_pool() -> None:
    mocks, _ = run_program(lambda: build_aws_dev()["outputs"], preview=True)
    assert {r.name for r in mocks.of_type("aws:autoscaling/group:Group")} == {
        "l4-spot-group",
        "l4-on-demand-group",
        "l4-mixed-group",
    }
    assert all(
        t.inputs["metadataOptions"]["httpTokens"] == "required"
        for t in mocks.of_type("aws:ec2/launchTemplate:LaunchTemplate")
    )

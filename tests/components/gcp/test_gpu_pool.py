"""`GcpGpuNodePool`: instance template, MIG zones and sizes, scaling schedules, bad args."""

from __future__ import annotations

from typing import Any

import jsonschema
import pulumi
import pytest
import yaml
from llmops.components.gcp import GcpGpuNodePool, GcpGpuNodePoolArgs, GcpNetwork, GcpNetworkArgs, gpu_machine
from llmops.components.gcp.gpu_pool import DLVM_IMAGE, DLVM_IMAGE_FAMILY, validate_gcp_pool
from llmops.components.gcp.machines import MachineTypeError
from llmops.components.gcp.offerings import zones_offering
from llmops.components.k3s import Capacity, K3sAgentJoin, PoolConfigError, ScalingSchedule
from llmops.components.k3s.render import K3S_CONFIG_PATH, NODE_ETC_DIR, NODE_LIB_DIR, FlannelBackend
from llmops.components.k3s.versions import K3S_VERSION

from tests.components.gcp.mocks import GCP_PROJECT, GcpRecordingMocks
from tests.components.gcp.stack import build_gcp_dev
from tests.components.k3s.cloud_init_schema import cloud_config_schema
from tests.components.k3s.mocks import RecordingMocks, run_program


@pytest.fixture(scope="module")
def dev() -> RecordingMocks:
    return run_program(lambda: build_gcp_dev()["outputs"], mocks=GcpRecordingMocks())[0]


def _template(mocks: RecordingMocks, pool: str) -> dict[str, Any]:
    return mocks.named(f"{pool}-template").inputs


def _user_data(mocks: RecordingMocks, pool: str) -> dict[str, Any]:
    document = _template(mocks, pool)["metadata"]["user-data"]
    assert document.startswith("#cloud-config\n")
    return yaml.safe_load(document)


def test_spot_template_is_spot_with_gpu_image_and_encrypted_disk(dev: RecordingMocks) -> None:
    template = _template(dev, "l4-spot")
    assert template["machineType"] == "g2-standard-8"
    assert "guestAccelerators" not in template  # G2 carries its L4 built in
    scheduling = template["scheduling"]
    assert scheduling["provisioningModel"] == "SPOT"
    assert scheduling["preemptible"] is True
    assert scheduling["automaticRestart"] is False
    assert scheduling["instanceTerminationAction"] == "DELETE"
    assert scheduling["onHostMaintenance"] == "TERMINATE"
    (disk,) = template["disks"]
    assert disk["boot"] is True and disk["autoDelete"] is True
    assert disk["sourceImage"] == DLVM_IMAGE and DLVM_IMAGE_FAMILY in DLVM_IMAGE
    assert disk["diskSizeGb"] == 200
    # Compute Engine encrypts every disk; without a KMS key it is Google-managed, no raw key in state.
    assert "diskEncryptionKey" not in disk
    assert template["metadata"]["block-project-ssh-keys"] == "true"
    assert template["metadata"]["install-nvidia-driver"] == "False"
    assert template["tags"] == ["dev-net-node"]
    assert template["shieldedInstanceConfig"]["enableVtpm"] is True
    (interface,) = template["networkInterfaces"]
    assert interface["subnetwork"] == "dev-net-us-central1-id"


def test_on_demand_n1_template_attaches_the_gpu(dev: RecordingMocks) -> None:
    template = _template(dev, "t4-on-demand")
    assert template["machineType"] == "n1-standard-8"
    assert template["guestAccelerators"] == [{"type": "nvidia-tesla-t4", "count": 1}]
    scheduling = template["scheduling"]
    assert scheduling["provisioningModel"] == "STANDARD"
    assert scheduling["onHostMaintenance"] == "TERMINATE"
    assert scheduling.get("preemptible") is False
    assert "instanceTerminationAction" not in scheduling


def test_kms_key_encrypts_the_boot_disk() -> None:
    key = "projects/p/locations/us-central1/keyRings/r/cryptoKeys/k"

    def program() -> dict[str, pulumi.Output[Any]]:
        network = GcpNetwork("net", GcpNetworkArgs(api_allowed_cidrs=["198.51.100.0/24"]))
        pool = GcpGpuNodePool("p", _args(network, kms_key=key))
        return {"id": pool.group.id}

    mocks = run_program(program, mocks=GcpRecordingMocks())[0]
    (disk,) = mocks.named("p-template").inputs["disks"]
    assert disk["diskEncryptionKey"] == {"kmsKeySelfLink": key}


def test_agent_user_data_is_valid_cloud_config_and_joins_with_labels_taint_and_shutdown(
    dev: RecordingMocks,
) -> None:
    document = _user_data(dev, "l4-spot")
    assert list(jsonschema.Draft4Validator(cloud_config_schema()).iter_errors(document)) == []
    files = {entry["path"]: entry["content"] for entry in document["write_files"]}
    config = yaml.safe_load(files[K3S_CONFIG_PATH])
    assert config["server"] == "https://10.30.0.10:6443"
    assert set(config["node-label"]) >= {
        "llmops.io/pool=l4-spot",
        "llmops.io/cloud=gcp",
        "llmops.io/capacity=spot",
        "nvidia.com/gpu.present=true",
    }
    assert config["node-taint"] == ["nvidia.com/gpu=true:NoSchedule"]
    assert config["kubelet-arg"] == ["shutdown-grace-period=25s", "shutdown-grace-period-critical-pods=5s"]
    env = files[f"{NODE_ETC_DIR}/bootstrap.env"]
    assert "LLMOPS_CLOUD=gcp" in env and "LLMOPS_PROVIDER_ID=cloud" in env
    assert f"K3S_VERSION={K3S_VERSION}" in env
    secrets = files[f"{NODE_ETC_DIR}/secrets.list"].split()
    assert secrets[0] == f"projects/{GCP_PROJECT}/secrets/llmops-llmops-aws-dev-dev-pool-l4-spot-agent-token"
    assert "cloud_read_secret()" in files[f"{NODE_LIB_DIR}/cloud.sh"]
    on_demand = yaml.safe_load(
        {e["path"]: e["content"] for e in _user_data(dev, "t4-on-demand")["write_files"]}[K3S_CONFIG_PATH]
    )
    # Host maintenance (GPUs cannot live-migrate) and scale-in shut standard VMs down too.
    assert on_demand["kubelet-arg"] == config["kubelet-arg"]


def test_the_agent_token_is_not_in_metadata_and_is_a_secret_in_state(dev: RecordingMocks) -> None:
    token = "p" * 64  # what the mocks' RandomPassword returns
    for pool in ("l4-spot", "t4-on-demand"):
        assert token[:32] not in str(_template(dev, pool)["metadata"])
        version = dev.named(f"{pool}-agent-token-value")
        assert "secretData" in version.secret_inputs


def test_each_pool_reads_only_its_own_secret(dev: RecordingMocks) -> None:
    for pool in ("l4-spot", "t4-on-demand"):
        reader = dev.named(f"{pool}-agent-token-reader").inputs
        account = dev.named(f"{pool}-sa").inputs
        assert reader["role"] == "roles/secretmanager.secretAccessor"
        assert reader["secretId"] == dev.named(f"{pool}-agent-token").inputs["secretId"]
        assert (
            reader["member"] == f"serviceAccount:{account['accountId']}@{GCP_PROJECT}.iam.gserviceaccount.com"
        )
        email = _template(dev, pool)["serviceAccount"]["email"]
        assert email.startswith(account["accountId"] + "@")
    # No project-wide role: the only IAM bindings are per secret.
    assert not [r for r in dev.resources if r.type.startswith("gcp:projects/")]


def test_group_spreads_over_the_zones_that_offer_the_machine_type(dev: RecordingMocks) -> None:
    spot = dev.named("l4-spot-group").inputs
    assert spot["distributionPolicyZones"] == list(zones_offering("g2-standard-8", "us-central1"))
    assert spot["distributionPolicyZones"] == ["us-central1-a", "us-central1-b", "us-central1-c"]
    assert spot["distributionPolicyTargetShape"] == "ANY"
    assert spot["region"] == "us-central1"
    assert "targetSize" not in spot  # the autoscaler owns the size
    assert (
        spot["versions"][0]["instanceTemplate"] == "l4-spot-template-id"
        or spot["versions"][0]["instanceTemplate"]
    )
    assert spot["updatePolicy"]["type"] == "OPPORTUNISTIC"
    assert spot["updatePolicy"]["maxUnavailableFixed"] == 3
    on_demand = dev.named("t4-on-demand-group").inputs
    assert on_demand["targetSize"] == 1
    assert on_demand["distributionPolicyTargetShape"] == "EVEN"
    assert on_demand["distributionPolicyZones"] == list(zones_offering("n1-standard-8+T4x1", "us-central1"))


def test_scaling_schedules_hold_each_window_until_the_next(dev: RecordingMocks) -> None:
    policy = dev.named("l4-spot-autoscaler").inputs["autoscalingPolicy"]
    assert (policy["minReplicas"], policy["maxReplicas"]) == (0, 4)
    assert policy["scalingSchedules"] == [
        {
            "name": "workday",
            "schedule": "0 8 * * MON,TUE,WED,THU,FRI",
            "durationSec": 12 * 3600,  # until the 20:00 night window
            "minRequiredReplicas": 2,
            "timeZone": "Europe/Berlin",
            "description": "llmops pool l4-spot window",
        }
    ]
    assert [r.name for r in dev.of_type("gcp:compute/regionAutoscaler:RegionAutoscaler")] == [
        "l4-spot-autoscaler"
    ]


def _join() -> K3sAgentJoin:
    return K3sAgentJoin(
        cluster_name="c",
        server_address="10.30.0.10",
        agent_token=pulumi.Output.secret("t"),
        k3s_version=K3S_VERSION,
        flannel_backend=FlannelBackend.VXLAN,
    )


def _args(network: Any, **overrides: Any) -> GcpGpuNodePoolArgs:
    values: dict[str, Any] = {
        "network": network,
        "join": _join(),
        "project": GCP_PROJECT,
        "instance_types": ["g2-standard-8"],
        "max_size": 2,
    }
    values.update(overrides)
    return GcpGpuNodePoolArgs(**values)


class _Network:
    """What validation reads of a `GcpNetwork`, without a Pulumi program."""

    regions = ["us-central1", "southamerica-east1"]


def _problems(**overrides: Any) -> list[str]:
    return [str(p) for p in validate_gcp_pool("pool", _args(_Network(), **overrides))]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {"instance_types": ["n2-standard-8"]},
            "args.instance_types[0]: 'n2-standard-8' is not a GPU machine type; use 'g2-standard-8' (L4)",
        ),
        (
            {"instance_types": ["n1-standard-8"]},
            "args.instance_types[0]: 'n1-standard-8' is an N1 host without a GPU; attach one as "
            "'n1-standard-8+T4x1'",
        ),
        (
            {"instance_types": ["n1-standard-8+L4x1"]},
            "args.instance_types[0]: 'n1-standard-8+L4x1' attaches L4, which the N1 family does not carry "
            "(N1 takes T4, V100); L4 comes built into G2 machine types",
        ),
        (
            {"instance_types": ["g2-standard-8+T4x1"]},
            "attaches GPUs to 'g2-standard-8', but only N1 hosts take attached GPUs",
        ),
        (
            {"instance_types": ["n1-standard-32+V100x1"]},
            "has 32 vCPUs, more than the 12 GCP allows with 1 V100",
        ),
        (
            {"zones": ["us-central1-f"]},
            "args.zones[0]: 'us-central1-f' does not offer 'g2-standard-8'; use zones among "
            "us-central1-a, us-central1-b, us-central1-c",
        ),
        (
            {"region": "southamerica-east1"},
            "args.instance_types[0]: 'g2-standard-8' is not sold in any zone of region 'southamerica-east1'. "
            "Fix: pick a region that has it (",
        ),
        (
            {"capacity": Capacity.SPOT, "max_size": 0},
            "args.max_size: 0 makes a spot pool that can never hold a machine",
        ),
        ({"capacity": Capacity.MIXED}, "args.capacity: 'mixed' has no GCP form"),
        (
            {"instance_types": ["g2-standard-8", "g2-standard-16"]},
            "lists several machine types; a GCP pool runs one",
        ),
        ({"region": "europe-west4"}, "args.region: 'europe-west4' has no subnetwork in the network"),
        (
            {
                "schedules": [
                    ScalingSchedule(name="w", recurrence="0 8 1 * *", min_size=0, max_size=1, desired_size=1)
                ]
            },
            "args.schedules[0].recurrence: '0 8 1 * *' sets day of month or month",
        ),
        (
            {
                "node_autoscaled": True,
                "schedules": [
                    ScalingSchedule(name="w", recurrence="0 8 * * *", min_size=0, max_size=1, desired_size=1)
                ],
            },
            'args.schedules: ["w"] cannot hold a pool that cluster-autoscaler resizes on GCP',
        ),
    ],
)
def test_bad_args_name_the_key_the_value_and_the_fix(overrides: dict[str, Any], expected: str) -> None:
    text = "\n".join(_problems(**overrides))
    assert expected in text, text


def test_good_args_have_no_problems() -> None:
    assert _problems() == []
    assert _problems(instance_types=["a2-highgpu-1g"]) == []
    assert _problems(instance_types=["a3-highgpu-8g"]) == []
    assert _problems(instance_types=["n1-standard-8+V100x1"]) == []


def test_a_bad_pool_raises_before_any_resource() -> None:
    mocks = GcpRecordingMocks()

    def program() -> dict[str, pulumi.Output[Any]]:
        network = GcpNetwork("net", GcpNetworkArgs(api_allowed_cidrs=["198.51.100.0/24"]))
        GcpGpuNodePool("p", _args(network, instance_types=["n1-standard-8"]))
        return {}

    with pytest.raises(PoolConfigError, match="n1-standard-8' is an N1 host without a GPU"):
        run_program(program, mocks=mocks)
    assert not [r for r in mocks.resources if r.name.startswith("p-")]


def test_machine_table() -> None:
    assert gpu_machine("g2-standard-48").gpu_count == 4
    assert gpu_machine("a2-ultragpu-1g").gpu == "A100-80GB"
    assert gpu_machine("a3-highgpu-8g").accelerator_type == "nvidia-h100-80gb"
    t4 = gpu_machine("n1-standard-8+T4x2")
    assert (t4.machine_type, t4.gpu, t4.gpu_count, t4.attached) == ("n1-standard-8", "T4", 2, True)
    with pytest.raises(MachineTypeError, match="takes 1, 2, 4 of them"):
        gpu_machine("n1-standard-8+T4x3")


def test_an_autoscaled_n1_pool_is_zonal_migs_with_its_node_template() -> None:
    from llmops.components.gcp.autoscaler import GPU_LABEL

    def program() -> dict[str, pulumi.Output[Any]]:
        network = GcpNetwork("net", GcpNetworkArgs(api_allowed_cidrs=["198.51.100.0/24"]))
        pool = GcpGpuNodePool(
            "t4",
            _args(
                network,
                instance_types=["n1-standard-16+T4x2"],
                node_autoscaled=True,
                max_size=5,
                desired_size=2,
            ),
        )
        assert pool.group is None and set(pool.zonal_groups) == set(pool.zones)
        return {"zones": pulumi.Output.from_input(pool.zones)}

    mocks = run_program(program, mocks=GcpRecordingMocks())[0]
    assert not mocks.of_type("gcp:compute/regionInstanceGroupManager:RegionInstanceGroupManager")
    groups = mocks.of_type("gcp:compute/instanceGroupManager:InstanceGroupManager")
    zones = zones_offering("n1-standard-16+T4x2", "us-central1")
    assert sorted(g.inputs["zone"] for g in groups) == sorted(zones)
    assert sum(g.inputs["targetSize"] for g in groups) == 2
    template = mocks.named("t4-template").inputs
    # N1: the template attaches the GPUs (the provider counts them) and kube-env says so too.
    assert template["guestAccelerators"] == [{"type": "nvidia-tesla-t4", "count": 2}]
    env = yaml.safe_load(template["metadata"]["kube-env"])["AUTOSCALER_ENV_VARS"]
    assert "extended_resources=nvidia.com/gpu=2" in env
    assert f"{GPU_LABEL}=nvidia-tesla-t4" in env
    # The node registers with the label the template promises (K3s node-label in its config).
    assert f"{GPU_LABEL}=nvidia-tesla-t4" in template["metadata"]["user-data"]

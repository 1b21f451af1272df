"""`AwsGpuNodePool`: K3s GPU agents in an Auto Scaling group with spot, on-demand or mixed capacity."""

from __future__ import annotations

import base64
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from llmops.components.aws.autoscaler import autoscaler_tags, gpus_per_node
from llmops.components.aws.checks import BOOTSTRAP, PoolConfigError, validate_aws_pool
from llmops.components.aws.iam import node_role, parameter_path, secure_parameter
from llmops.components.aws.network import AwsNetwork
from llmops.components.errors import raise_if
from llmops.components.k3s.cluster import K3sAgentJoin
from llmops.components.k3s.render import (
    TOKEN_FILE,
    FlannelBackend,
    NodeExternalIp,
    SecretFile,
    agent_config,
    pool_labels,
    render_cloud_init,
)
from llmops.components.pools import Capacity, GpuNodePoolArgs

__all__ = ["AwsGpuNodePool", "AwsGpuNodePoolArgs", "PoolConfigError", "validate_aws_pool"]

DLAMI_PARAMETER = "/aws/service/deeplearning/ami/x86_64/base-oss-nvidia-driver-gpu-ubuntu-22.04/latest/ami-id"
"""AWS's public SSM parameter for the current Deep Learning Base OSS Nvidia Driver GPU AMI (Ubuntu 22.04)."""
DLAMI_ROOT_DEVICE = "/dev/sda1"
"""Root device name of the Ubuntu-based DLAMIs."""
SPOT_ALLOCATION_STRATEGY = "price-capacity-optimized"
IMAGE_SHIPS_GPU_DRIVER = True
"""The default image (the DLAMI) carries the NVIDIA driver, so the GPU operator leaves the driver alone
on these nodes. The cluster-wide GPU operator settings ask this per cloud."""
DRIVER_DEPLOY_LABEL = "nvidia.com/gpu.deploy.driver"
"""Node label the GPU operator reads to skip its driver DaemonSet on one node."""


@dataclass(kw_only=True)
class AwsGpuNodePoolArgs(GpuNodePoolArgs):
    """Inputs of `AwsGpuNodePool`: the shared pool fields plus where the nodes live and what they join."""

    network: AwsNetwork
    """Network (subnets in several zones, the nodes' security group)."""
    join: K3sAgentJoin
    """Join settings, from `K3sCluster.agent_join`."""
    ami_parameter: str = DLAMI_PARAMETER
    """Public SSM parameter naming the AMI; default: the Base OSS Nvidia-driver DLAMI, so the GPU
    operator runs with `driver.enabled=false`."""
    image_ships_gpu_driver: bool = IMAGE_SHIPS_GPU_DRIVER
    """Default: the image has the NVIDIA driver (true of the DLAMI), so the nodes carry
    `nvidia.com/gpu.deploy.driver=false` and the GPU operator installs no driver there. Set False
    with an `ami_parameter` naming a plain image."""
    session_manager: bool = False
    """Allow Session Manager shells on the agents (channel actions only, no parameter reads);
    default: off."""


@dataclass(frozen=True)
class CapacityDistribution:
    """An ASG instances distribution, as plain numbers (tested without Pulumi resources)."""

    on_demand_base_capacity: int
    on_demand_percentage_above_base_capacity: int


def capacity_distribution(capacity: Capacity, on_demand_base: int) -> CapacityDistribution:
    if capacity is Capacity.SPOT:
        return CapacityDistribution(0, 0)
    if capacity is Capacity.ON_DEMAND:
        return CapacityDistribution(0, 100)
    return CapacityDistribution(on_demand_base, 0)


class AwsGpuNodePool(pulumi.ComponentResource):
    """GPU agents: launch template (DLAMI, IMDSv2, encrypted gp3) + mixed-instances Auto Scaling group."""

    launch_template: aws.ec2.LaunchTemplate
    group: aws.autoscaling.Group
    """The Auto Scaling group (escape hatch: lifecycle hooks, extra scaling policies)."""
    group_name: pulumi.Output[str]
    role: aws.iam.Role
    """The nodes' IAM role; add-ons that need node permissions (the model store) attach to it."""
    labels: dict[str, str]
    """Node labels every agent of this pool carries (select workloads with them)."""
    gpus_per_node: int | None
    """GPUs on the pool's smallest machine type (None when the catalog lacks one)."""

    def __init__(self, name: str, args: AwsGpuNodePoolArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if(f"AwsGpuNodePool {name!r}", validate_aws_pool(name, args))
        super().__init__("llmops:aws:AwsGpuNodePool", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        join = args.join

        token_parameter = secure_parameter(
            f"{name}-agent-token",
            parameter_path(join.cluster_name, "pools", name, "agent-token"),
            join.agent_token,
            f"llmops K3s cluster {join.cluster_name}: agent token for pool {name}",
            self,
        )
        # The agent token is the only parameter an agent reads: the CA keys stay with the servers.
        role = node_role(name, [token_parameter], self, session_manager=args.session_manager)
        self.role = role.role

        self.labels = {
            **args.labels,
            **pool_labels(pool=name, cloud="aws", capacity=args.capacity.value, gpu=True),
            **({DRIVER_DEPLOY_LABEL: "false"} if args.image_ships_gpu_driver else {}),
        }
        self.gpus_per_node = gpus_per_node(args.instance_types)
        if self.gpus_per_node is None:
            pulumi.log.warn(
                f"pool {name}: the capacity catalog lacks one of {list(args.instance_types)}; its group "
                "carries no GPU count for cluster-autoscaler, which then cannot scale it up from zero",
                self,
            )
        external_ip = (
            NodeExternalIp.FROM_CLOUD
            if join.flannel_backend is FlannelBackend.WIREGUARD_NATIVE
            else NodeExternalIp.NONE
        )

        def user_data_for(server_address: str) -> str:
            return render_cloud_init(
                role="agent",
                k3s_config=agent_config(
                    server_address=server_address, node_labels=self.labels, node_taints=args.taints
                ),
                secrets=[
                    SecretFile(
                        locator=parameter_path(join.cluster_name, "pools", name, "agent-token"),
                        path=TOKEN_FILE,
                    )
                ],
                bootstrap=BOOTSTRAP,
                k3s_version=join.k3s_version,
                node_external_ip=external_ip,
                # cluster-autoscaler maps nodes to their Auto Scaling group by aws:///<zone>/<id>.
                provider_id=True,
                overlay=join.overlay,
            )

        user_data = join.server_address_for("aws").apply(user_data_for)
        ami = aws.ssm.get_parameter_output(
            name=args.ami_parameter, opts=pulumi.InvokeOutputOptions(parent=self)
        )
        tags = {
            "llmops.io/cluster": join.cluster_name,
            "llmops.io/pool": name,
            "llmops.io/capacity": args.capacity.value,
        }

        self.launch_template = aws.ec2.LaunchTemplate(
            f"{name}-template",
            description=f"llmops K3s GPU agents of pool {name}",
            image_id=ami.value,
            iam_instance_profile=aws.ec2.LaunchTemplateIamInstanceProfileArgs(arn=role.profile.arn),
            vpc_security_group_ids=[
                args.network.nodes_security_group_id,
                *args.network.peer_group_ids("agents"),
            ],
            user_data=user_data.apply(lambda text: base64.b64encode(text.encode()).decode()),
            metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
                http_endpoint="enabled",
                http_tokens="required",
                # One hop: pods without host networking cannot reach the node's role credentials.
                # The termination handler runs on the host network, so it still reads IMDS.
                http_put_response_hop_limit=1,
            ),
            block_device_mappings=[
                aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                    device_name=DLAMI_ROOT_DEVICE,
                    ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                        volume_size=args.disk_size_gb,
                        volume_type="gp3",
                        encrypted="true",
                        delete_on_termination="true",
                    ),
                )
            ],
            tag_specifications=[
                aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags={"Name": name, **tags})
                for kind in ("instance", "volume")
            ],
            update_default_version=True,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[role.policy]),
        )

        distribution = capacity_distribution(args.capacity, args.on_demand_base)
        self.group = aws.autoscaling.Group(
            f"{name}-group",
            min_size=args.min_size,
            max_size=args.max_size,
            desired_capacity=args.min_size if args.desired_size is None else args.desired_size,
            vpc_zone_identifiers=args.network.subnet_ids,
            # Replace spot nodes proactively on a rebalance recommendation, before the 2-minute notice.
            capacity_rebalance=args.capacity is not Capacity.ON_DEMAND,
            mixed_instances_policy=aws.autoscaling.GroupMixedInstancesPolicyArgs(
                instances_distribution=aws.autoscaling.GroupMixedInstancesPolicyInstancesDistributionArgs(
                    on_demand_base_capacity=distribution.on_demand_base_capacity,
                    on_demand_percentage_above_base_capacity=distribution.on_demand_percentage_above_base_capacity,
                    on_demand_allocation_strategy="prioritized",
                    spot_allocation_strategy=SPOT_ALLOCATION_STRATEGY,
                ),
                launch_template=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateArgs(
                    launch_template_specification=aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateLaunchTemplateSpecificationArgs(
                        launch_template_id=self.launch_template.id,
                        version=self.launch_template.latest_version.apply(str),
                    ),
                    overrides=[
                        aws.autoscaling.GroupMixedInstancesPolicyLaunchTemplateOverrideArgs(instance_type=t)
                        for t in args.instance_types
                    ],
                ),
            ),
            tags=[
                aws.autoscaling.GroupTagArgs(key=key, value=value, propagate_at_launch=True)
                for key, value in {"Name": name, **tags}.items()
            ]
            + [
                # cluster-autoscaler discovery and scale-from-zero templates; group-only.
                aws.autoscaling.GroupTagArgs(key=key, value=value, propagate_at_launch=False)
                for key, value in autoscaler_tags(
                    join.cluster_name, self.labels, args.taints, self.gpus_per_node
                ).items()
            ],
            opts=pulumi.ResourceOptions(
                parent=self,
                # Schedules and scaling move the desired size; a later `pulumi up` must not undo it.
                # min/max stay managed: editing them in the stack file takes effect.
                ignore_changes=["desiredCapacity"],
            ),
        )
        self.group_name = self.group.name
        for schedule in args.schedules:
            aws.autoscaling.Schedule(
                f"{name}-schedule-{schedule.name}",
                autoscaling_group_name=self.group.name,
                scheduled_action_name=f"{name}-{schedule.name}",
                recurrence=schedule.recurrence,
                time_zone=schedule.time_zone,
                min_size=schedule.min_size,
                max_size=schedule.max_size,
                desired_capacity=schedule.desired_size,
                opts=child,
            )
        self.register_outputs({"groupName": self.group.name, "launchTemplateId": self.launch_template.id})

"""`AwsK3sServers`: runs a `K3sCluster`'s servers on on-demand EC2 instances."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws
from llmops.components.aws.checks import BOOTSTRAP, server_problems
from llmops.components.aws.iam import node_role, parameter_path, secure_parameter
from llmops.components.aws.network import AwsNetwork
from llmops.components.aws.subnets import server_address
from llmops.components.errors import Problem
from llmops.components.k3s.host import K3sServerHost, ServerEndpoints
from llmops.components.k3s.render import API_PORT

UBUNTU_AMI_PARAMETER = "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id"
"""Canonical's public SSM parameter for the current Ubuntu 24.04 LTS image (amd64, gp3)."""


@dataclass(kw_only=True)
class AwsK3sServersArgs:
    """Inputs of `AwsK3sServers`."""

    network: AwsNetwork
    """Network the servers live in (one server per subnet, round robin)."""
    instance_type: str = "m7i.large"
    """On-demand CPU type; default: m7i.large (2 vCPU, 8 GiB), room for K3s and the CPU add-ons."""
    disk_size_gb: int = 50
    """Encrypted gp3 root volume; default: 50 GB (etcd, images, logs)."""
    ami_parameter: str = UBUNTU_AMI_PARAMETER
    """Public SSM parameter naming the AMI; default: Ubuntu 24.04 LTS."""
    session_manager: bool = False
    """Allow Session Manager shells on the servers (channel actions only, no parameter reads);
    default: off, the servers take no remote shell at all."""


class AwsK3sServers(K3sServerHost):
    """A `K3sServerHost` on EC2. Not a resource itself: its resources are children of the cluster.

    One server: an Elastic IP is the API address. Three servers: an internet-facing Network Load
    Balancer in front of 6443, and an Elastic IP per server for WireGuard peers.
    """

    cloud = "aws"
    bootstrap = BOOTSTRAP
    shell_hint = "open a shell on the server with `aws ssm start-session --target <instance id>`"

    def __init__(self, args: AwsK3sServersArgs):
        self.args = args
        self.parameters: dict[str, aws.ssm.Parameter] = {}
        self.instances: list[aws.ec2.Instance] = []
        self.role: aws.iam.Role | None = None
        """The servers' instance role, once created (cluster-autoscaler's policy attaches here)."""
        self._eips: list[aws.ec2.Eip] = []

    def secret_locator(self, name: str, key: str) -> str:
        return parameter_path(name, "servers", key)

    def validate(self, name: str, server_count: int) -> list[Problem]:
        return server_problems(server_count, self.args.network.api_load_balancer)

    def reserve_endpoints(self, name: str, server_count: int, parent: pulumi.Resource) -> ServerEndpoints:
        child = pulumi.ResourceOptions(parent=parent)
        network = self.args.network
        subnets = network.subnet_cidrs
        private = [server_address(subnets[i % len(subnets)], i // len(subnets)) for i in range(server_count)]
        self._eips = [
            aws.ec2.Eip(
                f"{name}-server-{i}-ip", domain="vpc", tags={"Name": f"{name}-server-{i}"}, opts=child
            )
            for i in range(server_count)
        ]
        external = [eip.public_ip for eip in self._eips]
        if server_count == 1:
            api_address = self._eips[0].public_ip
        else:
            self._balancer = aws.lb.LoadBalancer(
                f"{name}-api-lb",
                load_balancer_type="network",
                internal=False,
                subnets=network.subnet_ids,
                enable_cross_zone_load_balancing=True,
                tags={"Name": f"{name}-api"},
                opts=child,
            )
            api_address = self._balancer.dns_name
        return ServerEndpoints(
            api_address=api_address, private_addresses=private, external_addresses=external
        )

    def create_servers(
        self,
        name: str,
        *,
        user_data: Sequence[pulumi.Output[str]],
        secrets: Mapping[str, pulumi.Output[str]],
        endpoints: ServerEndpoints,
        parent: pulumi.Resource,
    ) -> list[pulumi.Resource]:
        child = pulumi.ResourceOptions(parent=parent)
        network = self.args.network
        for key, value in secrets.items():
            suffix = key.replace("/", "-").replace(".", "-")
            self.parameters[key] = secure_parameter(
                f"{name}-secret-{suffix}",
                self.secret_locator(name, key),
                value,
                f"llmops K3s cluster {name}: {key}, read by its servers at boot",
                parent,
            )
        role = node_role(
            f"{name}-server",
            list(self.parameters.values()),
            parent,
            session_manager=self.args.session_manager,
        )
        self.role = role.role
        ami = aws.ssm.get_parameter_output(
            name=self.args.ami_parameter, opts=pulumi.InvokeOutputOptions(parent=parent)
        )

        ready: list[pulumi.Resource] = []
        for index, document in enumerate(user_data):
            instance = aws.ec2.Instance(
                f"{name}-server-{index}",
                ami=ami.value,
                instance_type=self.args.instance_type,
                subnet_id=network.subnet_ids[index % len(network.subnet_ids)],
                private_ip=endpoints.private_addresses[index],
                vpc_security_group_ids=[
                    network.nodes_security_group_id,
                    network.servers_security_group_id,
                    *network.peer_group_ids("servers"),
                ],
                iam_instance_profile=role.profile.name,
                user_data=document,
                metadata_options=aws.ec2.InstanceMetadataOptionsArgs(
                    http_endpoint="enabled", http_tokens="required", http_put_response_hop_limit=1
                ),
                root_block_device=aws.ec2.InstanceRootBlockDeviceArgs(
                    volume_type="gp3",
                    volume_size=self.args.disk_size_gb,
                    encrypted=True,
                    delete_on_termination=True,
                ),
                tags={
                    "Name": f"{name}-server-{index}",
                    "llmops.io/cluster": name,
                    "llmops.io/role": "server",
                },
                opts=pulumi.ResourceOptions(
                    parent=parent,
                    # The secrets must be readable before cloud-init runs.
                    depends_on=[*self.parameters.values(), role.policy],
                    # A new AMI release or a re-rendered bootstrap must not replace a server
                    # (and its etcd data); upgrade K3s in place instead (docs/aws.md).
                    ignore_changes=["ami", "userData"],
                ),
            )
            self.instances.append(instance)
            association = aws.ec2.EipAssociation(
                f"{name}-server-{index}-ip-association",
                allocation_id=self._eips[index].allocation_id,
                instance_id=instance.id,
                opts=child,
            )
            ready.extend([instance, association])

        if len(user_data) > 1:
            ready.extend(self._balance(name, parent))
        return ready

    def _balance(self, name: str, parent: pulumi.Resource) -> list[pulumi.Resource]:
        child = pulumi.ResourceOptions(parent=parent)
        network = self.args.network
        targets = aws.lb.TargetGroup(
            f"{name}-api-targets",
            port=API_PORT,
            protocol="TCP",
            target_type="instance",
            vpc_id=network.vpc.id,
            health_check=aws.lb.TargetGroupHealthCheckArgs(protocol="TCP", port=str(API_PORT)),
            opts=child,
        )
        listener = aws.lb.Listener(
            f"{name}-api-listener",
            load_balancer_arn=self._balancer.arn,
            port=API_PORT,
            protocol="TCP",
            default_actions=[aws.lb.ListenerDefaultActionArgs(type="forward", target_group_arn=targets.arn)],
            opts=child,
        )
        attachments: list[pulumi.Resource] = [
            aws.lb.TargetGroupAttachment(
                f"{name}-api-server-{index}",
                target_group_arn=targets.arn,
                target_id=instance.id,
                port=API_PORT,
                opts=child,
            )
            for index, instance in enumerate(self.instances)
        ]
        return [targets, listener, *attachments]

"""`AwsNetwork`: a VPC for a K3s cluster, with security groups that open only what K3s needs."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
from llmops.components.aws.network_args import AwsNetworkArgs, NetworkArgsError, validate_network_args
from llmops.components.aws.subnets import subnet_cidrs
from llmops.components.errors import raise_if
from llmops.components.k3s.render import API_PORT, FlannelBackend

__all__ = ["AwsNetwork", "AwsNetworkArgs", "NetworkArgsError", "validate_network_args"]

KUBELET_PORT = 10250
FLANNEL_VXLAN_PORT = 8472
WIREGUARD_PORTS = (51820, 51821)  # IPv4 and IPv6 tunnels of K3s's wireguard-native backend
ETCD_PORTS = (2379, 2380)  # client and peer, between servers only
ANY_IPV4 = "0.0.0.0/0"


class AwsNetwork(pulumi.ComponentResource):
    """VPC, public subnets in several zones, and the cluster's security groups. No inbound SSH."""

    vpc: aws.ec2.Vpc
    """The VPC (escape hatch: attach endpoints, peerings)."""
    vpc_cidr: str
    api_load_balancer: bool
    subnet_cidrs: list[str]
    """Subnet ranges, known before deployment (servers take fixed addresses from them)."""
    subnet_ids: list[pulumi.Output[str]]
    availability_zones: pulumi.Output[list[str]]
    nodes_security_group_id: pulumi.Output[str]
    """Security group of every node (servers and agents): kubelet and overlay between nodes."""
    servers_security_group_id: pulumi.Output[str]
    """Security group of the servers: API from the nodes and the allowed ranges, etcd between servers."""
    peer_security_groups: dict[str, aws.ec2.SecurityGroup]
    """Role (`servers`, `agents`) -> the group opened to other clouds' nodes; empty in one cloud."""

    def peer_group_ids(self, role: str) -> list[pulumi.Output[str]]:
        group = self.peer_security_groups.get(role)
        return [group.id] if group is not None else []

    def __init__(self, name: str, args: AwsNetworkArgs, opts: pulumi.ResourceOptions | None = None):
        raise_if(f"AwsNetwork {name!r}", validate_network_args(args))
        super().__init__("llmops:aws:AwsNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        zones = aws.get_availability_zones_output(
            state="available", opts=pulumi.InvokeOutputOptions(parent=self)
        )
        self.availability_zones = zones.names.apply(lambda names: list(names[: args.az_count]))
        self.vpc_cidr = args.vpc_cidr
        self.api_load_balancer = args.api_load_balancer
        self.subnet_cidrs = subnet_cidrs(args.vpc_cidr, args.az_count, args.subnet_prefix)

        self.vpc = aws.ec2.Vpc(
            f"{name}-vpc",
            cidr_block=args.vpc_cidr,
            enable_dns_hostnames=True,
            enable_dns_support=True,
            tags={"Name": f"{name}-vpc"},
            opts=child,
        )
        gateway = aws.ec2.InternetGateway(
            f"{name}-igw", vpc_id=self.vpc.id, tags={"Name": f"{name}-igw"}, opts=child
        )
        routes = aws.ec2.RouteTable(
            f"{name}-public-routes",
            vpc_id=self.vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block=ANY_IPV4, gateway_id=gateway.id)],
            tags={"Name": f"{name}-public"},
            opts=child,
        )
        # Public subnets and no NAT gateway: see docs/decisions/031-aws-subnets-and-nat.md.
        self.subnet_ids = []
        for index, cidr in enumerate(self.subnet_cidrs):
            subnet = aws.ec2.Subnet(
                f"{name}-public-{index}",
                vpc_id=self.vpc.id,
                cidr_block=cidr,
                availability_zone=self.availability_zones.apply(lambda names, i=index: names[i]),
                map_public_ip_on_launch=True,
                tags={"Name": f"{name}-public-{index}"},
                opts=child,
            )
            aws.ec2.RouteTableAssociation(
                f"{name}-public-{index}-routes", subnet_id=subnet.id, route_table_id=routes.id, opts=child
            )
            self.subnet_ids.append(subnet.id)

        if args.flannel_backend is FlannelBackend.WIREGUARD_NATIVE:
            overlay = (WIREGUARD_PORTS[0], WIREGUARD_PORTS[1], "K3s WireGuard overlay")
        else:
            overlay = (FLANNEL_VXLAN_PORT, FLANNEL_VXLAN_PORT, "K3s flannel VXLAN overlay")
        node_ingress = [
            aws.ec2.SecurityGroupIngressArgs(
                description="kubelet (logs, exec, metrics) between nodes",
                protocol="tcp",
                from_port=KUBELET_PORT,
                to_port=KUBELET_PORT,
                self=True,
            ),
            aws.ec2.SecurityGroupIngressArgs(
                description=overlay[2],
                protocol="udp",
                from_port=overlay[0],
                to_port=overlay[1],
                self=True,
            ),
        ]
        if args.wireguard_peer_cidrs:
            node_ingress.append(
                aws.ec2.SecurityGroupIngressArgs(
                    description="K3s WireGuard overlay from nodes in other clouds",
                    protocol="udp",
                    from_port=WIREGUARD_PORTS[0],
                    to_port=WIREGUARD_PORTS[1],
                    cidr_blocks=list(args.wireguard_peer_cidrs),
                )
            )
        egress = [
            aws.ec2.SecurityGroupEgressArgs(
                description="images, K3s releases, SSM and the model hub",
                protocol="-1",
                from_port=0,
                to_port=0,
                cidr_blocks=[ANY_IPV4],
            )
        ]
        nodes = aws.ec2.SecurityGroup(
            f"{name}-nodes",
            description="llmops K3s nodes: kubelet and pod overlay between nodes; no SSH",
            vpc_id=self.vpc.id,
            ingress=node_ingress,
            egress=egress,
            tags={"Name": f"{name}-nodes"},
            opts=child,
        )
        server_ingress = [
            aws.ec2.SecurityGroupIngressArgs(
                description="Kubernetes API from the cluster's nodes",
                protocol="tcp",
                from_port=API_PORT,
                to_port=API_PORT,
                security_groups=[nodes.id],
            ),
            aws.ec2.SecurityGroupIngressArgs(
                description="embedded etcd between servers",
                protocol="tcp",
                from_port=ETCD_PORTS[0],
                to_port=ETCD_PORTS[1],
                self=True,
            ),
        ]
        if args.api_allowed_cidrs:
            server_ingress.append(
                aws.ec2.SecurityGroupIngressArgs(
                    description="Kubernetes API from the stack's allowed ranges",
                    protocol="tcp",
                    from_port=API_PORT,
                    to_port=API_PORT,
                    cidr_blocks=list(args.api_allowed_cidrs),
                )
            )
        if args.api_load_balancer:
            # A network load balancer's health checks come from its own addresses inside the VPC.
            server_ingress.append(
                aws.ec2.SecurityGroupIngressArgs(
                    description="Kubernetes API health checks from the API load balancer",
                    protocol="tcp",
                    from_port=API_PORT,
                    to_port=API_PORT,
                    cidr_blocks=[args.vpc_cidr],
                )
            )
        servers = aws.ec2.SecurityGroup(
            f"{name}-servers",
            description="llmops K3s servers: API and etcd; no SSH",
            vpc_id=self.vpc.id,
            ingress=server_ingress,
            egress=egress,
            tags={"Name": f"{name}-servers"},
            opts=child,
        )
        self.nodes_security_group_id = nodes.id
        self.servers_security_group_id = servers.id
        self.peer_security_groups = {}
        if args.peer_firewall:
            from llmops.components.aws.peers import peer_security_groups

            self.peer_security_groups = peer_security_groups(name, self.vpc, self)
        self.register_outputs(
            {
                "vpcId": self.vpc.id,
                "subnetIds": self.subnet_ids,
                "nodesSecurityGroupId": nodes.id,
                "serversSecurityGroupId": servers.id,
            }
        )

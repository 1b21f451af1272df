"""What the offline plan answers for the AWS provider: invokes and provider-computed outputs.

Documentation addresses and ids: recognisably fake, stable between runs. The same answers
serve `llmops plan` and the tests (through `llmops.infra.plan.PlanMocks`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from llmops.components.plan_addresses import is_node_address_resource, plan_node_address

PLAN_AMI = "ami-0123456789abcdef0"

PLAN_PUBLIC_IP = "203.0.113.10"
DEFAULT_REGION = "us-east-1"
PLAN_ACCOUNT_ID = "000000000000"


def plan_region() -> str:
    import pulumi

    return pulumi.Config("aws").get("region") or DEFAULT_REGION


def _availability_zones(_: Mapping[str, Any]) -> dict[str, Any]:
    region = plan_region()
    return {
        "id": region,
        "names": [f"{region}{zone}" for zone in "abc"],
        "zoneIds": [f"{region}-az{i}" for i in (1, 2, 3)],
        "groupNames": [region],
    }


def _ssm_parameter(args: Mapping[str, Any]) -> dict[str, Any]:
    # The only public SSM parameters the program reads are AMI ids (Ubuntu, the GPU DLAMI).
    name = str(args["name"])
    return {
        "id": name,
        "name": name,
        "type": "String",
        "value": PLAN_AMI,
        "insecureValue": PLAN_AMI,
        "version": 1,
    }


def _ecr_token(args: Mapping[str, Any]) -> dict[str, Any]:
    registry = str(args.get("registryId") or PLAN_ACCOUNT_ID)
    # The password carries the plan's secret marker (infra.plan.MOCK_SECRET_MARKER): a test proves
    # it reaches no output unmasked.
    return {
        "id": registry,
        "authorizationToken": "llmops-plan-secret-ecr-token",
        "expiresAt": "2000-01-01T12:00:00Z",
        "password": "llmops-plan-secret-ecr-password",
        "proxyEndpoint": f"https://{registry}.dkr.ecr.{plan_region()}.amazonaws.com",
        "userName": "AWS",
    }


INVOKES: dict[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    "aws:index/getAvailabilityZones:getAvailabilityZones": _availability_zones,
    "aws:ssm/getParameter:getParameter": _ssm_parameter,
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": _ecr_token,
}


def _own_address(eip_name: str) -> bool:
    """A pool's node addresses and every server's but the first (the API's) get one of their own."""
    return is_node_address_resource(eip_name) or (
        "-server-" in eip_name and not eip_name.endswith("-server-0-ip")
    )


COMPUTED_OUTPUTS: dict[str, Callable[[str], dict[str, Any]]] = {
    "aws:ec2/eip:Eip": lambda name: {
        # A pool's node addresses each their own (firewalls list them); a server's the plan's one.
        "publicIp": plan_node_address(name) if _own_address(name) else PLAN_PUBLIC_IP,
        "allocationId": f"eipalloc-{name}",
        "arn": f"arn:aws:ec2:{plan_region()}:{PLAN_ACCOUNT_ID}:elastic-ip/eipalloc-{name}",
    },
    "aws:lb/loadBalancer:LoadBalancer": lambda name: {"dnsName": f"{name}.elb.{plan_region()}.amazonaws.com"},
    "aws:ec2/launchTemplate:LaunchTemplate": lambda name: {"latestVersion": 1},
    # Names the provider generates (auto-naming) when the program gives none.
    "aws:autoscaling/group:Group": lambda name: {"name": f"{name}-asg"},
    "aws:iam/role:Role": lambda name: {"name": name},
    "aws:ecr/repository:Repository": lambda name: {
        "name": name,
        "registryId": PLAN_ACCOUNT_ID,
        "repositoryUrl": f"{PLAN_ACCOUNT_ID}.dkr.ecr.{plan_region()}.amazonaws.com/{name}",
        "arn": f"arn:aws:ecr:{plan_region()}:{PLAN_ACCOUNT_ID}:repository/{name}",
    },
    "aws:iam/instanceProfile:InstanceProfile": lambda name: {"name": name},
}


def default_outputs(type_token: str, name: str, inputs: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Outputs every AWS resource has (an ARN), for resources without their own entry."""
    inputs = inputs or {}
    if type_token == "aws:ssm/parameter:Parameter":
        # The ARN AWS gives a parameter, so IAM statements are checked against real-looking ARNs.
        return {"arn": f"arn:aws:ssm:{plan_region()}:000000000000:parameter{inputs.get('name', '')}"}
    if type_token == "aws:iam/role:Role":
        # AWS names an unnamed role after the resource.
        return {"name": name, "arn": f"arn:aws:iam::000000000000:role/{name}"}
    if type_token.startswith("aws:"):
        return {"arn": f"arn:aws:plan:{plan_region()}:000000000000:{name}"}
    return {}

"""The AWS checks the config layer runs before any resource, and the bootstrap fragment. Pure Python."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from llmops.components.aws.machines import gpu_families, gpu_of
from llmops.components.errors import InputError, Problem, key_path
from llmops.components.k3s.render import NodeBootstrap
from llmops.components.pools import GpuNodePoolArgs, validate_pool

PoolConfigError = InputError
"""Kept for old imports: bad pool args raise the project's one input error."""

_SCRIPTS = Path(__file__).resolve().parent / "scripts"
BOOTSTRAP = NodeBootstrap(
    cloud="aws", script=_SCRIPTS / "cloud.sh", image_credentials=_SCRIPTS / "image-credentials.sh"
)
"""The AWS part of the node bootstrap: secrets from SSM Parameter Store, the address from IMDSv2,
ECR pulls through the kubelet's ECR credential provider."""
INSTANCE_TYPE_EXAMPLE = "'g6.xlarge' (L4) or 'g5.xlarge' (A10G)"


def validate_aws_pool(
    name: str, args: GpuNodePoolArgs, *, path: str = "args", keys: Mapping[str, str] | None = None
) -> list[Problem]:
    """The shared pool checks against the AWS machine table, and the name's length."""
    problems = validate_pool(
        args,
        gpu_of=gpu_of,
        known_families=list(gpu_families()),
        example=INSTANCE_TYPE_EXAMPLE,
        path=path,
        keys=keys,
    )
    if len(name) > 63:
        problems.append(
            Problem(
                key_path(path, (keys or {}).get("name", "name")),
                name,
                f"is {len(name)} characters; the pool name is the llmops.io/pool label value, "
                "at most 63 characters",
                "use a shorter name",
            )
        )
    return problems


def server_problems(server_count: int, api_load_balancer: bool, *, path: str = "args") -> list[Problem]:
    if server_count > 1 and not api_load_balancer:
        return [
            Problem(
                f"{path}.server_count",
                server_count,
                "servers sit behind a load balancer that the network does not let reach 6443",
                "set AwsNetworkArgs.api_load_balancer=True",
            )
        ]
    return []

"""Every GCP pool the stack config accepts is one the GCP pool component accepts too.

So no generated stack file reaches `GcpGpuNodePool` only to fail there with a traceback: the
config layer reports each problem first, under the stack's key path.
"""

from __future__ import annotations

from typing import Any, cast

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from llmops.components.gcp.gpu_pool import GcpGpuNodePoolArgs, validate_gcp_pool
from llmops.components.gcp.network import GcpNetwork
from llmops.components.k3s import K3sAgentJoin
from llmops.components.k3s.render import FlannelBackend
from llmops.infra.config import ConfigError, parse, split_namespace
from llmops.infra.program import pool_args

TYPES = [
    "g2-standard-8",
    "g2-standard-48",
    "a2-highgpu-1g",
    "n1-standard-8+T4x1",
    "n1-standard-8",
    "n2-standard-8",
    "n1-standard-32+V100x1",
    "a3-ultragpu-8g",
]
GPUS = ["L4", "A100", "T4", "H200"]
REGIONS = ["us-central1", "europe-west4", "southamerica-east1"]
ACCEPTED: list[str] = []
GOOD = (
    {
        "gcp:project": "p",
        "gcp:region": "us-central1",
        "llmops:cluster": {"kind": "k3s", "cloud": "gcp", "allowedCidrs": ["203.0.113.0/24"]},
        "llmops:pools": [
            {
                "name": "p",
                "cloud": "gcp",
                "gpuType": "L4",
                "instanceTypes": ["g2-standard-8"],
                "capacity": "spot",
                "max": 2,
                "schedules": [{"name": "w", "cron": "0 8 * * 1-5", "desired": 1}],
            }
        ],
    },
    "us-central1",
)


class _Network:
    def __init__(self, region: str) -> None:
        self.regions = [region]


@st.composite
def _stack(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    region = draw(st.sampled_from(REGIONS))
    low = draw(st.integers(0, 2))
    types = draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=2, unique=True))
    if draw(st.booleans()):
        types = types[:1]
    carried = (
        {"g2": "L4", "a2": "A100", "a3": "H200", "n1": "T4"}[types[0][:2]] if types[0][:2] != "n2" else "L4"
    )
    pool: dict[str, Any] = {
        "name": "p",
        "cloud": "gcp",
        # Mostly the GPU the first type carries, sometimes another one.
        "gpuType": draw(st.sampled_from([carried, carried, carried, *GPUS])),
        "instanceTypes": types,
        "capacity": draw(st.sampled_from(["spot", "spot", "on-demand", "on-demand", "mixed"])),
        "min": low,
        "max": draw(st.integers(0, 4)),
    }
    windows = draw(
        st.lists(
            st.tuples(
                st.sampled_from(["0 8 * * 1-5", "30 20 * * *", "0 8 1 * *", "0 6 * * SAT,SUN"]),
                st.sampled_from(["UTC", "Europe/Berlin"]),
            ),
            max_size=2,
        )
    )
    if windows:
        pool["schedules"] = [{"name": f"w{i}", "cron": c, "timezone": z} for i, (c, z) in enumerate(windows)]
    config = {
        "gcp:project": "p",
        "gcp:region": region,
        "llmops:cluster": {"kind": "k3s", "cloud": "gcp", "allowedCidrs": ["203.0.113.0/24"]},
        "llmops:pools": [pool],
    }
    return config, region


@example(GOOD)
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_stack())
def test_accepted_gcp_pools_pass_the_component_checks(stack: tuple[dict[str, Any], str]) -> None:
    config, region = stack
    try:
        parsed = parse(split_namespace("generated", config))
    except ConfigError:
        return
    join = K3sAgentJoin(
        cluster_name="c",
        server_address="10.30.0.10",
        agent_token=cast(Any, None),
        k3s_version="v1.33.5+k3s1",
        flannel_backend=FlannelBackend.VXLAN,
    )
    ACCEPTED.append(region)
    for pool in parsed.pools:
        network = cast(GcpNetwork, _Network(region))
        args = GcpGpuNodePoolArgs(network=network, join=join, project="p", region=region, **pool_args(pool))
        assert validate_gcp_pool(pool.name, args) == []


def test_the_property_saw_accepted_pools() -> None:
    """The property above is not vacuous: some generated stacks pass the config checks."""
    if not ACCEPTED:
        test_accepted_gcp_pools_pass_the_component_checks()
    assert ACCEPTED

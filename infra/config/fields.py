"""The one table from component args to stack config keys, and the pure builders that use it.

A component's args keep the names that read best in Python (`min_size`, `recurrence`); the
stack file keeps the names that read best in YAML (`min`, `cron`). Each pair is written once,
here: `pool_args()` builds the args from the config with it, and the config layer runs the
components' own validators with it, so their problems name the stack's keys
(`pools[0].schedules[1].name`, not `args.schedules`).
"""

from __future__ import annotations

from typing import Any

from llmops.infra.config.models import K3sClusterConfig, PoolConfig

POOL_KEYS: dict[str, str] = {
    # GpuNodePoolArgs field -> PoolConfig key (camelCase, as in the stack file)
    "instance_types": "instanceTypes",
    "capacity": "capacity",
    "on_demand_base": "onDemandBase",
    "min_size": "min",
    "max_size": "max",
    "desired_size": "desired",
    "disk_size_gb": "diskGb",
    "labels": "labels",
    "schedules": "schedules",
    "name": "name",
    # ScalingSchedule field -> ScheduleConfig key
    "recurrence": "cron",
    "time_zone": "timezone",
}

CLUSTER_KEYS: dict[str, str] = {
    # K3sClusterArgs field -> K3sClusterConfig key
    "server_count": "servers",
    "k3s_version": "version",
    # the cloud's network args -> K3sClusterConfig key
    "api_allowed_cidrs": "allowedCidrs",
    "allow_public_api": "allowPublicApi",
    "max_public_share": "maxPublicShare",
}

OBSERVABILITY_KEYS: dict[str, str] = {
    # ObservabilityStackArgs field -> ObservabilityConfig key, where it is not the camelCase name
    "enable_loki": "loki",
    "enable_fluent_bit": "fluentBit",
    "enable_deepflow": "deepflow",
}

MODEL_KEYS: dict[str, str] = {
    # VllmModelArgs field -> the stack key it comes from (a path from llmops:)
    "scrape_interval": "observability.vllmScrapeInterval",
}


def pool_args(pool: PoolConfig) -> dict[str, Any]:
    """The cloud-neutral `GpuNodePoolArgs` fields of one pool (names per `POOL_KEYS`)."""
    from llmops.components.pools import ScalingSchedule

    return {
        "instance_types": list(pool.instance_types),
        "capacity": pool.capacity,
        "on_demand_base": pool.on_demand_base,
        "min_size": pool.min,
        "max_size": pool.max,
        "desired_size": pool.desired,
        "disk_size_gb": pool.disk_gb,
        "labels": dict(pool.labels),
        "schedules": [
            ScalingSchedule(
                name=schedule.name,
                recurrence=schedule.cron,
                time_zone=schedule.timezone,
                min_size=sizes.min,
                max_size=sizes.max,
                desired_size=sizes.desired,
            )
            for schedule in pool.schedules
            for sizes in [schedule.sizes(pool)]
        ],
    }


def network_spec(cluster: K3sClusterConfig) -> Any:
    """What the cluster asks of its cloud's network (a `llmops.components.cloud.NetworkSpec`)."""
    from llmops.components.cloud import NetworkSpec
    from llmops.components.k3s.render import FlannelBackend

    return NetworkSpec(
        api_allowed_cidrs=list(cluster.allowed_cidrs),
        flannel_backend=FlannelBackend.WIREGUARD_NATIVE if cluster.wireguard else FlannelBackend.VXLAN,
        api_load_balancer=cluster.servers > 1,
        allow_public_api=cluster.allow_public_api,
        max_public_share=cluster.max_public_share,
    )

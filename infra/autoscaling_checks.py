"""Checks of the `autoscaling:` and `nodeAutoscaling:` blocks that involve more than one key."""

from __future__ import annotations

import zoneinfo

from llmops.components.serving.autoscaling import clock_minutes, valid_days
from llmops.infra.config import (
    _MISSING,
    ExistingClusterConfig,
    K3sClusterConfig,
    ModelConfig,
    PoolConfig,
    Problem,
    StackConfig,
)


def autoscaling_problems(config: StackConfig) -> list[Problem]:
    from llmops.infra.autoscaling import model_pools, replica_room, working_batch

    problems: list[Problem] = []
    pools = {p.name: p for p in config.pools}
    for i, model in enumerate(config.models):
        scaling = model.autoscaling
        if scaling is None:
            continue
        at = f"models[{i}].autoscaling"
        if scaling.min_replicas > scaling.max_replicas:
            problems.append(
                Problem(
                    f"{at}.minReplicas",
                    scaling.min_replicas,
                    f"is larger than maxReplicas ({scaling.max_replicas})",
                    f"set minReplicas <= {scaling.max_replicas}, "
                    f"or raise maxReplicas to {scaling.min_replicas}",
                )
            )
        rooms = replica_room(model, pools)
        if rooms is not None and model_pools(model, pools):
            room = sum(r.nodes * r.replicas_per_node for r in rooms)
            if scaling.max_replicas > room:
                detail = " + ".join(
                    f"{r.pool} {r.nodes} node(s) x {r.replicas_per_node} replica(s)" for r in rooms
                )
                problems.append(
                    Problem(
                        f"{at}.maxReplicas",
                        scaling.max_replicas,
                        f"is more than the model's pools can hold ({room}: {detail}; a replica needs "
                        f"{model.gpus} GPU(s) on one node)",
                        f"set maxReplicas <= {room}, or raise max of pool {rooms[0].pool!r}",
                    )
                )
        if not config.observability.enabled:
            problems.append(
                Problem(
                    at,
                    _MISSING,
                    "reads the replicas' load from Prometheus, but observability is off",
                    "set observability.enabled: true, or remove autoscaling and set replicas",
                )
            )
            if scaling.predictive:
                problems.append(
                    Problem(
                        f"{at}.predictive",
                        True,
                        "needs the demand forecast that observability records",
                        "set observability.enabled: true, or predictive: false",
                    )
                )
        if working_batch(model, pools) is None:
            problems.append(
                Problem(
                    at,
                    _MISSING,
                    f"needs a replica's working batch, and the capacity catalog has no figures for "
                    f"{model.source!r} on this GPU",
                    f"set models[{i}].maxNumSeqs to the batch one replica serves",
                )
            )
        elif scaling.predictive and not _forecastable(model, pools):
            problems.append(
                Problem(
                    f"{at}.predictive",
                    True,
                    f"needs the demand forecast, which needs the capacity catalog's figures for "
                    f"{model.source!r} on this GPU",
                    "set predictive: false (reactive and cron triggers still work)",
                )
            )
        problems += _window_problems(at, model)
    if config.node_autoscaling.enabled and isinstance(config.cluster, K3sClusterConfig):
        from llmops.components.cloud import kit

        cloud = kit(config.cluster.cloud)
        if cloud.node_autoscaler_unavailable is not None:
            problems.append(
                Problem(
                    "nodeAutoscaling.enabled",
                    True,
                    f"is not available on {cloud.display_name} yet: {cloud.node_autoscaler_unavailable}",
                    "remove nodeAutoscaling; size the pools with min, max and schedules",
                )
            )
    if config.node_autoscaling.enabled and isinstance(config.cluster, ExistingClusterConfig):
        problems.append(
            Problem(
                "nodeAutoscaling.enabled",
                True,
                "needs pools this stack builds; cluster.kind is 'existing'",
                "remove nodeAutoscaling, and run your cluster's own node autoscaler",
            )
        )
    return problems


def _forecastable(model: ModelConfig, pools: dict[str, PoolConfig]) -> bool:
    from llmops.components.capacity import replica_perf
    from llmops.components.capacity.catalog import CatalogError
    from llmops.infra.autoscaling import model_gpu

    gpu = model_gpu(model, pools)
    if gpu is None:
        return False
    try:
        replica_perf(model.source, gpu, model.tensor_parallel_size, max_model_len=model.max_model_len)
    except CatalogError:
        return False
    return True


def _window_problems(at: str, model: ModelConfig) -> list[Problem]:
    scaling = model.autoscaling
    assert scaling is not None
    problems: list[Problem] = []
    seen: set[str] = set()
    for j, window in enumerate(scaling.windows):
        where = f"{at}.windows[{j}]"
        if window.name in seen:
            problems.append(
                Problem(f"{where}.name", window.name, "is used twice", "give every window its own name")
            )
        seen.add(window.name)
        if (
            not window.name
            or not all(c.isalnum() or c == "-" for c in window.name)
            or window.name != window.name.lower()
        ):
            problems.append(
                Problem(
                    f"{where}.name",
                    window.name,
                    "is not a lower-case name of letters, digits and '-'",
                    "use a name such as 'workday'",
                )
            )
        start, end = clock_minutes(window.start), clock_minutes(window.end)
        for key, text, minutes in (("start", window.start, start), ("end", window.end, end)):
            if minutes is None:
                problems.append(
                    Problem(
                        f"{where}.{key}",
                        text,
                        "is not a time of day",
                        "write HH:MM between 00:00 and 24:00, e.g. '08:00'",
                    )
                )
        if start is not None and end is not None and end <= start:
            problems.append(
                Problem(
                    f"{where}.end",
                    window.end,
                    f"is not after start ({window.start!r})",
                    "end the window later the same day; split an overnight window in two "
                    "(start to '24:00', then '00:00' to end)",
                )
            )
        try:
            zoneinfo.ZoneInfo(window.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            problems.append(
                Problem(
                    f"{where}.timezone",
                    window.timezone,
                    "is not an IANA time zone",
                    "use a name such as 'Europe/Berlin', 'America/New_York' or 'UTC'",
                )
            )
        if not valid_days(window.days):
            problems.append(
                Problem(
                    f"{where}.days",
                    window.days,
                    "is not a cron day-of-week field",
                    "write '*' (every day), '1-5' (Monday to Friday) or a list such as '1,3,5'",
                )
            )
        if window.replicas > scaling.max_replicas:
            problems.append(
                Problem(
                    f"{where}.replicas",
                    window.replicas,
                    f"is above maxReplicas ({scaling.max_replicas})",
                    f"set replicas <= {scaling.max_replicas}, or raise maxReplicas",
                )
            )
    return problems

"""Cross-key checks: problems that involve more than one key, all of them, not just the first."""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

from llmops.components.capacity.catalog import normalise_gpu_name
from llmops.components.cloud import kit
from llmops.components.errors import MISSING as _MISSING
from llmops.components.errors import Problem
from llmops.components.netguard import cidr_problems
from llmops.components.pools import Capacity
from llmops.components.serving.secret_flags import is_secret_option
from llmops.components.serving.vllm_args import MANAGED_FLAGS
from llmops.infra.config.models import (
    ExistingClusterConfig,
    K3sClusterConfig,
    ObservabilityConfig,
    PoolConfig,
    StackConfig,
)
from pydantic.alias_generators import to_camel

_FLAG_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def check_semantics(config: StackConfig) -> list[Problem]:
    """Problems that involve more than one key; all of them, not just the first."""
    problems: list[Problem] = []
    pool_names = [p.name for p in config.pools]
    problems += _duplicates("pools", pool_names)
    problems += _duplicates("models", [m.name for m in config.models])

    if isinstance(config.cluster, ExistingClusterConfig) and config.pools:
        problems.append(
            Problem(
                "pools",
                _MISSING,
                "are created only for a cluster this stack builds; cluster.kind is 'existing'",
                "remove pools and pin models with nodeSelector, or set cluster.kind: k3s",
            )
        )
    if isinstance(config.cluster, K3sClusterConfig):
        problems += _check_k3s_cluster(config.cluster)
        from llmops.infra.multicloud_checks import spanning_problems

        problems += spanning_problems(config.cluster, config.pools)
    from llmops.infra.multicloud_checks import model_pools_problems

    problems += model_pools_problems(config.models, config.pools)
    from llmops.infra.multicloud_checks import store_problems as spanning_store_problems

    problems += spanning_store_problems(config)
    if isinstance(config.cluster, K3sClusterConfig) and config.models and not config.pools:
        problems.append(
            Problem(
                "pools",
                [],
                "is empty, so the models have no GPU nodes to run on",
                "add at least one GPU pool (see the example stacks in stacks/)",
            )
        )

    for i, pool in enumerate(config.pools):
        at = f"pools[{i}]"
        problems += _check_instance_types(at, pool)
        if pool.capacity is not Capacity.MIXED and pool.on_demand_base:
            problems.append(
                Problem(
                    f"{at}.onDemandBase",
                    pool.on_demand_base,
                    f"only applies to capacity 'mixed', this pool is {pool.capacity.value!r}",
                    "set capacity: mixed, or remove onDemandBase",
                )
            )
        if pool.capacity is Capacity.MIXED and pool.on_demand_base > pool.max:
            problems.append(
                Problem(
                    f"{at}.onDemandBase",
                    pool.on_demand_base,
                    f"is larger than max ({pool.max})",
                    f"set onDemandBase <= {pool.max}",
                )
            )
        if pool.fallback_pool is not None and pool.fallback_pool not in pool_names:
            problems.append(_unknown_reference(f"{at}.fallbackPool", pool.fallback_pool, pool_names, "pool"))
        if pool.fallback_pool == pool.name:
            problems.append(
                Problem(
                    f"{at}.fallbackPool",
                    pool.name,
                    "names the pool itself",
                    "name another pool, or remove it",
                )
            )
        for j, schedule in enumerate(pool.schedules):
            # Unset sizes come from the pool, so a window's min can clash with the pool's max.
            sizes = schedule.sizes(pool)
            problems += _check_size(f"{at}.schedules[{j}]", sizes.min, sizes.max, sizes.desired)

    problems += _check_observability(config.observability)
    from llmops.infra.model_checks import model_problems  # imports this package's Problem

    problems += model_problems(config)
    problems += _placement_problems(config)
    from llmops.infra.autoscaling_checks import autoscaling_problems

    problems += autoscaling_problems(config)
    problems += _not_yet_reported(problems, component_problems(config))
    pools_by_name = {p.name: p for p in config.pools}
    for i, model in enumerate(config.models):
        at = f"models[{i}]"
        if model.pool is not None:
            pool = pools_by_name.get(model.pool)
            if pool is None:
                problems.append(_unknown_reference(f"{at}.pool", model.pool, pool_names, "pool"))
            elif model.gpu_type is not None and model.gpu_type != pool.gpu_type:
                problems.append(
                    Problem(
                        f"{at}.gpuType",
                        model.gpu_type,
                        f"differs from pool {pool.name!r}'s gpuType {pool.gpu_type!r}",
                        f"set gpuType: {pool.gpu_type}, or pin the model to a pool of {model.gpu_type} GPUs",
                    )
                )
        if isinstance(config.cluster, K3sClusterConfig) and model.pool is None and config.pools:
            problems.append(
                Problem(
                    f"{at}.pool",
                    _MISSING,
                    "is required when the stack creates pools",
                    f"add pool: one of {', '.join(sorted(set(pool_names)))}",
                )
            )
        for flag in model.extra_args:
            if is_secret_option(flag, model.extra_args[flag]):
                continue  # infra.model_checks refuses it without repeating the value
            if not _FLAG_NAME.match(flag):
                problems.append(
                    Problem(
                        f"{at}.extraArgs.{flag}",
                        model.extra_args[flag],
                        "is not a vllm serve option name",
                        f"write it in kebab case, no leading dashes, e.g. {_kebab(flag)!r}",
                    )
                )
            elif flag in MANAGED_FLAGS:
                field = MANAGED_FLAGS[flag]
                problems.append(
                    Problem(
                        f"{at}.extraArgs.{flag}",
                        model.extra_args[flag],
                        "is set by llmops from the model's own keys",
                        f"set models[{i}].{field} instead"
                        if field
                        else "remove it; llmops sets it to keep probes and the Service working",
                    )
                )
    from llmops.infra.model_store_config import store_problems

    problems += [Problem(*problem) for problem in store_problems(config)]
    from llmops.infra.images_config import build_problems, images_problems

    image_problems = images_problems(config)
    problems += [Problem(*problem) for problem in image_problems or build_problems(config)]
    return problems


def _check_k3s_cluster(cluster: K3sClusterConfig) -> list[Problem]:
    problems = []
    if not cluster.allowed_cidrs:
        problems.append(
            Problem(
                "cluster.allowedCidrs",
                [],
                "is empty, so nothing outside the VPC (not even `pulumi up`) can reach the Kubernetes API",
                "list the networks you deploy from, e.g. allowedCidrs: ['203.0.113.0/24']",
            )
        )
    for problem in cidr_problems(
        cluster.allowed_cidrs,
        ipv6=False,
        max_public_share=cluster.max_public_share,
        allow_public=cluster.allow_public_api,
        open_key="cluster.allowPublicApi",
    ):
        if problem.index is None:  # entries were checked one by one when the config was read
            problems.append(Problem("cluster.allowedCidrs", problem.value, problem.message, problem.fix))
    return problems


def _check_instance_types(at: str, pool: PoolConfig) -> list[Problem]:
    """Machine types whose GPU differs from the pool's gpuType (unknown types: the pool's own check)."""
    machines = kit(pool.cloud)
    problems = []
    for j, instance_type in enumerate(pool.instance_types):
        gpu = machines.gpu_of(instance_type)
        if gpu is not None and normalise_gpu_name(gpu) != normalise_gpu_name(pool.gpu_type):
            problems.append(
                Problem(
                    f"{at}.instanceTypes[{j}]",
                    instance_type,
                    f"carries {gpu} GPUs, not the pool's gpuType {pool.gpu_type!r}",
                    f"set gpuType: {gpu}, or list only {pool.gpu_type} machine types",
                )
            )
    return problems


def component_problems(config: StackConfig) -> list[Problem]:
    """The components' own validators, run on the args this config builds, with the stack's key paths.

    They run here, before any resource, so a problem only a component can see (a duplicate
    schedule name, a label key Kubernetes refuses, an IPv6 range the network cannot route)
    reaches the user as a key-path error rather than a traceback from the component.
    """
    from llmops.components.k3s.cluster import cluster_problems
    from llmops.components.k3s.versions import K3S_VERSION
    from llmops.components.pools import GpuNodePoolArgs
    from llmops.infra.config.fields import CLUSTER_KEYS, POOL_KEYS, network_spec, pool_args

    problems: list[Problem] = []
    cluster = config.cluster
    if isinstance(cluster, K3sClusterConfig):
        problems += cluster_problems(
            server_count=cluster.servers,
            k3s_version=cluster.version or K3S_VERSION,
            path="cluster",
            keys=CLUSTER_KEYS,
        )
        cloud = kit(cluster.cloud)
        spec = network_spec(cluster)
        problems += cloud.validate_network(spec, path="cluster", keys=CLUSTER_KEYS)
        problems += cloud.validate_servers(cluster.servers, spec, path="cluster")
    # Asked for explicitly, node autoscaling is checked against every pool it resizes: the servers'
    # cloud's (by default it is left out where a pool cannot take it: node_autoscaling_wanted).
    autoscaled = config.node_autoscaling.enabled is True and isinstance(cluster, K3sClusterConfig)
    for i, pool in enumerate(config.pools):
        resized = autoscaled and isinstance(cluster, K3sClusterConfig) and pool.cloud is cluster.cloud
        args = GpuNodePoolArgs(**pool_args(pool), node_autoscaled=resized)
        problems += kit(pool.cloud).validate_pool(pool.name, args, path=f"pools[{i}]", keys=POOL_KEYS)
    return problems


def provider_problems(config: StackConfig, provider_keys: Mapping[str, Any]) -> list[Problem]:
    """Each used cloud's checks against the stack's provider keys (`<cloud>:region`, ...)."""
    from llmops.components.pools import GpuNodePoolArgs
    from llmops.infra.config.fields import POOL_KEYS, pool_args

    clouds = [config.cluster.cloud] if isinstance(config.cluster, K3sClusterConfig) else []
    clouds += [pool.cloud for pool in config.pools if pool.cloud not in clouds]
    problems: list[Problem] = []
    for cloud in clouds:
        pools = {
            f"pools[{i}]": GpuNodePoolArgs(**pool_args(pool))
            for i, pool in enumerate(config.pools)
            if pool.cloud is cloud
        }
        problems += kit(cloud).validate_provider(provider_keys, pools, keys=POOL_KEYS)
    return problems


def _not_yet_reported(reported: list[Problem], found: list[Problem]) -> list[Problem]:
    """`found` without the problems at (or above) a key the config's own checks already reported."""
    seen = {p.path for p in reported}

    def covered(path: str) -> bool:
        return any(s == path or s.startswith((f"{path}.", f"{path}[")) for s in seen)

    return [p for p in found if not covered(p.path)]


def _check_observability(observability: ObservabilityConfig) -> list[Problem]:
    """The component's own checks (durations, retention), with config key paths."""
    if not observability.enabled:
        return []
    from llmops.components.observability.manifests import scrape_problems
    from llmops.infra.config.fields import MODEL_KEYS, OBSERVABILITY_KEYS
    from llmops.infra.program import observability_args  # imports Pulumi; only for stacks that use it

    problems = []
    for line in observability_args(observability).validate(OBSERVABILITY_INSTANCE):
        field, _, rest = line.partition(": ")
        key = OBSERVABILITY_KEYS.get(field, to_camel(field))
        path = f"observability.{key}" if field.isidentifier() else "observability"
        problems.append(Problem(path, _MISSING, rest if field.isidentifier() else line, ""))
    # Every model's ServiceMonitor scrapes at this interval (VllmModelArgs.scrape_interval).
    problems += scrape_problems(
        observability.vllm_scrape_interval, keys={"interval": MODEL_KEYS["scrape_interval"]}
    )
    return problems


# Name of the ObservabilityStack instance; its Helm releases derive from it.
OBSERVABILITY_INSTANCE = "obs"


def _kebab(flag: str) -> str:
    return flag.lstrip("-").replace("_", "-").lower()


def _duplicates(key: str, names: list[str]) -> list[Problem]:
    seen: set[str] = set()
    out = []
    for i, name in enumerate(names):
        if name in seen:
            out.append(
                Problem(f"{key}[{i}].name", name, f"is used twice in {key}", "give every entry its own name")
            )
        seen.add(name)
    return out


def _unknown_reference(path: str, value: str, known: list[str], what: str) -> Problem:
    # Pool names are short; one changed character in three is still a likely typo.
    close = difflib.get_close_matches(value, known, n=1, cutoff=0.5)
    listing = ", ".join(sorted(set(known))) if known else "none defined"
    fix = (
        f"did you mean {close[0]!r}?"
        if close
        else f"name one of the stack's {what}s, or define it under pools"
    )
    return Problem(path, value, f"is not a {what} of this stack ({what}s: {listing})", fix)


def _check_size(at: str, low: int | None, high: int | None, desired: int | None) -> list[Problem]:
    problems = []
    if low is not None and high is not None and low > high:
        problems.append(
            Problem(
                f"{at}.min", low, f"is larger than max ({high})", f"set min <= {high}, or raise max to {low}"
            )
        )
    if desired is not None:
        if low is not None and desired < low:
            problems.append(
                Problem(f"{at}.desired", desired, f"is below min ({low})", f"set desired >= {low}")
            )
        if high is not None and desired > high:
            problems.append(
                Problem(f"{at}.desired", desired, f"is above max ({high})", f"set desired <= {high}")
            )
    return problems


def _placement_problems(config: StackConfig) -> list[Problem]:
    from llmops.infra.placement import placement_problems  # imports this package; loaded on first use

    return placement_problems(config)


def model_component_problems(config: StackConfig) -> list[Problem]:
    """`VllmModel`'s own argument checks on each model's args, reported at the model's key path."""
    from llmops.components.serving.vllm_model import validate_args
    from llmops.infra.program import model_args

    pools = {p.name: p for p in config.pools}
    problems: list[Problem] = []
    for index, model in enumerate(config.models):
        args = model_args(model, config.namespace, pools, config.observability)
        problems += [
            Problem(f"models[{index}]", _MISSING, line, "") for line in validate_args(model.name, args)
        ]
    return problems

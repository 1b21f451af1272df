"""Reliability: probes with our timing bounds, a PDB per model, spot fallbacks, schedulable GPU
workloads and a ceiling on pool size."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from llmops.policies.rules._base import (
    Category,
    Level,
    NotApplicable,
    Resource,
    StackFacts,
    Violation,
    resource_rule,
    stack_rule,
)
from llmops.policies.rules._walk import (
    WORKLOAD_TYPES,
    containers,
    get,
    gpu_request,
    items,
    mapping,
    namespace_of,
    pod_gpus,
    pod_templates,
    selector_matches,
    short,
)
from llmops.policies.rules.workloads import model_workloads

# Kubelet defaults for probe fields left unset (Kubernetes API reference, Probe v1).
_PERIOD_DEFAULT = 10
_FAILURES_DEFAULT = 3
_TIMEOUT_DEFAULT = 1


def _gpu_containers(resource: Resource) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for where, template in pod_templates(resource):
        for path, container in containers(mapping(template.get("spec"))):
            if path.startswith("containers") and gpu_request(container):
                yield f"{where}spec.{path}", container


def _probe_times(probe: Mapping[str, Any]) -> tuple[int, int, int]:
    def number(key: str, default: int) -> int:
        value = probe.get(key)
        return value if isinstance(value, int) else default

    return (
        number("periodSeconds", _PERIOD_DEFAULT),
        number("failureThreshold", _FAILURES_DEFAULT),
        number("timeoutSeconds", _TIMEOUT_DEFAULT),
    )


@resource_rule(
    "model-readiness-probe",
    description="Every model container has a readiness probe that takes a dead replica out of its Service "
    "within the bound (default 2 s: period x failures).",
    remediation="VllmModel sets /health every 1 s with 2 failures (docs/decisions/002-probe-timings.md); "
    "keep periodSeconds x failureThreshold within the bound.",
    level=Level.MANDATORY,
    category=Category.RELIABILITY,
    types=WORKLOAD_TYPES,
    config_schema={"maxDetectionSeconds": {"type": "integer", "minimum": 1, "default": 2}},
)
def model_readiness_probe(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    bound = int(settings["maxDetectionSeconds"])
    for path, container in _gpu_containers(resource):
        probe = container.get("readinessProbe")
        if not isinstance(probe, Mapping):
            yield f"{short(resource)} {path}: no readinessProbe; a dead replica keeps receiving requests"
            continue
        period, failures, _ = _probe_times(probe)
        if period * failures > bound:
            yield (
                f"{short(resource)} {path}: readinessProbe takes {period} s x {failures} = "
                f"{period * failures} s to notice a dead replica (bound {bound} s)"
            )


@resource_rule(
    "model-liveness-probe",
    description="Every model container has a liveness probe that restarts a dead or wedged server within "
    "the bound (default 5 s: period x failures + timeout).",
    remediation="Keep VllmModel's progress probe (1 s, 1 failure, 3 s timeout) or the /health liveness "
    "probe (2 s, 2 failures, 1 s timeout).",
    level=Level.MANDATORY,
    category=Category.RELIABILITY,
    types=WORKLOAD_TYPES,
    config_schema={"maxDetectionSeconds": {"type": "integer", "minimum": 1, "default": 5}},
)
def model_liveness_probe(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    bound = int(settings["maxDetectionSeconds"])
    for path, container in _gpu_containers(resource):
        probe = container.get("livenessProbe")
        if not isinstance(probe, Mapping):
            yield f"{short(resource)} {path}: no livenessProbe; a wedged server is never restarted"
            continue
        period, failures, timeout = _probe_times(probe)
        if period * failures + timeout > bound:
            yield (
                f"{short(resource)} {path}: livenessProbe takes {period} s x {failures} + {timeout} s = "
                f"{period * failures + timeout} s to restart a dead server (bound {bound} s)"
            )


@resource_rule(
    "model-startup-probe",
    description="Every model container has a startup probe that holds the other probes off while weights "
    "load (at least the configured minimum, default 60 s).",
    remediation="Keep VllmModel's startup probe (every 5 s for startupTimeoutS); raise startupTimeoutS "
    "for large models.",
    level=Level.MANDATORY,
    category=Category.RELIABILITY,
    types=WORKLOAD_TYPES,
    config_schema={"minStartupSeconds": {"type": "integer", "minimum": 1, "default": 60}},
)
def model_startup_probe(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    floor = int(settings["minStartupSeconds"])
    for path, container in _gpu_containers(resource):
        probe = container.get("startupProbe")
        if not isinstance(probe, Mapping):
            yield (
                f"{short(resource)} {path}: no startupProbe; the liveness probe kills the server while "
                "it loads weights"
            )
            continue
        period, failures, _ = _probe_times(probe)
        if period * failures < floor:
            yield (
                f"{short(resource)} {path}: startupProbe allows "
                f"{period} s x {failures} = {period * failures} s "
                f"to load (at least {floor} s)"
            )


@stack_rule(
    "model-pdb",
    description="Every model has a PodDisruptionBudget selecting its pods, so a node drain cannot take all "
    "replicas at once.",
    remediation="VllmModel creates one (maxUnavailable 1); for a workload of your own add a "
    "PodDisruptionBudget whose selector matches its pod labels.",
    level=Level.MANDATORY,
    category=Category.RELIABILITY,
)
def model_pdb(resources: Sequence[Resource], _: StackFacts, __: Mapping[str, Any]) -> Iterator[Violation]:
    budgets = [r for r in resources if r.type == "kubernetes:policy/v1:PodDisruptionBudget"]
    for pods in model_workloads(resources):
        if not any(
            namespace_of(b) == pods.namespace
            and selector_matches(mapping(get(b.props, "spec", "selector")), pods.labels)
            for b in budgets
        ):
            yield Violation(
                f"{short(pods.resource)} in {pods.namespace}: no PodDisruptionBudget selects its pods",
                pods.resource.urn,
            )


def _config(facts: StackFacts):
    if facts.config is None:
        raise NotApplicable("the stack's config is not available to the policy pack")
    return facts.config


@stack_rule(
    "spot-pool-fallback",
    description="Every spot pool names a fallback pool with the same GPU type that is on-demand or in "
    "another cloud.",
    remediation="Set fallbackPool on the spot pool to an on-demand (or mixed, or other-cloud) pool of the "
    "same gpuType with max > 0.",
    level=Level.MANDATORY,
    category=Category.RELIABILITY,
)
def spot_pool_fallback(
    _: Sequence[Resource], facts: StackFacts, __: Mapping[str, Any]
) -> Iterator[Violation]:
    config = _config(facts)
    pools = {pool.name: pool for pool in config.pools}
    for i, pool in enumerate(config.pools):
        if pool.capacity.value != "spot":
            continue
        at = f"llmops:pools[{i}] ({pool.name})"
        fallback = pools.get(pool.fallback_pool or "")
        if fallback is None:
            yield Violation(
                f"{at}: spot pool without a fallbackPool; its models stop when spot capacity is gone"
            )
            continue
        if fallback.gpu_type != pool.gpu_type:
            yield Violation(
                f"{at}: fallbackPool {fallback.name} has {fallback.gpu_type} GPUs, not {pool.gpu_type}; the "
                "model was sized for the spot pool's GPU"
            )
        if fallback.capacity.value == "spot" and fallback.cloud == pool.cloud:
            yield Violation(
                f"{at}: fallbackPool {fallback.name} is spot in the same cloud; it is reclaimed together"
            )
        if max([fallback.max, *(s.sizes(fallback).max for s in fallback.schedules)]) == 0:
            yield Violation(f"{at}: fallbackPool {fallback.name} has max 0 and can never take the load")


_DISCOVERED_LABELS = (
    "nvidia.com/",
    "feature.node.kubernetes.io/",
    "kubernetes.io/",
    "node.kubernetes.io/",
    "topology.kubernetes.io/",
    "beta.kubernetes.io/",
)
GPU_TAINT = ("nvidia.com/gpu", "true", "NoSchedule")


def _tolerates(pod: Mapping[str, Any], taint: tuple[str, str, str]) -> bool:
    key, value, effect = taint
    for toleration in items(pod.get("tolerations")):
        if get(toleration, "effect") not in (None, "", effect):
            continue
        operator = get(toleration, "operator") or "Equal"
        if get(toleration, "key") in (None, "") and operator == "Exists":
            return True
        if get(toleration, "key") == key and (operator == "Exists" or get(toleration, "value") == value):
            return True
    return False


def _node_selected(pod: Mapping[str, Any], labels: Mapping[str, str]) -> str | None:
    """Why a node with these labels does not match the pod's nodeSelector and required affinity, or None."""

    def known(key: str) -> bool:
        return key in labels or key.startswith(_DISCOVERED_LABELS)

    for key, value in mapping(pod.get("nodeSelector")).items():
        if known(key) and key in labels and labels[key] != value:
            return f"nodeSelector {key}={value} (pool has {labels[key]})"
        if not known(key):
            return f"nodeSelector {key}={value} (the pool does not set it)"
    terms = items(
        get(
            pod,
            "affinity",
            "nodeAffinity",
            "requiredDuringSchedulingIgnoredDuringExecution",
            "nodeSelectorTerms",
        )
    )
    if not terms:
        return None
    for term in terms:
        expressions = [
            e
            for e in items(get(term, "matchExpressions"))
            if not str(get(e, "key")).startswith(_DISCOVERED_LABELS)
        ]
        if selector_matches({"matchExpressions": expressions}, labels):
            return None
    return "required node affinity"


@stack_rule(
    "gpu-workload-schedulable",
    description="Every GPU workload fits one node of a pool it may run on: enough GPUs per machine, the GPU "
    "type it was sized for, the pool's labels and GPU taint, and a pool that can grow above zero.",
    remediation="Point the model at a pool whose instance types carry at least tensor x pipeline parallel "
    "GPUs of its gpuType, or lower the parallelism.",
    level=Level.MANDATORY,
    category=Category.RELIABILITY,
)
def gpu_workload_schedulable(
    resources: Sequence[Resource], facts: StackFacts, __: Mapping[str, Any]
) -> Iterator[Violation]:
    from llmops.components.capacity.catalog import CatalogError, load_catalog

    config = _config(facts)
    if not config.pools:
        raise NotApplicable("the stack builds no node pools; the cluster's nodes are not known to it")
    catalog = load_catalog()
    models = {m.name: m for m in config.models}
    for resource in resources:
        if resource.type not in WORKLOAD_TYPES:
            continue
        for _, template in pod_templates(resource):
            pod = mapping(template.get("spec"))
            gpus = pod_gpus(pod)
            if not gpus:
                continue
            labels = mapping(get(template, "metadata", "labels"))
            model = models.get(str(labels.get("llmops.io/model")))
            wanted_gpu = (model.gpu_type if model else None) or None
            lacks: list[str] = []
            for pool in config.pools:
                node_labels = {
                    "llmops.io/pool": pool.name,
                    "llmops.io/cloud": pool.cloud.value,
                    "llmops.io/capacity": pool.capacity.value,
                    **pool.labels,
                }
                why = _node_selected(pod, node_labels)
                if why:
                    lacks.append(f"{pool.name}: not selected by {why}")
                    continue
                if not _tolerates(pod, GPU_TAINT):
                    lacks.append(
                        f"{pool.name}: the pod does not tolerate the GPU taint nvidia.com/gpu=true:NoSchedule"
                    )
                    continue
                if wanted_gpu and pool.gpu_type != wanted_gpu:
                    lacks.append(
                        f"{pool.name}: has {pool.gpu_type} GPUs, the model is sized for {wanted_gpu}"
                    )
                    continue
                if max([pool.max, *(s.sizes(pool).max for s in pool.schedules)]) == 0:
                    lacks.append(f"{pool.name}: max is 0")
                    continue
                short_of = []
                for instance_type in pool.instance_types:
                    try:
                        _, count = catalog.instance_gpu(pool.cloud.value, instance_type)
                    except CatalogError:
                        continue  # not in the catalog: the config check reports unknown machine types
                    if count < gpus:
                        short_of.append(f"{instance_type} has {count}")
                if short_of:
                    lacks.append(f"{pool.name}: {', '.join(short_of)} GPU(s), the pod needs {gpus}")
                    continue
                lacks = []
                break
            if lacks:
                yield Violation(
                    f"{short(resource)} ({gpus} GPU(s) per pod) cannot be placed: " + "; ".join(lacks),
                    resource.urn,
                )
            break


@resource_rule(
    "pool-max-ceiling",
    description="No node pool may grow past the configured ceiling (default 20 machines), so a runaway "
    "autoscaler or a typo cannot buy a fleet.",
    remediation="Lower the pool's max (and its schedules' max), or raise maxNodes in the pack config for "
    "this stack.",
    level=Level.MANDATORY,
    category=Category.COST,
    types=(
        "aws:autoscaling/group:Group",
        "aws:autoscaling/schedule:Schedule",
        "gcp:compute/regionAutoscaler:RegionAutoscaler",
        "gcp:compute/autoscaler:Autoscaler",
        "azure-native:compute:VirtualMachineScaleSet",
    ),
    config_schema={"maxNodes": {"type": "integer", "minimum": 1, "default": 20}},
)
def pool_max_ceiling(resource: Resource, settings: Mapping[str, Any]) -> Iterator[str]:
    ceiling = int(settings["maxNodes"])
    props = resource.props
    if resource.type.startswith("aws:autoscaling/"):
        size, key = props.get("maxSize"), "maxSize"
    elif resource.type.startswith("gcp:"):
        size, key = get(props, "autoscalingPolicy", "maxReplicas"), "autoscalingPolicy.maxReplicas"
    else:
        size, key = get(props, "sku", "capacity"), "sku.capacity"
    if isinstance(size, int) and size > ceiling:
        yield f"{short(resource)}: {key} is {size}, above the ceiling of {ceiling} machines"

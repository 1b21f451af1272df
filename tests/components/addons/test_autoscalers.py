"""KEDA and cluster-autoscaler: pins, values against each chart's own defaults, priorities, args."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml
from llmops.components.addons import CLUSTER_AUTOSCALER, KEDA, PINNED_CHARTS
from llmops.components.addons.cluster_autoscaler import (
    ClusterAutoscalerArgs,
    NodeGroup,
    cluster_autoscaler_values,
    expander_priorities,
    name_pattern,
    validate_args,
)
from llmops.components.addons.keda import KedaArgs, keda_values

from tests.components.observability.test_helm_values import walk
from tests.conftest import require_shared

POOLS = [
    NodeGroup("l4-spot", "spot", name_pattern("l4-spot-group"), fallback_pool="l4-on-demand"),
    NodeGroup("l4-on-demand", "on-demand", name_pattern("l4-on-demand-group")),
]


class _Provider:
    """Stands in for the k8s provider: the values functions never touch it."""


def ca_args(**overrides: Any) -> ClusterAutoscalerArgs:
    fields: dict[str, Any] = {
        "provider": _Provider(),
        "cluster_name": "aws-dev",
        "region": "us-east-1",
        "node_groups": POOLS,
    }
    return ClusterAutoscalerArgs(**(fields | overrides))


def defaults(chart_name: str, version: str) -> dict[str, Any]:
    return yaml.safe_load(
        require_shared(f"reference/helm-values/{chart_name}-{version}.values.yaml").read_text()
    )


def test_pins_are_the_issue_versions_and_in_the_table() -> None:
    assert (KEDA.name, KEDA.version, KEDA.repo) == ("keda", "2.20.2", "https://kedacore.github.io/charts")
    assert (CLUSTER_AUTOSCALER.name, CLUSTER_AUTOSCALER.version, CLUSTER_AUTOSCALER.repo) == (
        "cluster-autoscaler",
        "9.59.0",
        "https://kubernetes.github.io/autoscaler",
    )
    assert KEDA in PINNED_CHARTS and CLUSTER_AUTOSCALER in PINNED_CHARTS


# path -> why it is not in the chart's values.yaml
CA_EXCEPTIONS = {
    # extraArgs is a free map of flag -> value; the defaults list three of them
    "extraArgs.expander": "cluster-autoscaler flag",
    "extraArgs.balance-similar-node-groups": "cluster-autoscaler flag",
    "extraArgs.skip-nodes-with-local-storage": "cluster-autoscaler flag",
    "extraArgs.skip-nodes-with-system-pods": "cluster-autoscaler flag",
    "extraArgs.max-node-provision-time": "cluster-autoscaler flag",
    "extraArgs.scale-down-unneeded-time": "cluster-autoscaler flag",
    # default {}: a Kubernetes (pod) SecurityContext
    "containerSecurityContext.allowPrivilegeEscalation": "container SecurityContext field",
    "containerSecurityContext.readOnlyRootFilesystem": "container SecurityContext field",
    "containerSecurityContext.capabilities": "container SecurityContext field",
    "securityContext.runAsNonRoot": "pod SecurityContext field",
    "securityContext.runAsUser": "pod SecurityContext field",
    "securityContext.runAsGroup": "pod SecurityContext field",
    "securityContext.seccompProfile": "pod SecurityContext field",
    # default {}: ResourceRequirements
    "resources.requests": "ResourceRequirements field",
    "resources.limits": "ResourceRequirements field",
    # default {}: priority -> list of group name patterns
    "expanderPriorities.30": "priority of the spot pool",
    "expanderPriorities.10": "priority of the on-demand pool",
    # default {}: node labels
    "nodeSelector.node-role.kubernetes.io/control-plane": "node label",
}


def test_cluster_autoscaler_values_exist_in_the_chart() -> None:
    problems, used = walk(
        cluster_autoscaler_values(ca_args()), defaults("cluster-autoscaler", "9.59.0"), CA_EXCEPTIONS
    )
    assert not problems, "\n".join(problems)
    assert set(CA_EXCEPTIONS) == used, f"stale exceptions: {sorted(set(CA_EXCEPTIONS) - used)}"


KEDA_EXCEPTIONS: dict[str, str] = {}


def test_keda_values_exist_in_the_chart() -> None:
    problems, used = walk(
        keda_values(KedaArgs(provider=_Provider())), defaults("keda", "2.20.2"), KEDA_EXCEPTIONS
    )  # type: ignore[arg-type]
    assert not problems, "\n".join(problems)
    assert used == set(KEDA_EXCEPTIONS)


def test_keda_image_tags_are_the_pinned_application_version() -> None:
    images = keda_values(KedaArgs(provider=_Provider()))["image"]  # type: ignore[arg-type]
    assert {images[part]["tag"] for part in ("keda", "metricsApiServer", "webhooks")} == {KEDA.version}


def test_discovery_uses_the_clusters_tag_and_region() -> None:
    values = cluster_autoscaler_values(ca_args())
    assert values["autoDiscovery"]["clusterName"] == "aws-dev"
    assert values["autoDiscovery"]["tags"] == [
        "k8s.io/cluster-autoscaler/enabled",
        "k8s.io/cluster-autoscaler/{{ .Values.autoDiscovery.clusterName }}",
    ]
    assert values["awsRegion"] == "us-east-1"
    assert values["cloudProvider"] == "aws"
    assert values["extraArgs"]["expander"] == "priority"
    # On the servers (their role has the policy), on the host network (IMDS hop limit 1).
    assert values["hostNetwork"] is True
    assert values["nodeSelector"] == {"node-role.kubernetes.io/control-plane": "true"}


def test_idle_time_is_configurable() -> None:
    assert cluster_autoscaler_values(ca_args())["extraArgs"]["scale-down-unneeded-time"] == "600s"
    assert cluster_autoscaler_values(ca_args(idle_s=1800))["extraArgs"]["scale-down-unneeded-time"] == "1800s"
    assert validate_args(ca_args(idle_s=30)) == [
        "idle_s: 30 is under a minute; a node would go before it has served a burst. Fix: use 60 or more "
        "(default 600)"
    ]


def test_spot_pools_rank_above_their_fallbacks() -> None:
    assert expander_priorities(POOLS) == {
        "30": [name_pattern("l4-spot-group")],
        "10": [name_pattern("l4-on-demand-group")],
    }
    # A spot pool falling back to another spot pool still ranks above it.
    chain = [
        NodeGroup("a", "spot", "^a$", fallback_pool="b"),
        NodeGroup("b", "spot", "^b$", fallback_pool="c"),
        NodeGroup("c", "on-demand", "^c$"),
    ]
    table = expander_priorities(chain)
    rank = {pattern: int(priority) for priority, patterns in table.items() for pattern in patterns}
    assert rank["^a$"] > rank["^b$"] > rank["^c$"]


def test_group_name_pattern_matches_pulumi_names_only() -> None:
    pattern = re.compile(name_pattern("l4-spot-group"))
    assert pattern.match("l4-spot-group-4f1c2d9")
    assert not pattern.match("l4-spot-2-group-4f1c2d9")
    assert not pattern.match("xl4-spot-group-4f1c2d9")


@pytest.mark.parametrize("chart", [KEDA, CLUSTER_AUTOSCALER], ids=lambda c: c.name)
def test_values_files_have_no_secrets(chart: Any) -> None:
    from llmops.components.addons.charts import load_values

    text = yaml.safe_dump(load_values(chart)).lower()
    assert "secret" not in text and "password" not in text and "awsaccesskey" not in text

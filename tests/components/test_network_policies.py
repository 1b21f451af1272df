"""Default-deny NetworkPolicies, evaluated as the Kubernetes rules read (union of allowing policies)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from llmops.infra import artifacts
from llmops.infra.config import read_stack_file
from llmops.infra.plan import Plan, run_plan

from tests.infra.test_plan import plan_of

VLLM_POD = {"app.kubernetes.io/name": "vllm", "app.kubernetes.io/instance": "qwen2-5-0-5b"}
GRAFANA_POD = {"app.kubernetes.io/name": "grafana"}


def policies(plan: Plan) -> list[dict[str, Any]]:
    return [d for d in artifacts.manifests(plan).values() if d["kind"] == "NetworkPolicy"]


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def allowed(
    docs: list[dict[str, Any]],
    *,
    to_ns: str,
    pod: dict[str, str],
    port: int,
    from_ns: str,
    from_ip: str = "10.42.0.9",
) -> bool:
    """Whether ingress to the pod is allowed: not isolated, or some policy selecting it lets it in."""
    selecting = [
        d for d in docs if d["metadata"]["namespace"] == to_ns and _selects(d["spec"]["podSelector"], pod)
    ]
    if not any("Ingress" in d["spec"]["policyTypes"] for d in selecting):
        return True
    for doc in selecting:
        for rule in doc["spec"].get("ingress", []):
            ports = rule.get("ports")
            if ports and not any(p["port"] == port for p in ports):
                continue
            for peer in rule.get("from", []):
                if "ipBlock" in peer:
                    import ipaddress

                    if ipaddress.ip_address(from_ip) in ipaddress.ip_network(peer["ipBlock"]["cidr"]):
                        return True
                elif "namespaceSelector" in peer:
                    if _selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": from_ns}):
                        return True
                elif "podSelector" in peer and from_ns == to_ns:
                    return True
    return False


@pytest.fixture(scope="module")
def aws_dev(repo_root: Path) -> list[dict[str, Any]]:
    return policies(run_plan(read_stack_file(repo_root / "stacks", "aws-dev"), "aws-dev"))


def test_the_model_port_is_open_to_its_namespace_and_the_scrapes_only(aws_dev: list[dict[str, Any]]) -> None:
    def model(from_ns: str, port: int = 8000) -> bool:
        return allowed(aws_dev, to_ns="llmops", pod=VLLM_POD, port=port, from_ns=from_ns)

    assert model("llmops") and model("monitoring")
    assert not model("default")
    assert not model("kube-system")
    assert not model("llmops", port=9999)  # nothing else of the serving namespace is open


def test_the_monitoring_namespace_is_closed_to_the_serving_pods(aws_dev: list[dict[str, Any]]) -> None:
    def grafana(from_ns: str, port: int = 3000, from_ip: str = "10.42.0.9") -> bool:
        return allowed(
            aws_dev, to_ns="monitoring", pod=GRAFANA_POD, port=port, from_ns=from_ns, from_ip=from_ip
        )

    assert grafana("monitoring")
    assert not grafana("llmops")
    assert not grafana("default")
    # The API server (host network) reaches the operator's admission webhook.
    assert allowed(aws_dev, to_ns="monitoring", pod={}, port=10250, from_ns="", from_ip="10.20.0.10")


def test_named_namespaces_and_the_switch() -> None:
    base = "config:\n  llmops:cluster: {kind: existing}\n  llmops:models:\n    - {name: qwen2-5-0-5b, source: a/b}\n"
    opened = policies(plan_of(base + "  llmops:networkPolicies: {servingFrom: [gateway]}\n"))
    assert allowed(opened, to_ns="llmops", pod=VLLM_POD, port=8000, from_ns="gateway")
    assert not allowed(opened, to_ns="llmops", pod=VLLM_POD, port=8000, from_ns="llmops")
    assert policies(plan_of(base + "  llmops:networkPolicies: {enabled: false}\n")) == []

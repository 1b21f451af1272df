"""Default-deny ingress NetworkPolicies for a namespace, with named openings (pure builders + resources).

K3s enforces NetworkPolicies with its embedded controller (kube-router's, on by default; off only
with `--disable-network-policy`); other clusters need a CNI that enforces them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
"""Label the API server puts on every namespace (Kubernetes 1.21+): selects a namespace by name."""


@dataclass(frozen=True)
class IngressOpening:
    """One allowed kind of inbound traffic into the namespace's pods."""

    name: str
    """Suffix of the policy name, e.g. `allow-model-port`."""
    from_namespaces: Sequence[str] = ()
    """Namespaces whose pods may connect; empty with `from_anywhere` off: the namespace itself only."""
    ports: Sequence[int] = ()
    """TCP ports opened; empty: every port."""
    pod_labels: Mapping[str, str] = field(default_factory=dict)
    """Pods of the namespace the opening applies to; empty: every pod."""
    from_anywhere: bool = False
    """Any source address (the API server calling a webhook runs on the host network)."""


def namespace_policies(
    prefix: str,
    namespace: pulumi.Input[str],
    openings: Sequence[IngressOpening],
    opts: pulumi.ResourceOptions | None = None,
) -> list[pulumi.Resource]:
    """`<prefix>-default-deny-ingress` for every pod of the namespace, then one policy per opening."""
    import pulumi_kubernetes as k8s

    def policy(suffix: str, spec: k8s.networking.v1.NetworkPolicySpecArgs) -> pulumi.Resource:
        return k8s.networking.v1.NetworkPolicy(
            f"{prefix}-{suffix}",
            metadata=k8s.meta.v1.ObjectMetaArgs(
                name=f"{prefix}-{suffix}",
                namespace=namespace,
                labels={"app.kubernetes.io/managed-by": "llmops"},
            ),
            spec=spec,
            opts=opts,
        )

    every_pod = k8s.meta.v1.LabelSelectorArgs()
    resources = [
        policy(
            "default-deny-ingress",
            k8s.networking.v1.NetworkPolicySpecArgs(pod_selector=every_pod, policy_types=["Ingress"]),
        )
    ]
    for opening in openings:
        if opening.from_anywhere:
            peers = [
                k8s.networking.v1.NetworkPolicyPeerArgs(
                    ip_block=k8s.networking.v1.IPBlockArgs(cidr="0.0.0.0/0")
                )
            ]
        elif opening.from_namespaces:
            names = k8s.meta.v1.LabelSelectorRequirementArgs(
                key=NAMESPACE_NAME_LABEL, operator="In", values=sorted(set(opening.from_namespaces))
            )
            peers = [
                k8s.networking.v1.NetworkPolicyPeerArgs(
                    namespace_selector=k8s.meta.v1.LabelSelectorArgs(match_expressions=[names])
                )
            ]
        else:
            peers = [k8s.networking.v1.NetworkPolicyPeerArgs(pod_selector=every_pod)]  # its own pods
        rule = k8s.networking.v1.NetworkPolicyIngressRuleArgs(
            from_=peers,
            ports=[k8s.networking.v1.NetworkPolicyPortArgs(protocol="TCP", port=p) for p in opening.ports]
            or None,
        )
        selector = (
            k8s.meta.v1.LabelSelectorArgs(match_labels=dict(opening.pod_labels))
            if opening.pod_labels
            else every_pod
        )
        resources.append(
            policy(
                opening.name,
                k8s.networking.v1.NetworkPolicySpecArgs(
                    pod_selector=selector, policy_types=["Ingress"], ingress=[rule]
                ),
            )
        )
    return resources

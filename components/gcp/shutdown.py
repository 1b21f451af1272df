"""Spot preemption on Compute Engine: the kubelet's graceful node shutdown. Pure Python.

GCE gives a preempted spot VM a 30-second notice as an ACPI G2 soft-off; systemd turns it into
a normal shutdown, and the kubelet's graceful node shutdown (a systemd inhibitor lock) marks
the node not ready and ends its pods before the machine goes: regular pods first, then the
critical ones. See docs/decisions/100-gcp-spot-preemption.md for the timings and the choice
against a metadata-watching DaemonSet.
"""

from __future__ import annotations

PREEMPTION_NOTICE_S = 30
"""Compute Engine's preemption notice (cloud.google.com/compute/docs/instances/spot)."""
SHUTDOWN_GRACE_PERIOD_S = 25
"""All pods; 5 s short of the notice so the kubelet finishes before the hard power-off."""
SHUTDOWN_GRACE_PERIOD_CRITICAL_PODS_S = 5
"""The last part of the grace period, kept for system-node-critical pods (log shippers, CNI)."""


def graceful_shutdown_kubelet_args(
    grace_s: int = SHUTDOWN_GRACE_PERIOD_S, critical_s: int = SHUTDOWN_GRACE_PERIOD_CRITICAL_PODS_S
) -> list[str]:
    """K3s `kubelet-arg` entries that turn graceful node shutdown on within the notice."""
    if not 0 < critical_s < grace_s <= PREEMPTION_NOTICE_S:
        raise ValueError(
            f"grace periods {grace_s}s (all) and {critical_s}s (critical) must satisfy "
            f"0 < critical < all <= {PREEMPTION_NOTICE_S}"
        )
    return [f"shutdown-grace-period={grace_s}s", f"shutdown-grace-period-critical-pods={critical_s}s"]

"""Kubernetes add-ons: every Helm release the stacks install, each a pinned `Chart`.

`charts.py` holds the pin type and every pin, so one table says which chart, from which
repository, at which version, with which values file; the components that install them
(observability, GPU operator, autoscalers, CSI drivers, spot termination handlers) read
their pin from there.
"""

from llmops.components.addons.charts import (
    AWS_NODE_TERMINATION_HANDLER,
    CLUSTER_AUTOSCALER,
    DEEPFLOW,
    FLUENT_BIT,
    GPU_OPERATOR,
    KEDA,
    KUBE_PROMETHEUS_STACK,
    LOKI,
    PINNED_CHARTS,
    Chart,
    deep_merge,
    load_values,
)

__all__ = [
    "AWS_NODE_TERMINATION_HANDLER",
    "CLUSTER_AUTOSCALER",
    "DEEPFLOW",
    "FLUENT_BIT",
    "GPU_OPERATOR",
    "KEDA",
    "KUBE_PROMETHEUS_STACK",
    "LOKI",
    "PINNED_CHARTS",
    "Chart",
    "deep_merge",
    "load_values",
]

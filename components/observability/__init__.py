"""Observability for LLM serving: Prometheus/Grafana/Loki/fluent-bit/DeepFlow, dashboards and alerts.

`ObservabilityStack` installs the cluster-wide pieces; `vllm_service_monitor` is called by
each VllmModel so its replicas are scraped every 2 s with the labels the rules expect.
"""

from llmops.components.observability.monitors import llmops_prometheus_rule, vllm_service_monitor
from llmops.components.observability.stack import (
    ObservabilityStack,
    ObservabilityStackArgs,
    ObservabilityStackArgsError,
)

__all__ = [
    "ObservabilityStack",
    "ObservabilityStackArgs",
    "ObservabilityStackArgsError",
    "llmops_prometheus_rule",
    "vllm_service_monitor",
]

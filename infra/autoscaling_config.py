"""The `autoscaling:` block of a model and the `nodeAutoscaling:` block of a stack (types only).

Kept apart from infra/config.py so the config model grows by one field per block; the checks
that need more than one key are in infra/autoscaling_checks.py.
"""

from __future__ import annotations

from llmops.components.serving.autoscaling import DEFAULT_SCALE_DOWN_WINDOW_S, DEFAULT_TARGET
from llmops.infra.config_block import ConfigBlock
from pydantic import Field


class WindowConfig(ConfigBlock):
    """A time of day in which the model keeps at least `replicas` replicas (a KEDA cron trigger)."""

    name: str = Field(description="names the trigger: window-<name>")
    start: str = Field(description="local time the window opens, 'HH:MM'")
    end: str = Field(description="local time it closes, 'HH:MM' after start; '24:00' is midnight")
    replicas: int = Field(ge=1, description="replicas kept while the window is open")
    days: str = Field("*", description="cron day-of-week: '*' every day, '1-5' Monday to Friday")
    timezone: str = Field("UTC", description="IANA time zone of start and end, e.g. Europe/Berlin")


class AutoscalingConfig(ConfigBlock):
    """Scale the model's replicas with KEDA: the maximum of a reactive, a predictive and cron triggers."""

    min_replicas: int = Field(1, ge=1, le=1000, description="fewest replicas; at least 1 (see docs)")
    max_replicas: int = Field(ge=1, le=1000, description="most replicas; the plan prices this ceiling")
    target: float = Field(
        DEFAULT_TARGET, gt=0, le=1, description="busy share of a replica's working batch the HPA aims at"
    )
    scale_down_window_s: int = Field(
        DEFAULT_SCALE_DOWN_WINDOW_S, ge=0, le=3600, description="scale-down stabilisation window"
    )
    predictive: bool = Field(True, description="add the forecast trigger (needs observability)")
    windows: list[WindowConfig] = Field(
        default_factory=list, description="times of day with a floor of replicas (cron triggers)"
    )


class NodeAutoscalingConfig(ConfigBlock):
    """cluster-autoscaler for the stack's GPU pools (K3s clusters this stack builds)."""

    enabled: bool | None = Field(
        None, description="default: on when a model autoscales and the stack builds the cluster"
    )
    idle_s: int = Field(600, ge=60, le=86_400, description="time a GPU node stays unneeded before removal")

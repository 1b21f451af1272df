"""Grafana dashboards shipped as JSON files next to this module (dashboards/*.json).

Pure Python: the stack wraps each one in a ConfigMap labelled for the Grafana sidecar.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

# ConfigMaps with this label (and value) are loaded by kube-prometheus-stack's Grafana
# sidecar; values/kube-prometheus-stack.yaml sets the same label and value.
SIDECAR_LABEL = "grafana_dashboard"
SIDECAR_LABEL_VALUE = "1"


def dashboard_files() -> dict[str, str]:
    """File name -> JSON text of every dashboard, sorted by name."""
    folder = resources.files("llmops.components.observability").joinpath("dashboards")
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".json")
    }


def load_dashboards() -> dict[str, dict[str, Any]]:
    """File name -> parsed dashboard; a broken file fails here, before any resource is created."""
    parsed: dict[str, dict[str, Any]] = {}
    for file_name, text in dashboard_files().items():
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"dashboards/{file_name}: not valid JSON ({exc})") from exc
        if not isinstance(data, dict) or not data.get("uid") or not data.get("title"):
            raise ValueError(f"dashboards/{file_name}: a dashboard needs a top-level uid and title")
        parsed[file_name] = data
    return parsed

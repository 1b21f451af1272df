"""Dashboards parse, are internally consistent, cover what the serving team needs, and are our own."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from llmops.components.observability import dashboards

from tests.components.observability.promql import dashboard_expressions, metric_names
from tests.conftest import require_shared

BOARDS = dashboards.load_dashboards()
# "$1" in label_replace is a regex back-reference, not a Grafana variable.
_VARIABLE_USE = re.compile(r"\$\{([A-Za-z_]\w*)(?::\w+)?\}|\$([A-Za-z_]\w*)")
GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__range", "__range_s"}


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [p for p in board["panels"] if p.get("type") != "row"]


def test_there_are_three_dashboards_with_unique_uids() -> None:
    assert sorted(BOARDS) == ["cost.json", "gpu-fleet.json", "llm-serving.json"]
    uids = [b["uid"] for b in BOARDS.values()]
    assert len(set(uids)) == len(uids)
    assert all(uid.startswith("llmops-") and len(uid) <= 40 for uid in uids), uids


@pytest.mark.parametrize("file_name", sorted(BOARDS))
def test_panels_are_well_formed(file_name: str) -> None:
    board = BOARDS[file_name]
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), f"{file_name}: duplicate panel ids"
    occupied: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, f"{file_name}/{panel['title']}: wider than the 24-column grid"
        cells = {
            (x, y)
            for x in range(grid["x"], grid["x"] + grid["w"])
            for y in range(grid["y"], grid["y"] + grid["h"])
        }
        assert not cells & occupied, f"{file_name}/{panel['title']}: overlaps another panel"
        occupied |= cells
    for panel in panels(board):
        assert panel.get("description"), f"{file_name}/{panel['title']}: every panel explains itself"
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"] and all(t.get("expr") for t in panel["targets"]), panel["title"]


@pytest.mark.parametrize("file_name", sorted(BOARDS))
def test_every_variable_used_is_defined(file_name: str) -> None:
    board = BOARDS[file_name]
    defined = {v["name"] for v in board["templating"]["list"]}
    used = set()
    for panel in board["panels"]:
        used |= {a or b for a, b in _VARIABLE_USE.findall(json.dumps(panel.get("targets", [])))}
        used |= {a or b for a, b in _VARIABLE_USE.findall(json.dumps(panel.get("datasource", {})))}
    for variable in board["templating"]["list"]:
        used |= {a or b for a, b in _VARIABLE_USE.findall(json.dumps(variable.get("query", "")))}
    assert used - GRAFANA_BUILTINS <= defined, (
        f"{file_name}: undefined variables {used - GRAFANA_BUILTINS - defined}"
    )


def test_dashboards_fit_in_a_configmap() -> None:
    for file_name, text in dashboards.dashboard_files().items():
        # ConfigMaps hold at most 1 MiB; stay far below so edits never hit the limit.
        assert len(text.encode()) < 256 * 1024, file_name


def _metrics_of(file_name: str) -> set[str]:
    names: set[str] = set()
    for board_file, _, expr in dashboard_expressions():
        if board_file == file_name:
            names |= metric_names(expr)
    return names


@pytest.mark.parametrize(
    ("file_name", "required"),
    [
        (
            "llm-serving.json",
            {
                "vllm:time_to_first_token_seconds_bucket",
                "vllm:inter_token_latency_seconds_bucket",
                "vllm:generation_tokens_total",
                "vllm:num_requests_waiting",
                "vllm:kv_cache_usage_perc",
                "vllm:request_success_total",
                "llmops:node_pool:info",
            },
        ),
        (
            "gpu-fleet.json",
            {
                "DCGM_FI_DEV_GPU_UTIL",
                "DCGM_FI_DEV_FB_USED",
                "DCGM_FI_DEV_XID_ERRORS",
                "llmops:node_pool:info",
            },
        ),
        (
            "cost.json",
            {
                "llmops:vllm_gpus:sum_by_model_pool",
                "llmops:vllm_cost_usd_per_hour:sum_by_model",
                "llmops:vllm_generation_tokens:rate5m",
                "llmops:gpu_price_usd_per_hour",
            },
        ),
    ],
)
def test_dashboards_show_the_required_signals(file_name: str, required: set[str]) -> None:
    assert required <= _metrics_of(file_name), required - _metrics_of(file_name)


def test_errors_are_broken_down_per_model_and_pool() -> None:
    board = BOARDS["llm-serving.json"]
    errors = [p for p in panels(board) if "per model and pool" in p["title"] and "5xx" not in p["title"]]
    assert errors and "by (llmops_model, pool" in errors[0]["targets"][0]["expr"]


def test_no_query_is_copied_from_the_vllm_reference_dashboard() -> None:
    reference = json.loads(require_shared("reference/vllm/grafana.json").read_text())
    theirs = {
        t["expr"].strip() for p in reference.get("panels", []) for t in p.get("targets", []) if "expr" in t
    }
    ours = {expr.strip() for _, _, expr in dashboard_expressions()}
    assert not ours & theirs

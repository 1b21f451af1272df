"""PromQL helpers shared by the rule, dashboard and metric-name tests."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from llmops.components.observability import dashboards, manifests

# Concrete values for Grafana's built-in and our template variables, so dashboard queries
# become plain PromQL that promtool can parse.
_GRAFANA_BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "30s",
    "__range_s": "3600",
    "__range": "1h",
}
# Names start with a letter or "_": "$1" is a regex back-reference (label_replace), not a variable.
_VARIABLE = re.compile(r"\$\{([A-Za-z_]\w*)(?::\w+)?\}|\$([A-Za-z_]\w*)")


def substitute_grafana_variables(expr: str) -> str:
    """Replace $__rate_interval & co. with durations and user variables ($model) with the regex '.*'."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return _GRAFANA_BUILTINS.get(name, ".*")

    return _VARIABLE.sub(replace, expr)


def dashboard_expressions() -> Iterator[tuple[str, str, str]]:
    """(dashboard file, panel title, expr) for every query of every panel, variables included."""
    for file_name, board in dashboards.load_dashboards().items():
        for panel in _panels(board):
            for target in panel.get("targets", []):
                if "expr" in target:
                    yield file_name, panel.get("title", "?"), target["expr"]
        for variable in board.get("templating", {}).get("list", []):
            query = variable.get("query")
            if isinstance(query, dict) and "query" in query:
                query = query["query"]
            if variable.get("type") == "query" and isinstance(query, str):
                inner = re.fullmatch(r"label_values\((.*),\s*\w+\)", query.strip())
                if inner:
                    yield file_name, f"variable {variable['name']}", inner.group(1)
                elif not query.startswith("label_values("):
                    yield file_name, f"variable {variable['name']}", query


def _panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])  # collapsed rows keep their panels inside


def rule_expressions() -> Iterator[tuple[str, str, str]]:
    """(rule file, rule name, expr) for every shipped rule, price rules included."""
    for file_name in manifests.RULE_FILES:
        for group in manifests.load_rule_file(file_name):
            for rule in group["rules"]:
                yield file_name, rule.get("alert") or rule["record"], rule["expr"]
    for rule in manifests.gpu_price_group({"example-pool": 1.0})["rules"]:
        yield "generated prices", rule["record"], rule["expr"]


def metric_names(expr: str) -> set[str]:
    """Metric names in a PromQL expression: vllm:*, llmops:*, DCGM_* and other identifiers.

    String literals and label matchers ({...}) are removed first, then every identifier that
    is not followed by '(' (a function or aggregation), is not a keyword and is not inside
    a by/without/on/ignoring/group_left/group_right label list is a metric name.
    """
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^{}]*\}", "", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", " ", text)
    text = re.sub(r"\[[^\]]*\]", "", text)  # range and subquery durations
    keywords = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "inf", "nan"}
    names = set()
    for match in re.finditer(r"(?<![\w:.])([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(\()?", text):
        name, call = match.group(1), match.group(2)
        if call or name.lower() in keywords or re.fullmatch(r"\d.*", name):
            continue
        names.add(name)
    return names


def exposed_vllm_names(metrics_txt: Path) -> dict[str, str]:
    """Series names vLLM exposes -> registered metric, per metrics.txt's header rules.

    A counter is exposed as <name>_total (not doubled when the name already ends in _total),
    a histogram as <name>_bucket/_sum/_count, a gauge as <name>.
    """
    exposed: dict[str, str] = {}
    for line in metrics_txt.read_text().splitlines():
        if not line.startswith("vllm:"):
            continue
        name, kind = line.split("\t")[:2]
        if kind == "counter":
            exposed[name if name.endswith("_total") else f"{name}_total"] = name
        elif kind == "histogram":
            for suffix in ("_bucket", "_sum", "_count"):
                exposed[f"{name}{suffix}"] = name
        else:
            exposed[name] = name
    return exposed


def load_json(path: Path) -> Any:
    return json.loads(path.read_text())

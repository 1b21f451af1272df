"""The cost recording rules and the cost dashboard's headline query compute the right dollars.

A promtool unit test is generated here because the price rules themselves are generated
from the stack's config (manifests.gpu_price_group); the dashboard query is taken verbatim
from dashboards/cost.json, so a broken join in either place fails this test.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from llmops.components.observability import dashboards, manifests

from tests.components.observability.promql import substitute_grafana_variables
from tests.support.tools import require_tool

pytestmark = pytest.mark.slow

PRICES = {"a100-spot": 2.0, "l4": 0.5}
GPUS = "llmops:vllm_gpus:sum_by_model_pool"


def panel_expr(title: str) -> str:
    board = dashboards.load_dashboards()["cost.json"]
    (panel,) = [p for p in board["panels"] if p.get("title") == title]
    return substitute_grafana_variables(panel["targets"][0]["expr"])


def series(name: str, labels: dict[str, str], values: str) -> dict[str, str]:
    inner = ",".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def run_promtool_test(tmp_path: Path, tests: list[dict[str, Any]]) -> subprocess.CompletedProcess[str]:
    rules = tmp_path / "cost.rules.yaml"
    groups = [*manifests.load_rule_file("cost.rules.yaml"), manifests.gpu_price_group(PRICES)]
    rules.write_text(yaml.safe_dump({"groups": groups}))
    spec = {"rule_files": [str(rules)], "evaluation_interval": "30s", "tests": tests}
    test_file = tmp_path / "cost_test.yaml"
    test_file.write_text(yaml.safe_dump(spec, sort_keys=False))
    return subprocess.run(
        [require_tool("promtool"), "test", "rules", str(test_file)],
        capture_output=True,
        text=True,
        check=False,
    )


# Model m runs pod m-0 with 2 GPUs on an a100-spot node (USD 2.0/GPU-hour) and pod m-1 with
# 1 GPU on an l4 node (USD 0.5/GPU-hour): USD 4.5/hour. It generates 100 tokens/s and reads
# 200 prompt tokens/s: USD 4.5 / (100 * 3600) * 1e6 = 12.5 per 1M generated tokens and
# 4.5 / (300 * 3600) * 1e6 = 4.1666... per 1M tokens. A non-vLLM pod with a GPU costs nothing here.
INPUT_SERIES = [
    series(
        "kube_node_labels",
        {"node": "n1", "label_llmops_io_pool": "a100-spot", "label_llmops_io_cloud": "aws"},
        "1x40",
    ),
    series(
        "kube_node_labels",
        {"node": "n2", "label_llmops_io_pool": "l4", "label_llmops_io_cloud": "gcp"},
        "1x40",
    ),
    *(
        series(
            "kube_pod_container_resource_requests",
            {
                "namespace": ns,
                "pod": pod,
                "container": "c",
                "node": node,
                "resource": "nvidia_com_gpu",
                "unit": "integer",
            },
            f"{gpus}x40",
        )
        for ns, pod, node, gpus in (
            ("ai", "m-0", "n1", 2),
            ("ai", "m-1", "n2", 1),
            ("batch", "trainer", "n1", 4),
        )
    ),
    *(
        series(
            "up", {"job": "vllm", "namespace": "ai", "pod": pod, "llmops_model": "m", "node": node}, "1x40"
        )
        for pod, node in (("m-0", "n1"), ("m-1", "n2"))
    ),
    *(
        series(
            name,
            {
                "job": "vllm",
                "namespace": "ai",
                "pod": "m-0",
                "llmops_model": "m",
                "model_name": "x",
                "engine": "0",
            },
            values,
        )
        for name, values in (
            ("vllm:generation_tokens_total", "0+3000x40"),
            ("vllm:prompt_tokens_total", "0+6000x40"),
        )
    ),
]


def test_cost_rules_and_dashboard_compute_dollars_per_million_tokens(tmp_path: Path) -> None:
    result = run_promtool_test(
        tmp_path,
        [
            {
                "interval": "30s",
                "input_series": INPUT_SERIES,
                "promql_expr_test": [
                    {
                        "expr": "llmops:vllm_gpus:sum_by_model_pool",
                        "eval_time": "10m",
                        "exp_samples": [
                            {
                                "labels": GPUS + '{llmops_model="m",pool="a100-spot"}',
                                "value": 2,
                            },
                            {
                                "labels": 'llmops:vllm_gpus:sum_by_model_pool{llmops_model="m",pool="l4"}',
                                "value": 1,
                            },
                        ],
                    },
                    {
                        "expr": "llmops:vllm_cost_usd_per_hour:sum_by_model",
                        "eval_time": "10m",
                        "exp_samples": [
                            {
                                "labels": 'llmops:vllm_cost_usd_per_hour:sum_by_model{llmops_model="m"}',
                                "value": 4.5,
                            }
                        ],
                    },
                    {
                        "expr": panel_expr("USD per 1M generated tokens"),
                        "eval_time": "10m",
                        "exp_samples": [{"labels": '{llmops_model="m"}', "value": 12.5}],
                    },
                    {
                        "expr": panel_expr("USD per 1M tokens (prompt + generated)"),
                        "eval_time": "10m",
                        "exp_samples": [{"labels": '{llmops_model="m"}', "value": 4.5 / (300 * 3600) * 1e6}],
                    },
                ],
            }
        ],
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_cost_test_can_fail(tmp_path: Path) -> None:
    """Guard: the same inputs with a wrong expected price must fail promtool."""
    result = run_promtool_test(
        tmp_path,
        [
            {
                "interval": "30s",
                "input_series": INPUT_SERIES,
                "promql_expr_test": [
                    {
                        "expr": "llmops:vllm_cost_usd_per_hour:sum_by_model",
                        "eval_time": "10m",
                        "exp_samples": [
                            {
                                "labels": 'llmops:vllm_cost_usd_per_hour:sum_by_model{llmops_model="m"}',
                                "value": 5,
                            }
                        ],
                    }
                ],
            }
        ],
    )
    assert result.returncode != 0

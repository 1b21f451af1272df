"""Stack cost, fit and budget from the stack config, through the capacity model."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from llmops.components.capacity.catalog import load_catalog
from llmops.components.cron import DAY_NUMBERS, expand
from llmops.infra import costing
from llmops.infra.cli import app
from llmops.infra.config import StackConfig, load_stack_file, parse, split_namespace
from typer.testing import CliRunner


def config_of(text: str) -> StackConfig:
    document = yaml.safe_load(textwrap.dedent(text))
    return parse(split_namespace("Pulumi.test.yaml", document["config"]))


def one_pool(schedules: str = "[]", capacity: str = "on-demand", desired: int = 1) -> StackConfig:
    return config_of(
        f"""
        config:
          llmops:cluster: {{kind: k3s, allowedCidrs: [203.0.113.0/24]}}
          llmops:pools:
            - {{name: p, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], capacity: {capacity},
                min: 0, max: 4, desired: {desired}, schedules: {schedules}}}
          llmops:models:
            - {{name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pool: p}}
        """
    )


def week_node_hours(config: StackConfig) -> float:
    base, windows = costing.pool_windows(config.pools[0])
    if not windows:
        return base * 168
    return sum((w.end_hour - w.start_hour) * w.nodes for w in windows)


def test_cron_fields() -> None:
    assert expand("1-5", 0, 7, DAY_NUMBERS) == {1, 2, 3, 4, 5}
    assert expand("MON-FRI", 0, 7, DAY_NUMBERS) == {1, 2, 3, 4, 5}
    assert expand("*/6", 0, 23) == {0, 6, 12, 18}
    assert expand("8,20", 0, 23) == {8, 20}


def test_workday_schedule_runs_two_nodes_twelve_hours_on_weekdays() -> None:
    config = one_pool(
        "[{name: day, cron: '0 8 * * 1-5', desired: 2}, {name: night, cron: '0 20 * * *', desired: 0}]"
    )
    assert week_node_hours(config) == 5 * 12 * 2


def test_without_schedules_the_pool_keeps_its_desired_size() -> None:
    assert week_node_hours(one_pool(desired=3)) == 3 * 168


def test_a_single_action_holds_all_week() -> None:
    # One action that fires on Mondays only sets the size for the whole cycle.
    assert week_node_hours(one_pool("[{name: up, cron: '0 6 * * 1', desired: 2}]")) == 2 * 168


def test_on_demand_cost_is_hours_times_the_catalog_price() -> None:
    config = one_pool(desired=2)
    price = load_catalog().price("aws", "g6.xlarge", "us-east-1").on_demand_usd_per_h
    assert price is not None
    estimate = costing.estimate(config, "us-east-1")
    store = estimate.cost.get("model_store_usd", 0.0)  # the cluster's shared weights store
    assert estimate.cost["monthly_usd"] == pytest.approx(2 * 720 * price + store, abs=0.01)
    assert estimate.cost["ceiling_monthly_usd"] == pytest.approx(4 * 720 * price + store, abs=0.01)
    assert estimate.cost["per_model"] == {"m": pytest.approx(2 * 720 * price, abs=0.01)}


def test_the_model_store_joins_every_total_the_budget_reads(repo_root: Path) -> None:
    from llmops.infra.config import load_stack_file
    from llmops.infra.model_store import store_summary

    config = load_stack_file(repo_root / "stacks", "aws-dev")
    store = store_summary(config, {p.name: p for p in config.pools})["monthlyCost"]["monthly_usd"]
    estimate = costing.estimate(config, "us-east-1")
    assert store > 0 and estimate.cost["model_store_usd"] == store
    pools_only = sum(line["monthly_usd"] for line in estimate.cost["per_pool"].values())
    assert estimate.cost["monthly_usd"] == pytest.approx(pools_only + store, abs=0.02)


@given(st.integers(0, 4))
def test_cost_grows_with_the_pool(desired: int) -> None:
    smaller = costing.estimate(one_pool(desired=desired), "us-east-1").cost["monthly_usd"]
    larger = costing.estimate(one_pool(desired=min(desired + 1, 4)), "us-east-1").cost["monthly_usd"]
    assert larger >= smaller


def test_fit_verdict_per_model() -> None:
    fit = costing.estimate(one_pool(), "us-east-1").fit["m"]
    assert fit["checked"] is True
    assert fit["fits"] is True
    assert fit["gpu"] == "L4"


def test_a_model_too_big_for_its_gpu_is_flagged() -> None:
    config = config_of(
        """
        config:
          llmops:cluster: {kind: k3s, allowedCidrs: [203.0.113.0/24]}
          llmops:pools:
            - {name: p, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], max: 1}
          llmops:models:
            - {name: big, source: meta-llama/Llama-3.1-70B-Instruct, pool: p, fit: warn}
        """
    )
    fit = costing.estimate(config, "us-east-1").fit["big"]
    assert fit["checked"] is True
    assert fit["fits"] is False


def test_budget_verdicts() -> None:
    config = one_pool(desired=4)
    over = costing.budget_verdict(
        config.budget.model_copy(update={"monthly_usd": 10.0}),
        {"monthly_usd": 20.0, "ceiling_monthly_usd": 30.0},
    )
    assert over["verdict"] == "over"
    within = costing.budget_verdict(
        config.budget.model_copy(update={"monthly_usd": 30.0}),
        {"monthly_usd": 20.0, "ceiling_monthly_usd": 30.0},
    )
    assert within["verdict"] == "within"


def test_existing_cluster_costs_nothing_here(repo_root: Path) -> None:
    estimate = costing.estimate(load_stack_file(repo_root / "stacks", "local"), None)
    assert estimate.cost["monthly_usd"] == 0.0
    assert "not created by this stack" in estimate.cost["note"]
    assert estimate.fit["qwen2-5-0-5b"]["checked"] is False


def test_plan_json_carries_cost_fit_and_budget(repo_root: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["plan", "--stack", "aws-dev", "--out", str(tmp_path), "--project-dir", str(repo_root)]
    )
    assert result.exit_code == 0, result.output
    assert "monthly cost" in result.output
    plan = json.loads((tmp_path / "aws-dev" / "plan.json").read_text())
    assert plan["cost"]["monthly_usd"] > 0
    assert set(plan["cost"]["per_pool"]) == {"l4-spot", "l4-on-demand"}
    assert plan["fit"]["qwen2-5-0-5b"]["fits"] is True
    assert plan["budget"]["verdict"] == "within"


def test_mandatory_budget_over_fails_the_plan(repo_root: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: llmops\n")
    text = (repo_root / "stacks" / "Pulumi.aws-dev.yaml").read_text()
    text = text.replace("monthlyUsd: 1500", "monthlyUsd: 10\n    enforcement: mandatory")
    previous = tmp_path / "out" / "tight"
    previous.mkdir(parents=True)
    (previous / "plan.json").write_text('{"previous": true}')
    (project / "stacks" / "Pulumi.tight.yaml").write_text(text)
    result = CliRunner().invoke(
        app, ["plan", "--stack", "tight", "--out", str(tmp_path / "out"), "--project-dir", str(project)]
    )
    assert result.exit_code == 2
    assert "is over the mandatory budget $10.00" in result.stderr
    # The reviewer still sees what costs what, and the failing policies; the previous plan output
    # stays as it was.
    assert "monthly cost" in result.stdout
    assert "budget-ceiling" in result.stderr
    assert json.loads((previous / "plan.json").read_text()) == {"previous": True}
    assert sorted(p.name for p in previous.iterdir()) == ["plan.json"]


def test_preflight_runs_only_with_named_credentials(repo_root: Path) -> None:
    config = load_stack_file(repo_root / "stacks", "aws-dev")
    assert costing.preflight_wanted(config, {"AWS_PROFILE": "dev"})
    assert costing.preflight_wanted(config, {"AWS_ACCESS_KEY_ID": "AKIA..."})
    assert not costing.preflight_wanted(config, {})
    local = load_stack_file(repo_root / "stacks", "local")
    assert not costing.preflight_wanted(local, {"AWS_PROFILE": "dev"})


def test_plan_preflight_against_moto(repo_root: Path, tmp_path: Path, fake_aws: None) -> None:
    result = CliRunner().invoke(
        app, ["plan", "--stack", "aws-dev", "--out", str(tmp_path), "--project-dir", str(repo_root)]
    )
    assert result.exit_code == 0, result.output
    assert "AWS preflight in us-east-1" in result.output
    plan = json.loads((tmp_path / "aws-dev" / "plan.json").read_text())
    offered = plan["preflight"]["offered_zones"]
    assert set(offered) == {"g6.xlarge", "g6.2xlarge", "g6.4xlarge"}
    assert all(zone.startswith("us-east-1") for zones in offered.values() for zone in zones)
    # The account publishes no GPU image in moto: the preflight says so instead of failing the plan.
    assert any("base-oss-nvidia-driver" in p for p in plan["preflight"]["problems"])


def test_no_preflight_flag_skips_it(repo_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "does-not-exist")
    result = CliRunner().invoke(
        app,
        [
            "plan",
            "--stack",
            "aws-dev",
            "--no-preflight",
            "--out",
            str(tmp_path),
            "--project-dir",
            str(repo_root),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "preflight" not in json.loads((tmp_path / "aws-dev" / "plan.json").read_text())

"""Every pinned chart names the repository that publishes that version (recorded evidence, no network)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from llmops.components.addons.charts import PINNED_CHARTS, Chart

EVIDENCE = yaml.safe_load((Path(__file__).parent / "data" / "chart_repositories.yaml").read_text())


def pin_problems(chart: Chart, evidence: dict) -> list[str]:
    entry = evidence.get(chart.name)
    if entry is None:
        return [f"{chart.name}: no evidence recorded; add where {chart.version} is published"]
    problems = []
    if entry["repo"] != chart.repo:
        problems.append(
            f"{chart.name}: pinned to {chart.repo}, but {chart.version} is published at {entry['repo']}"
        )
    if chart.version not in entry["versions"]:
        problems.append(
            f"{chart.name}: {chart.version} is not among the published versions {entry['versions']}"
        )
    if (entry["kind"] == "oci") != chart.is_oci:
        problems.append(
            f"{chart.name}: published as {entry['kind']}, pinned as {'oci' if chart.is_oci else 'https'}"
        )
    return problems


@pytest.mark.parametrize("chart", PINNED_CHARTS, ids=[c.name for c in PINNED_CHARTS])
def test_pin_names_a_repository_that_serves_its_version(chart: Chart) -> None:
    assert pin_problems(chart, EVIDENCE) == []
    assert EVIDENCE[chart.name]["evidence"].strip()


def test_the_old_termination_handler_repository_is_rejected() -> None:
    """Regression: 0.27.1 pinned to the eks-charts https index, which stops at 0.21.0."""
    old = Chart(
        name="aws-node-termination-handler",
        version="0.27.1",
        repo="https://aws.github.io/eks-charts",
        values_file="aws/values/aws-node-termination-handler.yaml",
    )
    assert pin_problems(old, EVIDENCE) == [
        "aws-node-termination-handler: pinned to https://aws.github.io/eks-charts, but 0.27.1 is published at "
        "oci://public.ecr.aws/aws-ec2/helm",
        "aws-node-termination-handler: published as oci, pinned as https",
    ]


def test_every_pin_has_its_values_file() -> None:
    from llmops.components.addons.charts import load_values

    for chart in PINNED_CHARTS:
        assert isinstance(load_values(chart), dict), chart.name

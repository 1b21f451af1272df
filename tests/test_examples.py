"""Every example program runs under Pulumi's mocks and declares what its README promises."""

from __future__ import annotations

import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
from llmops.infra.plan import PlanMocks, RecordingMonitor

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def run_example(name: str) -> list[Any]:
    from pulumi.runtime import settings

    mocks = PlanMocks(preview=False)
    monitor = RecordingMonitor(mocks)
    settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=name, stack="test", monitor=monitor)
    pulumi.runtime.set_all_config({})

    def program() -> None:
        runpy.run_path(str(EXAMPLES / name / "__main__.py"))

    pulumi.runtime.test(program)()
    return monitor.records


@pytest.mark.parametrize("example", sorted(p.name for p in EXAMPLES.iterdir() if p.is_dir()))
def test_example_is_a_pulumi_project(example: str) -> None:
    assert (EXAMPLES / example / "Pulumi.yaml").is_file()
    assert (EXAMPLES / example / "__main__.py").is_file()


def test_import_vllm_model_example() -> None:
    records = run_example("import-vllm-model")
    types = sorted(r.type for r in records)
    assert "llmops:serving:VllmModel" in types
    (deployment,) = [r for r in records if r.type == "kubernetes:apps/v1:Deployment"]
    assert deployment.inputs["spec"]["replicas"] == 2
    assert deployment.inputs["metadata"]["namespace"] == "serving"
    container = deployment.inputs["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][0] == "meta-llama/Llama-3.1-8B-Instruct"
    env = {e["name"]: e for e in container["env"]}
    assert env["HF_TOKEN"]["valueFrom"]["secretKeyRef"] == {"key": "HF_TOKEN", "name": "hf-token"}

"""Schedulability: a model no pool can hold is a key-path error before any resource exists."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from llmops.infra.config import ConfigError
from llmops.infra.placement import placement_problems

from tests.infra.test_config import K3S_CLUSTER, parse_text, problems_of

POOLS = """\
  llmops:pools:
    - {name: l4-spot, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge, g6.2xlarge], capacity: spot,
       max: 2, fallbackPool: l4-od}
    - {name: l4-od, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], max: 1}
    - {name: l4-big, cloud: aws, gpuType: L4, instanceTypes: [g6.12xlarge], max: 1, labels: {tier: big}}
"""


def stack(model: str, pools: str = POOLS) -> str:
    return "config:\n" + K3S_CLUSTER + pools + "  llmops:models:\n" + model


def test_a_model_that_fits_passes() -> None:
    config = parse_text(stack("    - {name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pool: l4-spot}\n"))
    assert placement_problems(config) == []


def test_tensor_parallel_beyond_the_largest_machine_names_each_pool() -> None:
    problems = problems_of(
        stack("    - {name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pool: l4-spot, tensorParallelSize: 2}\n")
    )
    assert problems == [
        "models[0]: 'm' cannot be placed on any pool it may run on ('l4-spot', 'l4-od'): "
        "pool 'l4-spot': its largest machine (g6.xlarge) has 1 GPU, one replica needs 2 "
        "(tensorParallelSize 2 x pipelineParallelSize 1); "
        "pool 'l4-od': its largest machine (g6.xlarge) has 1 GPU, one replica needs 2 "
        "(tensorParallelSize 2 x pipelineParallelSize 1). "
        "Fix: add a machine type with at least 2 L4 GPUs to the pool (the catalog's L4 machines with "
        "enough: g6.12xlarge, g6.24xlarge, g6.48xlarge), or lower tensorParallelSize/pipelineParallelSize"
    ]


def test_pipeline_parallel_counts_too() -> None:
    config = parse_text(
        stack("    - {name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pool: l4-big, tensorParallelSize: 2}\n")
    )
    assert placement_problems(config) == []  # g6.12xlarge carries 4 L4
    problems = problems_of(
        stack(
            # 2 x 4: the tensor-parallel size must divide the model's 2 KV heads.
            "    - {name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pool: l4-big, tensorParallelSize: 2,"
            " pipelineParallelSize: 4}\n"
        )
    )
    assert len(problems) == 1
    assert "pool 'l4-big': its largest machine (g6.12xlarge) has 4 GPUs, one replica needs 8" in problems[0]


def test_node_selector_label_no_pool_carries() -> None:
    problems = problems_of(
        stack(
            "    - {name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pool: l4-spot, nodeSelector: {tier: big}}\n"
        )
    )
    assert len(problems) == 1
    assert "pool 'l4-spot': its nodes lack the nodeSelector label(s) tier=big" in problems[0]
    assert "pool 'l4-od': its nodes lack the nodeSelector label(s) tier=big" in problems[0]
    # the pool that carries the label (and the llmops.io/* labels every pool gets) passes
    ok = parse_text(
        stack(
            "    - {name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pool: l4-big,"
            " nodeSelector: {tier: big, llmops.io/pool: l4-big}}\n"
        )
    )
    assert placement_problems(ok) == []


def test_one_fitting_pool_is_enough() -> None:
    # The spot pool lacks a 2-GPU machine; with the big pool as fallback one node type fits.
    pools = POOLS.replace("fallbackPool: l4-od", "fallbackPool: l4-big")
    config = parse_text(
        stack(
            "    - {name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pool: l4-spot, tensorParallelSize: 2}\n",
            pools,
        )
    )
    assert placement_problems(config) == []


def test_fallback_of_another_gpu_type() -> None:
    pools = POOLS.replace(
        "name: l4-od, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge]",
        "name: l4-od, cloud: aws, gpuType: A10G, instanceTypes: [g5.xlarge]",
    )
    problems = problems_of(
        stack("    - {name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pool: l4-spot}\n", pools)
    )
    assert problems == [
        "pools[0].fallbackPool: 'l4-od' carries A10G GPUs, this pool L4; models sized for one would run on "
        "the other. Fix: fall back to a pool of L4 machines"
    ]


def test_gpu_counts_can_be_given_without_the_catalog() -> None:
    config = parse_text(stack("    - {name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pool: l4-od}\n"))
    problems = placement_problems(config, gpu_counts={"l4-od": {"g6.xlarge": 0}})
    assert [p.path for p in problems] == ["models[0]"]


def test_plan_exits_2_with_the_key_path(tmp_path: Path, repo_root: Path) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    text = (repo_root / "stacks" / "Pulumi.aws-dev.yaml").read_text()
    text = text.replace("      maxModelLen: 8192\n", "      maxModelLen: 8192\n      tensorParallelSize: 2\n")
    (stacks / "Pulumi.unplaceable.yaml").write_text(text)
    for name in ("Pulumi.yaml",):
        (tmp_path / name).write_text((repo_root / name).read_text())
    result = subprocess.run(
        [sys.executable, "-m", "llmops.infra.cli", "plan", "--stack", "unplaceable"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(repo_root), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert (
        "models[0]: 'qwen2-5-0-5b' cannot be placed on any pool it may run on"
        in result.stdout + result.stderr
    )
    assert not (tmp_path / "build").exists()


def test_config_error_lists_placement_with_other_problems() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_text(
            stack(
                "    - {name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pool: l4-spot, tensorParallelSize: 2}\n"
                "    - {name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pool: l4-od}\n"
            )
        )
    assert [p.path for p in caught.value.problems] == ["models[1].name", "models[0]"]


def test_a_gpu_type_clash_is_reported_once() -> None:
    problems = problems_of(
        stack("    - {name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pool: l4-spot, gpuType: A10G}\n")
    )
    assert problems == [
        "models[0].gpuType: 'A10G' differs from pool 'l4-spot''s gpuType 'L4'. Fix: set gpuType: L4, "
        "or pin the model to a pool of A10G GPUs"
    ]


def test_an_untolerated_taint_is_what_a_pool_lacks() -> None:
    from llmops.components.k3s.render import GPU_TAINT, NodeTaint
    from llmops.infra.placement import PoolFacts, what_it_lacks

    config = parse_text(stack("    - {name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pool: l4-od}\n"))
    dedicated = NodeTaint("llmops.io/dedicated", "batch", "NoSchedule")
    soft = NodeTaint("llmops.io/prefer-not", "x", "PreferNoSchedule")
    facts = PoolFacts("l4-od", "L4", {"g6.xlarge": 1}, {}, (GPU_TAINT, dedicated, soft))
    assert what_it_lacks(config.models[0], "L4", facts) == [
        "its taint(s) llmops.io/dedicated=batch:NoSchedule are not tolerated by the model"
    ]

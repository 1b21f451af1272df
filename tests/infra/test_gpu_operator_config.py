"""`llmops:gpuOperator`: on for clusters the stack builds, off for existing ones unless asked."""

from __future__ import annotations

from pathlib import Path

from llmops.infra.config import RawStack, read_stack_file
from llmops.infra.plan import run_plan
from llmops.infra.program import gpu_operator_args

from tests.infra.test_config import K3S_CLUSTER, L4_POOL, parse_text, problems_of


def with_values(raw: RawStack, **values: object) -> RawStack:
    return RawStack(raw.source, {**raw.values, **values}, raw.secret_keys, raw.other)


def test_on_by_default_for_k3s_with_the_driver_left_to_the_image() -> None:
    config = parse_text("config:\n" + K3S_CLUSTER + "  llmops:pools:\n" + L4_POOL)
    assert config.gpu_operator.is_on(config.cluster)
    args = gpu_operator_args(config)
    assert args.install_driver is False  # the AWS pools boot the DLAMI
    assert args.service_monitor is False  # observability is off in this stack
    assert args.time_slicing is None and args.mig_strategy.value == "none"


def test_off_by_default_for_an_existing_cluster(repo_root: Path) -> None:
    plan = run_plan(read_stack_file(repo_root / "stacks", "local"), "local")
    assert not plan.of_type("llmops:addons:GpuOperator")
    assert not plan.of_type("kubernetes:helm.sh/v3:Release")


def test_existing_cluster_can_turn_it_on(repo_root: Path) -> None:
    raw = with_values(
        read_stack_file(repo_root / "stacks", "local"), gpuOperator={"enabled": True, "runtime": "containerd"}
    )
    plan = run_plan(raw, "local")
    (release,) = plan.of_type("kubernetes:helm.sh/v3:Release")
    assert release.inputs["values"]["driver"]["enabled"] is False
    assert release.inputs["values"]["cdi"]["nriPluginEnabled"] is False
    (deployment,) = plan.of_type("kubernetes:apps/v1:Deployment")
    assert release.urn in deployment.depends_on


def test_sharing_settings_reach_the_component() -> None:
    config = parse_text(
        "config:\n"
        + K3S_CLUSTER
        + "  llmops:pools:\n"
        + L4_POOL
        + "  llmops:gpuOperator: {timeSlicingReplicas: 4, driver: true, runtime: k3s-containerd}\n"
    )
    args = gpu_operator_args(config)
    assert args.time_slicing is not None and args.time_slicing.replicas == 4
    assert args.install_driver is True
    assert args.runtime_mode.value == "k3s-containerd"


def test_bad_gpu_operator_settings_name_the_key() -> None:
    problems = problems_of(
        "config:\n"
        + K3S_CLUSTER
        + "  llmops:gpuOperator: {timeSlicingReplicas: 1, runtime: docker, mig: true}\n"
    )
    assert (
        "gpuOperator.timeSlicingReplicas: 1 must be >= 2. Fix: set timeSlicingReplicas to a value >= 2"
        in problems
    )
    assert any(
        p.startswith("gpuOperator.runtime: 'docker' is not one of 'nri', 'k3s-containerd'") for p in problems
    ), problems
    assert any(p.startswith("gpuOperator.mig: unknown key") for p in problems), problems

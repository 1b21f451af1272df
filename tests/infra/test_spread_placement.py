"""`models[].placement`: the config key, which pools it spreads over and by which label, and the
replay's pool ranks, from the stack file to the component's args."""

from __future__ import annotations

from pathlib import Path

import pytest
from llmops.components.serving.spread import CLOUD_LABEL, POOL_LABEL
from llmops.infra.config import ConfigError, StackConfig, parse, read_stack_file
from llmops.infra.program import model_args
from llmops.infra.replay_stack import stack_model

STACK = """\
config:
  aws:region: us-east-1
  gcp:project: demo-project
  gcp:region: us-central1
  llmops:cluster: {kind: k3s, cloud: aws, wireguard: true, allowedCidrs: [203.0.113.0/24]}
  llmops:modelStore: {kind: none}
  llmops:observability: {enabled: true}
  llmops:pools:
    - {name: aws-spot, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], capacity: spot, max: 4}
    - {name: aws-spot-b, cloud: aws, gpuType: L4, instanceTypes: [g6.2xlarge], capacity: spot, max: 2}
    - {name: gcp-spot, cloud: gcp, gpuType: L4, instanceTypes: [g2-standard-8], capacity: spot, max: 3}
    - {name: aws-on-demand, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], max: 2}
  llmops:models:
    - name: qwen
      source: Qwen/Qwen2.5-7B-Instruct
      pools: %s
      placement: %s
      maxModelLen: 8192
      autoscaling: {minReplicas: 1, maxReplicas: 4}
"""


def config_of(tmp_path: Path, pools: str, placement: str) -> StackConfig:
    stacks = tmp_path / "stacks"
    stacks.mkdir(exist_ok=True)
    (stacks / "Pulumi.t.yaml").write_text(STACK % (pools, placement))
    return parse(read_stack_file(stacks, "t"))


def test_a_bad_placement_names_its_key_path_value_and_choices(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        config_of(tmp_path, "[aws-spot, gcp-spot]", "even")
    assert [str(p) for p in caught.value.problems] == [
        "models[0].placement: 'even' is not one of 'ordered' or 'spread'. Fix: use one of 'ordered' or 'spread'"
    ]


@pytest.mark.parametrize(
    ("pools", "placement", "even", "keys", "ranks"),
    [
        # Two spot pools in two clouds, then on-demand: cloud spread over the spot pair.
        ("[aws-spot, gcp-spot, aws-on-demand]", "spread", 2, (CLOUD_LABEL,), (0, 0, 1)),
        # Three spot pools, two in one cloud: the pool is the domain.
        ("[aws-spot, aws-spot-b, gcp-spot, aws-on-demand]", "spread", 3, (POOL_LABEL,), (0, 0, 0, 1)),
        # The tier ends at the first pool of another capacity, even if spot follows it.
        ("[aws-spot, aws-on-demand, gcp-spot]", "spread", 1, None, (0, 1, 2)),
        ("[aws-spot, gcp-spot, aws-on-demand]", "ordered", 1, None, (0, 1, 2)),
    ],
)
def test_the_spread_tier_its_label_and_the_replays_ranks(
    tmp_path: Path,
    pools: str,
    placement: str,
    even: int,
    keys: tuple[str, ...] | None,
    ranks: tuple[int, ...],
) -> None:
    config = config_of(tmp_path, pools, placement)
    (model,) = config.models
    args = model_args(model, "serving", {p.name: p for p in config.pools})
    assert args.even_pools == even
    assert args.spread_over == keys
    found = stack_model(config, "qwen")
    assert found.pools is not None
    assert tuple(p.rank for p in found.pools) == ranks

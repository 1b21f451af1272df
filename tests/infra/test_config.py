"""Stack config: every bad input is reported with key path, value, what is allowed, and the fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from llmops.infra.config import (
    ConfigError,
    ExistingClusterConfig,
    ModelConfig,
    StackConfig,
    StackNotFoundError,
    load_stack_file,
    parse,
    read_stack_file,
    split_namespace,
)
from llmops.infra.secrets import SECRET_PLACEHOLDER

_MODEL_KEYS = [f.alias or n for n, f in ModelConfig.model_fields.items()]
LOCAL_CLUSTER = "  llmops:cluster: {kind: existing}\n"
K3S_CLUSTER = "  llmops:cluster: {kind: k3s, allowedCidrs: [203.0.113.0/24]}\n"
L4_POOL = "    - {name: l4, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], capacity: spot, max: 2}\n"


def parse_text(text: str) -> StackConfig:
    document = yaml.safe_load(textwrap.dedent(text))
    return parse(split_namespace("Pulumi.test.yaml", document["config"]))


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_text(text)
    return [str(p) for p in caught.value.problems]


def test_local_stack_loads(repo_root: Path) -> None:
    config = load_stack_file(repo_root / "stacks", "local")
    assert isinstance(config.cluster, ExistingClusterConfig)
    assert [m.source for m in config.models] == ["Qwen/Qwen2.5-0.5B-Instruct"]
    assert config.models[0].gpus == 1


def test_defaults_do_what_the_docs_say() -> None:
    config = parse_text(
        "config:\n" + LOCAL_CLUSTER + "  llmops:models:\n    - {name: m, source: org/model}\n"
    )
    model = config.models[0]
    assert config.namespace == "llmops"
    assert model.replicas == 1
    assert model.enable_prefix_caching is True
    assert model.gpu_memory_utilization == 0.90
    assert config.observability.enabled is False
    assert config.budget.monthly_usd is None


def test_unnamespaced_keys_belong_to_the_project() -> None:
    config = parse_text("config:\n  cluster: {kind: existing}\n  namespace: serving\n")
    assert config.namespace == "serving"


def test_provider_keys_are_kept_apart() -> None:
    raw = split_namespace("t", {"aws:region": "us-east-1", "llmops:cluster": {"kind": "existing"}})
    assert raw.other == {"aws:region": "us-east-1"}
    assert set(raw.values) == {"cluster"}


def test_secure_values_are_masked_and_remembered() -> None:
    raw = split_namespace(
        "t", {"llmops:cluster": {"kind": "existing"}, "llmops:namespace": {"secure": "v1:abc"}}
    )
    assert raw.values["namespace"] == SECRET_PLACEHOLDER
    assert "llmops:namespace" in raw.secret_keys


# One case per line: (config body, the exact problem line expected).
BAD_CONFIGS = [
    pytest.param(
        "  llmops:modles: []\n" + LOCAL_CLUSTER,
        "llmops:modles: unknown key (allowed here: budget, cluster, gpuOperator, images, modelStore, models, namespace, networkPolicies, "
        "nodeAutoscaling, observability, pools). "
        "Fix: did you mean 'llmops:models'?",
        id="unknown-top-level-key",
    ),
    pytest.param(
        "  llmops:namespace: llmops\n",
        "cluster: is required but missing. Fix: add cluster (kind: existing (a cluster your kubeconfig reaches) "
        "or kind: k3s (one this stack builds))",
        id="missing-cluster",
    ),
    pytest.param(
        "  llmops:cluster: {kind: eks}\n",
        "cluster.kind: 'eks' is not one of 'existing', 'k3s'. "
        "Fix: use 'existing' for a cluster you already have, or 'k3s' for one this stack creates",
        id="unknown-cluster-kind",
    ),
    pytest.param(
        "  llmops:cluster: {kubeconfig: ~/.kube/config}\n",
        "cluster.kind: is required but missing. "
        "Fix: add kind: existing (a cluster you have) or kind: k3s (one this stack creates)",
        id="missing-cluster-kind",
    ),
    pytest.param(
        "  llmops:cluster: {kind: existing, kubeconfg: x}\n",
        "cluster.kubeconfg: unknown key (allowed here: context, kind, kubeconfig). Fix: did you mean 'kubeconfig'?",
        id="misspelt-nested-key",
    ),
    pytest.param(
        LOCAL_CLUSTER + "  llmops:models:\n    - {name: Qwen_Small, source: Qwen/Qwen2.5-0.5B-Instruct}\n",
        "models[0].name: 'Qwen_Small' is not a valid name (lower-case letters, digits and '-', starting with "
        "a letter, at most 40 characters). Fix: use a name such as 'qwen-small'",
        id="bad-model-name",
    ),
    pytest.param(
        LOCAL_CLUSTER + "  llmops:models:\n    - {name: m, source: qwen}\n",
        "models[0].source: 'qwen' is neither a Hugging Face repository id nor a path. Fix: use 'org/name' as on "
        "huggingface.co (e.g. 'Qwen/Qwen2.5-0.5B-Instruct'), an absolute path inside the model volume, "
        "or an s3:// / gs:// / az:// URL",
        id="bad-model-source",
    ),
    pytest.param(
        LOCAL_CLUSTER + "  llmops:models:\n    - {name: m, source: a/b, tensorParallelSize: 0}\n",
        "models[0].tensorParallelSize: 0 must be >= 1. Fix: set tensorParallelSize to a value >= 1",
        id="tensor-parallel-zero",
    ),
    pytest.param(
        LOCAL_CLUSTER + "  llmops:models:\n    - {name: m, source: a/b, gpuMemoryUtilization: 1.5}\n",
        "models[0].gpuMemoryUtilization: 1.5 must be <= 0.98. Fix: set gpuMemoryUtilization to a value <= 0.98",
        id="gpu-memory-over-one",
    ),
    pytest.param(
        LOCAL_CLUSTER + "  llmops:models:\n    - {name: m, source: a/b, dtype: fp16}\n",
        "models[0].dtype: 'fp16' is not one of 'auto', 'bfloat16', 'float16' or 'float32'. "
        "Fix: use one of 'auto', 'bfloat16', 'float16' or 'float32'",
        id="unknown-dtype",
    ),
    pytest.param(
        LOCAL_CLUSTER + "  llmops:models:\n    - {name: m, source: a/b, replicas: two}\n",
        "models[0].replicas: 'two' is not a whole number. Fix: write replicas as an integer, e.g. 1",
        id="replicas-not-a-number",
    ),
    pytest.param(
        LOCAL_CLUSTER + "  llmops:models:\n    - {name: m, source: a/b, memory: 16GB}\n",
        "models[0].memory: '16GB' is not a Kubernetes quantity. Fix: write it like '16Gi' or '512Mi'",
        id="bad-quantity",
    ),
    pytest.param(
        LOCAL_CLUSTER + "  llmops:models:\n    - {name: m, source: a/b, maxModelLength: 4096}\n",
        # The listing is every model key (several changes add keys; the format is what is tested here).
        f"models[0].maxModelLength: unknown key (allowed here: {', '.join(sorted(_MODEL_KEYS))}). "
        "Fix: did you mean 'maxModelLen'?",
        id="misspelt-model-key",
    ),
    pytest.param(
        LOCAL_CLUSTER + "  llmops:models:\n    - {name: m, source: a/b}\n    - {name: m, source: c/d}\n",
        "models[1].name: 'm' is used twice in models. Fix: give every entry its own name",
        id="duplicate-model",
    ),
    pytest.param(
        LOCAL_CLUSTER + "  llmops:models:\n    - {name: m, source: a/b, extraArgs: {max-model-len: 4096}}\n",
        "models[0].extraArgs.max-model-len: 4096 is set by llmops from the model's own keys. "
        "Fix: set models[0].maxModelLen instead",
        id="extra-arg-shadows-managed-flag",
    ),
    pytest.param(
        LOCAL_CLUSTER
        + "  llmops:models:\n    - {name: m, source: a/b, extraArgs: {--enforce_eager: true}}\n",
        "models[0].extraArgs.--enforce_eager: true is not a vllm serve option name. "
        "Fix: write it in kebab case, no leading dashes, e.g. 'enforce-eager'",
        id="extra-arg-with-dashes",
    ),
    pytest.param(
        LOCAL_CLUSTER + "  llmops:pools:\n" + L4_POOL,
        "pools: are created only for a cluster this stack builds; cluster.kind is 'existing'. "
        "Fix: remove pools and pin models with nodeSelector, or set cluster.kind: k3s",
        id="pools-on-existing-cluster",
    ),
    pytest.param(
        K3S_CLUSTER
        + "  llmops:pools:\n    - {name: l4, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], "
        "capacity: spott}\n",
        "pools[0].capacity: 'spott' is not one of 'spot', 'on-demand' or 'mixed'. "
        "Fix: use one of 'spot', 'on-demand' or 'mixed'",
        id="misspelt-capacity",
    ),
    pytest.param(
        K3S_CLUSTER
        + "  llmops:pools:\n    - {name: l4, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], "
        "min: 3, max: 2}\n",
        "pools[0].min: 3 is larger than max (2). Fix: set min <= 2, or raise max to 3",
        id="pool-min-above-max",
    ),
    pytest.param(
        K3S_CLUSTER
        + "  llmops:pools:\n    - {name: l4, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], "
        "capacity: spot, max: 0}\n",
        "pools[0].max: 0 makes a spot pool that can never hold a machine. Fix: set max >= 1, or remove the pool",
        id="spot-pool-max-zero",
    ),
    pytest.param(
        K3S_CLUSTER + "  llmops:pools:\n    - {name: l4, cloud: aws, gpuType: L4, instanceTypes: []}\n",
        "pools[0].instanceTypes: [] is empty; a pool needs at least one machine type. "
        "Fix: list one or more GPU machine types, e.g. 'g6.xlarge' (L4) or 'g5.xlarge' (A10G)",
        id="pool-without-instance-types",
    ),
    pytest.param(
        K3S_CLUSTER
        + "  llmops:pools:\n"
        + L4_POOL
        + "  llmops:models:\n    - {name: m, source: a/b, pool: l5}\n",
        "models[0].pool: 'l5' is not a pool of this stack (pools: l4). Fix: did you mean 'l4'?",
        id="model-on-unknown-pool",
    ),
    pytest.param(
        K3S_CLUSTER + "  llmops:pools:\n" + L4_POOL + "  llmops:models:\n"
        "    - {name: m, source: a/b, pool: l4, gpuType: H100}\n",
        "models[0].gpuType: 'H100' differs from pool 'l4''s gpuType 'L4'. "
        "Fix: set gpuType: L4, or pin the model to a pool of H100 GPUs",
        id="model-gpu-differs-from-pool",
    ),
    pytest.param(
        "  llmops:cluster: {kind: k3s, allowedCidrs: [0.0.0.0/0]}\n",
        'cluster.allowedCidrs: ["0.0.0.0/0"] opens the Kubernetes API to the whole public IPv4 internet '
        "(the limit is 0.10%). Fix: list only the networks that need it (office, VPN, CI), or set "
        "cluster.allowPublicApi: true to open it on purpose",
        id="api-open-to-the-internet",
    ),
    pytest.param(
        "  llmops:cluster: {kind: k3s, allowedCidrs: [0.0.0.0/1, 128.0.0.0/1]}\n",
        'cluster.allowedCidrs: ["0.0.0.0/1", "128.0.0.0/1"] together open the Kubernetes API to the whole '
        "public IPv4 internet (the limit is 0.10%). Fix: list only the networks that need it (office, VPN, "
        "CI), or set cluster.allowPublicApi: true to open it on purpose",
        id="api-open-in-two-halves",
    ),
    pytest.param(
        "  llmops:cluster: {kind: k3s, allowedCidrs: [0.0.0.0/00]}\n",
        "cluster.allowedCidrs[0]: '0.0.0.0/00' is not written in canonical form (it means '0.0.0.0/0'). "
        "Fix: write '0.0.0.0/0'",
        id="api-cidr-padded-prefix",
    ),
    pytest.param(
        "  llmops:cluster: {kind: k3s, allowedCidrs: [0.0.0.0/0.0.0.0]}\n",
        "cluster.allowedCidrs[0]: '0.0.0.0/0.0.0.0' is not written in canonical form (it means '0.0.0.0/0'). "
        "Fix: write '0.0.0.0/0'",
        id="api-cidr-netmask-form",
    ),
    pytest.param(
        "  llmops:cluster: {kind: k3s, allowedCidrs: ['::0/0']}\n",
        "cluster.allowedCidrs[0]: '::0/0' is an IPv6 range; these rules take IPv4 ranges only. "
        "Fix: list the IPv4 ranges of the networks, e.g. '203.0.113.0/24'",
        id="api-cidr-ipv6-everything",
    ),
    pytest.param(
        "  llmops:cluster: {kind: k3s, allowedCidrs: [198.51.100.7/24]}\n",
        "cluster.allowedCidrs[0]: '198.51.100.7/24' has host bits set; the block it names is "
        "'198.51.100.0/24'. Fix: write '198.51.100.0/24' for the whole block or '198.51.100.7/32' for the "
        "one address",
        id="api-cidr-host-bits",
    ),
    pytest.param(
        K3S_CLUSTER
        + "  llmops:pools:\n    - {name: l4, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], "
        "max: 2, schedules: [{name: day, cron: '0 8 * *'}]}\n",
        "pools[0].schedules[0].cron: '0 8 * *' is not a 5-field cron expression (minute hour day-of-month month "
        "day-of-week). Fix: write it like '0 8 * * 1-5' (08:00 on weekdays); names JAN-DEC and SUN-SAT are allowed",
        id="bad-cron",
    ),
    pytest.param(
        LOCAL_CLUSTER + "  llmops:budget: {monthlyUsd: -5}\n",
        "budget.monthlyUsd: -5 must be > 0.0. Fix: set monthlyUsd to a value > 0.0",
        id="negative-budget",
    ),
    pytest.param(
        K3S_CLUSTER
        + "  llmops:pools:\n    - {name: l4, cloud: aws, gpuType: L4, instanceTypes: [m7i.xlarge]}\n",
        "pools[0].instanceTypes[0]: 'm7i.xlarge' is not in a known GPU instance family (g4dn, g5, g6, g6e, "
        "p3, p3dn, p4d, p4de, p5, p5e, p5en, p6-b200). Fix: use a GPU machine type such as 'g6.xlarge' (L4) or "
        "'g5.xlarge' (A10G)",
        id="unknown-instance-family",
    ),
    pytest.param(
        K3S_CLUSTER
        + "  llmops:pools:\n    - {name: l4, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge, g5.xlarge]}\n",
        "pools[0].instanceTypes[1]: 'g5.xlarge' carries A10G GPUs, not the pool's gpuType 'L4'. "
        "Fix: set gpuType: A10G, or list only L4 machine types",
        id="instance-type-of-another-gpu",
    ),
    pytest.param(
        "  llmops:cluster: {kind: k3s}\n",
        "cluster.allowedCidrs: [] is empty, so nothing outside the VPC (not even `pulumi up`) can reach the "
        "Kubernetes API. Fix: list the networks you deploy from, e.g. allowedCidrs: ['203.0.113.0/24']",
        id="k3s-without-allowed-cidrs",
    ),
    pytest.param(
        K3S_CLUSTER
        + "  llmops:pools:\n    - {name: l4, cloud: oracle, gpuType: A10, instanceTypes: [VM.GPU.A10.1]}\n",
        "pools[0].cloud: 'oracle' is not one of 'aws', 'gcp' or 'azure'. Fix: use one of 'aws', 'gcp' or 'azure'",
        id="pool-on-a-cloud-without-a-kit",
    ),
    pytest.param(
        "  gcp:project: p\n  gcp:region: us-central1\n"
        + K3S_CLUSTER
        + "  llmops:pools:\n    - {name: l4, cloud: gcp, gpuType: L4, instanceTypes: [g2-standard-4]}\n",
        "cluster.wireguard: false leaves WireGuard off, but pools[0] ('l4') runs on gcp, outside cluster.cloud "
        "'aws'; nodes in different clouds reach each other only over the internet, encrypted by WireGuard. "
        "Fix: set cluster.wireguard: true, or move pools[0] to aws",
        id="pool-in-another-cloud-without-wireguard",
    ),
    pytest.param(
        "  gcp:project: p\n  gcp:region: us-central1\n  azure-native:location: eastus\n"
        "  llmops:cluster: {kind: k3s, cloud: azure, wireguard: true, allowedCidrs: [203.0.113.0/24]}\n"
        "  llmops:pools:\n    - {name: l4, cloud: gcp, gpuType: L4, instanceTypes: [g2-standard-4]}\n",
        "cluster.cloud: 'azure' cannot host the servers of a cluster with pools on gcp: the servers' group "
        "would need the other clouds' agent addresses before the servers exist (its rules are inline); Azure "
        "runs agents of a cluster spanning clouds, not its servers, in this version. Fix: set cluster.cloud: "
        "gcp, or keep every pool on azure",
        id="servers-on-a-cloud-that-cannot-host-a-cluster-spanning-clouds",
    ),
    pytest.param(
        "  azure-native:location: eastus\n"
        "  llmops:cluster: {kind: k3s, wireguard: true, allowedCidrs: [203.0.113.0/24]}\n"
        "  llmops:pools:\n    - {name: t4, cloud: azure, gpuType: T4, instanceTypes: [Standard_NC4as_T4_v3], "
        "capacity: on-demand, max: 20}\n",
        "pools[0].max: 20 is more static node addresses than one Azure pool of a cluster spanning clouds "
        "reserves (at most 16). Fix: set max <= 16, or split the pool in two",
        id="cross-cloud-pool-larger-than-its-address-prefix",
    ),
    pytest.param(
        "  azure-native:location: eastus\n"
        "  llmops:cluster: {kind: k3s, wireguard: true, allowedCidrs: [203.0.113.0/24]}\n"
        "  llmops:pools:\n"
        "    - {name: l4, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], capacity: on-demand, max: 2}\n"
        "    - {name: t4, cloud: azure, gpuType: T4, instanceTypes: [Standard_NC4as_T4_v3], capacity: on-demand}\n"
        "  llmops:models:\n    - {name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pools: [l4, t4]}\n",
        "models[0].pools[1]: 't4' carries T4 GPUs, the model's first pool 'l4' L4; the model is sized for one "
        "GPU. Fix: list only pools of L4 GPUs",
        id="model-pools-of-another-gpu",
    ),
    pytest.param(
        K3S_CLUSTER
        + "  llmops:pools:\n"
        + L4_POOL
        + "  llmops:models:\n    - {name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pools: [l4, l4, nope]}\n",
        "models[0].pools[2]: 'nope' is not a pool of this stack (pools: l4). Fix: name one of them",
        id="model-pools-unknown-pool",
    ),
    pytest.param(
        "  gcp:project: p\n  gcp:region: us-central1\n"
        "  llmops:cluster: {kind: k3s, wireguard: true, allowedCidrs: [203.0.113.0/24]}\n"
        "  llmops:pools:\n"
        "    - {name: l4, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], capacity: on-demand, max: 2}\n"
        "    - {name: g, cloud: gcp, gpuType: L4, instanceTypes: [g2-standard-4], capacity: on-demand}\n"
        "  llmops:models:\n    - {name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pools: [l4, g]}\n",
        "modelStore.kind: 'efs' is reachable from aws nodes only, but models[0] ('m') may run on 'g' in gcp. "
        "Fix: set llmops:modelStore: {kind: none} (each node downloads the weights), or keep the model's "
        "pools in the servers' cloud",
        id="cloud-file-system-for-a-model-on-pools-in-another-cloud",
    ),
    pytest.param(
        LOCAL_CLUSTER + "  llmops:observability: {enabled: true, logRetentionHours: 100}\n",
        "observability.logRetentionHours: 100 must be a positive multiple of 24 (Loki's index period); "
        "use e.g. 168 for 7 days",
        id="log-retention-not-whole-days",
    ),
    pytest.param(
        LOCAL_CLUSTER + "  llmops:observability: {enabled: true, loki: false}\n",
        "observability.fluentBit: True needs enable_loki: True (fluent-bit ships to this stack's Loki); "
        "enable Loki or disable fluent-bit",
        id="fluent-bit-without-loki",
    ),
    pytest.param(
        LOCAL_CLUSTER + "  llmops:observability: {enabled: true, scrapeInterval: 15 seconds}\n",
        "observability.scrapeInterval: '15 seconds' is not a Prometheus duration; use e.g. '15s' or '15d'",
        id="bad-scrape-interval",
    ),
    pytest.param(
        K3S_CLUSTER
        + "  llmops:pools:\n    - {name: l4, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], "
        "max: 2, schedules: [{name: day, cron: '0 8 * * 1-5', min: 3}]}\n",
        "pools[0].schedules[0].min: 3 is larger than max (2). Fix: set min <= 2, or raise max to 3",
        id="schedule-min-above-pool-max",
    ),
    pytest.param(
        "  llmops:cluster: {kind: k3s, servers: 2}\n",
        "cluster.servers: 2 is not one of 1 or 3. Fix: use one of 1 or 3",
        id="two-servers",
    ),
]


@pytest.mark.parametrize(("body", "expected"), BAD_CONFIGS)
def test_bad_config_message(body: str, expected: str) -> None:
    assert expected in problems_of("config:\n" + body)


def test_three_errors_in_one_file_are_all_reported() -> None:
    problems = problems_of(
        "config:\n"
        + LOCAL_CLUSTER
        + "  llmops:models:\n"
        + "    - {name: m, source: a/b, replicas: -1, dtype: fp16}\n"
        + "  llmops:budget: {monthlyUsd: 0}\n"
    )
    assert problems == [
        "models[0].dtype: 'fp16' is not one of 'auto', 'bfloat16', 'float16' or 'float32'. "
        "Fix: use one of 'auto', 'bfloat16', 'float16' or 'float32'",
        "models[0].replicas: -1 must be >= 0. Fix: set replicas to a value >= 0",
        "budget.monthlyUsd: 0 must be > 0.0. Fix: set monthlyUsd to a value > 0.0",
    ]


def test_error_names_the_file_and_counts() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_text("config:\n  llmops:cluster: {kind: eks}\n  llmops:modles: []\n")
    assert str(caught.value).startswith("Pulumi.test.yaml: 2 problems in the llmops config:\n  - ")


def test_unknown_stack_lists_the_known_ones(repo_root: Path) -> None:
    with pytest.raises(StackNotFoundError) as caught:
        read_stack_file(repo_root / "stacks", "nope")
    message = str(caught.value)
    assert "unknown stack 'nope'" in message
    assert "local" in message
    assert "Fix: pass one of them with --stack" in message


def test_yaml_syntax_error_gives_the_line(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.broken.yaml").write_text("config:\n  llmops:cluster: {kind: existing\n  x: [\n")
    with pytest.raises(ConfigError) as caught:
        read_stack_file(tmp_path, "broken")
    assert "is not valid YAML at line" in str(caught.value)

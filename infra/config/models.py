"""The pydantic models of everything a stack can say (`llmops:*` keys), camelCase in YAML.

Field names, defaults, limits and descriptions are declared here once: the loader checks
against them, `llmops.infra.config.reference` writes docs/configuration.md from them, and
`llmops.infra.config.fields` maps them onto the components' args.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from llmops.components.cloud import DEFAULT_CLOUD, Cloud
from llmops.components.netguard import DEFAULT_MAX_PUBLIC_SHARE
from llmops.components.pools import MIN_DISK_GB, Capacity
from llmops.components.serving.vllm_args import Dtype, Quantization
from llmops.infra.autoscaling_config import AutoscalingConfig, NodeAutoscalingConfig
from llmops.infra.config.values import MAX_POOL_SIZE, Cidr, Cron, ModelSource, Name, Quantity
from llmops.infra.config_block import ConfigBlock
from llmops.infra.images_config import ImagesConfig
from llmops.infra.model_store_config import ModelStoreConfig
from llmops.infra.value_checks import ByteQuantity, K3sVersion, LabelKey, LabelValue, ServedName, TimeZone
from pydantic import Field, model_validator
from pydantic.config import JsonDict

# --------------------------------------------------------------------------- the model


def shown_default(text: str) -> JsonDict:
    """What the reference shows as a key's default when the value itself says little (None, computed).

    `{kits:<attribute>}` becomes each cloud kit's value of that attribute (`<cloud>: <value>`).
    """
    return {"shown_default": text}


class ExistingClusterConfig(ConfigBlock):
    """`kind: existing`: a cluster you already have (a laptop K3s, or one your kubeconfig reaches)."""

    kind: Literal["existing"] = Field(description="selects this shape")
    kubeconfig: str | None = Field(
        None,
        description="path to a kubeconfig, or its contents (kept secret)",
        json_schema_extra=shown_default("`$KUBECONFIG`, then `~/.kube/config`"),
    )
    context: str | None = Field(
        None, description="context to use", json_schema_extra=shown_default("the file's current-context")
    )


class K3sClusterConfig(ConfigBlock):
    """`kind: k3s`: a K3s cluster this stack builds on cloud VMs."""

    kind: Literal["k3s"] = Field(description="selects this shape")
    cloud: Cloud = Field(DEFAULT_CLOUD, description="where the K3s servers run")
    servers: Literal[1, 3] = Field(1, description="`1`, or `3` for embedded-etcd high availability")
    version: K3sVersion | None = Field(
        None,
        description="K3s version, e.g. `v1.33.5+k3s1`",
        json_schema_extra=shown_default("the pinned K3s release"),
    )
    server_instance_type: str | None = Field(
        None,
        description="on-demand CPU machine type of the servers",
        json_schema_extra=shown_default("the cloud's own ({kits:default_server_instance_type})"),
    )
    allowed_cidrs: list[Cidr] = Field(
        default_factory=list,
        description="networks allowed to reach the API on 6443 (where you run `pulumi up`); "
        "`0.0.0.0/0` is refused, and at least one is needed",
    )
    wireguard: bool = Field(False, description="flannel over WireGuard, needed when pools span clouds")
    session_manager: bool = Field(
        False, description="remote shells on the nodes through the cloud's session service (no secret reads)"
    )
    allow_public_api: bool = Field(
        False, description="let `allowedCidrs` open the API to the internet; refused otherwise"
    )
    max_public_share: float = Field(
        DEFAULT_MAX_PUBLIC_SHARE,
        gt=0,
        le=1,
        description="largest share of the public IPv4 space `allowedCidrs` may cover together",
        json_schema_extra=shown_default("0.1 % (about a /10)"),
    )


ClusterConfig = Annotated[ExistingClusterConfig | K3sClusterConfig, Field(discriminator="kind")]


class ScheduleConfig(ConfigBlock):
    """A time window in which a pool (and the models on it) keeps a given size."""

    name: Name = Field(description="unique within the pool; names the scheduled action")
    cron: Cron = Field(description="when the window starts, 5-field cron")
    timezone: TimeZone = Field("UTC", description="IANA time zone of the cron expression")
    min: int | None = Field(
        None,
        ge=0,
        le=MAX_POOL_SIZE,
        description="fewest machines",
        json_schema_extra=shown_default("the pool's `min`"),
    )
    max: int | None = Field(
        None,
        ge=0,
        le=MAX_POOL_SIZE,
        description="most machines",
        json_schema_extra=shown_default("the pool's `max`"),
    )
    desired: int | None = Field(
        None,
        ge=0,
        le=MAX_POOL_SIZE,
        description="machines when the window starts",
        json_schema_extra=shown_default("this window's `min`"),
    )

    def sizes(self, pool: PoolConfig) -> PoolSizes:
        """The sizes this window sets, unset ones taken from the pool."""
        low = pool.min if self.min is None else self.min
        high = pool.max if self.max is None else self.max
        return PoolSizes(low, high, low if self.desired is None else self.desired)


@dataclass(frozen=True)
class PoolSizes:
    min: int
    max: int
    desired: int


class PoolConfig(ConfigBlock):
    """A group of identical GPU machines in one cloud; pools exist only with `cluster.kind: k3s`."""

    name: Name = Field(description="pool name; nodes get the label `llmops.io/pool=<name>`")
    cloud: Cloud = Field(description="cloud of the machines")
    gpu_type: str = Field(description="GPU on every machine, e.g. `L4`, `A10G`, `H100`")
    instance_types: list[str] = Field(
        description="machine types, most preferred first; each must carry `gpuType` GPUs, none twice"
    )
    capacity: Capacity = Field(Capacity.ON_DEMAND, description="`mixed`: on-demand base + spot above")
    on_demand_base: int = Field(
        0, ge=0, le=MAX_POOL_SIZE, description="`mixed` only: machines kept on-demand before any spot"
    )
    min: int = Field(
        0, ge=0, le=MAX_POOL_SIZE, description="fewest machines; `0` lets an idle pool cost nothing"
    )
    max: int = Field(
        1, ge=0, le=MAX_POOL_SIZE, description="most machines; a spot or mixed pool needs at least 1"
    )
    desired: int | None = Field(
        None,
        ge=0,
        le=MAX_POOL_SIZE,
        description="machines at creation",
        json_schema_extra=shown_default("`min`"),
    )
    disk_gb: int = Field(
        200, ge=MIN_DISK_GB, le=16384, description="root disk (GB); images and the weights cache live there"
    )
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="extra node labels (Kubernetes label keys and values)"
    )
    schedules: list[ScheduleConfig] = Field(default_factory=list, description="time windows (table below)")
    fallback_pool: str | None = Field(
        None,
        description="pool that takes the load when this (spot) pool is gone; it may name its own "
        "fallback, in another cloud too, and models follow the whole chain in order",
    )


class WritablePathConfig(ConfigBlock):
    """An extra writable directory for an engine that writes outside the caches llmops provides."""

    path: str = Field(description="absolute path inside the serving container")
    size_limit: Quantity = Field("1Gi", description="most the directory may hold")


class ModelConfig(ConfigBlock):
    """One model served by vLLM."""

    name: Name = Field(description="Kubernetes name (lower-case, digits, `-`, at most 40 characters)")
    source: ModelSource = Field(
        description="Hugging Face repo id (`org/name`), a path in the model volume, or `s3://`/`gs://`/`az://`"
    )
    revision: str | None = Field(
        None, description="git revision of the repo", json_schema_extra=shown_default("main branch")
    )
    served_model_name: ServedName | None = Field(
        None, description="name clients send in requests", json_schema_extra=shown_default("the source")
    )
    gpu_type: str | None = Field(
        None,
        description="GPU the model is sized for; must match its pool",
        json_schema_extra=shown_default("the pool's"),
    )
    tensor_parallel_size: int = Field(
        1, ge=1, le=64, description="GPUs one copy of the model is split across"
    )
    pipeline_parallel_size: int = Field(
        1, ge=1, le=64, description="pipeline stages; a pod asks for tensor x pipeline GPUs"
    )
    max_model_len: int | None = Field(
        None, ge=128, description="context length", json_schema_extra=shown_default("the model's own")
    )
    dtype: Dtype = Field(Dtype.AUTO, description="weights and activations type")
    quantization: Quantization | None = Field(None, description="quantization method of the weights")
    kv_cache_dtype: Literal["auto", "bfloat16", "float16", "fp8", "fp8_e4m3", "fp8_e5m2"] = Field(
        "auto",
        description="KV cache element type; fp8 halves it (capacity model and vLLM `--kv-cache-dtype`)",
    )
    gpu_memory_utilization: float = Field(
        0.90, gt=0.1, le=0.98, description="share of GPU memory for weights + KV cache"
    )
    enable_prefix_caching: bool = Field(
        True, description="reuse KV cache across requests with a common prefix"
    )
    max_num_seqs: int | None = Field(
        None, ge=1, description="concurrent sequences per replica", json_schema_extra=shown_default("vLLM's")
    )
    replicas: int = Field(1, ge=0, le=1000, description="pods; `0` scales the model down")
    pool: str | None = Field(
        None,
        description="pool whose nodes run the model (then its chain of `fallbackPool`s, unless "
        "`pools` lists the order); required when the stack has pools",
        json_schema_extra=shown_default("any GPU node"),
    )
    pools: list[Name] = Field(
        default_factory=list,
        max_length=8,
        description="pools in preference order, in any clouds: pods prefer the first and fall back down "
        "the list; the first is the model's `pool`",
        json_schema_extra=shown_default("`pool`, then its `fallbackPool`"),
    )
    placement: Literal["ordered", "spread"] = Field(
        "ordered",
        description="`ordered`: replicas fill the pools in order, the first while it has room; `spread`: "
        "evenly over the leading pools of the first pool's capacity (e.g. its spot pools in two clouds), "
        "later pools staying fallbacks ([autoscaling](autoscaling.md#placement-across-pools-and-clouds))",
    )
    node_selector: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="extra node labels to require"
    )
    cpu: Quantity = Field("4", description="CPU request per pod")
    memory: ByteQuantity = Field("16Gi", description="memory request per pod, also its limit")
    shm_size: ByteQuantity = Field("2Gi", description="in-memory `/dev/shm` for NCCL and workers")
    startup_timeout_s: int = Field(
        1200, ge=60, le=7200, description="seconds allowed to download and load weights"
    )
    startup_s: int | None = Field(
        None,
        ge=10,
        le=3600,
        description="typical start-up time; with observability on, the model's demand forecast "
        "(`llmops:replica_demand:forecast`) looks this far ahead. Default: the estimate from the weights, "
        "the model store and the image pre-pull ([capacity](capacity.md#start-up-time)); 180 for a model "
        "not in the catalog",
    )
    progress_probe: bool = Field(
        True,
        description="liveness runs the progress probe: restarts a replica whose engine stops producing "
        "tokens while requests run (see [observability](observability.md)); `false`: a plain `/health` check",
    )
    stall_seconds: int = Field(
        8,
        ge=2,
        le=600,
        description="seconds without a generated token, with requests running, before the progress probe "
        "fails; keep it above the longest single prefill",
    )
    hf_token_secret: Name | None = Field(
        None, description="existing Secret with key `HF_TOKEN`, for gated models"
    )
    api_key_secret: Name | None = Field(
        None, description="existing Secret with key `VLLM_API_KEY`; clients then send it as a bearer token"
    )
    fit: Literal["error", "warn"] = Field(
        "error", description="a model that does not fit its GPU's memory: an error, or warn and deploy anyway"
    )
    image: str | None = Field(
        None, description="serving image", json_schema_extra=shown_default("the pinned `vllm/vllm-openai`")
    )
    image_digest: str | None = Field(
        None, description="`sha256:` digest the image is pinned to", json_schema_extra=shown_default("none")
    )
    writable_paths: list[WritablePathConfig] = Field(
        default_factory=list, description="extra writable directories; the root filesystem stays read-only"
    )
    extra_args: dict[str, str | int | float | bool] = Field(
        default_factory=dict,
        description="more `vllm serve` options, names in kebab case without dashes; `true` gives a bare flag",
    )
    autoscaling: AutoscalingConfig | None = Field(
        None,
        description="scale replicas with KEDA (see [autoscaling](autoscaling.md))",
        json_schema_extra=shown_default("a fixed `replicas`"),
    )

    @property
    def gpus(self) -> int:
        return self.tensor_parallel_size * self.pipeline_parallel_size

    @model_validator(mode="before")
    @classmethod
    def _first_of_pools(cls, data: object) -> object:
        """`pools` without `pool`: the first listed is the model's pool (what sizing checks read)."""
        if isinstance(data, dict) and data.get("pools") and "pool" not in data:
            pools = data["pools"]
            if isinstance(pools, list) and pools and isinstance(pools[0], str):
                return {**data, "pool": pools[0]}
        return data


class ObservabilityConfig(ConfigBlock):
    """The metrics, logs and dashboards stack (`llmops.components.observability.ObservabilityStack`)."""

    enabled: bool = Field(
        False,
        description="deploy kube-prometheus-stack, Loki and fluent-bit, the LLM dashboards and alert rules, "
        "and a ServiceMonitor per model",
    )
    namespace: Name = Field("monitoring", description="namespace of the releases, rules and dashboards")
    loki: bool = Field(True, description="Loki (single binary) as Grafana's log datasource")
    fluent_bit: bool = Field(
        True, description="fluent-bit on every node, shipping container logs to Loki (needs `loki`)"
    )
    deepflow: bool = Field(
        False,
        description="DeepFlow server and eBPF agents "
        "(privileged; kernel needs in [observability](observability.md))",
    )
    grafana_admin_password: str | None = Field(
        None,
        description="Grafana admin password; set it with `pulumi config set --secret`; "
        "at least 12 characters",
        json_schema_extra=shown_default("generated"),
    )
    scrape_interval: str = Field(
        "15s", description="scrape interval of cluster components (a Prometheus duration)"
    )
    evaluation_interval: str = Field(
        "15s", description="rule evaluation interval (the fast vLLM alerts use 1 s)"
    )
    metrics_retention: str = Field("15d", description="how long Prometheus keeps metrics")
    prometheus_storage_size: ByteQuantity | None = Field(
        None,
        description="volume for Prometheus, e.g. `50Gi`",
        json_schema_extra=shown_default("none (pod storage)"),
    )
    log_retention_hours: int = Field(168, description="how long Loki keeps logs; a multiple of 24")
    loki_storage_size: ByteQuantity = Field("20Gi", description="volume for Loki's chunks and index")
    vllm_scrape_interval: str = Field(
        "2s",
        description="scrape interval of every vLLM replica "
        "(why: [decision 010](decisions/010-2s-scrape-interval-for-vllm.md))",
    )


class BudgetConfig(ConfigBlock):
    """What the stack may cost."""

    monthly_usd: float | None = Field(None, gt=0, description="monthly ceiling for the stack in USD")
    enforcement: Literal["advisory", "mandatory"] = Field(
        "advisory",
        description="`advisory` warns; `mandatory` makes `llmops plan` exit with an error when the estimate "
        "is over the ceiling (`pulumi preview` does not check it)",
    )


class NetworkPoliciesConfig(ConfigBlock):
    """Default-deny ingress NetworkPolicies in the serving and monitoring namespaces."""

    enabled: bool = Field(True, description="create the policies; K3s enforces them out of the box")
    serving_from: list[Name] | None = Field(
        None,
        description="namespaces that may call the models' port",
        json_schema_extra=shown_default(
            "the serving namespace and, with observability on, the monitoring one"
        ),
    )
    monitoring_from: list[Name] = Field(
        default_factory=list,
        description="further namespaces that may reach Prometheus, Grafana and Loki (KEDA's is added "
        "when a model autoscales)",
    )


class GpuOperatorConfig(ConfigBlock):
    """NVIDIA's GPU operator (components.addons.gpu_operator): GPU nodes then advertise nvidia.com/gpu."""

    enabled: bool | None = Field(
        None,
        description="install the operator. Turn it on for an existing cluster whose GPU nodes show no "
        "`nvidia.com/gpu` in `kubectl describe node`; leave it off where one already runs",
        json_schema_extra=shown_default("on for `kind: k3s`, off for `kind: existing`"),
    )
    namespace: Name = Field("gpu-operator", description="namespace of the operator and its per-node pods")
    driver: bool | None = Field(
        None,
        description="let the operator install the NVIDIA driver; off where the pool image has one "
        "(each cloud kit says whether its image has one), off for `kind: existing`",
        json_schema_extra=shown_default("from the pool image"),
    )
    runtime: Literal["nri", "k3s-containerd", "containerd"] = Field(
        "nri",
        description="how GPUs reach containers: `nri` (CDI through containerd's NRI, containerd 2.x), "
        "`k3s-containerd` (the toolkit edits K3s's containerd config), `containerd` (`/etc/containerd`)",
    )
    time_slicing_replicas: int | None = Field(
        None,
        ge=2,
        le=64,
        description="share each GPU between this many pods by time-slicing (no memory isolation)",
        json_schema_extra=shown_default("off"),
    )
    mig_strategy: Literal["none", "single", "mixed"] = Field(
        "none", description="advertise MIG slices and run the MIG manager (A100/H100 class GPUs)"
    )

    def is_on(self, cluster: ExistingClusterConfig | K3sClusterConfig) -> bool:
        return self.enabled if self.enabled is not None else isinstance(cluster, K3sClusterConfig)


class StackConfig(ConfigBlock):
    """Everything under the `llmops` namespace of one stack file."""

    namespace: Name = Field("llmops", description="Kubernetes namespace of the serving workloads")
    cluster: ClusterConfig = Field(
        description="kind: existing (a cluster your kubeconfig reaches) or kind: k3s (one this stack builds)"
    )
    pools: list[PoolConfig] = Field(
        default_factory=list, description="GPU machine groups; only with `cluster.kind: k3s`"
    )
    models: list[ModelConfig] = Field(default_factory=list, description="models served by vLLM")
    observability: ObservabilityConfig = Field(
        default_factory=lambda: ObservabilityConfig.model_validate({}),
        description="metrics, logs and dashboards",
    )
    budget: BudgetConfig = Field(
        default_factory=lambda: BudgetConfig.model_validate({}), description="what the stack may cost"
    )
    network_policies: NetworkPoliciesConfig = Field(
        default_factory=lambda: NetworkPoliciesConfig.model_validate({}),
        description="default-deny ingress in the serving and monitoring namespaces",
    )
    gpu_operator: GpuOperatorConfig = Field(
        default_factory=lambda: GpuOperatorConfig.model_validate({}),
        description="NVIDIA's GPU operator, which makes GPU nodes advertise `nvidia.com/gpu`",
    )
    node_autoscaling: NodeAutoscalingConfig = Field(
        default_factory=lambda: NodeAutoscalingConfig.model_validate({}),
        description="cluster-autoscaler for the GPU pools of a K3s cluster this stack builds",
    )
    model_store: ModelStoreConfig = Field(
        default_factory=lambda: ModelStoreConfig.model_validate({}),
        description="where weights are kept once for every replica ([model store](model-store.md))",
    )
    images: ImagesConfig = Field(
        default_factory=lambda: ImagesConfig.model_validate({}),
        description="the vLLM image the models run: built and pushed, upstream, or yours "
        "([serving image](serving-image.md))",
    )


TOP_LEVEL_KEYS: tuple[str, ...] = tuple(
    (field.alias or name) for name, field in StackConfig.model_fields.items()
)

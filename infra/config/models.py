"""The pydantic models of everything a stack can say (`llmops:*` keys), camelCase in YAML.

Field names, defaults, limits and descriptions are declared here once: the loader checks
against them, `infra.config.reference` writes docs/configuration.md from them, and
`infra.config.fields` maps them onto the components' args.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from components.cloud import DEFAULT_CLOUD, Cloud
from components.pools import MIN_DISK_GB, Capacity
from components.serving.vllm_args import Dtype, Quantization
from infra.config.values import Cidr, Cron, ModelSource, Name, Quantity

# --------------------------------------------------------------------------- the model


class _Strict(BaseModel):
    # camelCase in YAML (Pulumi's own convention), snake_case in Python; unknown keys
    # are errors, never silently ignored.
    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=False,
        frozen=True,
        str_strip_whitespace=True,
        use_enum_values=False,
    )


class ExistingClusterConfig(_Strict):
    """A cluster that already exists: a laptop K3s, or EKS/GKE/AKS reached through a kubeconfig."""

    kind: Literal["existing"]
    kubeconfig: str | None = Field(
        None,
        description="path to (or contents of) a kubeconfig; default: $KUBECONFIG, then ~/.kube/config",
    )
    context: str | None = Field(None, description="kubeconfig context; default: the file's current-context")


class K3sClusterConfig(_Strict):
    """A K3s cluster on cloud VMs that the stack creates."""

    kind: Literal["k3s"]
    cloud: Cloud = Field(DEFAULT_CLOUD, description="where the K3s servers run")
    servers: Literal[1, 3] = Field(1, description="1 server, or 3 for embedded-etcd high availability")
    version: str | None = Field(
        None, description="K3s version such as 'v1.33.5+k3s1'; default: the pinned one"
    )
    server_instance_type: str | None = Field(
        None,
        description="on-demand CPU machine type of the servers; default: the cloud kit's own",
    )
    allowed_cidrs: list[Cidr] = Field(
        default_factory=list, description="networks allowed to reach the Kubernetes API on 6443"
    )
    wireguard: bool = Field(False, description="flannel over WireGuard, needed when pools span clouds")


ClusterConfig = Annotated[ExistingClusterConfig | K3sClusterConfig, Field(discriminator="kind")]


class ScheduleConfig(_Strict):
    """A time window in which a pool (and the models on it) keeps a given size."""

    name: Name
    cron: Cron = Field(description="when the window starts, 5-field cron")
    timezone: str = Field("UTC", description="IANA time zone of the cron expression")
    min: int | None = Field(None, ge=0, description="default: the pool's min")
    max: int | None = Field(None, ge=0, description="default: the pool's max")
    desired: int | None = Field(None, ge=0, description="default: this window's min")

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


class PoolConfig(_Strict):
    """A group of identical GPU machines in one cloud."""

    name: Name
    cloud: Cloud
    gpu_type: str = Field(description="GPU model on every machine of the pool, e.g. L4, A10G, H100")
    instance_types: list[str] = Field(description="machine types, cheapest acceptable first")
    capacity: Capacity = Field(Capacity.ON_DEMAND, description="spot, on-demand, or mixed")
    on_demand_base: int = Field(0, ge=0, description="mixed pools: machines kept on-demand before any spot")
    min: int = Field(0, ge=0)
    max: int = Field(1, ge=0)
    desired: int | None = Field(None, ge=0, description="default: min")
    disk_gb: int = Field(
        200, ge=MIN_DISK_GB, le=16384, description="root disk size; images and weights cache live here"
    )
    labels: dict[str, str] = Field(default_factory=dict)
    schedules: list[ScheduleConfig] = Field(default_factory=list)
    fallback_pool: str | None = Field(
        None, description="pool that takes the load when this (spot) pool is gone"
    )


class ModelConfig(_Strict):
    """One model served by vLLM."""

    name: Name
    source: ModelSource = Field(description="Hugging Face repo id or a path in the model volume")
    revision: str | None = Field(None, description="git revision of the repo; default: its main branch")
    served_model_name: str | None = Field(None, description="name clients ask for; default: the source")
    gpu_type: str | None = Field(None, description="GPU the model is sized for; default: the pool's")
    tensor_parallel_size: int = Field(1, ge=1, le=64)
    pipeline_parallel_size: int = Field(1, ge=1, le=64)
    max_model_len: int | None = Field(None, ge=128, description="context length; default: the model's own")
    dtype: Dtype = Dtype.AUTO
    quantization: Quantization | None = None
    gpu_memory_utilization: float = Field(0.90, gt=0.1, le=0.98)
    enable_prefix_caching: bool = True
    max_num_seqs: int | None = Field(None, ge=1)
    replicas: int = Field(1, ge=0, le=1000)
    pool: str | None = Field(None, description="pool whose nodes run the model; default: any GPU node")
    node_selector: dict[str, str] = Field(default_factory=dict)
    cpu: Quantity = "4"
    memory: Quantity = "16Gi"
    shm_size: Quantity = "2Gi"
    startup_timeout_s: int = Field(1200, ge=60, le=7200, description="time allowed to load weights")
    startup_s: int = Field(
        180, ge=10, le=3600, description="typical start-up time; the demand forecast looks this far ahead"
    )
    progress_probe: bool = Field(True, description="restart a replica whose engine stops generating")
    stall_seconds: int = Field(8, ge=2, le=600, description="seconds without a token before a restart")
    hf_token_secret: Name | None = Field(
        None, description="existing Secret with key HF_TOKEN, for gated models"
    )
    image: str | None = Field(None, description="serving image; default: the pinned vllm/vllm-openai")
    extra_args: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="further vllm serve options, names without leading dashes"
    )

    @property
    def gpus(self) -> int:
        return self.tensor_parallel_size * self.pipeline_parallel_size


class ObservabilityConfig(_Strict):
    """The metrics/logs/traces stack (components.observability.ObservabilityStack)."""

    enabled: bool = Field(False, description="deploy kube-prometheus-stack, Loki and fluent-bit")
    namespace: Name = Field("monitoring", description="namespace of the releases, rules and dashboards")
    loki: bool = Field(True, description="Loki single-binary as Grafana's log datasource")
    fluent_bit: bool = Field(True, description="fluent-bit on every node shipping container logs to Loki")
    deepflow: bool = Field(False, description="DeepFlow server and eBPF agents (privileged; see docs)")
    grafana_admin_password: str | None = Field(None, description="default: generated; set it as a secret")
    scrape_interval: str = Field("15s", description="scrape interval of cluster components")
    evaluation_interval: str = Field("15s", description="rule evaluation interval (fast vLLM alerts: 1 s)")
    metrics_retention: str = Field("15d", description="how long Prometheus keeps metrics")
    prometheus_storage_size: Quantity | None = Field(None, description="default: no volume for Prometheus")
    log_retention_hours: int = Field(168, description="how long Loki keeps logs; a multiple of 24")
    loki_storage_size: Quantity = Field("20Gi", description="volume for Loki's chunks and index")
    vllm_scrape_interval: str = Field("2s", description="scrape interval of every vLLM replica")


class BudgetConfig(_Strict):
    """What the stack may cost."""

    monthly_usd: float | None = Field(None, gt=0, description="monthly ceiling; default: none")
    enforcement: Literal["advisory", "mandatory"] = Field(
        "advisory", description="advisory warns; mandatory fails the plan and preview"
    )


class StackConfig(_Strict):
    """Everything under the `llmops` namespace of one stack file."""

    namespace: Name = Field("llmops", description="Kubernetes namespace for the serving workloads")
    cluster: ClusterConfig = Field(
        description="kind: existing (a cluster your kubeconfig reaches) or kind: k3s (one this stack builds)"
    )
    pools: list[PoolConfig] = Field(default_factory=list)
    models: list[ModelConfig] = Field(default_factory=list)
    observability: ObservabilityConfig = Field(default_factory=lambda: ObservabilityConfig.model_validate({}))
    budget: BudgetConfig = Field(default_factory=lambda: BudgetConfig.model_validate({}))


TOP_LEVEL_KEYS: tuple[str, ...] = tuple(
    (field.alias or name) for name, field in StackConfig.model_fields.items()
)

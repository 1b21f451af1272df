"""Typed model of everything a stack can say, and its loaders.

A stack is `stacks/Pulumi.<stack>.yaml`; every llmops key lives under the `llmops`
config namespace (`llmops:models`, `llmops:cluster`, ...). The same model is filled
from two places:

- `load_stack_file()` reads the YAML file directly: the offline plan and the tests,
  with no Pulumi engine and no credentials;
- `load_from_pulumi()` reads the config the Pulumi engine hands the program at
  `pulumi up` / `pulumi preview`.

Both end in `parse()`, which reports every problem in the file at once, each naming
the key path, the value given, what is allowed and the fix, before any resource
exists. Pulumi imports stay inside `load_from_pulumi()` so this module stays cheap to
import for pure tests.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum, StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from components.k3s.pool import AWS_GPU_FAMILIES, MIN_DISK_GB, Capacity, gpu_of
from components.kube_names import QUANTITY, is_dns1035_label
from components.serving.vllm_args import MANAGED_FLAGS, MAX_MODEL_NAME, Dtype, Quantization

NAMESPACE = "llmops"

# The value a `{secure: ...}` key gets in the offline plan, where nothing is decrypted.
SECRET_PLACEHOLDER = "[secret]"


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a stack's config."""

    path: str
    value: Any
    message: str
    fix: str

    def __str__(self) -> str:
        value = "" if self.value is _MISSING else f"{_show(self.value)} "
        # Problems relayed from a component's own validation carry the fix in the message.
        fix = f". Fix: {self.fix}" if self.fix else ""
        return f"{self.path}: {value}{self.message}{fix}"


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()


class ConfigError(Exception):
    """Every problem found in one stack's config, reported together."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        super().__init__(str(self))

    def __str__(self) -> str:
        count = len(self.problems)
        head = f"{self.source}: {count} problem{'s' if count != 1 else ''} in the {NAMESPACE} config"
        return "\n".join([head + ":", *(f"  - {p}" for p in self.problems)])


class StackNotFoundError(Exception):
    """The stack named on the command line has no stacks/Pulumi.<stack>.yaml."""

    def __init__(self, stack: str, stacks_dir: Path):
        self.stack = stack
        known = available_stacks(stacks_dir)
        listing = ", ".join(known) if known else "none"
        super().__init__(
            f"unknown stack {stack!r}: {stacks_dir / f'Pulumi.{stack}.yaml'} does not exist. "
            f"Stacks in {stacks_dir}: {listing}. Fix: pass one of them with --stack, "
            f"or create the file (copy one of the existing stacks)."
        )


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, Enum):
        return repr(value.value)
    try:
        return json.dumps(value, default=str)
    except (TypeError, ValueError):
        return repr(value)


def _fail(message: str, fix: str) -> PydanticCustomError:
    # The message travels in the context: pydantic formats the template with it.
    return PydanticCustomError("llmops", "{message}", {"message": message, "fix": fix})


# --------------------------------------------------------------------------- value types

MAX_NAME_LENGTH = MAX_MODEL_NAME


def _dns_name(value: str) -> str:
    if not is_dns1035_label(value, MAX_NAME_LENGTH):
        suggestion = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")[:MAX_NAME_LENGTH] or "model"
        if not suggestion[0].isalpha():
            suggestion = "m-" + suggestion[: MAX_NAME_LENGTH - 2]
        raise _fail(
            f"is not a valid name (lower-case letters, digits and '-', starting with a letter, "
            f"at most {MAX_NAME_LENGTH} characters)",
            f"use a name such as {suggestion!r}",
        )
    return value


Name = Annotated[str, AfterValidator(_dns_name)]


def _quantity(value: str) -> str:
    if not QUANTITY.match(value):
        raise _fail(
            "is not a Kubernetes quantity",
            "write it like '4', '500m', '16Gi' or '2G'",
        )
    return value


Quantity = Annotated[str, AfterValidator(_quantity)]

_CRON_FIELD = re.compile(r"^[0-9*/,\-A-Za-z]+$")


def _cron(value: str) -> str:
    fields = value.split()
    if len(fields) != 5 or not all(_CRON_FIELD.match(f) for f in fields):
        raise _fail(
            "is not a 5-field cron expression (minute hour day-of-month month day-of-week)",
            "write it like '0 8 * * 1-5' (08:00 on weekdays)",
        )
    return value


Cron = Annotated[str, AfterValidator(_cron)]


def _cidr(value: str) -> str:
    try:
        ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        raise _fail(
            f"is not a CIDR block ({exc})", "write it like '203.0.113.0/24' or '198.51.100.7/32'"
        ) from None
    if value in ("0.0.0.0/0", "::/0"):
        raise _fail(
            "opens the Kubernetes API to the whole internet",
            "list the networks that need the API, e.g. your office or VPN range '203.0.113.0/24'",
        )
    return value


Cidr = Annotated[str, AfterValidator(_cidr)]

_HF_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def _model_source(value: str) -> str:
    if value.startswith(("/", "s3://", "gs://", "az://")) or _HF_REPO.match(value):
        return value
    raise _fail(
        "is neither a Hugging Face repository id nor a path",
        "use 'org/name' as on huggingface.co (e.g. 'Qwen/Qwen2.5-0.5B-Instruct'), "
        "an absolute path inside the model volume, or an s3:// / gs:// / az:// URL",
    )


ModelSource = Annotated[str, AfterValidator(_model_source)]

_FLAG_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")


# --------------------------------------------------------------------------- enums


class Cloud(StrEnum):
    AWS = "aws"
    GCP = "gcp"
    AZURE = "azure"


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
    cloud: Cloud = Field(Cloud.AWS, description="where the K3s servers run")
    servers: Literal[1, 3] = Field(1, description="1 server, or 3 for embedded-etcd high availability")
    version: str | None = Field(
        None, description="K3s version such as 'v1.33.5+k3s1'; default: the pinned one"
    )
    server_instance_type: str = Field("m7i.large", description="on-demand CPU instance type for the servers")
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


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True)
class RawStack:
    """A stack's `llmops:` keys (namespace stripped) and the provider keys beside them."""

    source: str
    values: dict[str, Any]
    secret_keys: frozenset[str]
    other: dict[str, Any]


def parse(raw: RawStack) -> StackConfig:
    """Validate a stack's llmops config; raise ConfigError listing every problem."""
    problems: list[Problem] = []
    for key in raw.values:
        if key not in TOP_LEVEL_KEYS:
            problems.append(_unknown_key(key, key, TOP_LEVEL_KEYS, prefix=f"{NAMESPACE}:"))
    known = {k: v for k, v in raw.values.items() if k in TOP_LEVEL_KEYS}
    try:
        config = StackConfig.model_validate(known)
    except ValidationError as exc:
        problems.extend(_translate(err, known) for err in exc.errors())
        raise ConfigError(raw.source, problems) from None
    problems.extend(check_semantics(config))
    problems.extend(_check_gcp(config, raw.other))
    if problems:
        raise ConfigError(raw.source, problems)
    return config


def _check_gcp(config: StackConfig, provider_keys: Mapping[str, Any]) -> list[Problem]:
    """GCP pools and servers: the project and region keys, and the GCP machine table."""
    uses_gcp = any(p.cloud is Cloud.GCP for p in config.pools) or (
        isinstance(config.cluster, K3sClusterConfig) and config.cluster.cloud is Cloud.GCP
    )
    if not uses_gcp:
        return []
    from components.gcp.stack_checks import pool_findings

    problems: list[Problem] = []
    region = provider_keys.get("gcp:region")
    for key, example in (("gcp:project", "my-project-id"), ("gcp:region", "us-central1")):
        if not isinstance(provider_keys.get(key), str) or not provider_keys[key]:
            problems.append(
                Problem(key, _MISSING, "is not set; GCP servers and pools need it", f"add {key}: {example}")
            )
    cluster = config.cluster
    if isinstance(cluster, K3sClusterConfig) and cluster.cloud is Cloud.GCP and cluster.servers > 1:
        problems.append(
            Problem(
                "cluster.servers",
                cluster.servers,
                "needs an API load balancer, which is not built on GCP yet",
                "use servers: 1 on gcp",
            )
        )
    for i, pool in enumerate(config.pools):
        if pool.cloud is not Cloud.GCP:
            continue
        if isinstance(config.cluster, K3sClusterConfig) and config.cluster.cloud is not Cloud.GCP:
            problems.append(
                Problem(
                    f"pools[{i}].cloud",
                    pool.cloud.value,
                    f"differs from cluster.cloud {config.cluster.cloud.value!r}; pools in another cloud "
                    "than the servers are not composed yet",
                    f"set cluster.cloud: {pool.cloud.value}, or move the pool "
                    f"to {config.cluster.cloud.value}",
                )
            )
        findings = pool_findings(
            instance_types=pool.instance_types,
            gpu_type=pool.gpu_type,
            capacity=pool.capacity.value,
            region=region if isinstance(region, str) else None,
            schedules=[(w.cron, w.timezone) for w in pool.schedules],
        )
        problems += [Problem(f"pools[{i}].{key}", value, what, fix) for key, value, what, fix in findings]
    return problems


def _unknown_key(path: str, key: str, allowed: Iterable[str], prefix: str = "") -> Problem:
    allowed = sorted(allowed)
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    fix = f"did you mean {prefix + close[0]!r}?" if close else "remove it, or check the spelling"
    listing = ", ".join(allowed)
    return Problem(f"{prefix}{path}", _MISSING, f"unknown key (allowed here: {listing})", fix)


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_UNION_MEMBERS: dict[str, type[BaseModel]] = {"existing": ExistingClusterConfig, "k3s": K3sClusterConfig}


def _model_at(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that owns the last key of `loc` (for allowed keys and descriptions)."""
    model: type[BaseModel] | None = StackConfig
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        if part in _UNION_MEMBERS:
            model = _UNION_MEMBERS[part]
            continue
        if model is None:
            return None
        fields = {(f.alias or n): f for n, f in model.model_fields.items()}
        field = fields.get(part)
        model = _inner_model(field.annotation) if field is not None else None
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for candidate in getattr(annotation, "__args__", ()):
        found = _inner_model(candidate)
        if found is not None:
            return found
    return None


def _field_description(loc: tuple[Any, ...]) -> str | None:
    model = _model_at(loc)
    if model is None:
        return None
    for name, field in model.model_fields.items():
        if (field.alias or name) == loc[-1]:
            return field.description
    return None


def _translate(err: Any, given: Mapping[str, Any]) -> Problem:
    """Turn one pydantic error into a Problem with a path, the value, what is allowed, and a fix."""
    loc = tuple(err["loc"])
    # Discriminated unions put the tag ('existing' / 'k3s') into the location; users never wrote it.
    clean_loc = tuple(p for p in loc if p not in _UNION_MEMBERS)
    path = _format_loc(clean_loc)
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input", _MISSING)

    if kind == "extra_forbidden":
        model = _model_at(loc)
        allowed = [(f.alias or n) for n, f in model.model_fields.items()] if model else []
        return _unknown_key(path, str(clean_loc[-1]), allowed)
    if kind == "missing":
        what = _field_description(loc)
        hint = f" ({what})" if what else ""
        return Problem(path, _MISSING, "is required but missing", f"add {clean_loc[-1]}{hint}")
    if kind in ("literal_error", "enum"):
        expected = ctx.get("expected", "")
        return Problem(path, value, f"is not one of {expected}", f"use one of {expected}")
    if kind == "union_tag_invalid":
        tags = ctx.get("expected_tags", "")
        return Problem(
            f"{path}.{ctx.get('discriminator', 'kind').strip(chr(39))}",
            ctx.get("tag", value),
            f"is not one of {tags}",
            "use 'existing' for a cluster you already have, or 'k3s' for one this stack creates",
        )
    if kind == "union_tag_not_found":
        return Problem(
            f"{path}.kind",
            _MISSING,
            "is required but missing",
            "add kind: existing (a cluster you have) or kind: k3s (one this stack creates)",
        )
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        symbol = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}[
            kind
        ]
        bound = next(iter(ctx.values()))
        return Problem(
            path, value, f"must be {symbol} {bound}", f"set {clean_loc[-1]} to a value {symbol} {bound}"
        )
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return Problem(path, value, "is not a whole number", f"write {clean_loc[-1]} as an integer, e.g. 1")
    if kind in ("float_parsing", "float_type"):
        return Problem(path, value, "is not a number", f"write {clean_loc[-1]} as a number, e.g. 0.9")
    if kind in ("bool_parsing", "bool_type"):
        return Problem(path, value, "is not true or false", f"write {clean_loc[-1]}: true or false")
    if kind in ("string_type",):
        return Problem(path, value, "is not a string", f"write {clean_loc[-1]} as text")
    if kind in ("list_type", "tuple_type"):
        return Problem(path, value, "is not a list", f"write {clean_loc[-1]} as a YAML list ('- item' lines)")
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return Problem(path, value, "is not a mapping", f"write {clean_loc[-1]} as 'key: value' lines")
    if kind == "too_short":
        n = ctx.get("min_length", 1)
        return Problem(
            path, value, f"needs at least {n} item(s)", f"add at least {n} entry to {clean_loc[-1]}"
        )
    if kind == "llmops":
        return Problem(path, value, err["msg"], ctx.get("fix", "see docs/configuration.md"))
    return Problem(path, value, err["msg"], "see docs/configuration.md for what this key accepts")


def check_semantics(config: StackConfig) -> list[Problem]:
    """Problems that involve more than one key; all of them, not just the first."""
    problems: list[Problem] = []
    pool_names = [p.name for p in config.pools]
    problems += _duplicates("pools", pool_names)
    problems += _duplicates("models", [m.name for m in config.models])

    if isinstance(config.cluster, ExistingClusterConfig) and config.pools:
        problems.append(
            Problem(
                "pools",
                _MISSING,
                "are created only for a cluster this stack builds; cluster.kind is 'existing'",
                "remove pools and pin models with nodeSelector, or set cluster.kind: k3s",
            )
        )
    if isinstance(config.cluster, K3sClusterConfig):
        problems += _check_k3s_cluster(config.cluster)
    if isinstance(config.cluster, K3sClusterConfig) and config.models and not config.pools:
        problems.append(
            Problem(
                "pools",
                [],
                "is empty, so the models have no GPU nodes to run on",
                "add at least one GPU pool (see stacks/Pulumi.aws-dev.yaml)",
            )
        )

    for i, pool in enumerate(config.pools):
        at = f"pools[{i}]"
        problems += _check_size(at, pool.min, pool.max, pool.desired)
        if not pool.instance_types:
            problems.append(
                Problem(
                    f"{at}.instanceTypes",
                    [],
                    "is empty; a pool needs at least one machine type",
                    "list one or more, e.g. instanceTypes: [g6.xlarge, g6.2xlarge]",
                )
            )
        problems += _check_instance_types(at, pool)
        if pool.capacity is Capacity.SPOT and pool.max == 0:
            problems.append(
                Problem(
                    f"{at}.max",
                    0,
                    "makes a spot pool that can never hold a machine",
                    "set max >= 1, or remove the pool",
                )
            )
        if pool.capacity is not Capacity.MIXED and pool.on_demand_base:
            problems.append(
                Problem(
                    f"{at}.onDemandBase",
                    pool.on_demand_base,
                    f"only applies to capacity 'mixed', this pool is {pool.capacity.value!r}",
                    "set capacity: mixed, or remove onDemandBase",
                )
            )
        if pool.capacity is Capacity.MIXED and pool.on_demand_base > pool.max:
            problems.append(
                Problem(
                    f"{at}.onDemandBase",
                    pool.on_demand_base,
                    f"is larger than max ({pool.max})",
                    f"set onDemandBase <= {pool.max}",
                )
            )
        if pool.fallback_pool is not None and pool.fallback_pool not in pool_names:
            problems.append(_unknown_reference(f"{at}.fallbackPool", pool.fallback_pool, pool_names, "pool"))
        if pool.fallback_pool == pool.name:
            problems.append(
                Problem(
                    f"{at}.fallbackPool",
                    pool.name,
                    "names the pool itself",
                    "name another pool, or remove it",
                )
            )
        for j, schedule in enumerate(pool.schedules):
            # Unset sizes come from the pool, so a window's min can clash with the pool's max.
            sizes = schedule.sizes(pool)
            problems += _check_size(f"{at}.schedules[{j}]", sizes.min, sizes.max, sizes.desired)

    problems += _check_observability(config.observability)
    pools_by_name = {p.name: p for p in config.pools}
    for i, model in enumerate(config.models):
        at = f"models[{i}]"
        if model.pool is not None:
            pool = pools_by_name.get(model.pool)
            if pool is None:
                problems.append(_unknown_reference(f"{at}.pool", model.pool, pool_names, "pool"))
            elif model.gpu_type is not None and model.gpu_type != pool.gpu_type:
                problems.append(
                    Problem(
                        f"{at}.gpuType",
                        model.gpu_type,
                        f"differs from pool {pool.name!r}'s gpuType {pool.gpu_type!r}",
                        f"set gpuType: {pool.gpu_type}, or pin the model to a pool of {model.gpu_type} GPUs",
                    )
                )
        if isinstance(config.cluster, K3sClusterConfig) and model.pool is None and config.pools:
            problems.append(
                Problem(
                    f"{at}.pool",
                    _MISSING,
                    "is required when the stack creates pools",
                    f"add pool: one of {', '.join(sorted(set(pool_names)))}",
                )
            )
        for flag in model.extra_args:
            if not _FLAG_NAME.match(flag):
                problems.append(
                    Problem(
                        f"{at}.extraArgs.{flag}",
                        model.extra_args[flag],
                        "is not a vllm serve option name",
                        f"write it in kebab case, no leading dashes, e.g. {_kebab(flag)!r}",
                    )
                )
            elif flag in MANAGED_FLAGS:
                field = MANAGED_FLAGS[flag]
                problems.append(
                    Problem(
                        f"{at}.extraArgs.{flag}",
                        model.extra_args[flag],
                        "is set by llmops from the model's own keys",
                        f"set models[{i}].{field} instead"
                        if field
                        else "remove it; llmops sets it to keep probes and the Service working",
                    )
                )
    return problems


# Clouds whose cluster and pool components exist in this version.
BUILT_CLOUDS = (Cloud.AWS, Cloud.GCP)


def _check_k3s_cluster(cluster: K3sClusterConfig) -> list[Problem]:
    problems = []
    if cluster.cloud not in BUILT_CLOUDS:
        problems.append(
            Problem(
                "cluster.cloud",
                cluster.cloud.value,
                f"has no K3s server component yet (available: {', '.join(c.value for c in BUILT_CLOUDS)})",
                "run the servers on aws or gcp",
            )
        )
    if not cluster.allowed_cidrs:
        problems.append(
            Problem(
                "cluster.allowedCidrs",
                [],
                "is empty, so nothing outside the VPC (not even `pulumi up`) can reach the Kubernetes API",
                "list the networks you deploy from, e.g. allowedCidrs: ['203.0.113.0/24']",
            )
        )
    return problems


def _check_instance_types(at: str, pool: PoolConfig) -> list[Problem]:
    if pool.cloud not in BUILT_CLOUDS:
        return [
            Problem(
                f"{at}.cloud",
                pool.cloud.value,
                f"has no GPU pool component yet (available: {', '.join(c.value for c in BUILT_CLOUDS)})",
                "use cloud: aws or gcp",
            )
        ]
    if pool.cloud is Cloud.GCP:
        return []  # checked with the stack's gcp:region in _check_gcp
    problems = []
    for j, instance_type in enumerate(pool.instance_types):
        gpu = gpu_of(instance_type)
        if gpu is None:
            problems.append(
                Problem(
                    f"{at}.instanceTypes[{j}]",
                    instance_type,
                    f"is not in a known GPU instance family ({', '.join(sorted(AWS_GPU_FAMILIES))})",
                    "use a GPU machine type such as 'g6.xlarge' (L4) or 'g5.xlarge' (A10G)",
                )
            )
        elif gpu != pool.gpu_type:
            problems.append(
                Problem(
                    f"{at}.instanceTypes[{j}]",
                    instance_type,
                    f"carries {gpu} GPUs, not the pool's gpuType {pool.gpu_type!r}",
                    f"set gpuType: {gpu}, or list only {pool.gpu_type} machine types",
                )
            )
    return problems


def _check_observability(observability: ObservabilityConfig) -> list[Problem]:
    """The component's own checks (durations, retention), with config key paths."""
    if not observability.enabled:
        return []
    from infra.program import observability_args  # imports Pulumi; only for stacks that use it

    problems = []
    for line in observability_args(observability).validate(OBSERVABILITY_INSTANCE):
        field, _, rest = line.partition(": ")
        key = _OBSERVABILITY_KEYS.get(field, to_camel(field))
        path = f"observability.{key}" if field.isidentifier() else "observability"
        problems.append(Problem(path, _MISSING, rest if field.isidentifier() else line, ""))
    return problems


# ObservabilityStackArgs fields whose config key is not their camelCase name.
_OBSERVABILITY_KEYS = {"enable_loki": "loki", "enable_fluent_bit": "fluentBit", "enable_deepflow": "deepflow"}

# Name of the ObservabilityStack instance; its Helm releases derive from it.
OBSERVABILITY_INSTANCE = "obs"


def _kebab(flag: str) -> str:
    return flag.lstrip("-").replace("_", "-").lower()


def _duplicates(key: str, names: list[str]) -> list[Problem]:
    seen: set[str] = set()
    out = []
    for i, name in enumerate(names):
        if name in seen:
            out.append(
                Problem(f"{key}[{i}].name", name, f"is used twice in {key}", "give every entry its own name")
            )
        seen.add(name)
    return out


def _unknown_reference(path: str, value: str, known: list[str], what: str) -> Problem:
    # Pool names are short; one changed character in three is still a likely typo.
    close = difflib.get_close_matches(value, known, n=1, cutoff=0.5)
    listing = ", ".join(sorted(set(known))) if known else "none defined"
    fix = (
        f"did you mean {close[0]!r}?"
        if close
        else f"name one of the stack's {what}s, or define it under pools"
    )
    return Problem(path, value, f"is not a {what} of this stack ({what}s: {listing})", fix)


def _check_size(at: str, low: int | None, high: int | None, desired: int | None) -> list[Problem]:
    problems = []
    if low is not None and high is not None and low > high:
        problems.append(
            Problem(
                f"{at}.min", low, f"is larger than max ({high})", f"set min <= {high}, or raise max to {low}"
            )
        )
    if desired is not None:
        if low is not None and desired < low:
            problems.append(
                Problem(f"{at}.desired", desired, f"is below min ({low})", f"set desired >= {low}")
            )
        if high is not None and desired > high:
            problems.append(
                Problem(f"{at}.desired", desired, f"is above max ({high})", f"set desired <= {high}")
            )
    return problems


# --------------------------------------------------------------------------- loaders


def available_stacks(stacks_dir: Path) -> list[str]:
    return sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in stacks_dir.glob("Pulumi.*.yaml"))


def stack_file(stacks_dir: Path, stack: str) -> Path:
    return stacks_dir / f"Pulumi.{stack}.yaml"


def read_stack_file(stacks_dir: Path, stack: str) -> RawStack:
    """Read stacks/Pulumi.<stack>.yaml without the Pulumi engine."""
    path = stack_file(stacks_dir, stack)
    if not path.is_file():
        raise StackNotFoundError(stack, stacks_dir)
    source = str(path)
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            source, [Problem("(file)", _MISSING, f"is not valid YAML{where}: {exc}", "fix the YAML syntax")]
        ) from None
    if not isinstance(document, dict):
        raise ConfigError(
            source, [Problem("(file)", _MISSING, "is not a YAML mapping", "start with 'config:'")]
        )
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise ConfigError(source, [Problem("config", config, "is not a mapping", "write 'key: value' lines")])
    return split_namespace(source, config)


def split_namespace(source: str, config: Mapping[str, Any], secret_keys: Iterable[str] = ()) -> RawStack:
    """Separate `llmops:` keys from provider keys (`aws:region`, ...)."""
    values: dict[str, Any] = {}
    other: dict[str, Any] = {}
    secrets = set(secret_keys)
    for full_key, value in config.items():
        namespace, _, key = str(full_key).rpartition(":")
        # Pulumi treats a key without a namespace as belonging to the project.
        namespace = namespace or NAMESPACE
        if isinstance(value, dict) and set(value) == {"secure"}:
            value = SECRET_PLACEHOLDER
            secrets.add(f"{namespace}:{key}")
        if namespace == NAMESPACE:
            values[key] = value
        else:
            other[f"{namespace}:{key}"] = value
    return RawStack(source, values, frozenset(secrets), other)


def load_stack_file(stacks_dir: Path, stack: str) -> StackConfig:
    return parse(read_stack_file(stacks_dir, stack))


def load_from_pulumi() -> StackConfig:
    """The config the Pulumi engine handed this program (pulumi up/preview, or the plan's mocks)."""
    import pulumi
    from pulumi.runtime import config as runtime_config

    raw = {**runtime_config.get_config_env(), **runtime_config.CONFIG.get()}
    values: dict[str, Any] = {}
    other: dict[str, Any] = {}
    for full_key, text in raw.items():
        namespace, _, key = str(full_key).rpartition(":")
        if namespace != NAMESPACE:
            other[str(full_key)] = _decode(text)
            continue
        values[key] = _decode(text)
    source = f"stack {pulumi.get_stack()!r} (stacks/Pulumi.{pulumi.get_stack()}.yaml)"
    return parse(RawStack(source, values, frozenset(), other))


def _decode(text: Any) -> Any:
    """Pulumi passes structured config as JSON text and scalars as plain text."""
    if not isinstance(text, str):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def to_pulumi_config(raw: RawStack) -> dict[str, str]:
    """The flat string map the Pulumi engine would hand the program for this stack file."""
    flat: dict[str, str] = {}
    for key, value in raw.values.items():
        flat[f"{NAMESPACE}:{key}"] = value if isinstance(value, str) else json.dumps(value)
    for key, value in raw.other.items():
        flat[key] = value if isinstance(value, str) else json.dumps(value)
    return flat

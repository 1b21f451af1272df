"""Typed model of everything a stack can say, and its loaders.

A stack is `stacks/Pulumi.<stack>.yaml`; every llmops key lives under the `llmops` config
namespace (`llmops:models`, `llmops:cluster`, ...). The package has one module per job:

- `values`: value types (names, quantities, cron, CIDRs, model sources);
- `models`: the pydantic models, where every key's name, default, limits and description
  are declared once;
- `translate`: a pydantic error -> a `Problem` with key path, value and fix;
- `checks`: cross-key checks, and the components' own validators run with the stack's key
  paths (`llmops.infra.config.fields` maps config keys onto component args);
- `loading`: reading a stack file or the Pulumi engine's config, ending in `parse()`.

Every problem is a `llmops.components.errors.Problem`; `parse()` raises one `ConfigError` (the
project's one `InputError`) listing them all, before any resource exists. The names below
stay importable from `llmops.infra.config`.
"""

from __future__ import annotations

from llmops.components.cloud import Cloud
from llmops.components.errors import MISSING as _MISSING
from llmops.components.errors import Problem
from llmops.infra.config.checks import (
    OBSERVABILITY_INSTANCE,
    check_semantics,
)
from llmops.infra.config.loading import (
    NAMESPACE,
    SECRET_PLACEHOLDER,
    ConfigError,
    RawStack,
    StackNotFoundError,
    available_stacks,
    load_from_pulumi,
    load_stack_file,
    parse,
    read_stack_file,
    split_namespace,
    stack_file,
    to_pulumi_config,
)
from llmops.infra.config.models import (
    TOP_LEVEL_KEYS,
    BudgetConfig,
    ClusterConfig,
    ExistingClusterConfig,
    GpuOperatorConfig,
    K3sClusterConfig,
    ModelConfig,
    ObservabilityConfig,
    PoolConfig,
    PoolSizes,
    ScheduleConfig,
    StackConfig,
)
from llmops.infra.config.values import MAX_NAME_LENGTH, Cidr, Cron, ModelSource, Name, Quantity

__all__ = [
    "MAX_NAME_LENGTH",
    "NAMESPACE",
    "OBSERVABILITY_INSTANCE",
    "SECRET_PLACEHOLDER",
    "TOP_LEVEL_KEYS",
    "_MISSING",
    "BudgetConfig",
    "Cidr",
    "Cloud",
    "ClusterConfig",
    "ConfigError",
    "Cron",
    "ExistingClusterConfig",
    "GpuOperatorConfig",
    "K3sClusterConfig",
    "ModelConfig",
    "ModelSource",
    "Name",
    "ObservabilityConfig",
    "PoolConfig",
    "PoolSizes",
    "Problem",
    "Quantity",
    "RawStack",
    "ScheduleConfig",
    "StackConfig",
    "StackNotFoundError",
    "available_stacks",
    "check_semantics",
    "load_from_pulumi",
    "load_stack_file",
    "parse",
    "read_stack_file",
    "split_namespace",
    "stack_file",
    "to_pulumi_config",
]

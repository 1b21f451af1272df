"""The configuration reference names every key the config model accepts."""

from __future__ import annotations

import re
from pathlib import Path

from llmops.infra import autoscaling_config
from llmops.infra import config as cfg
from llmops.infra.model_store_config import ModelStoreConfig
from pydantic import BaseModel

MODELS: list[type[BaseModel]] = [
    cfg.ExistingClusterConfig,
    cfg.K3sClusterConfig,
    cfg.PoolConfig,
    cfg.ScheduleConfig,
    cfg.ModelConfig,
    cfg.ObservabilityConfig,
    cfg.BudgetConfig,
    cfg.GpuOperatorConfig,
    autoscaling_config.AutoscalingConfig,
    autoscaling_config.WindowConfig,
    autoscaling_config.NodeAutoscalingConfig,
    ModelStoreConfig,
]


def documented_keys(repo_root: Path) -> set[str]:
    text = (repo_root / "docs" / "configuration.md").read_text()
    return set(re.findall(r"`([a-zA-Z][a-zA-Z0-9]*)`", text))


def test_every_config_key_is_documented(repo_root: Path) -> None:
    documented = documented_keys(repo_root)
    missing = sorted(
        f"{model.__name__}.{field.alias or name}"
        for model in MODELS
        for name, field in model.model_fields.items()
        if (field.alias or name) not in documented
    )
    assert missing == [], f"add these keys to docs/configuration.md: {missing}"
    for key in cfg.TOP_LEVEL_KEYS:
        assert f"`llmops:{key}`" in (repo_root / "docs" / "configuration.md").read_text()


def test_the_configuration_reference_is_generated_from_the_models(repo_root: Path) -> None:
    """docs/configuration.md is `python -m llmops.infra.config.reference` output; edit the models, then rerun it."""
    from llmops.infra.config import reference

    assert (repo_root / "docs" / "configuration.md").read_text() == reference.render(), (
        "docs/configuration.md is stale: run `python -m llmops.infra.config.reference`"
    )


def test_the_reference_shows_declared_defaults_and_limits() -> None:
    from llmops.infra.config import reference

    text = reference.render()
    assert "| `diskGb` | `200` | ≥ 100, ≤ 16384 |" in text
    assert "| `capacity` | `on-demand` | one of `spot`, `on-demand`, `mixed` |" in text
    assert "| `desired` | `min` | ≥ 0, ≤ 10000 | machines at creation |" in text

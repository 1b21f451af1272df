"""Start-up estimate: image pull + weight load + engine start, from the documented figures."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llmops.components.capacity import startup
from llmops.components.capacity.startup import WeightSource, estimate, model_estimate


def test_parts_add_up_for_an_8b_model() -> None:
    weights = 8.03e9 * 2  # bf16
    cold = model_estimate("meta-llama/Llama-3.1-8B-Instruct", source=WeightSource.HUB, pre_pulled=False)
    assert cold.image_pull_s == pytest.approx(startup.IMAGE_GB * 1e9 / startup.IMAGE_PULL_BPS, abs=0.1)
    assert cold.weight_load_s == pytest.approx(
        weights / startup.HUB_DOWNLOAD_BPS + weights / startup.LOCAL_LOAD_BPS, abs=0.1
    )
    assert cold.total_s == pytest.approx(cold.image_pull_s + cold.weight_load_s + startup.ENGINE_START_S)
    warm = model_estimate(
        "meta-llama/Llama-3.1-8B-Instruct", source=WeightSource.EFS_ELASTIC, pre_pulled=True
    )
    assert warm.image_pull_s == 0
    assert warm.weight_load_s == pytest.approx(weights / startup.EFS_ELASTIC_CLIENT_BPS, abs=0.1)
    assert warm.to_json()["total_s"] == round(warm.total_s, 1)


def test_unknown_model_is_named() -> None:
    with pytest.raises(Exception, match="no-such/model"):
        model_estimate("no-such/model", source=WeightSource.HUB, pre_pulled=True)


@settings(max_examples=50)
@given(st.floats(min_value=0, max_value=1e12), st.sampled_from(list(WeightSource)))
def test_the_store_and_pre_pull_never_make_a_start_slower(weights: float, source: WeightSource) -> None:
    hub = estimate(weights, source=WeightSource.HUB, pre_pulled=False)
    stored = estimate(weights, source=source, pre_pulled=True)
    if source in (WeightSource.EFS_ELASTIC, WeightSource.NFS):
        assert stored.total_s <= hub.total_s
    assert (
        estimate(weights, source=source, pre_pulled=True).total_s
        <= estimate(weights, source=source, pre_pulled=False).total_s
    )

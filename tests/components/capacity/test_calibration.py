"""Calibration rows are data with named sources; the model stays within its error targets on them."""

from __future__ import annotations

from llmops.components.capacity.calibration import compare, load_measurements, summary
from llmops.components.capacity.models import get_model


def test_every_row_names_its_source_and_date() -> None:
    rows = load_measurements()
    assert len(rows) >= 15
    assert len({row.id for row in rows}) == len(rows)
    for row in rows:
        assert len(row.source.strip()) > 20, row.id
        assert row.date.strip()[:4].isdigit(), row.id
        assert row.metric in ("output_tokens_per_s", "itl_s"), row.id
        assert row.measured > 0, row.id
        get_model(row.model)  # every row's model is in the catalog


def test_bf16_fp8_and_int4_rows_are_all_present() -> None:
    classes = {row.precision_class for row in load_measurements()}
    assert classes == {"bf16/fp16", "fp8", "int4"}


def test_predictions_stay_within_the_calibration_targets() -> None:
    result = summary(compare())
    assert result["median_abs_error"] <= 0.15, result
    assert result["max_abs_error"] <= 0.35, result

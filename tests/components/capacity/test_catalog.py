"""The shipped catalog: reproducible from the snapshots, complete for the GPUs the CLI promises."""

from __future__ import annotations

import pytest
from llmops.components.capacity.catalog import CatalogError, load_catalog, write_prices
from llmops.components.capacity.catalog_build import build

from tests.conftest import require_shared


def test_shipped_prices_equal_a_rebuild_from_the_snapshots() -> None:
    snapshots = require_shared("data/prices")
    rows, skipped = build(snapshots)
    shipped = load_catalog().prices
    assert write_prices(rows) == write_prices(shipped), (
        "components/capacity/data/prices.csv is stale; run "
        "`python -m llmops.components.capacity.catalog_build ../shared/data/prices`"
    )
    assert any("p6-b300" in line for line in skipped)


@pytest.mark.parametrize("gpu", ["L4", "A10G", "A100-80GB", "H100"])
def test_cli_gpus_have_specs_and_a_price_on_some_cloud(gpu: str) -> None:
    catalog = load_catalog()
    spec = catalog.gpu(gpu)
    assert spec.memory_gib > 10 and spec.memory_bandwidth_gbps > 100 and spec.source
    row = catalog.cheapest_gpu_hour(gpu)
    assert row.on_demand_usd_per_h is not None and row.on_demand_usd_per_h > 0
    assert row.source and row.as_of


def test_every_price_row_names_its_source_and_a_known_gpu() -> None:
    catalog = load_catalog()
    for row in catalog.prices:
        assert row.source.strip() and row.as_of.strip(), row
        assert row.gpu in catalog.gpus, row
        assert row.gpu_count >= 1


def test_all_three_clouds_are_priced() -> None:
    clouds = {row.cloud for row in load_catalog().prices}
    assert clouds == {"aws", "gcp", "azure"}


def test_gcp_rows_are_host_plus_gpu() -> None:
    # a2-highgpu-1g in us-central1: host 0.73948 + A100 GPU 2.93391 (SOURCES.md's own example).
    row = load_catalog().price("gcp", "a2-highgpu-1g", "us-central1")
    assert row.on_demand_usd_per_h == pytest.approx(0.73948 + 2.93391, abs=1e-4)


def test_gpu_aliases_are_accepted() -> None:
    catalog = load_catalog()
    assert catalog.gpu("nvidia a100 80gb").name == "A100-80GB"
    assert catalog.gpu("a100-80g").name == "A100-80GB"
    assert catalog.gpu("h100").name == "H100"


def test_unknown_names_list_what_is_known() -> None:
    catalog = load_catalog()
    with pytest.raises(CatalogError, match=r"gpu 'X100' is not in the catalog; known GPUs: .*H100"):
        catalog.gpu("X100")
    with pytest.raises(
        CatalogError, match=r"instance type 'g9.xlarge' has no price for cloud 'aws'; .*g6.xlarge"
    ):
        catalog.price("aws", "g9.xlarge")
    with pytest.raises(CatalogError, match=r"no aws price in region 'mars-1'; priced regions: .*us-east-1"):
        catalog.price("aws", "g6.xlarge", "mars-1")


def test_refreshed_rows_replace_and_extend(tmp_path) -> None:
    from dataclasses import replace

    from llmops.components.capacity.catalog import load_catalog_with

    base = load_catalog().price("aws", "g6.xlarge", "us-east-1")
    assert all(p.region != "ap-southeast-7" for p in load_catalog().prices)
    fresh = [
        replace(base, spot_usd_per_h=0.31, as_of="2026-01-02"),
        replace(base, region="ap-southeast-7", on_demand_usd_per_h=None, spot_usd_per_h=0.4),
    ]
    path = tmp_path / "aws.csv"
    path.write_text(write_prices(fresh))
    catalog = load_catalog_with(str(path))
    assert catalog.price("aws", "g6.xlarge", "us-east-1").spot_usd_per_h == 0.31
    assert catalog.price("aws", "g6.xlarge", "ap-southeast-7").spot_usd_per_h == 0.4
    assert len(catalog.prices) == len(load_catalog().prices) + 1


def test_instance_gpu() -> None:
    catalog = load_catalog()
    assert catalog.instance_gpu("aws", "p4de.24xlarge") == ("A100-80GB", 8)
    assert catalog.instance_gpu("gcp", "g2-standard-4") == ("L4", 1)
    assert catalog.instance_gpu("azure", "Standard_NC24ads_A100_v4") == ("A100-80GB", 1)

"""GCP rows of the price catalog: accelerator-optimized hosts include their GPUs, N1 hosts add attached ones."""

from __future__ import annotations

import pytest
from llmops.components.capacity.catalog import load_catalog
from llmops.components.gcp.machines import ACCELERATOR_OPTIMIZED, gpu_machine

# Figures from ../shared/data/prices (SOURCES.md's own worked examples, us-central1).
G2_STANDARD_4_HOST, L4_X1 = 0.14679, 0.56004
N1_STANDARD_8_HOST, T4_X1 = 0.38, 0.35


def test_g2_row_is_the_host_plus_its_built_in_l4() -> None:
    row = load_catalog().price("gcp", "g2-standard-4", "us-central1")
    assert (row.gpu, row.gpu_count) == ("L4", 1)
    assert row.on_demand_usd_per_h == pytest.approx(G2_STANDARD_4_HOST + L4_X1, abs=1e-5)
    assert row.spot_usd_per_h is not None and row.on_demand_usd_per_h is not None
    assert row.spot_usd_per_h < row.on_demand_usd_per_h


def test_multi_gpu_accelerator_hosts_carry_their_count() -> None:
    catalog = load_catalog()
    for machine in ("g2-standard-48", "a2-highgpu-8g", "a3-highgpu-8g"):
        row = catalog.price("gcp", machine, "us-central1")
        expected = gpu_machine(machine)
        assert (row.gpu, row.gpu_count) == (expected.gpu, expected.gpu_count)
        assert row.spot_usd_per_h is not None


def test_n1_rows_add_the_attached_gpus_to_the_host() -> None:
    catalog = load_catalog()
    one = catalog.price("gcp", "n1-standard-8+T4x1", "us-central1")
    assert one.on_demand_usd_per_h == pytest.approx(N1_STANDARD_8_HOST + T4_X1, abs=1e-5)
    two = catalog.price("gcp", "n1-standard-8+T4x2", "us-central1")
    assert (two.gpu, two.gpu_count) == ("T4", 2)
    assert two.on_demand_usd_per_h is not None and one.on_demand_usd_per_h is not None
    assert two.on_demand_usd_per_h > one.on_demand_usd_per_h
    # The bare host is no GPU machine and has no row.
    assert "n1-standard-8" not in catalog.instance_types("gcp")


def test_every_gcp_row_is_a_machine_the_pools_accept() -> None:
    rows = [r for r in load_catalog().prices if r.cloud == "gcp"]
    assert len(rows) > 500
    for row in rows:
        machine = gpu_machine(row.instance_type)
        assert (machine.gpu, machine.gpu_count) == (row.gpu, row.gpu_count)
    priced = {r.instance_type for r in rows}
    assert {m for m in ACCELERATOR_OPTIMIZED if m.startswith(("g2-", "a2-", "a3-highgpu"))} <= priced

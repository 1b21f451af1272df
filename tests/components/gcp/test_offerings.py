"""The shipped zone table equals a rebuild from the price snapshot, and agrees with the machine table."""

from __future__ import annotations

from llmops.components.gcp.machines import gpu_machine
from llmops.components.gcp.offerings import (
    _data_path,
    build_offerings,
    build_shapes,
    write_offerings,
    write_shapes,
    zones_offering,
)

from tests.conftest import require_shared


def test_shipped_offerings_equal_a_rebuild() -> None:
    snapshots = require_shared("data/prices")
    assert _data_path().read_text() == write_offerings(build_offerings(snapshots))
    assert _data_path().with_name("shapes.csv").read_text() == write_shapes(build_shapes(snapshots))


def test_every_offered_type_is_a_known_gpu_machine() -> None:
    names = {line.split(",")[0] for line in _data_path().read_text().splitlines()[1:]}
    assert {
        "g2-standard-8",
        "a2-highgpu-1g",
        "a3-highgpu-8g",
        "n1-standard-8+T4x1",
        "n1-standard-8+V100x1",
    } <= names
    for name in names:
        gpu_machine(name)  # raises for anything the pools would refuse


def test_n1_with_attached_gpus_only_where_host_and_gpu_are_both_sold() -> None:
    # us-central1-f sells n1-standard-8 and T4, but the G2 host is not there.
    assert "us-central1-f" in zones_offering("n1-standard-8+T4x1", "us-central1")
    assert "us-central1-f" not in zones_offering("g2-standard-8", "us-central1")

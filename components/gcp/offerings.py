"""Which zones offer each GPU instance type, shipped as `data/offerings.csv`. Pure Python.

A regional managed instance group spreads over the region's zones that have the machine type
(and, for N1 hosts, the attached GPU). The table comes from the same SkyPilot snapshot as the
price catalog (a zone appears there when GCP sells the machine in it); rebuild it with

    python -m llmops.components.gcp.offerings ../shared/data/prices

`data/shapes.csv` (vCPUs and memory of each GPU host, for `llmops prices refresh --cloud gcp`)
comes from the same rows. A test checks that the shipped files equal a rebuild. The product
never reads the snapshot.
"""

from __future__ import annotations

import csv
import functools
import io
import sys
from collections import defaultdict
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from llmops.components.gcp.machines import ACCELERATOR_OPTIMIZED, N1_ATTACHED_GPUS, N1_HOST, attached_name

COLUMNS = ("instance_type", "region", "zone")


def _data_path() -> Path:
    return Path(str(resources.files("llmops.components.gcp").joinpath("data", "offerings.csv")))


def _gpu_zones(snapshot_dir: Path) -> dict[tuple[str, int], set[tuple[str, str]]]:
    zones: dict[tuple[str, int], set[tuple[str, str]]] = defaultdict(set)
    with (snapshot_dir / "gcp-gpu-vms.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            zones[(row["AcceleratorName"], int(row["AcceleratorCount"]))].add(
                (row["Region"], row["AvailabilityZone"])
            )
    return zones


def build_offerings(snapshot_dir: Path) -> list[tuple[str, str, str]]:
    """(instance type, region, zone) for every zone that sells the host and its GPUs."""
    gpu_zones = _gpu_zones(snapshot_dir)
    host_zones: dict[str, set[tuple[str, str]]] = defaultdict(set)
    with (snapshot_dir / "gcp-gpu-hosts.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            host_zones[row["InstanceType"]].add((row["Region"], row["AvailabilityZone"]))
    rows: set[tuple[str, str, str]] = set()
    for machine, zones in host_zones.items():
        if machine in ACCELERATOR_OPTIMIZED:
            gpu, count, _ = ACCELERATOR_OPTIMIZED[machine]
            for region, zone in zones & gpu_zones.get((gpu, count), set()):
                rows.add((machine, region, zone))
        elif (host := N1_HOST.match(machine)) is not None:
            vcpus = int(host.group(2))
            for gpu, spec in N1_ATTACHED_GPUS.items():
                for count in spec.counts:
                    if vcpus > spec.max_vcpus[count]:
                        continue
                    for region, zone in zones & gpu_zones.get((gpu, count), set()):
                        rows.add((attached_name(machine, gpu, count), region, zone))
    return sorted(rows)


def build_shapes(snapshot_dir: Path) -> list[tuple[str, str, str]]:
    """(machine type, vCPUs, memory GiB) of each GPU host, for pricing it from per-core and per-GiB SKUs."""
    shapes: set[tuple[str, str, str]] = set()
    with (snapshot_dir / "gcp-gpu-hosts.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            vcpus, memory = float(row["vCPUs"]), float(row["MemoryGiB"])
            shapes.add((row["InstanceType"], f"{vcpus:g}", f"{memory:g}"))
    return sorted(shapes)


@functools.cache
def machine_shapes() -> dict[str, tuple[float, float]]:
    """machine type -> (vCPUs, memory GiB), from the shipped `data/shapes.csv`."""
    path = _data_path().with_name("shapes.csv")
    with path.open(newline="") as handle:
        return {
            r["machine_type"]: (float(r["vcpus"]), float(r["memory_gib"])) for r in csv.DictReader(handle)
        }


def write_shapes(rows: Sequence[tuple[str, str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("machine_type", "vcpus", "memory_gib"))
    writer.writerows(rows)
    return out.getvalue()


def write_offerings(rows: Sequence[tuple[str, str, str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    return out.getvalue()


@functools.cache
def _offerings() -> dict[tuple[str, str], tuple[str, ...]]:
    zones: dict[tuple[str, str], list[str]] = defaultdict(list)
    with _data_path().open(newline="") as handle:
        for row in csv.DictReader(handle):
            zones[(row["instance_type"], row["region"])].append(row["zone"])
    return {key: tuple(sorted(value)) for key, value in zones.items()}


def zones_offering(instance_type: str, region: str) -> tuple[str, ...]:
    """Zones of `region` that sell `instance_type` (an N1 type with its GPUs: `n1-standard-8+T4x1`)."""
    return _offerings().get((instance_type, region), ())


def known_regions() -> frozenset[str]:
    """Every region of the snapshot (a region sells GPU machines in at least one zone)."""
    return frozenset(region for _, region in _offerings())


def regions_offering(instance_type: str) -> tuple[str, ...]:
    return tuple(sorted({region for (name, region) in _offerings() if name == instance_type}))


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m llmops.components.gcp.offerings SNAPSHOT_DIR", file=sys.stderr)
        return 2
    rows = build_offerings(Path(args[0]))
    _data_path().write_text(write_offerings(rows))
    shapes = build_shapes(Path(args[0]))
    _data_path().with_name("shapes.csv").write_text(write_shapes(shapes))
    print(f"wrote {len(rows)} offerings and {len(shapes)} machine shapes to {_data_path().parent}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

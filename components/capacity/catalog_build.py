"""Build `data/prices.csv` from the SkyPilot price snapshots plus `data/prices_extra.csv`.

Run from a checkout with the snapshots beside it:

    python -m llmops.components.capacity.catalog_build ../shared/data/prices

AWS rows are kept per region: the on-demand price (the same in every zone) and the median
spot price across zones. GCP prices GPUs apart from their host VM, so a GCP row is the sum
of a host row (`gcp-gpu-hosts.csv`) and the snapshot's GPU price in the same region, both for
on-demand and for spot. G2/A2/A3 hosts come with a fixed set of GPUs (the machine type names
them; `llmops.components.gcp.machines`), so their row is host + those GPUs under the machine type's
own name. N1 hosts take attached T4/V100 GPUs, so each allowed combination gets its own row,
named `n1-standard-8+T4x1` (host + count x GPU), as the GCP pools spell it. Hand-entered host
rows in `prices_extra.csv` fill what the snapshots lack.
The product never reads the snapshots; a test checks that the shipped file equals a rebuild.
"""

from __future__ import annotations

import csv
import statistics
import sys
from collections import defaultdict
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from llmops.components.capacity.catalog import InstancePrice, parse_gpus, write_prices
from llmops.components.gcp.machines import ACCELERATOR_OPTIMIZED, N1_ATTACHED_GPUS, N1_HOST, attached_name

SNAPSHOT_SOURCE = "skypilot-catalog v9 @2c3d7ea {path}"
SNAPSHOT_AS_OF = "snapshot date unknown (late 2025)"


def _float(text: str) -> float | None:
    return float(text) if text.strip() else None


def _data_dir() -> Path:
    return Path(str(resources.files("llmops.components.capacity").joinpath("data")))


def _aws_rows(path: Path, known_gpus: set[str], skipped: set[str]) -> list[InstancePrice]:
    grouped: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            grouped[(row["InstanceType"], row["Region"])].append(row)
    out: list[InstancePrice] = []
    for (instance_type, region), rows in sorted(grouped.items()):
        gpu = rows[0]["AcceleratorName"]
        if gpu not in known_gpus:
            skipped.add(f"aws {instance_type} ({gpu}: no hardware figures in gpus.csv)")
            continue
        count = float(rows[0]["AcceleratorCount"])
        if count < 1 or not count.is_integer():
            # g6f and similar carry a slice of one GPU: not a whole `nvidia.com/gpu` to schedule.
            skipped.add(f"aws {instance_type} ({count:g} {gpu}: a fractional GPU, not schedulable whole)")
            continue
        on_demand = [p for r in rows if (p := _float(r["Price"])) is not None]
        spot = [p for r in rows if (p := _float(r["SpotPrice"])) is not None]
        out.append(
            InstancePrice(
                cloud="aws",
                region=region,
                instance_type=instance_type,
                gpu=gpu,
                gpu_count=int(count),
                on_demand_usd_per_h=statistics.mode(on_demand) if on_demand else None,
                spot_usd_per_h=statistics.median(spot) if spot else None,
                source=SNAPSHOT_SOURCE.format(path="aws/vms.csv")
                + f"; spot is the median over {len(spot)} zone(s)",
                as_of=SNAPSHOT_AS_OF,
            )
        )
    return out


def _gcp_gpu_prices(path: Path) -> dict[tuple[str, int, str], tuple[float | None, float | None]]:
    """(gpu, count, region) -> (on-demand, median spot) for the GPU part alone."""
    grouped: dict[tuple[str, int, str], list[dict[str, str]]] = defaultdict(list)
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            grouped[(row["AcceleratorName"], int(row["AcceleratorCount"]), row["Region"])].append(row)
    prices: dict[tuple[str, int, str], tuple[float | None, float | None]] = {}
    for key, rows in grouped.items():
        on_demand = [p for r in rows if (p := _float(r["Price"])) is not None]
        spot = [p for r in rows if (p := _float(r["SpotPrice"])) is not None]
        prices[key] = (
            statistics.mode(on_demand) if on_demand else None,
            statistics.median(spot) if spot else None,
        )
    return prices


def _gcp_rows(
    hosts_path: Path,
    gpu_prices: dict[tuple[str, int, str], tuple[float | None, float | None]],
    known_gpus: set[str],
) -> list[InstancePrice]:
    """Host + GPU rows for every GCP GPU machine the pools know, per region (see the module doc)."""
    grouped: dict[tuple[str, str], list[dict[str, str]]] = defaultdict(list)
    with hosts_path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            grouped[(row["InstanceType"], row["Region"])].append(row)
    source = SNAPSHOT_SOURCE.format(path="gcp/vms.csv")
    out: list[InstancePrice] = []
    for (machine, region), rows in sorted(grouped.items()):
        on_demand = [p for r in rows if (p := _float(r["Price"])) is not None]
        spot = [p for r in rows if (p := _float(r["SpotPrice"])) is not None]
        host_od = statistics.mode(on_demand) if on_demand else None
        host_spot = statistics.median(spot) if spot else None
        combos: list[tuple[str, str, int, str]] = []  # (row name, gpu, count, how it is composed)
        if machine in ACCELERATOR_OPTIMIZED:
            gpu, count, _ = ACCELERATOR_OPTIMIZED[machine]
            combos.append((machine, gpu, count, "host with its built-in GPUs"))
        elif (host := N1_HOST.match(machine)) is not None:
            for gpu, spec in N1_ATTACHED_GPUS.items():
                for count in spec.counts:
                    if int(host.group(2)) <= spec.max_vcpus[count]:
                        combos.append(
                            (attached_name(machine, gpu, count), gpu, count, "N1 host + attached GPUs")
                        )
        for name, gpu, count, how in combos:
            if gpu not in known_gpus or (gpu, count, region) not in gpu_prices:
                continue
            gpu_od, gpu_spot = gpu_prices[(gpu, count, region)]
            out.append(
                InstancePrice(
                    cloud="gcp",
                    region=region,
                    instance_type=name,
                    gpu=gpu,
                    gpu_count=count,
                    on_demand_usd_per_h=None if host_od is None or gpu_od is None else host_od + gpu_od,
                    spot_usd_per_h=None if host_spot is None or gpu_spot is None else host_spot + gpu_spot,
                    source=f"{source}: {how} ({machine} + {count} x {gpu}); spot is the median over "
                    f"{len(spot)} zone(s)",
                    as_of=SNAPSHOT_AS_OF,
                )
            )
    return out


def build(snapshot_dir: Path) -> tuple[list[InstancePrice], list[str]]:
    """All price rows, and a list of what was skipped and why."""
    data = _data_dir()
    known_gpus = set(parse_gpus((data / "gpus.csv").read_text()))
    skipped: set[str] = set()
    rows = _aws_rows(snapshot_dir / "aws-gpu-vms.csv", known_gpus, skipped)
    gcp_gpu = _gcp_gpu_prices(snapshot_dir / "gcp-gpu-vms.csv")
    rows += _gcp_rows(snapshot_dir / "gcp-gpu-hosts.csv", gcp_gpu, known_gpus)
    from_snapshot = {(r.cloud, r.region, r.instance_type) for r in rows}
    with (data / "prices_extra.csv").open(newline="") as handle:
        for extra in csv.DictReader(handle):
            if (extra["cloud"], extra["region"], extra["instance_type"]) in from_snapshot:
                # Extras fill gaps in the snapshots; a snapshot row, with its spot price, wins.
                continue
            count = int(extra["gpu_count"])
            on_demand = _float(extra["on_demand_usd_per_h"])
            spot = _float(extra["spot_usd_per_h"])
            source = extra["source"]
            if extra["kind"] == "host":
                gpu_part = gcp_gpu.get((extra["gpu"], count, extra["region"]))
                if gpu_part is None:
                    skipped.add(
                        f"gcp {extra['instance_type']} (no {extra['gpu']} x{count} GPU price in the snapshot)"
                    )
                    continue
                gpu_od, gpu_spot = gpu_part
                on_demand = None if on_demand is None or gpu_od is None else on_demand + gpu_od
                spot = None if spot is None or gpu_spot is None else spot + gpu_spot
                source = f"{source} ({SNAPSHOT_SOURCE.format(path='gcp/vms.csv')})"
            rows.append(
                InstancePrice(
                    cloud=extra["cloud"],
                    region=extra["region"],
                    instance_type=extra["instance_type"],
                    gpu=extra["gpu"],
                    gpu_count=count,
                    on_demand_usd_per_h=on_demand,
                    spot_usd_per_h=spot,
                    source=source,
                    as_of=extra["as_of"],
                )
            )
    rows.sort(key=lambda r: (r.cloud, r.instance_type, r.region))
    return rows, sorted(skipped)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m llmops.components.capacity.catalog_build SNAPSHOT_DIR", file=sys.stderr)
        return 2
    rows, skipped = build(Path(args[0]))
    (_data_dir() / "prices.csv").write_text(write_prices(rows))
    print(f"wrote {len(rows)} price rows to {_data_dir() / 'prices.csv'}")
    for line in skipped:
        print(f"skipped: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

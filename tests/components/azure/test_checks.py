"""Bad Azure input in a stack file: one clear `<key path>: <value> <problem>. Fix: <fix>` per problem,
before any resource; and the pure helpers behind the checks."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from llmops.components.azure.checks import cron_times
from llmops.components.azure.machines import family, gpu_machines, gpu_of
from llmops.components.azure.network_args import (
    AzureNetworkArgs,
    server_addresses,
    subnet_cidr,
    validate_network_args,
)
from llmops.components.capacity.catalog import load_catalog
from llmops.infra.config import ConfigError, RawStack, parse, read_stack_file

REPO = Path(__file__).resolve().parents[3]


def problems_with(edit: Any) -> list[str]:
    raw = read_stack_file(REPO / "stacks", "azure-dev")
    values = copy.deepcopy(raw.values)
    edit(values)
    with pytest.raises(ConfigError) as caught:
        parse(RawStack(raw.source, values, raw.secret_keys, raw.other))
    return [str(p) for p in caught.value.problems]


def test_azure_dev_parses() -> None:
    raw = read_stack_file(REPO / "stacks", "azure-dev")
    config = parse(raw)
    assert [p.cloud.value for p in config.pools] == ["azure", "azure"]


def test_a_size_outside_the_gpu_families() -> None:
    def edit(values: dict[str, Any]) -> None:
        values["pools"][0]["instanceTypes"] = ["Standard_D4s_v5"]

    problems = problems_with(edit)
    assert any(
        p.startswith("pools[0].instanceTypes[0]: 'Standard_D4s_v5' is not in a known GPU instance family")
        and "Standard_NCas_T4_v3" in p
        and "Fix:" in p
        for p in problems
    ), problems


def test_spot_with_max_zero() -> None:
    def edit(values: dict[str, Any]) -> None:
        values["pools"][0].update({"max": 0, "min": 0, "desired": 0, "schedules": []})

    assert any(p.startswith("pools[0].max: 0 makes a spot pool") for p in problems_with(edit))


def test_mixed_capacity_and_two_sizes_are_refused() -> None:
    def edit(values: dict[str, Any]) -> None:
        values["pools"][0]["capacity"] = "mixed"
        values["pools"][0]["instanceTypes"] = ["Standard_NC4as_T4_v3", "Standard_NC8as_T4_v3"]

    problems = problems_with(edit)
    assert any(p.startswith("pools[0].capacity: 'mixed' is not supported on Azure") for p in problems), (
        problems
    )
    assert any(p.startswith("pools[0].instanceTypes: ") and "one VM size" in p for p in problems), problems


def test_schedule_cron_and_time_zone_azure_cannot_express() -> None:
    def edit(values: dict[str, Any]) -> None:
        values["pools"][0]["schedules"][0].update({"cron": "0 8 1 * *", "timezone": "Pacific/Chatham"})

    problems = problems_with(edit)
    assert any(p.startswith("pools[0].schedules[0].cron: '0 8 1 * *'") for p in problems), problems
    assert any(p.startswith("pools[0].schedules[0].timezone: 'Pacific/Chatham'") for p in problems), problems


def test_three_servers_are_not_yet_on_azure() -> None:
    def edit(values: dict[str, Any]) -> None:
        values["cluster"]["servers"] = 3

    assert any(p.startswith("cluster.servers: 3 is more than one") for p in problems_with(edit))


def test_families_and_sizes() -> None:
    assert family("Standard_NC24ads_A100_v4") == "Standard_NCads_A100_v4"
    assert family("Standard_ND96isr_H100_v5") == "Standard_NDisr_H100_v5"
    assert gpu_of("Standard_NC4as_T4_v3") == "T4"
    assert gpu_of("Standard_NV36ads_A10_v5") == "A10"
    assert gpu_of("Standard_ND96asr_v4") is None  # priced, but not a supported family
    assert gpu_of("g6.xlarge") is None
    catalog = load_catalog()
    for size, machine in gpu_machines().items():
        assert catalog.instance_gpu("azure", size) == (machine.gpu, machine.gpu_count)
    # Every supported family has at least one priced size.
    assert {family(size) for size in gpu_machines()} == {
        "Standard_NCas_T4_v3",
        "Standard_NVads_A10_v5",
        "Standard_NCads_A100_v4",
        "Standard_NCads_H100_v5",
        "Standard_NDisr_H100_v5",
    }


@pytest.mark.parametrize(
    ("cron", "expected"),
    [
        ("0 8 * * 1-5", ([8], [0], ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"])),
        ("30 20 * * MON-FRI", ([20], [30], ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"])),
        ("0 6,18 * * 0,6", ([6, 18], [0], ["Sunday", "Saturday"])),
        ("0 0 * * 7", ([0], [0], ["Sunday"])),
        ("0 8 1 * *", None),
        ("*/5 8 * * *", None),
        ("0 25 * * *", None),
        ("0 8 * * 5-1", None),
    ],
)
def test_cron_to_weekly_recurrence(cron: str, expected: Any) -> None:
    assert cron_times(cron) == expected


def test_addresses_are_computed_from_the_ranges() -> None:
    args = AzureNetworkArgs(api_allowed_cidrs=["203.0.113.0/24"], vnet_cidr="10.50.0.0/16", server_count=1)
    assert subnet_cidr(args) == "10.50.0.0/20"
    assert server_addresses(args) == ["10.50.0.10"]


def test_bad_network_args() -> None:
    args = AzureNetworkArgs(api_allowed_cidrs=["0.0.0.0/0", "10.0.0.1/8"], vnet_cidr="10.42.0.0/16")
    problems = [
        str(p)
        for p in validate_network_args(args, path="cluster", keys={"api_allowed_cidrs": "allowedCidrs"})
    ]
    assert any(p.startswith("cluster.vnet_cidr: '10.42.0.0/16' overlaps K3s's pod") for p in problems), (
        problems
    )
    # The shared guard (components/netguard.py): the ranges as a whole, by address arithmetic.
    assert any(
        p.startswith(
            'cluster.allowedCidrs: ["0.0.0.0/0", "10.0.0.1/8"] opens the Kubernetes API to the whole'
        )
        for p in problems
    )
    assert any(p.startswith("cluster.allowedCidrs[1]: '10.0.0.1/8' has host bits set") for p in problems)


def test_a_location_the_catalog_does_not_price_is_refused_with_the_refresh_fix() -> None:
    from llmops.components.azure.kit import AzureKit

    azure = AzureKit()
    assert azure.validate_provider({"azure-native:location": "eastus"}, {}, keys={}) == []
    (problem,) = azure.validate_provider({"azure-native:location": "mars"}, {}, keys={})
    text = str(problem)
    assert text.startswith("azure-native:location: 'mars' is not a location the Azure price catalog covers")
    assert "llmops prices refresh --cloud azure --region mars" in text


def test_too_many_labels_for_the_scale_sets_tags() -> None:
    def edit(values: dict[str, Any]) -> None:
        values["pools"][0]["labels"] = {f"team.example.com/l{i}": "x" for i in range(40)}

    assert problems_with(edit) == [
        "pools[0].labels: 40 labels are too many for one scale set: each becomes a node-template "
        "tag, and Azure allows 50 tags a resource. Fix: keep at most 35 labels"
    ]

"""The Azure model store on azure-dev: a premium NFS share with no public access, reached through a
private endpoint and its DNS zone, mounted encrypted in transit by the pinned Azure Files driver;
its cost in the plan; and the config's refusals."""

from __future__ import annotations

import io
from pathlib import Path

import kubernetes_validate
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llmops.components.addons.charts import AZUREFILE_CSI_DRIVER, load_values
from llmops.components.azure.model_store import (
    FILE_DNS_ZONE,
    PREMIUM_MIN_GIB,
    PREMIUM_USD_PER_GIB_MONTH,
    AzureFilesModelStoreArgs,
    default_account_name,
    monthly_cost,
    store_problems,
    throughput_mibps,
)
from llmops.infra.config import read_stack_file
from llmops.infra.plan import Plan, PlannedResource, run_plan
from rich.console import Console

from tests.components.observability.test_helm_values import chart_defaults, walk

# Free-form maps whose chart default is empty.
EXCEPTIONS = {"linux.nodeSelector.llmops.io/cloud": "node label; the chart's default is an empty map"}


@pytest.fixture(scope="module")
def plan(repo_root: Path) -> Plan:
    return run_plan(read_stack_file(repo_root / "stacks", "azure-dev"), "azure-dev")


def named(plan: Plan, name: str) -> PlannedResource:
    (found,) = [r for r in plan.resources if r.name == name]
    return found


def test_cost_is_the_provisioned_share_the_endpoint_and_its_traffic() -> None:
    cost = monthly_cost(100, read_gb_per_month=20.0, written_gb_per_month=5.0)
    assert cost["provisioned_gib"] == 100
    assert cost["storage_usd"] == round(100 * PREMIUM_USD_PER_GIB_MONTH, 2)
    assert cost["private_endpoint_usd"] == 7.30  # 730 hours at $0.01
    assert cost["transfer_usd"] == 0.25  # 25 GB through the endpoint at $0.01
    assert cost["monthly_usd"] == round(cost["storage_usd"] + 7.30 + 0.25, 2)
    # Below the premium minimum the share is still 100 GiB, and billed as such.
    assert monthly_cost(10, 0, 0) == monthly_cost(PREMIUM_MIN_GIB, 0, 0)


@settings(max_examples=50)
@given(st.integers(1, 100_000), st.integers(1, 100_000), st.floats(0, 1e5), st.floats(0, 1e5))
def test_a_bigger_share_or_more_traffic_never_costs_less(
    small: int, big: int, read: float, more: float
) -> None:
    low, high = sorted((small, big))
    assert monthly_cost(low, read, 0)["monthly_usd"] <= monthly_cost(high, read, 0)["monthly_usd"]
    assert monthly_cost(low, read, 0)["monthly_usd"] <= monthly_cost(low, read + more, 0)["monthly_usd"]
    assert throughput_mibps(low) <= throughput_mibps(high)


def test_throughput_of_the_minimum_share() -> None:
    assert throughput_mibps(100) == 110
    assert throughput_mibps(1024) == 100 + 41 + 62


def test_account_has_no_public_access_and_keeps_secure_transfer(plan: Plan) -> None:
    account = named(plan, "model-store-account").inputs
    assert account["kind"] == "FileStorage"
    assert account["sku"] == {"name": "Premium_LRS"}
    assert account["publicNetworkAccess"] == "Disabled"
    assert account["networkRuleSet"] == {"defaultAction": "Deny", "bypass": "None"}
    assert account["enableHttpsTrafficOnly"] is True
    assert account["minimumTlsVersion"] == "TLS1_2"
    assert account["allowSharedKeyAccess"] is False
    assert account["accountName"] == default_account_name("llmops", "azure-dev", "model-store")
    assert 3 <= len(account["accountName"]) <= 24 and account["accountName"].isalnum()
    share = named(plan, "model-store-share").inputs
    assert share["accountName"] == account["accountName"]  # the account's own name, not an auto-name
    assert share["enabledProtocols"] == "NFS"
    assert share["shareQuota"] == 100  # azure-dev: sizeGi 100, the premium minimum


def test_the_share_is_reached_through_a_private_endpoint_in_the_nodes_subnet(plan: Plan) -> None:
    endpoint = named(plan, "model-store-endpoint").inputs
    assert endpoint["subnet"]["id"] == "azure-dev-nodes-id"
    (connection,) = endpoint["privateLinkServiceConnections"]
    assert connection["groupIds"] == ["file"]
    assert connection["privateLinkServiceId"] == "model-store-account-id"
    zone = named(plan, "model-store-dns").inputs
    assert zone["privateZoneName"] == FILE_DNS_ZONE
    link = named(plan, "model-store-dns-link").inputs
    assert link["virtualNetwork"] == {"id": "azure-dev-vnet-id"}
    assert link["registrationEnabled"] is False
    records = named(plan, "model-store-dns-records").inputs
    assert records["privateDnsZoneConfigs"] == [{"name": "file", "privateDnsZoneId": "model-store-dns-id"}]
    # The cluster's NSG gains nothing for it: the endpoint is inside the subnet.
    (nsg,) = plan.of_type("azure-native:network:NetworkSecurityGroup")
    assert not [r for r in nsg.inputs["securityRules"] if "2049" in str(r.get("destinationPortRange"))]


def test_volume_and_claim_are_schema_valid_and_mount_encrypted_in_transit(plan: Plan) -> None:
    volume = named(plan, "model-store-volume").inputs
    claim = named(plan, "model-store-claim").inputs
    for resource in (volume, claim):
        kubernetes_validate.validate(resource, "1.33.0", strict=True)
    csi = volume["spec"]["csi"]
    account = named(plan, "model-store-account").inputs["accountName"]
    assert csi["driver"] == "file.csi.azure.com"
    assert csi["volumeHandle"] == f"azure-dev-rg-plan#{account}#models"
    assert csi["volumeAttributes"] == {
        "storageAccount": account,
        "shareName": "models",
        "protocol": "nfs",
        "encryptInTransit": "true",
        "mountPermissions": "0777",
    }
    assert volume["spec"]["accessModes"] == claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["spec"]["volumeName"] == volume["metadata"]["name"]
    assert claim["metadata"]["namespace"] == "llmops"
    # The replicas of the model mount that claim read-only.
    (deployment,) = [r for r in plan.of_type("kubernetes:apps/v1:Deployment") if r.name.startswith("qwen")]
    volumes = deployment.inputs["spec"]["template"]["spec"]["volumes"]
    (store,) = [v for v in volumes if v["name"] == "model-store"]
    assert store["persistentVolumeClaim"] == {"claimName": "model-store-models", "readOnly": True}


def test_driver_values_exist_in_the_pinned_chart(plan: Plan) -> None:
    release = named(plan, "model-store-azurefile-csi").inputs
    assert (release["chart"], release["version"]) == ("azurefile-csi-driver", "1.35.7")
    problems, used = walk(release["values"], chart_defaults(AZUREFILE_CSI_DRIVER), EXCEPTIONS)
    assert not problems, "\n".join(problems)
    assert used == set(EXCEPTIONS)
    assert release["values"]["node"]["azurefileProxy"]["installAznfsMount"] is True  # TLS needs aznfs
    assert load_values(AZUREFILE_CSI_DRIVER)["windows"] == {"enabled": False}


def test_plan_cost_table_shows_the_store_and_counts_it(plan: Plan) -> None:
    from llmops.infra import costing
    from llmops.infra.artifacts import render_estimate

    estimate = costing.estimate(plan.config, "eastus")
    cost = estimate.cost
    assert cost["model_store"]["kind"] == "azurefiles"
    assert cost["model_store"]["provisioned_gib"] == 100
    assert cost["model_store_usd"] == cost["model_store"]["monthly_usd"] > 16
    pools = sum(line["monthly_usd"] for line in cost["per_pool"].values())
    assert cost["monthly_usd"] == round(pools + cost["model_store_usd"], 2)
    out = io.StringIO()
    render_estimate(estimate, Console(file=out, width=200))
    text = out.getvalue()
    assert "model store" in text and "azurefiles 100 GiB" in text
    assert f"{cost['model_store_usd']:,.2f}" in text


def test_bad_store_arguments_name_the_field_and_the_fix() -> None:
    args = AzureFilesModelStoreArgs(
        network=None,  # type: ignore[arg-type]
        provider=None,  # type: ignore[arg-type]
        namespace="llmops",
        size_gib=0,
        account_name="Models_1",
    )
    assert store_problems(args) == [
        "size_gib: 0 must be >= 1. Fix: give the space the models need",
        "account_name: 'Models_1' is not 3-24 lower-case letters and digits. Fix: use a name such as "
        "'llmopsmodels01'",
    ]


AZURE_CLUSTER = (
    "  azure-native:location: eastus\n"
    "  llmops:cluster: {kind: k3s, cloud: azure, allowedCidrs: [203.0.113.0/24]}\n"
    "  llmops:pools:\n"
    "    - {name: t4, cloud: azure, gpuType: T4, instanceTypes: [Standard_NC4as_T4_v3], capacity: on-demand, min: 0, max: 1}\n"
)
AWS_CLUSTER = (
    "  aws:region: us-east-1\n"
    "  llmops:cluster: {kind: k3s, allowedCidrs: [203.0.113.0/24]}\n"
    "  llmops:pools:\n"
    "    - {name: l4, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], capacity: on-demand, min: 0, max: 1}\n"
)
STORE_MODEL = "  llmops:models:\n    - {name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pool: %s}\n"


def problems_of(body: str) -> list[str]:
    from llmops.infra.config import ConfigError

    from tests.infra.test_config import parse_text

    with pytest.raises(ConfigError) as caught:
        parse_text("config:\n" + body)
    return [str(p) for p in caught.value.problems]


def test_the_azure_store_is_the_default_on_an_azure_cluster() -> None:
    from llmops.infra.model_store_config import StoreKind, store_kind

    from tests.infra.test_config import parse_text

    assert store_kind(parse_text("config:\n" + AZURE_CLUSTER + STORE_MODEL % "t4")) is StoreKind.AZUREFILES


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            AWS_CLUSTER + STORE_MODEL % "l4" + "  llmops:modelStore: {kind: azurefiles}\n",
            [
                "modelStore.kind: 'azurefiles' needs a K3s cluster this stack builds on a cloud whose store is "
                "azurefiles (cluster.kind k3s). Fix: use kind nfs (server, path), kind pvc (claim) or kind none"
            ],
        ),
        (
            AZURE_CLUSTER + STORE_MODEL % "t4" + "  llmops:modelStore: {throughputMode: provisioned}\n",
            [
                "modelStore.throughputMode: 'provisioned' applies to kind efs only; this store is "
                "'azurefiles'. Fix: remove throughputMode and provisionedMibps"
            ],
        ),
    ],
    ids=["azurefiles-on-aws", "efs-throughput-on-azure"],
)
def test_bad_azure_store_input_names_the_key_path(body: str, expected: list[str]) -> None:
    assert problems_of(body) == expected

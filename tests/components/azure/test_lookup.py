"""`llmops prices refresh --cloud azure` against a local fake of the Retail Prices API (JSON pages
with `NextPageLink`)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from llmops.components.azure.lookup import linux_prices, refresh_prices, retail_filter
from llmops.components.capacity.catalog import parse_prices
from llmops.infra.cli import app
from typer.testing import CliRunner


def item(**overrides: Any) -> dict[str, Any]:
    base = {
        "currencyCode": "USD",
        "retailPrice": 0.526,
        "unitPrice": 0.526,
        "armRegionName": "eastus",
        "location": "US East",
        "armSkuName": "Standard_NC4as_T4_v3",
        "productName": "Virtual Machines NCasT4_v3 Series",
        "skuName": "NC4as T4 v3",
        "meterName": "NC4as T4 v3",
        "serviceName": "Virtual Machines",
        "type": "Consumption",
        "isPrimaryMeterRegion": True,
        "unitOfMeasure": "1 Hour",
    }
    return {**base, **overrides}


PAGE_1 = [
    item(),
    item(productName="Virtual Machines NCasT4_v3 Series Windows", retailPrice=0.71),
    item(skuName="NC4as T4 v3 Low Priority", meterName="NC4as T4 v3 Low Priority", retailPrice=0.105),
    item(type="Reservation", retailPrice=2700.0, unitOfMeasure="1 Hour"),
]
PAGE_2 = [
    item(skuName="NC4as T4 v3 Spot", meterName="NC4as T4 v3 Spot", retailPrice=0.0789),
    item(isPrimaryMeterRegion=False, retailPrice=9.99),
    item(currencyCode="EUR", retailPrice=0.48),
    item(
        armSkuName="Standard_NC24ads_A100_v4",
        productName="Virtual Machines NCadsA100v4 Series",
        skuName="NC24ads A100 v4",
        meterName="NC24ads A100 v4",
        retailPrice=3.673,
    ),
]


@pytest.fixture
def retail_api() -> Iterator[dict[str, Any]]:
    state: dict[str, Any] = {"requests": []}

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            parsed = urllib.parse.urlparse(self.path)
            query = dict(urllib.parse.parse_qsl(parsed.query))
            state["requests"].append(query)
            skip = int(query.get("$skip", "0"))
            if skip == 0:
                body = {
                    "Items": PAGE_1,
                    "NextPageLink": f"{state['url']}?{urllib.parse.urlencode({**query, '$skip': 4})}",
                }
            else:
                body = {"Items": PAGE_2, "NextPageLink": None}
            data = json.dumps({"BillingCurrency": "USD", "Count": len(body["Items"]), **body}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state["url"] = f"http://127.0.0.1:{server.server_address[1]}/api/retail/prices"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def test_linux_pay_as_you_go_and_spot_only() -> None:
    assert linux_prices(PAGE_1 + PAGE_2) == {
        "Standard_NC4as_T4_v3": (0.526, 0.0789),
        "Standard_NC24ads_A100_v4": (3.673, None),
    }


def test_the_filter_names_region_sizes_and_pay_as_you_go() -> None:
    text = retail_filter("westeurope", ["Standard_NC4as_T4_v3", "Standard_NC8as_T4_v3"])
    assert "armRegionName eq 'westeurope'" in text
    assert "priceType eq 'Consumption'" in text
    assert "(armSkuName eq 'Standard_NC4as_T4_v3' or armSkuName eq 'Standard_NC8as_T4_v3')" in text


def test_refresh_follows_every_page(retail_api: dict[str, Any]) -> None:
    rows = refresh_prices(
        ["eastus"],
        ["Standard_NC4as_T4_v3", "Standard_NC24ads_A100_v4"],
        base_url=retail_api["url"],
        today=dt.date(2026, 12, 1),
    )
    assert len(retail_api["requests"]) == 2  # the second page came from NextPageLink
    assert "armRegionName eq 'eastus'" in retail_api["requests"][0]["$filter"]
    by_size = {row.instance_type: row for row in rows}
    t4 = by_size["Standard_NC4as_T4_v3"]
    assert (t4.on_demand_usd_per_h, t4.spot_usd_per_h) == (0.526, 0.0789)
    assert (t4.gpu, t4.gpu_count, t4.region, t4.as_of) == ("T4", 1, "eastus", "2026-12-01")
    assert "prices.azure.com" in t4.source
    assert by_size["Standard_NC24ads_A100_v4"].spot_usd_per_h is None


def test_an_unknown_size_is_refused() -> None:
    with pytest.raises(ValueError, match="Standard_D2s_v5"):
        refresh_prices(["eastus"], ["Standard_D2s_v5"], fetch=lambda url: {})


def test_cli_refresh_writes_catalog_rows(
    retail_api: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LLMOPS_AZURE_PRICES_URL", retail_api["url"])
    output = tmp_path / "azure.csv"
    result = CliRunner().invoke(
        app,
        [
            "prices",
            "refresh",
            "--cloud",
            "azure",
            "--region",
            "eastus",
            "--instance-type",
            "Standard_NC4as_T4_v3",
            "--output",
            str(output),
        ],
    )
    assert result.exit_code == 0, result.output
    (row,) = parse_prices(output.read_text())
    assert (row.cloud, row.instance_type, row.spot_usd_per_h) == ("azure", "Standard_NC4as_T4_v3", 0.0789)
    assert "wrote 1 rows" in result.output

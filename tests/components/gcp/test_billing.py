"""`llmops prices refresh --cloud gcp` against a local fake of the Cloud Billing Catalog API.

A real HTTP server on 127.0.0.1 serves the `services/{id}/skus` JSON in pages (`nextPageToken`);
the command pages through it, sums host cores, RAM and GPUs per machine, and writes catalog rows.
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from llmops.components.capacity.catalog import parse_prices
from llmops.components.gcp.billing import COMPUTE_ENGINE_SERVICE, BillingApiError, list_skus, price_rows
from llmops.infra.cli import app
from typer.testing import CliRunner

API_KEY = "test-api-key"


def _sku(description: str, usage: str, price: float, regions: list[str], unit: str = "h") -> dict[str, Any]:
    units, nanos = int(price), round((price - int(price)) * 1e9)
    return {
        "name": f"services/{COMPUTE_ENGINE_SERVICE}/skus/{abs(hash(description + usage)) % 10**8:08d}",
        "description": description,
        "category": {"serviceDisplayName": "Compute Engine", "resourceFamily": "Compute", "usageType": usage},
        "serviceRegions": regions,
        "pricingInfo": [
            {
                "pricingExpression": {
                    "usageUnit": unit,
                    "tieredRates": [
                        {
                            "startUsageAmount": 0,
                            "unitPrice": {"currencyCode": "USD", "units": str(units), "nanos": nanos},
                        }
                    ],
                }
            }
        ],
    }


US = ["us-central1"]
SKUS = [
    _sku("G2 Instance Core running in Americas", "OnDemand", 0.024988, US),
    _sku("G2 Instance Ram running in Americas", "OnDemand", 0.002927, US, "GiBy.h"),
    _sku("Nvidia L4 GPU running in Americas", "OnDemand", 0.560040, US),
    _sku("Spot Preemptible G2 Instance Core running in Americas", "Preemptible", 0.009996, US),
    _sku("Spot Preemptible G2 Instance Ram running in Americas", "Preemptible", 0.001171, US, "GiBy.h"),
    _sku("Spot Preemptible Nvidia L4 GPU running in Americas", "Preemptible", 0.224, US),
    _sku("Commitment v1: G2 Cpu in Americas for 1 Year", "Commit1Yr", 0.01, US),
    _sku("N1 Predefined Instance Core running in Americas", "OnDemand", 0.031611, US),
    _sku("N1 Predefined Instance Ram running in Americas", "OnDemand", 0.004237, US, "GiBy.h"),
    _sku("Nvidia Tesla T4 GPU running in Americas", "OnDemand", 0.35, US),
    # No spot T4 SKU in this fake: the spot price must be reported missing, not zero.
]


class _Catalog(BaseHTTPRequestHandler):
    pages: list[list[dict[str, Any]]] = []
    seen: list[dict[str, list[str]]] = []

    def log_message(self, format: str, *args: Any) -> None:
        del format, args

    def do_GET(self) -> None:
        url = urllib.parse.urlparse(self.path)
        query = urllib.parse.parse_qs(url.query)
        self.seen.append(query)
        if url.path != f"/v1/services/{COMPUTE_ENGINE_SERVICE}/skus" or query.get("key") != [API_KEY]:
            self.send_response(403)
            self.end_headers()
            return
        index = int(query.get("pageToken", ["0"])[0])
        body: dict[str, Any] = {"skus": self.pages[index]}
        if index + 1 < len(self.pages):
            body["nextPageToken"] = str(index + 1)
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def billing_api() -> Iterator[str]:
    _Catalog.pages = [SKUS[:4], SKUS[4:7], SKUS[7:]]
    _Catalog.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Catalog)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_pages_are_followed_to_the_end(billing_api: str) -> None:
    skus = list_skus(API_KEY, base_url=billing_api)
    assert len(skus) == len(SKUS)
    assert [q.get("pageToken") for q in _Catalog.seen] == [None, ["1"], ["2"]]


def test_a_rejected_key_is_a_clear_error(billing_api: str) -> None:
    with pytest.raises(BillingApiError, match="HTTP 403"):
        list_skus("wrong", base_url=billing_api)


def test_machine_price_is_cores_plus_ram_plus_gpus(billing_api: str) -> None:
    result = price_rows(
        list_skus(API_KEY, base_url=billing_api), ["us-central1"], ["g2-standard-8", "n1-standard-8+T4x1"]
    )
    rows = {r.instance_type: r for r in result.rows}
    g2 = rows["g2-standard-8"]
    # 8 vCPU, 32 GiB, one L4 (the shipped shapes table).
    assert g2.on_demand_usd_per_h == pytest.approx(8 * 0.024988 + 32 * 0.002927 + 0.56004, abs=1e-5)
    assert g2.spot_usd_per_h == pytest.approx(8 * 0.009996 + 32 * 0.001171 + 0.224, abs=1e-5)
    n1 = rows["n1-standard-8+T4x1"]
    assert n1.on_demand_usd_per_h == pytest.approx(8 * 0.031611 + 30 * 0.004237 + 0.35, abs=1e-5)
    assert n1.spot_usd_per_h is None
    assert any(m.startswith("n1-standard-8+T4x1 in us-central1: no spot") for m in result.missing)


def test_cli_writes_catalog_rows(billing_api: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", API_KEY)
    monkeypatch.setenv("LLMOPS_GCP_BILLING_URL", billing_api)
    out = tmp_path / "gcp.csv"
    result = CliRunner().invoke(
        app,
        [
            "prices",
            "refresh",
            "--cloud",
            "gcp",
            "--region",
            "us-central1",
            "--instance-type",
            "g2-standard-8",
            "--output",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    (row,) = parse_prices(out.read_text())
    assert (row.cloud, row.instance_type, row.gpu, row.gpu_count) == ("gcp", "g2-standard-8", "L4", 1)
    assert row.spot_usd_per_h is not None
    assert "wrote 1 rows" in result.output


def test_cli_without_a_key_or_with_a_bad_type(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    result = CliRunner().invoke(
        app, ["prices", "refresh", "--cloud", "gcp", "--output", str(tmp_path / "x.csv")]
    )
    assert result.exit_code == 2 and "export GOOGLE_API_KEY" in result.output
    monkeypatch.setenv("GOOGLE_API_KEY", API_KEY)
    result = CliRunner().invoke(
        app, ["prices", "refresh", "--cloud", "gcp", "--instance-type", "n2-standard-8"]
    )
    assert result.exit_code == 2 and "'n2-standard-8' is not a GPU machine type" in result.output

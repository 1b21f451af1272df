"""AWS look-ups against moto (no network), and the spot aggregation against a stubbed client."""

from __future__ import annotations

import datetime as dt

import boto3
import pytest
from botocore.stub import Stubber
from llmops.components.aws.lookup import (
    DLAMI_PARAMETER,
    credentials_available,
    dlami_ami_id,
    instance_offerings,
    preflight,
    refresh_prices,
    spot_prices,
)


@pytest.fixture
def aws(fake_aws: None) -> boto3.session.Session:
    return boto3.session.Session()


def test_offerings_per_zone(aws: boto3.session.Session) -> None:
    offered = instance_offerings(aws.client("ec2", region_name="us-east-1"), ["g6.xlarge", "p5.4xlarge"])
    assert set(offered) == {"g6.xlarge", "p5.4xlarge"}
    assert all(zone.startswith("us-east-1") for zone in offered["g6.xlarge"])


def test_spot_prices_from_moto(aws: boto3.session.Session) -> None:
    prices = spot_prices(aws.client("ec2", region_name="us-east-1"), ["g6.xlarge"])
    assert set(prices) == {"g6.xlarge"}
    assert prices["g6.xlarge"] and all(price >= 0 for price in prices["g6.xlarge"].values())


def test_latest_price_per_zone_wins() -> None:
    ec2 = boto3.client("ec2", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    old = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    new = dt.datetime(2025, 1, 2, tzinfo=dt.UTC)
    history = [
        {
            "InstanceType": "g6.xlarge",
            "AvailabilityZone": "us-east-1a",
            "SpotPrice": "0.50",
            "Timestamp": old,
        },
        {
            "InstanceType": "g6.xlarge",
            "AvailabilityZone": "us-east-1a",
            "SpotPrice": "0.30",
            "Timestamp": new,
        },
        {
            "InstanceType": "g6.xlarge",
            "AvailabilityZone": "us-east-1b",
            "SpotPrice": "0.40",
            "Timestamp": old,
        },
    ]
    with Stubber(ec2) as stub:
        stub.add_response("describe_spot_price_history", {"SpotPriceHistory": history})
        prices = spot_prices(ec2, ["g6.xlarge"])
    assert prices == {"g6.xlarge": {"us-east-1a": 0.30, "us-east-1b": 0.40}}


def test_dlami_parameter(aws: boto3.session.Session) -> None:
    ssm = aws.client("ssm", region_name="us-east-1")
    # moto reserves /aws/ names, so the look-up path is exercised with a parameter of our own.
    ssm.put_parameter(Name="/llmops-test/dlami", Value="ami-0123456789abcdef0", Type="String")
    assert dlami_ami_id(ssm, "/llmops-test/dlami") == "ami-0123456789abcdef0"


def test_preflight_reports_missing_types_and_ami(aws: boto3.session.Session) -> None:
    result = preflight("us-east-1", ["g6.xlarge", "g99.huge"], session=aws)
    assert "g6.xlarge" in result.offered_zones
    assert not result.ok
    assert (
        "instance type 'g99.huge' is not offered in any zone of us-east-1; "
        "pick another region or instance type" in result.problems
    )
    assert any(f"SSM parameter {DLAMI_PARAMETER} is not published in us-east-1" in p for p in result.problems)
    assert result.to_json()["region"] == "us-east-1"


def test_preflight_passes_with_the_ami(aws: boto3.session.Session) -> None:
    aws.client("ssm", region_name="us-east-1").put_parameter(
        Name="/llmops-test/dlami", Value="ami-0fedcba9876543210", Type="String"
    )
    result = preflight("us-east-1", ["g6.xlarge"], session=aws, dlami_parameter="/llmops-test/dlami")
    assert result.ok, result.problems
    assert result.dlami_ami_id == "ami-0fedcba9876543210"
    assert "g6.xlarge" in result.spot_usd_per_h


def test_refresh_keeps_on_demand_and_replaces_spot(aws: boto3.session.Session) -> None:
    rows = refresh_prices(["us-east-1"], ["g6.xlarge", "p5.4xlarge"], session=aws, today=dt.date(2026, 1, 2))
    by_type = {row.instance_type: row for row in rows}
    assert by_type["g6.xlarge"].on_demand_usd_per_h == pytest.approx(0.8048)
    assert by_type["g6.xlarge"].spot_usd_per_h is not None
    assert by_type["g6.xlarge"].as_of == "2026-01-02"
    assert "DescribeSpotPriceHistory us-east-1" in by_type["p5.4xlarge"].source


def test_refresh_rejects_unknown_types(aws: boto3.session.Session) -> None:
    with pytest.raises(ValueError, match=r"instance type\(s\) m5.large are not GPU types the catalog knows"):
        refresh_prices(["us-east-1"], ["m5.large"], session=aws)


def test_credentials_detection(aws: boto3.session.Session, monkeypatch: pytest.MonkeyPatch) -> None:
    assert credentials_available(aws)
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert not credentials_available(boto3.session.Session())

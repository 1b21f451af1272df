"""Monthly cost: the seed's worked example, the spot/on-demand split, and properties."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from llmops.components.capacity.cost import CostInputError, PoolCost, ScheduleWindow, stack_cost
from llmops.components.capacity.throughput import replicas_for_rate


def test_seed_worked_example() -> None:
    # 10 RPS for the 12 peak hours, 7.5 RPS otherwise (the middle of "7-8"), 0.5 RPS per A100 80GB,
    # $2.5 per GPU-hour, a 30-day month.
    peak = replicas_for_rate(10, 0.5)
    off_peak = replicas_for_rate(7.5, 0.5)
    assert (peak, off_peak) == (20, 15)
    pool = PoolCost(
        name="a100",
        cloud="aws",
        instance_type="a100-80gb-1x",
        nodes=off_peak,
        gpus_per_node=1,
        on_demand_usd_per_h=2.5,
        schedules=(ScheduleWindow(start_hour=8, end_hour=20, nodes=peak),),
        models=("llama",),
    )
    report = stack_cost([pool])
    assert report.monthly_usd == pytest.approx(31_500)
    assert report.per_pool["a100"].gpu_hours == pytest.approx((20 * 12 + 15 * 12) * 30)
    assert report.to_json()["per_model"] == {"llama": 31_500.0}
    assert report.to_json()["on_demand_usd"] == 31_500.0
    assert report.to_json()["spot_usd"] == 0.0


def test_json_shape() -> None:
    report = stack_cost([PoolCost("gpu", "aws", "g6.xlarge", 2, region="us-east-1", models=("m",))])
    data = report.to_json()
    assert set(data) >= {"monthly_usd", "per_pool", "per_model", "on_demand_usd", "spot_usd"}
    # g6.xlarge us-east-1 at 0.8048 $/h, 2 nodes, 720 h.
    assert data["monthly_usd"] == pytest.approx(2 * 0.8048 * 720, abs=0.01)


def test_mixed_capacity_splits_on_demand_base_and_spot() -> None:
    pool = PoolCost(
        "mixed",
        "aws",
        "p5.4xlarge",
        nodes=4,
        region="us-east-1",
        capacity="mixed",
        on_demand_base=1,
        on_demand_usd_per_h=10.0,
        spot_usd_per_h=4.0,
    )
    report = stack_cost([pool])
    assert report.on_demand_usd == pytest.approx(1 * 10 * 720)
    assert report.spot_usd == pytest.approx(3 * 4 * 720)


def test_spot_without_a_price_warns_and_uses_on_demand() -> None:
    # The snapshot has an on-demand but no spot price for p5.4xlarge in ap-southeast-2.
    report = stack_cost([PoolCost("s", "aws", "p5.4xlarge", 1, region="ap-southeast-2", capacity="spot")])
    assert report.spot_usd == pytest.approx(8.944 * 720, abs=0.01)
    assert "no spot price for p5.4xlarge in ap-southeast-2" in report.warnings[0]


def test_weekday_windows_count_five_sevenths() -> None:
    pool = PoolCost(
        "w",
        "aws",
        "x",
        nodes=0,
        gpus_per_node=1,
        on_demand_usd_per_h=1.0,
        schedules=(ScheduleWindow(9, 17, 3, weekdays=(0, 1, 2, 3, 4)),),
    )
    assert stack_cost([pool]).monthly_usd == pytest.approx(3 * 8 * 5 / 7 * 30)


def test_window_across_midnight() -> None:
    pool = PoolCost(
        "n",
        "aws",
        "x",
        nodes=1,
        gpus_per_node=1,
        on_demand_usd_per_h=1.0,
        schedules=(ScheduleWindow(22, 6, 0),),
    )
    assert stack_cost([pool]).monthly_usd == pytest.approx(16 * 30)


def test_a_whole_day_window_is_the_whole_day() -> None:
    # 0-24 on Saturdays: 24 h of 2 nodes, not an empty window.
    pool = PoolCost(
        "d",
        "aws",
        "x",
        nodes=0,
        gpus_per_node=1,
        on_demand_usd_per_h=1.0,
        schedules=(ScheduleWindow(0, 24, 2, weekdays=(5,)),),
    )
    assert stack_cost([pool]).monthly_usd == pytest.approx(2 * 24 / 7 * 30)


def test_every_bad_pool_is_reported_at_once() -> None:
    pools = [
        PoolCost("a", "aws", "g6.xlarge", 1, capacity="spott"),
        PoolCost("b", "aws", "g6.xlarge", -1, schedules=(ScheduleWindow(25, 3, 1),)),
        PoolCost("c", "aws", "g9.mega", 1),
    ]
    with pytest.raises(CostInputError) as raised:
        stack_cost(pools)
    problems = raised.value.problems
    assert "pools[0] (a).capacity: 'spott' is not one of on-demand, spot, mixed" in problems
    assert "pools[1] (b).nodes: -1 is negative; use 0 or more" in problems
    assert "pools[1] (b).schedules[0].start_hour: 25 is outside 0-24" in problems
    with pytest.raises(CostInputError, match=r"pools\[0\] \(c\).instance_type: instance type 'g9.mega'"):
        stack_cost(pools[2:])


@given(
    nodes=st.integers(0, 50),
    peak=st.integers(0, 50),
    price=st.floats(0.01, 100, allow_nan=False),
    factor=st.floats(0.1, 10, allow_nan=False),
    start=st.integers(0, 23),
    length=st.integers(1, 23),
)
def test_cost_is_linear_in_price(
    nodes: int, peak: int, price: float, factor: float, start: int, length: int
) -> None:
    def cost(unit: float) -> float:
        window = ScheduleWindow(start, (start + length) % 24, peak)
        pool = PoolCost(
            "p", "aws", "x", nodes, gpus_per_node=1, on_demand_usd_per_h=unit, schedules=(window,)
        )
        return stack_cost([pool]).monthly_usd

    assert cost(price * factor) == pytest.approx(cost(price) * factor, rel=1e-9, abs=1e-9)

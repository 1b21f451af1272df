"""The shared node-pool args checks (pure Python)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from components.k3s.pool import AWS_GPU_FAMILIES, Capacity, GpuNodePoolArgs, gpu_of, validate_pool


@given(
    min_size=st.integers(-2, 6),
    max_size=st.integers(0, 6),
    desired=st.one_of(st.none(), st.integers(-1, 7)),
    capacity=st.sampled_from(list(Capacity)),
    base=st.integers(0, 7),
)
def test_sizes_are_accepted_exactly_when_they_are_consistent(
    min_size: int, max_size: int, desired: int | None, capacity: Capacity, base: int
) -> None:
    args = GpuNodePoolArgs(
        instance_types=["g6.xlarge"],
        capacity=capacity,
        min_size=min_size,
        max_size=max_size,
        desired_size=desired,
        on_demand_base=base,
    )
    consistent = (
        0 <= min_size <= max_size
        and (desired is None or min_size <= desired <= max_size)
        and not (max_size == 0 and capacity is not Capacity.ON_DEMAND)
        and (capacity is not Capacity.MIXED or base <= max_size)
    )
    assert (validate_pool(args) == []) == consistent


def test_every_problem_names_its_key_path() -> None:
    args = GpuNodePoolArgs(instance_types=["g6.xlarge", "g6.xlarge"], labels={"bad key!": "x y"})
    problems = validate_pool(args, path="pools[1]")
    assert problems == [
        "pools[1].instance_types: ['g6.xlarge', 'g6.xlarge'] lists a type twice; remove the repeat",
        "pools[1].labels: key 'bad key!' is not a valid Kubernetes label key; use `prefix/name` with 63 "
        "characters or fewer",
        "pools[1].labels['bad key!']: 'x y' is not a valid label value; use 63 or fewer letters, digits, "
        "'-', '_' or '.'",
    ]


def test_gpu_families() -> None:
    assert gpu_of("g6.xlarge") == "L4"
    assert gpu_of("g6e.12xlarge") == "L40S"
    assert gpu_of("p5.48xlarge") == "H100"
    assert gpu_of("p6-b200.48xlarge") == "B200"
    assert gpu_of("m7i.large") is None
    assert gpu_of("g6") is None  # a family alone is not an instance type
    assert set(AWS_GPU_FAMILIES) >= {"g4dn", "g5", "g6", "g6e", "p4d", "p5"}

"""The shared node-pool args checks (pure Python), and the AWS machine table they use."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from llmops.components.aws.checks import validate_aws_pool
from llmops.components.aws.machines import gpu_families, gpu_machines, gpu_of
from llmops.components.capacity.catalog import load_catalog
from llmops.components.pools import Capacity, GpuNodePoolArgs, ScalingSchedule


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
    assert (validate_aws_pool("p", args) == []) == consistent


def test_every_problem_names_its_key_path() -> None:
    args = GpuNodePoolArgs(
        instance_types=["g6.xlarge", "g6.xlarge"],
        labels={"bad key!": "x y"},
        schedules=[
            ScalingSchedule(name="day", recurrence="0 8 * * *", min_size=0, max_size=1, desired_size=0),
            ScalingSchedule(name="day", recurrence="0 9 * * *", min_size=0, max_size=1, desired_size=0),
        ],
    )
    problems = [str(p) for p in validate_aws_pool("p", args, path="pools[1]")]
    assert problems == [
        "pools[1].instance_types[1]: 'g6.xlarge' is listed twice. Fix: remove the repeat",
        "pools[1].labels: 'bad key!' is not a valid Kubernetes label key. Fix: use `prefix/name` or `name`: "
        "ASCII letters, digits, '-', '_' and '.', the name 63 characters or fewer",
        "pools[1].labels.bad key!: 'x y' is not a valid label value. Fix: use 63 or fewer ASCII letters, "
        "digits, '-', '_' or '.'",
        "pools[1].schedules[1].name: 'day' is used twice in this pool's schedules. Fix: give each schedule "
        "its own name",
    ]


def test_key_names_come_from_the_callers_table() -> None:
    args = GpuNodePoolArgs(instance_types=["g6.xlarge"], min_size=3, max_size=1)
    problems = validate_aws_pool("p", args, path="llmops:pools[0]", keys={"min_size": "min"})
    assert [p.path for p in problems] == ["llmops:pools[0].min"]


def test_gpu_families() -> None:
    assert gpu_of("g6.xlarge") == "L4"
    assert gpu_of("g6e.12xlarge") == "L40S"
    assert gpu_of("p5.48xlarge") == "H100"
    assert gpu_of("p6-b200.48xlarge") == "B200"
    assert gpu_of("m7i.large") is None
    assert gpu_of("g6") is None  # a family alone is not an instance type
    assert set(gpu_families()) >= {"g4dn", "g5", "g6", "g6e", "p4d", "p5"}


def test_the_machine_table_is_the_catalogs() -> None:
    """One table: every AWS row of the price catalog, with its GPU and count, and nothing else."""
    catalog = load_catalog()
    assert set(gpu_machines()) == set(catalog.instance_types("aws"))
    for instance_type, machine in gpu_machines().items():
        assert (machine.gpu, machine.gpu_count) == catalog.instance_gpu("aws", instance_type)
    assert gpu_machines()["g6.12xlarge"].gpu_count == 4

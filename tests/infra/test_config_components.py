"""The components' own checks run from the stack config, before any resource, with the stack's key paths.

One case per component validator at least; then a property test: no generated stack file makes
`llmops plan` fail with anything but the project's one input error.
"""

from __future__ import annotations

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from llmops.components.errors import InputError
from llmops.infra.config import ConfigError, parse, split_namespace
from llmops.infra.plan import run_plan

K3S = "  llmops:cluster: {kind: k3s, allowedCidrs: [203.0.113.0/24]}\n"


def _pool(**fields: object) -> str:
    pool = {"name": "l4", "cloud": "aws", "gpuType": "L4", "instanceTypes": ["g6.xlarge"], "max": 2, **fields}
    return K3S + "  llmops:pools:\n    - " + yaml.safe_dump(pool, default_flow_style=True, width=1000)


def _raw(body: str):
    document = yaml.safe_load("config:\n" + body)
    return split_namespace("Pulumi.test.yaml", document["config"])


def problems_of(body: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(_raw(body))
    return [caught.value.full_path(p) + str(p).removeprefix(p.path) for p in caught.value.problems]


CASES = [
    pytest.param(
        _pool(schedules=[{"name": "day", "cron": "0 8 * * *"}, {"name": "day", "cron": "0 9 * * *"}]),
        "llmops:pools[0].schedules[1].name: 'day' is used twice in this pool's schedules. "
        "Fix: give each schedule its own name",
        id="duplicate-schedule-name",
    ),
    pytest.param(
        _pool(instanceTypes=["g6.xlarge", "g6.xlarge"]),
        "llmops:pools[0].instanceTypes[1]: 'g6.xlarge' is listed twice. Fix: remove the repeat",
        id="duplicate-instance-type",
    ),
    pytest.param(
        _pool(capacity="mixed", max=0),
        "llmops:pools[0].max: 0 makes a mixed pool that can never hold a machine. "
        "Fix: set max >= 1, or remove the pool",
        id="mixed-pool-max-zero",
    ),
    pytest.param(
        _pool(labels={"tëam": "a"}),
        "llmops:pools[0].labels.tëam: 'tëam' is not a label key (a name of at most 63 letters, digits, "
        "'-', '_', '.', optionally prefix/name). Fix: use a key such as 'team' or 'example.com/team'",
        id="unicode-label-key",
    ),
    pytest.param(
        _pool(labels={"team": "a b"}),
        "llmops:pools[0].labels.team: 'a b' is not a label value (letters, digits, '-', '_', '.', "
        "starting and ending alphanumeric). Fix: use a value such as 'a-b'",
        id="bad-label-value",
    ),
    pytest.param(
        _pool(name="p" + "x" * 40),
        "llmops:pools[0].name: 'p" + "x" * 40 + "' is not a valid name",
        id="pool-name-too-long",
    ),
    pytest.param(
        _pool(diskGb=50),
        "llmops:pools[0].diskGb: 50 must be >= 100. Fix: set diskGb to a value >= 100",
        id="disk-too-small",
    ),
    pytest.param(
        "  llmops:cluster: {kind: k3s, allowedCidrs: [203.0.113.0/24], version: '1.33.5+k3s1'}\n",
        "llmops:cluster.version: '1.33.5+k3s1' is not a K3s release tag. Fix: write it like 'v",
        id="k3s-version-without-v",
    ),
    pytest.param(
        "  llmops:cluster: {kind: k3s, allowedCidrs: ['2001:db8::/32']}\n",
        "llmops:cluster.allowedCidrs[0]: '2001:db8::/32' is an IPv6 range; these rules take IPv4 ranges "
        "only. Fix: list the IPv4 ranges of the networks, e.g. '203.0.113.0/24'",
        id="ipv6-cidr",
    ),
    pytest.param(
        "  llmops:cluster: {kind: existing}\n"
        "  llmops:observability: {enabled: true, vllmScrapeInterval: '2 seconds'}\n",
        "llmops:observability.vllmScrapeInterval: '2 seconds' is not a Prometheus duration. "
        "Fix: write it like '2s', '500ms' or '1m'",
        id="bad-vllm-scrape-interval",
    ),
    pytest.param(
        "  llmops:cluster: {kind: existing}\n  llmops:observability: {enabled: true, scrapeInterval: 15}\n",
        "llmops:observability.scrapeInterval: ",
        id="observability-validator",
    ),
]


@pytest.mark.parametrize(("body", "expected"), CASES)
def test_component_checks_report_stack_key_paths(body: str, expected: str) -> None:
    problems = problems_of(body)
    assert any(p.startswith(expected) for p in problems), problems
    # Never the component's own field names.
    assert not any("args." in p or "_size" in p or "instance_types" in p for p in problems), problems


def test_a_problem_is_reported_once_even_when_config_and_component_both_see_it() -> None:
    problems = problems_of(_pool(min=3, max=1))
    assert [p for p in problems if p.startswith("llmops:pools[0].min")] == [
        "llmops:pools[0].min: 3 is larger than max (1). Fix: set min <= 1, or raise max to 3"
    ]
    assert len(problems) == 1, problems


def test_the_user_sees_the_full_key_path() -> None:
    with pytest.raises(ConfigError) as caught:
        parse(_raw(_pool(instanceTypes=["g6.xlarge", "g6.xlarge"])))
    assert "  - llmops:pools[0].instanceTypes[1]: 'g6.xlarge' is listed twice" in str(caught.value)
    assert isinstance(caught.value, InputError)


# --------------------------------------------------------------------------- property test

_names = st.sampled_from(["l4", "l4-spot", "day", "Bad_Name", "", "x" * 45])
_instance_types = st.lists(st.sampled_from(["g6.xlarge", "g6.2xlarge", "g5.xlarge", "m7i.large", "g6", ""]))
_ints = st.one_of(st.integers(-2, 5), st.just("3"), st.none())
_schedule = st.fixed_dictionaries(
    {"name": _names, "cron": st.sampled_from(["0 8 * * *", "0 8 * *", "daily", "0 20 * * 1-5"])},
    optional={
        "min": _ints,
        "max": _ints,
        "desired": _ints,
        "timezone": st.sampled_from(["UTC", "Mars/Base"]),
    },
)
_pool_strategy = st.fixed_dictionaries(
    {"name": _names, "cloud": st.sampled_from(["aws", "gcp", 3]), "gpuType": st.sampled_from(["L4", "A10G"])},
    optional={
        "instanceTypes": _instance_types,
        "capacity": st.sampled_from(["spot", "on-demand", "mixed", "spott"]),
        "min": _ints,
        "max": _ints,
        "desired": _ints,
        "onDemandBase": _ints,
        "diskGb": st.sampled_from([50, 100, 200, 20000, "big"]),
        "labels": st.dictionaries(
            st.sampled_from(["team", "tëam", "a/b", "-x", "example.com/role"]),
            st.sampled_from(["a", "a b", ""]),
            max_size=2,
        ),
        "schedules": st.lists(_schedule, max_size=3),
        "fallbackPool": _names,
    },
)
_cluster = st.one_of(
    st.just({"kind": "existing"}),
    st.fixed_dictionaries(
        {"kind": st.sampled_from(["k3s", "eks"])},
        optional={
            "allowedCidrs": st.lists(
                st.sampled_from(["203.0.113.0/24", "2001:db8::/32", "0.0.0.0/0", "10.0.0.1/8", "x"]),
                max_size=2,
            ),
            "servers": st.sampled_from([1, 2, 3]),
            "version": st.sampled_from(["v1.33.5+k3s1", "1.33.5+k3s1", "latest"]),
            "wireguard": st.booleans(),
        },
    ),
)
_model = st.fixed_dictionaries(
    {"name": _names, "source": st.sampled_from(["Qwen/Qwen2.5-0.5B-Instruct", "not a repo"])},
    optional={
        "pool": _names,
        "replicas": _ints,
        "extraArgs": st.sampled_from([{}, {"port": 1}, {"Bad_Flag": 1}]),
    },
)
_observability = st.fixed_dictionaries(
    {"enabled": st.booleans()},
    optional={
        "vllmScrapeInterval": st.sampled_from(["2s", "2 seconds", "0s", "500ms"]),
        "logRetentionHours": st.sampled_from([24, 100, 168]),
        "scrapeInterval": st.sampled_from(["15s", "fast"]),
    },
)
_stack = st.fixed_dictionaries(
    {"cluster": _cluster},
    optional={
        "pools": st.lists(_pool_strategy, max_size=2),
        "models": st.lists(_model, max_size=2),
        "observability": _observability,
    },
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stack=_stack)
def test_no_generated_stack_makes_the_plan_fail_with_anything_but_the_input_error(stack: dict) -> None:
    raw = split_namespace("Pulumi.generated.yaml", {f"llmops:{key}": value for key, value in stack.items()})
    try:
        run_plan(raw, "generated", preview=True)
    except ConfigError as exc:
        assert exc.problems, "an input error without problems"
        for problem in exc.problems:
            assert str(problem).startswith(f"{problem.path}: "), problem


def test_the_field_table_covers_the_args_and_names_real_keys() -> None:
    """One table maps component args onto config keys: no args field is left out, no key is made up."""
    import dataclasses

    from llmops.components.pools import GpuNodePoolArgs, ScalingSchedule
    from llmops.infra.config import PoolConfig, ScheduleConfig
    from llmops.infra.config.fields import POOL_KEYS, pool_args

    def config_keys(model: type) -> set[str]:
        return {field.alias or name for name, field in model.model_fields.items()}

    built = set(
        pool_args(
            PoolConfig.model_validate(
                {"name": "p", "cloud": "aws", "gpuType": "L4", "instanceTypes": ["g6.xlarge"]}
            )
        )
    )
    # taints: not a stack key; node_autoscaled: the stack's nodeAutoscaling, not a pool key
    pool_fields = {f.name for f in dataclasses.fields(GpuNodePoolArgs)} - {"taints", "node_autoscaled"}
    assert built == pool_fields
    assert pool_fields <= set(POOL_KEYS)
    schedule_fields = {f.name for f in dataclasses.fields(ScalingSchedule)} - {
        "min_size",
        "max_size",
        "desired_size",
    }
    assert schedule_fields <= set(POOL_KEYS)
    assert {POOL_KEYS[f] for f in pool_fields} <= config_keys(PoolConfig)
    assert {POOL_KEYS[f] for f in schedule_fields} <= config_keys(ScheduleConfig)

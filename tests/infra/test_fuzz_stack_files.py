"""Any stack file gives a valid plan or the one config error, in bounded time: never another exception.

Random bytes, random YAML over the config's own keys, and mutations of every shipped stack file go
through the same path as `llmops plan` (read, validate, run the program under mocks, price it).
"""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from llmops.infra import costing
from llmops.infra.config import TOP_LEVEL_KEYS, ConfigError, read_stack_file
from llmops.infra.plan import run_plan

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "stacks").glob("Pulumi.*.yaml"))
# Generous: a valid plan takes a second or two; a bomb or a deep file would take minutes.
BOUND = timedelta(seconds=60)
FUZZ = settings(
    deadline=BOUND,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)


def outcome(directory: Path, content: bytes) -> str:
    stacks = directory / "stacks"
    stacks.mkdir(parents=True, exist_ok=True)
    (stacks / "Pulumi.fuzz.yaml").write_bytes(content)
    try:
        raw = read_stack_file(stacks, "fuzz")
        plan = run_plan(raw, "fuzz")
        # As `llmops plan` reads it: the region of the stack's one cloud, none where pools span clouds.
        costing.estimate(plan.config, costing.stack_region(plan.config, raw.other))
    except ConfigError as exc:
        assert exc.problems and all(str(p) for p in exc.problems)
        return "config error"
    return "plan"


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(
        ["0.0.0.0/0", "16Gi", "0 8 * * 1-5", "L4", "g6.xlarge", "k3s", "existing", "aws", "spot"]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)


@FUZZ
@given(st.binary(max_size=3000) | st.binary(max_size=500).map(lambda b: b"config:\n  " + b))
def test_random_bytes(tmp_path_factory: Any, content: bytes) -> None:
    assert outcome(tmp_path_factory.mktemp("bytes"), content) in ("plan", "config error")


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from([f"llmops:{k}" for k in TOP_LEVEL_KEYS] + ["aws:region"]), values, max_size=6
    )
)
def test_random_yaml(tmp_path_factory: Any, config: dict[str, Any]) -> None:
    content = yaml.safe_dump({"config": config}, allow_unicode=True).encode()
    assert outcome(tmp_path_factory.mktemp("yaml"), content) in ("plan", "config error")


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            found += _paths(child, (*prefix, index))
    return found


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    source = draw(st.sampled_from(SHIPPED))
    document = copy.deepcopy(yaml.safe_load(source.read_text()))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(document)[1:]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = document
        for part in path[:-1]:
            parent = parent[part]
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "delete":
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.text(max_size=10))] = draw(values)
        else:
            parent[path[-1]] = draw(values)
    text = yaml.safe_dump(document, allow_unicode=True)
    if text.strip() and draw(st.booleans()):  # textual damage as well: a duplicated or a dropped line
        lines = text.splitlines(keepends=True)
        index = draw(st.integers(0, len(lines) - 1))
        lines.insert(index, lines[index]) if draw(st.booleans()) else lines.pop(index)
        text = "".join(lines)
    return text.encode()


@settings(FUZZ, max_examples=40)
@given(mutated())
def test_mutations_of_every_shipped_stack(tmp_path_factory: Any, content: bytes) -> None:
    assert outcome(tmp_path_factory.mktemp("mutated"), content) in ("plan", "config error")


def test_the_shipped_stacks_themselves_plan(tmp_path: Path) -> None:
    assert SHIPPED, "no stack files found"
    for source in SHIPPED:
        assert outcome(tmp_path / source.stem, source.read_bytes()) == "plan", source.name

"""Bad stack files, class by class: one key-path error each, in bounded time, nothing written."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from llmops.infra.cli import app
from llmops.infra.config import ConfigError, parse, read_stack_file
from llmops.infra.stackfile import MAX_FILE_BYTES
from typer.testing import CliRunner

K3S = "  llmops:cluster: {kind: k3s, allowedCidrs: [203.0.113.0/24]}\n"
LOCAL = "  llmops:cluster: {kind: existing}\n"
L4_POOL = "  llmops:pools:\n    - {name: l4, cloud: aws, gpuType: L4, instanceTypes: [g6.xlarge], max: 2%s}\n"


def problems_in(tmp_path: Path, content: str | bytes) -> list[str]:
    stacks = tmp_path / "stacks"
    stacks.mkdir(exist_ok=True)
    path = stacks / "Pulumi.bad.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(ConfigError) as caught:
        parse(read_stack_file(stacks, "bad"))
    return [str(p) for p in caught.value.problems]


def bomb(levels: int = 9) -> str:
    lines = ["config:", '  a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


FILE_CASES = [
    pytest.param(
        bomb(),
        "(file): would hold more than 100,000 values with its aliases expanded (an alias bomb?). "
        "Fix: write the values out instead of nesting aliases",
        id="alias-bomb",
    ),
    pytest.param(
        "config:\n  llmops:x: " + "[" * 1000 + "]" * 1000 + "\n",
        "(file): nests mappings and lists more than 32 deep at line 2, column 43. "
        "Fix: flatten the structure; stack keys nest a few levels at most",
        id="deep-nesting",
    ),
    pytest.param(
        "config:\n  a: &a [*a]\n",
        "(file): has an alias that contains itself at line 2, column 6. Fix: remove the recursive alias",
        id="recursive-alias",
    ),
    pytest.param(
        "config:\n" + LOCAL + "  llmops:namespace: a\n  llmops:namespace: b\n",
        "llmops:namespace: is given twice in one mapping at line 4, column 3; YAML would keep the last one "
        "silently. Fix: keep one of them",
        id="duplicate-key",
    ),
    pytest.param(
        "config:\n" + K3S + L4_POOL % ", min: 0, desired: 123456789012345678901234567890",
        "llmops:pools[0].desired: '123456789012345678901234567890' is beyond a 64-bit integer at line 4, "
        "column 96. Fix: write a number that fits the key (see docs/configuration.md)",
        id="int-beyond-64-bit",
    ),
    pytest.param(
        "config:\n"
        + LOCAL
        + "  llmops:models:\n    - {name: m, source: a/b, replicas: "
        + "9" * 5000
        + "}\n",
        "beyond a 64-bit integer",
        id="int-with-5000-digits",
    ),
    pytest.param(
        "config:\n  llmops:budget: {monthlyUsd: .nan}\n" + LOCAL,
        "llmops:budget.monthlyUsd: '.nan' is not a finite number at line 2, column 31. Fix: write a number",
        id="nan",
    ),
    pytest.param(
        "config:\n" + LOCAL + "  llmops:namespace: caf\xe9\n".encode("latin-1").decode("latin-1"),
        None,  # replaced below by the latin-1 bytes
        id="not-utf-8",
    ),
    pytest.param(
        "llmops:models: []\nconfig:\n" + LOCAL,
        "llmops:models: is not a stack file key (allowed beside config: encryptionsalt, encryptedkey, "
        "secretsprovider, environment). Fix: move it under config: as 'llmops:models', or remove it",
        id="key-outside-config",
    ),
    pytest.param(
        "config:\n" + LOCAL + "  llmops:namespace: !!binary aGVsbG8=\n",
        "llmops:namespace: has the YAML tag 'tag:yaml.org,2002:binary' at line 3, column 21; stack files take "
        "plain text, numbers, booleans, lists and mappings. Fix: remove the tag",
        id="binary-tag",
    ),
    pytest.param(
        "config:\n" + LOCAL + "  llmops:models:\n    - {name: m, source: a/b, 3: x}\n",
        "llmops:models[0].3: is not a text key at line 4, column 30. Fix: quote the key: '3'",
        id="number-key",
    ),
    pytest.param(
        "config:\n  llmops:cluster: [unclosed\n",
        "(file): is not valid YAML at line 3, column 1: expected ',' or ']', but got '<stream end>'. "
        "Fix: fix the YAML syntax",
        id="broken-yaml",
    ),
]


@pytest.mark.parametrize(("content", "expected"), FILE_CASES)
def test_malformed_files(tmp_path: Path, content: str, expected: str | None) -> None:
    if expected is None:
        data = content.encode("latin-1")
        expected = "(file): is not UTF-8 text (byte 66, line 3: b'\\xe9'). Fix: save the file as UTF-8"
        lines = problems_in(tmp_path, data)
    else:
        lines = problems_in(tmp_path, content)
    assert any(expected in line for line in lines), lines


def test_a_file_over_the_size_limit_is_not_read(tmp_path: Path) -> None:
    (line,) = problems_in(tmp_path, "config:\n" + "#" * MAX_FILE_BYTES + "\n")
    assert line.startswith("(file): is larger than 1024 KiB")


def test_dates_stay_text(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    (stacks / "Pulumi.d.yaml").write_text("config:\n  aws:launch: 2024-01-01\n" + LOCAL)
    assert read_stack_file(stacks, "d").other == {"aws:launch": "2024-01-01"}


CONFIG_CASES = [
    pytest.param(
        K3S + L4_POOL % ", schedules: [{name: day, cron: '0 8 * * weekdays'}]",
        "pools[0].schedules[0].cron: '0 8 * * weekdays' is not a valid cron expression: 'weekdays' is not a day "
        "of week (0-6 or SUN-SAT). Fix: write it like '0 8 * * 1-5' (08:00 on weekdays); names JAN-DEC and "
        "SUN-SAT are allowed",
        id="cron-word",
    ),
    pytest.param(
        K3S + L4_POOL % ", schedules: [{name: day, cron: '0 24 * * *'}]",
        "pools[0].schedules[0].cron: '0 24 * * *' is not a valid cron expression: hour 24 is outside 0-23.",
        id="cron-out-of-range",
    ),
    pytest.param(
        K3S + L4_POOL % ", schedules: [{name: day, cron: '*/0 8 * * *'}]",
        "pools[0].schedules[0].cron: '*/0 8 * * *' is not a valid cron expression: minute step /0 must be "
        "between 1 and 60.",
        id="cron-step-0",
    ),
    pytest.param(
        K3S + L4_POOL % ", schedules: [{name: day, cron: '0 8 * * 5-1'}]",
        "is not a valid cron expression: day of week range '5-1' runs backwards",
        id="cron-backwards-range",
    ),
    pytest.param(
        K3S + L4_POOL % ", schedules: [{name: day, cron: '0 8 * * 1-5', timezone: Europe/Berlim}]",
        "pools[0].schedules[0].timezone: 'Europe/Berlim' is not an IANA time zone. Fix: did you mean "
        "'Europe/Berlin'?",
        id="unknown-timezone",
    ),
    pytest.param(
        LOCAL + "  llmops:models:\n    - {name: m, source: a/b, memory: 16}\n",
        "models[0].memory: 16 has no byte unit, so Kubernetes reads it as 16 bytes. Fix: write it with a "
        "unit, e.g. '16Gi' for 16 GiB or '16Mi' for 16 MiB",
        id="memory-without-unit",
    ),
    pytest.param(
        LOCAL + "  llmops:models:\n    - {name: m, source: a/b, memory: 8Gi, shmSize: 16Gi}\n",
        "models[0].shmSize: '16Gi' is not below the memory limit (8Gi); /dev/shm is memory the pod uses, so "
        "the pod would be killed once it filled. Fix: set shmSize below 8Gi, or raise memory",
        id="shm-over-memory",
    ),
    pytest.param(
        K3S + L4_POOL % (", labels: {team: " + "a" * 64 + "}"),
        "pools[0].labels.team: '" + "a" * 64 + "' is 64 characters; a label value has at most 63.",
        id="label-value-too-long",
    ),
    pytest.param(
        LOCAL + "  llmops:models:\n    - {name: m, source: a/b, nodeSelector: {'bad key!': x}}\n",
        "models[0].nodeSelector.bad key!: 'bad key!' is not a label key",
        id="label-key",
    ),
    pytest.param(
        K3S
        + L4_POOL % ""
        + "  llmops:models:\n    - {name: m, source: meta-llama/Llama-3.1-70B-Instruct, pool: l4}\n",
        "models[0]: 'm' does not fit 1 x L4: weights (131.4 GiB) plus runtime overhead do not fit in 1 x L4",
        id="model-does-not-fit",
    ),
    pytest.param(
        K3S
        + L4_POOL % ""
        + "  llmops:models:\n    - {name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pool: l4, "
        "tensorParallelSize: 4}\n",
        "models[0].tensorParallelSize: 4 does not divide Qwen/Qwen2.5-0.5B-Instruct's 14 attention heads and 2 KV "
        "heads evenly across GPUs. Fix: use one of 1, 2",
        id="tp-does-not-divide-heads",
    ),
    pytest.param(
        K3S
        + L4_POOL % ""
        + "  llmops:models:\n    - {name: m, source: Qwen/Qwen2.5-0.5B-Instruct, pool: l4, "
        "maxModelLen: 1000000}\n",
        "models[0].maxModelLen: 1000000 is beyond Qwen/Qwen2.5-0.5B-Instruct's context of 32768 tokens. Fix: set "
        "maxModelLen <= 32768, or leave it unset",
        id="context-beyond-model",
    ),
    pytest.param(
        LOCAL + "  llmops:models:\n    - {name: m, source: a/b, gpuType: T4, quantization: fp8}\n",
        "models[0].quantization: 'fp8' needs compute capability 8.0 or newer; T4 has 7.5. Fix: use a checkpoint "
        "in another format, or a newer GPU",
        id="quantization-gpu",
    ),
    pytest.param(
        LOCAL
        + "  llmops:models:\n    - {name: m, source: a/b, gpuType: L4, quantization: awq, dtype: bfloat16}\n",
        "models[0].dtype: 'bfloat16' cannot be used with quantization 'awq', whose kernels take float16 only. "
        "Fix: set dtype: float16 (or auto)",
        id="quantization-dtype",
    ),
    pytest.param(
        LOCAL + "  llmops:models:\n    - {name: m, source: a/b, gpuType: V100, dtype: bfloat16}\n",
        "models[0].dtype: 'bfloat16' needs compute capability 8.0 or newer; V100 has 7.0. Fix: set dtype: float16",
        id="bf16-on-v100",
    ),
    pytest.param(
        "  aws:region: us-esat-1\n" + LOCAL,
        "aws:region: 'us-esat-1' is not an AWS region. Fix: did you mean",
        id="unknown-region",
    ),
    pytest.param(
        LOCAL + "  llmops:models:\n    - {name: m, source: a/b, servedModelName: 'qwen\"} or vector(1) #'}\n",
        "models[0].servedModelName: 'qwen\"} or vector(1) #' cannot be used in PromQL label matchers",
        id="served-name-breaks-promql",
    ),
]


@pytest.mark.parametrize(("body", "expected"), CONFIG_CASES)
def test_config_classes(tmp_path: Path, body: str, expected: str) -> None:
    lines = problems_in(tmp_path, "config:\n" + body)
    assert any(expected in line for line in lines), lines


def test_fit_warn_downgrades_the_memory_fit_only(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    body = (
        K3S
        + L4_POOL % ""
        + "  llmops:models:\n    - {name: m, source: meta-llama/Llama-3.1-70B-Instruct, pool: l4, fit: warn}\n"
    )
    (stacks / "Pulumi.w.yaml").write_text("config:\n" + body)
    parse(read_stack_file(stacks, "w"))
    lines = problems_in(tmp_path, "config:\n" + body.replace("fit: warn", "fit: warn, tensorParallelSize: 3"))
    assert any("models[0].tensorParallelSize: 3 does not divide" in line for line in lines)


def test_a_config_error_writes_nothing(tmp_path: Path, repo_root: Path) -> None:
    project = tmp_path / "project"
    (project / "stacks").mkdir(parents=True)
    (project / "Pulumi.yaml").write_text("name: llmops\n")
    (project / "stacks" / "Pulumi.bad.yaml").write_text(bomb())
    previous = tmp_path / "out" / "bad"
    previous.mkdir(parents=True)
    (previous / "plan.json").write_text("{}")
    result = CliRunner().invoke(
        app, ["plan", "-s", "bad", "--out", str(tmp_path / "out"), "--project-dir", str(project)]
    )
    assert result.exit_code == 2
    assert "alias bomb" in result.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["bad"]
    assert (previous / "plan.json").read_text() == "{}"


_WRITER = textwrap.dedent(
    """
    import json, sys, tempfile
    from pathlib import Path
    from llmops.infra.atomic_dir import replace_dir
    out = Path(sys.argv[1]); target = out / "stack"
    i = 0
    while True:
        staging = Path(tempfile.mkdtemp(prefix=".stack-", dir=out))
        (staging / "plan.json").write_text(json.dumps({"i": i}))
        (staging / "manifests").mkdir()
        replace_dir(staging, target)
        i += 1
    """
)


def test_a_kill_at_any_moment_leaves_the_old_or_the_new_folder(tmp_path: Path, repo_root: Path) -> None:
    target = tmp_path / "stack"
    for attempt in range(12):
        child = subprocess.Popen([sys.executable, "-c", _WRITER, str(tmp_path)], cwd=repo_root)
        time.sleep(0.3 + 0.037 * attempt)  # interpreter start-up, then a few hundred swaps
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        if attempt == 0 and not target.exists():
            pytest.skip("the writer did not start in time on this machine")
        assert json.loads((target / "plan.json").read_text())["i"] >= 0
        assert (target / "manifests").is_dir()

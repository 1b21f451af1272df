"""The wheel installs everything under one `llmops` namespace, beside a user's own packages.

A user's Pulumi program very often has `components/` or `infra/` folders of its own; ours
must not collide with them. The test builds the wheel, installs it into a fresh virtual
environment next to such a program, and imports both.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
TOP_LEVEL = ("components", "infra", "policies")


def _python_packages() -> list[str]:
    found = []
    for top in TOP_LEVEL:
        for init in sorted((REPO / top).rglob("__init__.py")):
            relative = init.parent.relative_to(REPO)
            found.append("llmops." + ".".join(relative.parts))
    return sorted(found)


def test_every_package_folder_is_listed_in_pyproject() -> None:
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert sorted(config["packages"]) == sorted([*_python_packages(), "llmops.images.vllm"])
    assert config["package-dir"] == {f"llmops.{top}": top for top in TOP_LEVEL} | {"llmops.images": "images"}
    # The serving image's build context is a package of data (no __init__.py) under llmops.images.
    assert "llmops.images.vllm" in config["package-data"]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(REPO)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    (built,) = out.glob("llmops-*.whl")
    return built


def test_wheel_has_only_the_llmops_namespace_and_its_data(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/", 1)[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"llmops"}
    assert "llmops/__init__.py" not in names  # a namespace package: nothing else can own it
    for data in (
        "llmops/components/capacity/data/prices.csv",
        "llmops/components/capacity/rules/forecast.promql",
        "llmops/components/k3s/scripts/agent.sh",
        "llmops/components/observability/values/loki.yaml",
        "llmops/components/observability/dashboards/llm-serving.json",
        # The serving image's build context, so `images.vllm: build` works from an installed package.
        "llmops/images/vllm/Dockerfile",
        "llmops/images/vllm/base.json",
        "llmops/images/vllm/progress_probe.py",
        "llmops/images/vllm/llmops_download.py",
    ):
        assert data in names, f"{data} missing from the wheel"


def test_installed_wheel_imports_beside_a_program_with_its_own_components(
    wheel: Path, tmp_path: Path
) -> None:
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    # The dependencies (pulumi, pydantic, ...) come from the test's own environment, appended
    # after the fresh environment's site-packages so the wheel's llmops is the one imported.
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "zz-test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    from llmops.components.serving.serving_image import context_hash

    checkout_hash = context_hash(REPO / "images" / "vllm", {})
    program = tmp_path / "program"
    for own in ("components", "infra"):
        (program / own).mkdir(parents=True)
        (program / own / "__init__.py").write_text(f'WHOSE = "the program\'s own {own}"\n')
    check = (
        "import components, infra\n"
        'assert components.WHOSE == "the program\'s own components", components.__file__\n'
        'assert infra.WHOSE == "the program\'s own infra", infra.__file__\n'
        "import llmops.components.serving as serving\n"
        "from llmops.components.serving import EngineSpec, VllmModel\n"
        "from llmops.components.capacity.catalog import load_catalog\n"
        "from llmops.infra.config import load_stack_file\n"
        f"assert serving.__file__.startswith({site!r}), serving.__file__\n"
        "assert load_catalog().prices\n"
        # `images.vllm: build` from the installed package: the build context is found inside it,
        # holds the checkout's files (same content hash, so the same image tag), and the build
        # path raises no 'needs a source checkout' problem.
        "from llmops.components.serving.serving_image import context_hash, source_context\n"
        "from llmops.infra.images_config import build_problems\n"
        "from llmops.infra.config import parse, read_stack_file, RawStack\n"
        "context = source_context()\n"
        f"assert context is not None and str(context).startswith({site!r}), context\n"
        f"assert context_hash(context, {{}}) == {checkout_hash!r}, 'installed context differs'\n"
        f"raw = read_stack_file(__import__('pathlib').Path({str(REPO / 'stacks')!r}), 'aws-dev')\n"
        "values = dict(raw.values, images={'vllm': 'build', 'vllmBaseDigest': 'sha256:' + 'ab' * 32})\n"
        "config = parse(RawStack(raw.source, values, raw.secret_keys, raw.other))\n"
        "assert build_problems(config) == [], build_problems(config)\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [str(python), "-c", check], cwd=program, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout + result.stderr[-3000:]

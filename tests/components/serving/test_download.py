"""The download script run for real, as the Job runs it, against a hub on 127.0.0.1."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from llmops.components.serving import download
from llmops.components.serving.download import MARKER, is_git_ref, prune, record_in_use, select_files
from safetensors.numpy import save

from tests.support.fake_hub import FakeHub, Repo

SCRIPT = Path(download.__file__)
REPO = "tiny-org/tiny-model"
COMMIT_A = "a" * 40
COMMIT_B = "b" * 40


def _weights(seed: int, rows: int) -> bytes:
    rng = np.random.default_rng(seed)
    return save({"model.embed.weight": rng.standard_normal((rows, 1024), dtype=np.float32)})


def _model_files(seed: int) -> dict[str, bytes]:
    shard1, shard2 = _weights(seed, 512), _weights(seed + 1, 512)  # 2 MiB each
    index = {
        "metadata": {"total_size": len(shard1) + len(shard2)},
        "weight_map": {"model.embed.weight": "model-00001-of-00002.safetensors"},
    }
    return {
        "config.json": json.dumps({"architectures": ["LlamaForCausalLM"], "seed": seed}).encode(),
        "generation_config.json": b'{"temperature": 0.6}',
        "tokenizer.json": json.dumps({"version": "1.0", "seed": seed}).encode(),
        "tokenizer_config.json": b'{"model_max_length": 4096}',
        "model-00001-of-00002.safetensors": shard1,
        "model-00002-of-00002.safetensors": shard2,
        "model.safetensors.index.json": json.dumps(index).encode(),
        # The same weights again in formats vLLM does not need beside safetensors.
        "pytorch_model.bin": os.urandom(300_000),
        "original/consolidated.00.pth": os.urandom(300_000),
        "README.md": b"# tiny",
    }


NEEDED = {
    "config.json",
    "generation_config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "model-00001-of-00002.safetensors",
    "model-00002-of-00002.safetensors",
    "model.safetensors.index.json",
}


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    fake = FakeHub(
        repos={
            REPO: Repo(
                commits={COMMIT_A: _model_files(1), COMMIT_B: _model_files(2)},
                refs={"main": COMMIT_A, "v2": COMMIT_B},
            ),
            "gated-org/gated-model": Repo(
                commits={COMMIT_A: _model_files(3)}, refs={"main": COMMIT_A}, gated=True
            ),
        }
    ).start()
    yield fake
    fake.stop()


def _env(hub: FakeHub, tmp_path: Path, token: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
    env.update(
        HF_ENDPOINT=hub.url,
        HF_HOME=str(tmp_path / "hf-home"),  # no token or cache of the machine running the tests
        HF_HUB_DISABLE_TELEMETRY="1",
        HF_HUB_DISABLE_PROGRESS_BARS="1",
        HF_HUB_DOWNLOAD_TIMEOUT="30",
    )
    if token:
        env["HF_TOKEN"] = token
    return env


def _run(
    hub: FakeHub, tmp_path: Path, *args: str, token: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env=_env(hub, tmp_path, token),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _fetch(
    hub: FakeHub,
    tmp_path: Path,
    store: Path,
    revision: str = "main",
    repo: str = REPO,
    token: str | None = None,
):
    return _run(
        hub, tmp_path, "fetch", "--store", str(store), "--repo", repo, "--revision", revision, token=token
    )


def _partial_sizes(directory: Path) -> list[int]:
    sizes = []
    for root, _, names in os.walk(directory):
        for name in names:
            if name.endswith(".incomplete"):
                with contextlib.suppress(FileNotFoundError):  # renamed into place meanwhile
                    sizes.append((Path(root) / name).stat().st_size)
    return sizes


def _listing(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


def test_full_download_fetches_only_what_vllm_needs_and_writes_the_marker(
    hub: FakeHub, tmp_path: Path
) -> None:
    store = tmp_path / "store"
    result = _fetch(hub, tmp_path, store)
    assert result.returncode == 0, result.stderr
    target = store / "tiny-org" / "tiny-model" / "main"
    assert _listing(target) == NEEDED | {MARKER}
    marker = json.loads((target / MARKER).read_text())
    assert marker["commit"] == COMMIT_A and marker["revision"] == "main"
    files = hub.repos[REPO].commits[COMMIT_A]
    assert {f["path"]: (f["size"], f["sha256"]) for f in marker["files"]} == {
        p: (len(files[p]), hashlib.sha256(files[p]).hexdigest()) for p in NEEDED
    }
    assert not any(p.endswith((".bin", ".pth")) for _, p, _ in hub.requests)


def test_second_run_with_the_marker_is_a_no_op(hub: FakeHub, tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert _fetch(hub, tmp_path, store).returncode == 0
    before = len(hub.requests)
    again = _fetch(hub, tmp_path, store)
    assert again.returncode == 0, again.stderr
    assert "already complete" in again.stdout
    assert len(hub.requests) == before, hub.requests[before:]


def test_a_killed_download_resumes_where_it_stopped(hub: FakeHub, tmp_path: Path) -> None:
    """huggingface_hub 1.x and later keep each finished file and restart an unfinished one, so a
    killed run continues from the file it was on (a shard is at most a few GB)."""
    store = tmp_path / "store"
    hub.bytes_per_second = 700_000  # a 2 MiB shard takes about three seconds
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "fetch", "--store", str(store), "--repo", REPO, "--revision", "main"],
        env=_env(hub, tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    target = store / "tiny-org" / "tiny-model" / "main"
    first = target / "model-00001-of-00002.safetensors"
    deadline = time.monotonic() + 60
    # Kill once the second shard's body is on its way (the hub has its GET).
    while time.monotonic() < deadline and not (
        first.exists() and hub.file_gets("/model-00002-of-00002.safetensors")
    ):
        time.sleep(0.02)
    proc.kill()
    proc.wait()
    assert first.exists(), "the first shard never finished"
    assert not (target / "model-00002-of-00002.safetensors").exists()
    assert not (target / MARKER).exists()

    hub.bytes_per_second = None
    result = _fetch(hub, tmp_path, store)
    assert result.returncode == 0, result.stderr
    assert (target / MARKER).exists()
    assert len(hub.file_gets("/model-00001-of-00002.safetensors")) == 1  # not fetched again
    assert len(hub.file_gets("/model-00002-of-00002.safetensors")) == 2
    files = hub.repos[REPO].commits[COMMIT_A]
    for name in NEEDED:
        assert (target / name).read_bytes() == files[name]
    assert _partial_sizes(target) == []  # the killed run's part file is gone


def test_a_gated_model_without_a_token_fails_with_a_clear_error(hub: FakeHub, tmp_path: Path) -> None:
    store = tmp_path / "store"
    result = _fetch(hub, tmp_path, store, repo="gated-org/gated-model")
    assert result.returncode == 2
    assert (
        "gated-org/gated-model@main: the hub refused the download (401): the model is gated or private and no "
        "HF_TOKEN was given. Fix: accept the model's licence on the hub and name a Secret with key HF_TOKEN in "
        "the model's hfTokenSecret"
    ) in result.stderr
    assert "Traceback" not in result.stderr
    assert not (store / "gated-org" / "gated-model" / "main" / MARKER).exists()

    wrong = _fetch(hub, tmp_path, store, repo="gated-org/gated-model", token="hf_wrong")
    assert "refused the download (401) with the HF_TOKEN given" in wrong.stderr
    assert "hf_wrong" not in wrong.stderr + wrong.stdout

    good = _fetch(hub, tmp_path, store, repo="gated-org/gated-model", token="hf_test_token")
    assert good.returncode == 0, good.stderr


def test_a_new_revision_downloads_beside_the_old_one(hub: FakeHub, tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert _fetch(hub, tmp_path, store, "main").returncode == 0
    assert _fetch(hub, tmp_path, store, "v2").returncode == 0
    old, new = (store / "tiny-org" / "tiny-model" / rev for rev in ("main", "v2"))
    assert json.loads((old / MARKER).read_text())["commit"] == COMMIT_A
    assert json.loads((new / MARKER).read_text())["commit"] == COMMIT_B
    assert (old / "config.json").read_bytes() != (new / "config.json").read_bytes()
    assert (new / "config.json").read_bytes() == hub.repos[REPO].commits[COMMIT_B]["config.json"]


def test_an_unknown_revision_is_named(hub: FakeHub, tmp_path: Path) -> None:
    result = _fetch(hub, tmp_path, tmp_path / "store", "no-such-branch")
    assert result.returncode == 2
    assert "the hub has no revision 'no-such-branch'" in result.stderr


def test_two_concurrent_runs_download_each_file_once(hub: FakeHub, tmp_path: Path) -> None:
    store = tmp_path / "store"
    hub.bytes_per_second = 8_000_000
    cmd = [sys.executable, str(SCRIPT), "fetch", "--store", str(store), "--repo", REPO, "--revision", "main"]
    procs = [
        subprocess.Popen(
            cmd, env=_env(hub, tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert sum("already complete" in out for out, _ in outputs) == 1
    for name in NEEDED:
        assert len(hub.file_gets("/" + name)) == 1, name
    target = store / "tiny-org" / "tiny-model" / "main"
    assert _listing(target) == NEEDED | {MARKER}


def test_select_files_prefers_safetensors_and_keeps_bin_only_without_them() -> None:
    assert select_files(["model.safetensors", "pytorch_model.bin", "config.json", "original/x.pth"]) == [
        "config.json",
        "model.safetensors",
    ]
    assert select_files(["pytorch_model.bin", "consolidated.pth", "config.json", "tokenizer.model"]) == [
        "config.json",
        "pytorch_model.bin",
        "tokenizer.model",
    ]
    assert select_files(["consolidated.pth", "params.json"]) == ["consolidated.pth", "params.json"]


@pytest.mark.parametrize("ref", ["main", "v1.0", "refs/pr/3", "a" * 40, "release-2024_07"])
def test_git_refs(ref: str) -> None:
    assert is_git_ref(ref)


@pytest.mark.parametrize(
    "ref", ["", "a..b", "has space", "x.lock", "-main", "main/", "a:b", "a@{1}", "/abs", ".hidden"]
)
def test_not_git_refs(ref: str) -> None:
    assert not is_git_ref(ref)


def _fake_revision(store: Path, repo: str, rev: str) -> Path:
    path = download.revision_path(store, repo, rev)
    path.mkdir(parents=True)
    (path / MARKER).write_text("{}")
    with download.store_lock(store, repo, rev):
        pass
    return path


def test_prune_keeps_current_and_recent_previous_revisions(tmp_path: Path) -> None:
    store = tmp_path / "store"
    current, previous, stale, unused = (
        _fake_revision(store, "org/m", r) for r in ("v3", "v2", "v1", "scratch")
    )
    other = _fake_revision(store, "solo", "main")
    record_in_use(store, "default--m", "org/m", "v1", now=0)
    record_in_use(store, "default--m", "org/m", "v2", now=100)
    record_in_use(store, "default--m", "org/m", "v3", now=1000)
    record_in_use(store, "default--solo", "solo", "main", now=0)

    logs: list[str] = []
    assert set(prune(store, grace_s=3600, now=1500, log=logs.append)) == {stale, unused}
    assert all(p.exists() for p in (current, previous, stale, unused, other))  # dry run by default

    assert set(prune(store, grace_s=3600, now=1500, dry_run=False, log=logs.append)) == {stale, unused}
    assert current.exists() and previous.exists() and other.exists()
    assert not stale.exists() and not unused.exists()
    # After the grace period the previous revision goes too; the current one never does.
    assert prune(store, grace_s=3600, now=1000 + 3601, dry_run=False, log=logs.append) == [previous]
    assert current.exists()


def test_prune_skips_a_revision_being_downloaded(tmp_path: Path) -> None:
    store = tmp_path / "store"
    busy = _fake_revision(store, "org/m", "v1")
    # A second process holds the lock (POSIX record locks are per process).
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys,time;from pathlib import Path;from llmops.components.serving.download import store_lock\n"
            "with store_lock(Path(sys.argv[1]),'org/m','v1'):\n print('held',flush=True);time.sleep(30)",
            str(store),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[3],
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        logs = io.StringIO()
        assert prune(store, dry_run=False, log=lambda s: logs.write(s + "\n")) == []
        assert busy.exists() and "being downloaded" in logs.getvalue()
    finally:
        holder.kill()
        holder.wait()

#!/usr/bin/env python3
"""Fetch the files vLLM serves a model from into the model store, once per model and revision.

Run as `python3 download.py fetch --store /models --repo ORG/NAME --revision REV` by the
download Job (the file ships in a ConfigMap, so it uses only the standard library and
`huggingface_hub`, both present in the vLLM image), or by hand to pre-load a store.

Store layout (docs/model-store.md):

    <store>/<org>/<name>/<revision>/          the files, as in the repository
    <store>/<org>/<name>/<revision>/.llmops-complete.json   completion marker (last write)
    <store>/.locks/<org>--<name>--<revision>.lock           one lock per model revision
    <store>/.in-use/<namespace>--<model>.json               which revision each model serves

A revision directory without the marker is a partial download; replicas wait until the
marker appears. The marker lists every file with its size and sha256.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import fnmatch
import hashlib
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

MARKER = ".llmops-complete.json"
LOCK_DIR = ".locks"
IN_USE_DIR = ".in-use"
# huggingface_hub keeps per-file download metadata and `.incomplete` parts here (local_dir mode).
HUB_METADATA_DIR = ".cache"
# Seconds a revision that a model stopped serving is kept, so replicas of a rollout still
# running the old revision keep their files (a rollout replaces one replica at a time, each
# within its startup timeout; two hours covers six replicas of a 20-minute timeout).
DEFAULT_PRUNE_GRACE_S = 2 * 3600

# What vLLM reads from a model repository (top-level files only: `original/`, `onnx/` and
# similar folders hold other formats of the same weights).
_CONFIG_PATTERNS = (
    "config.json",
    "generation_config.json",
    "params.json",
    "preprocessor_config.json",
    "processor_config.json",
    "tokenizer*",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab*",
    "merges.txt",
    "*.tiktoken",
    "chat_template*",
    "*.py",
)
_SAFETENSORS = ("*.safetensors", "*.safetensors.index.json")
_PYTORCH = ("*.bin", "*.bin.index.json", "*.pt", "*.pth")

# Revisions are git refs or commit ids (git check-ref-format, simplified to what the hub accepts).
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")


class DownloadError(RuntimeError):
    """A download that cannot succeed as asked; the message says why and what to do."""


def is_git_ref(revision: str) -> bool:
    """True when `revision` is a usable branch, tag or commit name (git check-ref-format rules)."""
    if not revision or revision == "@" or len(revision) > 255:
        return False
    if _REF_FORBIDDEN.search(revision):
        return False
    if revision.startswith(("/", "-")) or revision.endswith(("/", ".", ".lock")):
        return False
    return all(
        part and not part.startswith(".") and not part.endswith(".lock") for part in revision.split("/")
    )


def revision_dir_name(revision: str) -> str:
    """Directory name of a revision: hub refs such as `refs/pr/1` become `refs--pr--1`."""
    return revision.replace("/", "--")


def revision_path(store: Path, repo: str, revision: str) -> Path:
    """`<store>/<repo>/<revision>/`, where vLLM serves the model from."""
    return store.joinpath(*repo.split("/"), revision_dir_name(revision))


def _matches(path: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(path, pattern) for pattern in patterns)


def select_files(paths: Iterable[str]) -> list[str]:
    """The files of a repository that vLLM needs: config, tokenizer, generation files and one
    copy of the weights (safetensors when there are any; the PyTorch files only otherwise)."""
    top = sorted(p for p in paths if "/" not in p)
    has_safetensors = any(_matches(p, ("*.safetensors",)) for p in top)
    weights = _SAFETENSORS if has_safetensors else _PYTORCH
    # A consolidated `.pth` next to `.bin` shards is the same weights again.
    if not has_safetensors and any(_matches(p, ("*.bin",)) for p in top):
        weights = ("*.bin", "*.bin.index.json")
    return [p for p in top if _matches(p, _CONFIG_PATTERNS) or _matches(p, weights)]


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    sha256: str | None
    """LFS files carry their sha256 in the tree listing; small files carry a git blob id."""
    blob_id: str | None


@dataclass(frozen=True)
class Result:
    path: Path
    downloaded: bool
    """False when the marker was already there (nothing was fetched)."""
    files: int
    bytes: int


@contextlib.contextmanager
def store_lock(store: Path, repo: str, revision: str, *, blocking: bool = True) -> Iterator[bool]:
    """Hold the lock of one model revision. POSIX record locks (fcntl) also hold across the
    clients of an NFSv4 file system such as EFS, unlike flock on some kernels."""
    lock_dir = store / LOCK_DIR
    lock_dir.mkdir(parents=True, exist_ok=True)
    lock_file = lock_dir / f"{repo.replace('/', '--')}--{revision_dir_name(revision)}.lock"
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o664)
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX if blocking else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.lockf(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def read_marker(directory: Path) -> dict | None:
    """The completion marker of a revision directory, or None when it is absent or unreadable."""
    try:
        data = json.loads((directory / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _marker_still_true(directory: Path, marker: dict) -> bool:
    """Every file the marker lists is there with its size (a cheap check; no re-hashing)."""
    try:
        return all(
            (directory / f["path"]).stat().st_size == f["size"] for f in marker.get("files", [])
        ) and bool(marker.get("files"))
    except (OSError, KeyError, TypeError):
        return False


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _git_blob_id(path: Path) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _enable_fast_transfer() -> None:
    """hf_transfer speeds up huggingface_hub before 1.0; from 1.0 on, the hub's own Xet client
    replaces it and its high-performance mode does the same job."""
    os.environ.setdefault("HF_XET_HIGH_PERFORMANCE", "1")
    import importlib.util

    if importlib.util.find_spec("hf_transfer") is not None:
        os.environ.setdefault("HF_HUB_ENABLE_HF_TRANSFER", "1")


def _hub_error(repo: str, revision: str, error: Exception) -> DownloadError:
    from huggingface_hub.utils import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    status = getattr(getattr(error, "response", None), "status_code", None)
    has_token = bool(os.environ.get("HF_TOKEN"))
    where = f"{repo}@{revision}"
    if isinstance(error, RevisionNotFoundError):
        return DownloadError(
            f"{where}: the hub has no revision {revision!r}. Fix: name an existing branch, tag or commit"
        )
    if isinstance(error, GatedRepoError) or status in (401, 403):
        if not has_token:
            return DownloadError(
                f"{where}: the hub refused the download ({status}): the model is gated or private and no "
                "HF_TOKEN was given. Fix: accept the model's licence on the hub and name a Secret with key "
                "HF_TOKEN in the model's hfTokenSecret"
            )
        return DownloadError(
            f"{where}: the hub refused the download ({status}) with the HF_TOKEN given. Fix: use a token "
            "of an account that accepted the model's licence (read access)"
        )
    if isinstance(error, RepositoryNotFoundError):
        return DownloadError(f"{where}: no such model on the hub. Fix: check the model id's spelling")
    return DownloadError(f"{where}: download failed: {error}")


def list_remote(repo: str, revision: str) -> tuple[str, list[RemoteFile]]:
    """The commit a revision points at and the repository's files there, from the hub's API."""
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import RepoFile
    from huggingface_hub.utils import HfHubHTTPError

    api = HfApi()
    try:
        commit = api.model_info(repo, revision=revision).sha
        if commit is None:
            raise DownloadError(f"{repo}@{revision}: the hub returned no commit for the revision")
        files = []
        for entry in api.list_repo_tree(repo, revision=commit, recursive=True):
            if not isinstance(entry, RepoFile):
                continue
            lfs = entry.lfs
            files.append(
                RemoteFile(
                    path=entry.path,
                    size=entry.size,
                    sha256=lfs.sha256 if lfs is not None else None,
                    blob_id=entry.blob_id,
                )
            )
    except HfHubHTTPError as error:
        raise _hub_error(repo, revision, error) from error
    return commit, files


def fetch(store: Path, repo: str, revision: str, *, log=print) -> Result:
    """Download `repo` at `revision` into the store unless its marker is already there.

    Holds the revision's lock for the whole download: a second run waits, then finds the
    marker and does nothing. Finished files of a killed run are kept (huggingface_hub records
    each one's commit and etag beside it); the file it was on starts again.
    """
    if not is_git_ref(revision):
        raise DownloadError(f"revision: {revision!r} is not a git branch, tag or commit name")
    target = revision_path(store, repo, revision)
    with store_lock(store, repo, revision):
        marker = read_marker(target)
        if marker is not None and _marker_still_true(target, marker):
            log(f"llmops-download: {repo}@{revision} already complete in {target}; nothing to do")
            return Result(target, False, len(marker["files"]), sum(f["size"] for f in marker["files"]))
        _enable_fast_transfer()
        import huggingface_hub
        from huggingface_hub import hf_hub_download

        # Before 0.23, local_dir downloads were symlinks into HF_HOME, which is pod-local here.
        major, minor = (int(part) for part in re.findall(r"\d+", huggingface_hub.__version__)[:2])
        if (major, minor) < (0, 23):
            raise DownloadError(
                f"huggingface_hub {huggingface_hub.__version__} is too old (symlinked local_dir "
                "downloads). Fix: run the download with an image that has huggingface_hub 0.23 or newer"
            )
        from huggingface_hub.utils import HfHubHTTPError

        commit, remote = list_remote(repo, revision)
        by_path = {f.path: f for f in remote}
        wanted = select_files(by_path)
        if not any(_matches(p, _SAFETENSORS + _PYTORCH) for p in wanted):
            raise DownloadError(
                f"{repo}@{revision}: no weights vLLM can load (safetensors or PyTorch .bin) at the top "
                "level of the repository. Fix: serve a repository with safetensors weights"
            )
        total = sum(by_path[p].size for p in wanted)
        log(f"llmops-download: {repo}@{revision} (commit {commit}): {len(wanted)} files, {total} bytes")
        target.mkdir(parents=True, exist_ok=True)
        (target / MARKER).unlink(missing_ok=True)
        # Parts a killed run left behind (we hold the lock: no other download writes them).
        for part in (target / HUB_METADATA_DIR).rglob("*.incomplete"):
            part.unlink(missing_ok=True)
        for path in wanted:
            try:
                hf_hub_download(repo, path, revision=commit, local_dir=target)
            except HfHubHTTPError as error:
                raise _hub_error(repo, revision, error) from error
        files = []
        for path in wanted:
            local = target / path
            expected = by_path[path]
            size = local.stat().st_size
            digest = _sha256(local)
            if size != expected.size or (expected.sha256 and digest != expected.sha256):
                local.unlink()
                raise DownloadError(
                    f"{repo}@{revision}: {path} arrived with size {size} and sha256 {digest}, the hub lists "
                    f"{expected.size} and {expected.sha256}. Fix: run the download again"
                )
            if expected.sha256 is None and expected.blob_id and _git_blob_id(local) != expected.blob_id:
                local.unlink()
                raise DownloadError(
                    f"{repo}@{revision}: {path} does not match its git blob id. Fix: run the download again"
                )
            files.append({"path": path, "size": size, "sha256": digest})
        shutil.rmtree(target / HUB_METADATA_DIR, ignore_errors=True)
        marker = {
            "repo": repo,
            "revision": revision,
            "commit": commit,
            "completed_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "files": files,
        }
        # The marker is the last thing written, atomically: its presence means complete.
        _write_atomically(target / MARKER, json.dumps(marker, indent=2) + "\n")
        log(f"llmops-download: {repo}@{revision} complete in {target}")
        return Result(target, True, len(files), sum(f["size"] for f in files))


def record_in_use(store: Path, owner: str, repo: str, revision: str, *, now: float | None = None) -> None:
    """Note that `owner` (`<namespace>--<model>`) serves `repo@revision`; the revision it served
    before is remembered with the time of the change, for the prune grace period."""
    in_use = store / IN_USE_DIR
    in_use.mkdir(parents=True, exist_ok=True)
    path = in_use / f"{owner}.json"
    now = time.time() if now is None else now
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = None
    current = {"repo": repo, "revision": revision}
    if isinstance(old, dict) and {"repo": old.get("repo"), "revision": old.get("revision")} == current:
        return
    record = {**current, "since": now, "previous": None}
    if isinstance(old, dict) and old.get("repo") and old.get("revision"):
        record["previous"] = {"repo": old["repo"], "revision": old["revision"]}
    _write_atomically(path, json.dumps(record) + "\n")


def _revisions(store: Path) -> Iterator[tuple[str, str, Path]]:
    """(repo, revision directory name, path) of every revision directory in the store."""
    for lock in sorted((store / LOCK_DIR).glob("*.lock")):
        parts = lock.stem.split("--")
        # <org>--<name>--<revision...> or <name>--<revision...>; the lock exists from the first run.
        for split in (2, 1):
            if len(parts) > split:
                repo, rev = "/".join(parts[:split]), "--".join(parts[split:])
                path = store.joinpath(*repo.split("/"), rev)
                if path.is_dir():
                    yield repo, rev, path
                    break


def prune(
    store: Path,
    *,
    grace_s: float = DEFAULT_PRUNE_GRACE_S,
    dry_run: bool = True,
    now: float | None = None,
    log=print,
) -> list[Path]:
    """Remove revisions no model uses. The rule: a revision stays while an in-use record names it
    as current, or as previous for less than `grace_s` after the change, or while its lock is held
    (a download running). Everything else goes, partial downloads included. Default: dry run."""
    now = time.time() if now is None else now
    keep: set[tuple[str, str]] = set()
    for record_file in (store / IN_USE_DIR).glob("*.json"):
        try:
            record = json.loads(record_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            log(f"llmops-prune: {record_file} unreadable; keeping everything")
            return []
        keep.add((record["repo"], revision_dir_name(record["revision"])))
        previous = record.get("previous")
        if previous and now - float(record.get("since", 0)) < grace_s:
            keep.add((previous["repo"], revision_dir_name(previous["revision"])))
    removed = []
    for repo, rev, path in list(_revisions(store)):
        if (repo, rev) in keep:
            continue
        with store_lock(store, repo, rev, blocking=False) as locked:
            if not locked:
                log(f"llmops-prune: {repo}@{rev} is being downloaded; kept")
                continue
            log(f"llmops-prune: {'would remove' if dry_run else 'removing'} {path}")
            if not dry_run:
                # The marker goes first, so no replica starts from a half-removed revision.
                (path / MARKER).unlink(missing_ok=True)
                shutil.rmtree(path)
            removed.append(path)
    return removed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="llmops-download", description=(__doc__ or "").split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    get = sub.add_parser("fetch", help="download one model revision into the store")
    get.add_argument("--store", type=Path, required=True)
    get.add_argument("--repo", required=True)
    get.add_argument("--revision", required=True)
    get.add_argument("--owner", help="<namespace>--<model> to record as serving this revision")
    drop = sub.add_parser("prune", help="remove revisions no model uses (dry run unless --apply)")
    drop.add_argument("--store", type=Path, required=True)
    drop.add_argument("--grace-s", type=float, default=DEFAULT_PRUNE_GRACE_S)
    drop.add_argument("--apply", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.command == "fetch":
            fetch(args.store, args.repo, args.revision)
            if args.owner:
                record_in_use(args.store, args.owner, args.repo, args.revision)
        else:
            prune(args.store, grace_s=args.grace_s, dry_run=not args.apply)
    except DownloadError as error:
        print(f"llmops-download: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A Hugging Face Hub on 127.0.0.1 serving model repositories from memory.

Only the endpoints `huggingface_hub` calls to download a model: the model info of a
revision (`/api/models/<repo>/revision/<rev>`), the recursive tree listing
(`/api/models/<repo>/tree/<commit>`) and the file itself (`HEAD`/`GET`
`/<repo>/resolve/<commit>/<path>`, with Range requests). Large files are served as LFS
files (sha256 in the listing and `X-Linked-Etag`), small ones as git blobs. Gated
repositories answer 401 with the hub's `X-Error-Code: GatedRepo` when no token is sent.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

LFS_MIN_BYTES = 10_000


@dataclass
class Repo:
    commits: dict[str, dict[str, bytes]]
    """commit id -> {path: content}"""
    refs: dict[str, str]
    """branch or tag -> commit id"""
    gated: bool = False
    token: str = "hf_test_token"


@dataclass
class FakeHub:
    repos: dict[str, Repo] = field(default_factory=dict)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)
    """(method, path, Range header) of every request, in order."""
    bytes_per_second: float | None = None
    """Throttle file bodies (to kill a download half-way); default: full speed."""
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def file_gets(self, path_suffix: str) -> list[str | None]:
        return [r for m, p, r in self.requests if m == "GET" and p.endswith(path_suffix)]

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                hub._handle(self, head=True)

            def do_GET(self) -> None:
                hub._handle(self, head=False)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # -- request handling -------------------------------------------------------------

    def _handle(self, req: BaseHTTPRequestHandler, *, head: bool) -> None:
        path = unquote(urlsplit(req.path).path)
        self.requests.append(("HEAD" if head else "GET", path, req.headers.get("Range")))
        if path.startswith("/api/models/"):
            rest = path.removeprefix("/api/models/")
            for marker, handler in (("/revision/", self._model_info), ("/tree/", self._tree)):
                if marker in rest:
                    repo_id, _, rev = rest.partition(marker)
                    return handler(req, repo_id, rev)
            return self._error(req, HTTPStatus.NOT_FOUND, "RepoNotFound", "not found")
        if "/resolve/" in path:
            repo_id, _, rest = path.lstrip("/").partition("/resolve/")
            rev, _, file_path = rest.partition("/")
            return self._file(req, repo_id, rev, file_path, head=head)
        return self._error(req, HTTPStatus.NOT_FOUND, "EntryNotFound", "not found")

    def _repo(self, req: BaseHTTPRequestHandler, repo_id: str) -> Repo | None:
        repo = self.repos.get(repo_id)
        if repo is None:
            self._error(req, HTTPStatus.UNAUTHORIZED, "RepoNotFound", "Repository not found")
            return None
        if repo.gated and req.headers.get("Authorization") != f"Bearer {repo.token}":
            self._error(
                req,
                HTTPStatus.UNAUTHORIZED,
                "GatedRepo",
                f"Access to model {repo_id} is restricted. You must be authenticated to access it.",
            )
            return None
        return repo

    def _commit(self, req: BaseHTTPRequestHandler, repo: Repo, rev: str) -> str | None:
        commit = repo.refs.get(rev, rev if rev in repo.commits else None)
        if commit is None:
            self._error(req, HTTPStatus.NOT_FOUND, "RevisionNotFound", f"Invalid rev id: {rev}")
        return commit

    def _model_info(self, req: BaseHTTPRequestHandler, repo_id: str, rev: str) -> None:
        repo = self._repo(req, repo_id)
        if repo is None or (commit := self._commit(req, repo, rev)) is None:
            return
        files = repo.commits[commit]
        self._json(req, {"id": repo_id, "sha": commit, "siblings": [{"rfilename": p} for p in sorted(files)]})

    def _tree(self, req: BaseHTTPRequestHandler, repo_id: str, rev: str) -> None:
        repo = self._repo(req, repo_id)
        if repo is None or (commit := self._commit(req, repo, rev.split("/")[0])) is None:
            return
        entries: list[dict[str, object]] = []
        folders = sorted({p.rsplit("/", 1)[0] for p in repo.commits[commit] if "/" in p})
        entries += [
            {"type": "directory", "path": f, "oid": hashlib.sha1(f.encode()).hexdigest()} for f in folders
        ]
        for file_path, content in sorted(repo.commits[commit].items()):
            entry: dict[str, object] = {
                "type": "file",
                "path": file_path,
                "size": len(content),
                "oid": _blob_id(content),
            }
            if len(content) >= LFS_MIN_BYTES:
                entry["lfs"] = {
                    "oid": hashlib.sha256(content).hexdigest(),
                    "size": len(content),
                    "pointerSize": 134,
                }
            entries.append(entry)
        self._json(req, entries)

    def _file(
        self, req: BaseHTTPRequestHandler, repo_id: str, rev: str, file_path: str, *, head: bool
    ) -> None:
        repo = self._repo(req, repo_id)
        if repo is None or (commit := self._commit(req, repo, rev)) is None:
            return
        content = repo.commits[commit].get(file_path)
        if content is None:
            return self._error(req, HTTPStatus.NOT_FOUND, "EntryNotFound", f"{file_path} does not exist")
        lfs = len(content) >= LFS_MIN_BYTES
        etag = hashlib.sha256(content).hexdigest() if lfs else _blob_id(content)
        start = 0
        range_header = req.headers.get("Range")
        if range_header and range_header.startswith("bytes=") and not head:
            start = int(range_header.removeprefix("bytes=").split("-")[0])
        body = content[start:]
        req.send_response(HTTPStatus.PARTIAL_CONTENT if start else HTTPStatus.OK)
        req.send_header("X-Repo-Commit", commit)
        req.send_header("ETag", f'"{etag}"')
        if lfs:
            req.send_header("X-Linked-Etag", f'"{etag}"')
            req.send_header("X-Linked-Size", str(len(content)))
        req.send_header("Accept-Ranges", "bytes")
        if start:
            req.send_header("Content-Range", f"bytes {start}-{len(content) - 1}/{len(content)}")
        req.send_header("Content-Length", str(len(body) if not head else len(content)))
        req.end_headers()
        if head:
            return
        chunk = 64 * 1024
        try:
            for offset in range(0, len(body), chunk):
                req.wfile.write(body[offset : offset + chunk])
                if self.bytes_per_second:
                    req.wfile.flush()
                    time.sleep(chunk / self.bytes_per_second)
        except (BrokenPipeError, ConnectionResetError):
            pass

    @staticmethod
    def _json(req: BaseHTTPRequestHandler, payload: object) -> None:
        body = json.dumps(payload).encode()
        req.send_response(HTTPStatus.OK)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)

    @staticmethod
    def _error(req: BaseHTTPRequestHandler, status: HTTPStatus, code: str, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        req.send_response(status)
        req.send_header("X-Error-Code", code)
        req.send_header("X-Error-Message", message)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(body)))
        req.end_headers()
        req.wfile.write(body)


def _blob_id(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content, usedforsecurity=False).hexdigest()

"""Wait until a new K3s API answers `/readyz`, with the credentials the program built. No Pulumi imports.

The kubeconfig needs no read-back, but a server that was just created still needs a minute or
two (cloud-init, K3s download, first start) before it answers. Without this wait, the first
Kubernetes resource of a fresh stack fails with "connection refused" and `pulumi up` has to be
run twice. See docs/decisions/030-k3s-pki-in-program.md.
"""

from __future__ import annotations

import os
import ssl
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path


class ApiNotReadyError(RuntimeError):
    """The API did not become ready within the timeout."""


def _context(ca_pem: str, cert_path: Path, key_path: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cadata=ca_pem)
    context.load_cert_chain(str(cert_path), str(key_path))
    return context


def wait_for_api(
    *,
    server_url: str,
    ca_pem: str,
    client_cert_pem: str,
    client_key_pem: str,
    timeout_s: float,
    shell_hint: str = "open a shell on the server",
    interval_s: float = 10.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> None:
    """Return once `GET <server_url>/readyz` answers 200; raise ApiNotReadyError after `timeout_s`."""
    deadline = clock() + timeout_s
    last_error = "no attempt made"
    with tempfile.TemporaryDirectory(prefix="llmops-api-") as folder:
        cert_path, key_path = Path(folder) / "admin.crt", Path(folder) / "admin.key"
        cert_path.write_text(client_cert_pem)
        key_path.touch(mode=0o600)
        os.chmod(key_path, 0o600)
        key_path.write_text(client_key_pem)
        context = _context(ca_pem, cert_path, key_path)
        while True:
            try:
                with urllib.request.urlopen(f"{server_url}/readyz", context=context, timeout=10) as response:
                    if response.status == 200:
                        return
                    last_error = f"HTTP {response.status}"
            except urllib.error.HTTPError as exc:
                last_error = f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError) as exc:
                last_error = str(getattr(exc, "reason", exc))
            if clock() >= deadline:
                raise ApiNotReadyError(
                    f"the Kubernetes API at {server_url} was not ready after {timeout_s:.0f} s "
                    f"(last answer: {last_error}). Fix: {shell_hint}, read "
                    "/var/log/cloud-init-output.log, then run `pulumi up` again."
                )
            sleep(interval_s)

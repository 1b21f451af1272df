"""Locate the external checkers the tests run (promtool, prometheus), installing them when possible.

The real checkers are the point of these tests, so a missing one is installed from Debian's
packages when the tests run as root with apt-get (CI's case). Elsewhere the test skips with
the command to run; under LLMOPS_REQUIRE_SHARED=1 (CI) it fails instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading

import pytest

_install_lock = threading.Lock()
_apt_updated = False

# binary -> Debian package that ships it
_DEBIAN_PACKAGES = {
    "promtool": "prometheus",
    "prometheus": "prometheus",
}


def _apt_install(package: str) -> None:
    global _apt_updated
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if not _apt_updated:
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, capture_output=True)
        _apt_updated = True
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", package],
        check=True,
        env=env,
        capture_output=True,
    )


def require_tool(binary: str) -> str:
    """Absolute path of `binary`; install its Debian package if we can, else skip (fail in CI)."""
    found = shutil.which(binary)
    if found:
        return found
    package = _DEBIAN_PACKAGES.get(binary, binary)
    with _install_lock:
        found = shutil.which(binary)
        if found:
            return found
        if os.geteuid() == 0 and shutil.which("apt-get"):
            try:
                _apt_install(package)
            except subprocess.CalledProcessError as exc:
                pytest.fail(f"installing Debian package {package!r} failed: {exc.stderr!r}", pytrace=False)
            found = shutil.which(binary)
            if found:
                return found
    reason = f"{binary} not found; install it with: apt-get install {package}"
    if os.environ.get("LLMOPS_REQUIRE_SHARED") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)

"""Stack values that are secrets: the `{secure: ...}` form at any depth, and plain text refused.

`pulumi config set --secret --path 'llmops:observability.grafanaAdminPassword' ...` writes the
encrypted value nested inside the mapping (`grafanaAdminPassword: {secure: v1:...}`) and marks
the whole top-level key secret. The offline plan cannot decrypt it, so the value becomes
`SECRET_PLACEHOLDER` and its path is recorded; under the Pulumi engine the value arrives
decrypted and the top-level key is listed as secret. A sensitive key given in plain text is an
error, and no message, in any check, repeats a sensitive value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmops.infra.config import Problem, StackConfig

SECRET_PLACEHOLDER = "[secret: not decrypted offline]"
"""The value a `{secure: ...}` key gets in the offline plan, where nothing is decrypted; long enough
to pass the length checks a real secret must pass."""

# Config paths (below `llmops:`) whose values are secrets.
SENSITIVE_PATHS = ("observability.grafanaAdminPassword", "cluster.kubeconfig")
MIN_GRAFANA_PASSWORD = 12


def unwrap_secure(value: Any, path: str, found: set[str]) -> Any:
    """`value` with every nested `{secure: ...}` replaced by the placeholder; their paths into `found`."""
    if isinstance(value, dict):
        if set(value) == {"secure"}:
            found.add(path)
            return SECRET_PLACEHOLDER
        return {k: unwrap_secure(v, f"{path}.{k}", found) for k, v in value.items()}
    if isinstance(value, list):
        return [unwrap_secure(v, f"{path}[{i}]", found) for i, v in enumerate(value)]
    return value


def is_sensitive(path: str) -> bool:
    """Whether a config path (as problems print it) is, or lies inside, a secret value."""
    return any(path == s or path.startswith(s + ".") or path.startswith(s + "[") for s in SENSITIVE_PATHS)


def holds_sensitive(path: str, value: Any) -> bool:
    """Whether `value` at `path` contains a secret (a mapping printed whole, e.g. a bad `cluster`)."""
    if is_sensitive(path):
        return True
    if isinstance(value, Mapping):
        return any(holds_sensitive(f"{path}.{k}" if path else str(k), v) for k, v in value.items())
    return False


def _is_secret(path: str, secret_keys: Iterable[str], namespace: str) -> bool:
    top = path.split(".", 1)[0]
    keys = set(secret_keys)
    return f"{namespace}:{top}" in keys or f"{namespace}:{path}" in keys


def _inline_kubeconfig(text: str) -> bool:
    # A path is one line; a kubeconfig's contents are YAML or JSON over several keys.
    return "\n" in text or text.lstrip().startswith(("apiVersion", "{", "clusters:", "kind:"))


def plaintext_problems(config: StackConfig, secret_keys: Iterable[str], namespace: str) -> list[Problem]:
    """Sensitive values given in plain text, and sensitive values too weak to use (never echoed)."""
    from llmops.infra.config import _MISSING, ExistingClusterConfig, Problem

    keys = list(secret_keys)
    problems: list[Problem] = []

    def plaintext(path: str, what: str) -> Problem:
        return Problem(
            path,
            _MISSING,
            f"is {what} in plain text in the stack file (the value is not shown)",
            f"remove it and run: pulumi config set --secret --path '{namespace}:{path}' <value>",
        )

    password = config.observability.grafana_admin_password
    if password is not None:
        if not _is_secret("observability.grafanaAdminPassword", keys, namespace):
            problems.append(plaintext("observability.grafanaAdminPassword", "a password"))
        elif password != SECRET_PLACEHOLDER and len(password) < MIN_GRAFANA_PASSWORD:
            problems.append(
                Problem(
                    "observability.grafanaAdminPassword",
                    _MISSING,
                    f"is shorter than {MIN_GRAFANA_PASSWORD} characters (the value is not shown)",
                    "set a longer one as a secret, or remove it to have one generated",
                )
            )
    cluster = config.cluster
    if (
        isinstance(cluster, ExistingClusterConfig)
        and cluster.kubeconfig
        and _inline_kubeconfig(cluster.kubeconfig)
        and not _is_secret("cluster.kubeconfig", keys, namespace)
    ):
        problems.append(plaintext("cluster.kubeconfig", "an inline kubeconfig (credentials)"))
    return problems

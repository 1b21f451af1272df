"""The Pod Security Standards' restricted profile (baseline included), as checks on a pod spec.

Written from the profile's published controls (kubernetes.io, "Pod Security Standards", the
v1.33 version of each control), which the API server's PodSecurity admission enforces on a
namespace labelled `pod-security.kubernetes.io/enforce: restricted`. Each problem names the
field path, so a test failure says what to change.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
SELINUX_TYPES = frozenset({"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"})
SECCOMP_ALLOWED = frozenset({"RuntimeDefault", "Localhost"})
APPARMOR_ALLOWED = frozenset({"RuntimeDefault", "Localhost"})
VOLUME_FIELDS_IGNORED = frozenset({"name"})


def _containers(pod: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    for kind in ("initContainers", "containers", "ephemeralContainers"):
        for i, container in enumerate(pod.get(kind) or []):
            yield f"{kind}[{i}]({container.get('name')})", container


def restricted_problems(pod: Mapping[str, Any]) -> list[str]:
    """Every way `pod` (a PodSpec as the API takes it) breaks the restricted profile."""
    problems: list[str] = []
    pod_context = pod.get("securityContext") or {}
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            problems.append(f"spec.{field}: must be unset or false")
    if (pod_context.get("windowsOptions") or {}).get("hostProcess"):
        problems.append("spec.securityContext.windowsOptions.hostProcess: must be unset or false")
    for i, volume in enumerate(pod.get("volumes") or []):
        kinds = set(volume) - VOLUME_FIELDS_IGNORED
        if not kinds <= RESTRICTED_VOLUMES:
            problems.append(
                f"spec.volumes[{i}]({volume.get('name')}): {sorted(kinds)} is not an allowed volume type"
            )
    for i, sysctl in enumerate(pod_context.get("sysctls") or []):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            problems.append(f"spec.securityContext.sysctls[{i}]: {sysctl.get('name')!r} is not a safe sysctl")
    problems += _selinux("spec.securityContext", pod_context)
    problems += _apparmor("spec.securityContext", pod_context)
    pod_seccomp = (pod_context.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in SECCOMP_ALLOWED:
        problems.append(
            f"spec.securityContext.seccompProfile.type: {pod_seccomp!r} is not RuntimeDefault or Localhost"
        )
    if pod_context.get("runAsUser") == 0:
        problems.append("spec.securityContext.runAsUser: 0 (root) is not allowed")
    pod_non_root = pod_context.get("runAsNonRoot")
    if pod_non_root is False:
        problems.append("spec.securityContext.runAsNonRoot: false is not allowed")

    for where, container in _containers(pod):
        context = container.get("securityContext") or {}
        path = f"spec.{where}.securityContext"
        if context.get("privileged"):
            problems.append(f"{path}.privileged: must be unset or false")
        if (context.get("windowsOptions") or {}).get("hostProcess"):
            problems.append(f"{path}.windowsOptions.hostProcess: must be unset or false")
        for j, port in enumerate(container.get("ports") or []):
            if port.get("hostPort"):
                problems.append(f"spec.{where}.ports[{j}].hostPort: must be unset or 0")
        if context.get("procMount", "Default") != "Default":
            problems.append(f"{path}.procMount: must be Default")
        problems += _selinux(path, context)
        problems += _apparmor(path, context)
        if context.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{path}.allowPrivilegeEscalation: must be false")
        non_root = context.get("runAsNonRoot")
        if non_root is False or (non_root is None and pod_non_root is not True):
            problems.append(f"{path}.runAsNonRoot: must be true here or in the pod's securityContext")
        if context.get("runAsUser") == 0:
            problems.append(f"{path}.runAsUser: 0 (root) is not allowed")
        seccomp = (context.get("seccompProfile") or {}).get("type")
        if seccomp is not None and seccomp not in SECCOMP_ALLOWED:
            problems.append(f"{path}.seccompProfile.type: {seccomp!r} is not RuntimeDefault or Localhost")
        if seccomp is None and pod_seccomp is None:
            problems.append(f"{path}.seccompProfile: must be RuntimeDefault or Localhost here or in the pod")
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            problems.append(f"{path}.capabilities.drop: must include ALL")
        added = set(capabilities.get("add") or [])
        if added - {"NET_BIND_SERVICE"}:
            problems.append(f"{path}.capabilities.add: only NET_BIND_SERVICE is allowed, not {sorted(added)}")
        if added - BASELINE_CAPABILITIES:
            problems.append(
                f"{path}.capabilities.add: {sorted(added - BASELINE_CAPABILITIES)} break baseline too"
            )
    return problems


def _selinux(path: str, context: Mapping[str, Any]) -> list[str]:
    options = context.get("seLinuxOptions") or {}
    problems = []
    if options.get("type", "") not in SELINUX_TYPES:
        problems.append(f"{path}.seLinuxOptions.type: {options.get('type')!r} is not allowed")
    for field in ("user", "role"):
        if options.get(field):
            problems.append(f"{path}.seLinuxOptions.{field}: must be unset")
    return problems


def _apparmor(path: str, context: Mapping[str, Any]) -> list[str]:
    kind = (context.get("appArmorProfile") or {}).get("type")
    if kind is not None and kind not in APPARMOR_ALLOWED:
        return [f"{path}.appArmorProfile.type: {kind!r} is not RuntimeDefault or Localhost"]
    return []


POD_TEMPLATE_KINDS = {
    "kubernetes:apps/v1:Deployment": ("spec", "template", "spec"),
    "kubernetes:apps/v1:DaemonSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:StatefulSet": ("spec", "template", "spec"),
    "kubernetes:apps/v1:ReplicaSet": ("spec", "template", "spec"),
    "kubernetes:batch/v1:Job": ("spec", "template", "spec"),
    "kubernetes:batch/v1:CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "kubernetes:core/v1:Pod": ("spec",),
}


def pod_spec_of(type_token: str, inputs: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The pod spec inside a workload's inputs; None for other resources."""
    path = POD_TEMPLATE_KINDS.get(type_token)
    if path is None:
        return None
    value: Any = inputs
    for key in path:
        value = (value or {}).get(key)
    return value or {}

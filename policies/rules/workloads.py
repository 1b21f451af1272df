"""Pod security for every workload, with a written allow-list for the operators that need privileges;
Pod Security admission and NetworkPolicies for the namespaces that serve models."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources as package_files
from typing import Any

import yaml
from llmops.policies.rules._base import (
    Category,
    Level,
    Resource,
    StackFacts,
    Violation,
    resource_rule,
    stack_rule,
)
from llmops.policies.rules._walk import (
    HELM_RELEASE,
    WORKLOAD_TYPES,
    containers,
    get,
    items,
    mapping,
    namespace_of,
    pod_gpus,
    pod_templates,
    selector_matches,
    short,
    truthy,
    walk_strings,
    workload_labels,
)

NAME_LABEL = "app.kubernetes.io/name"
PSS_ENFORCE = "pod-security.kubernetes.io/enforce"


@dataclass(frozen=True)
class Allowance:
    name: str
    charts: tuple[str, ...]
    labels: tuple[str, ...]
    exempt: frozenset[str]
    reason: str


@cache
def allowlist() -> tuple[Allowance, ...]:
    """policies/allowlist.yaml: who may do what the workload policies forbid, and why."""
    text = package_files.files("llmops.policies").joinpath("allowlist.yaml").read_text()
    return tuple(
        Allowance(
            name=str(entry["name"]),
            charts=tuple(entry.get("charts", [])),
            labels=tuple(entry.get("labels", [])),
            exempt=frozenset(entry["exempt"]),
            reason=" ".join(str(entry["reason"]).split()),
        )
        for entry in yaml.safe_load(text)
    )


def chart_name(props: Mapping[str, Any]) -> str:
    chart = str(props.get("chart") or "")
    return chart.rstrip("/").rsplit("/", 1)[-1]


def allowance_for(resource: Resource, labels: Mapping[str, str], rule_id: str) -> Allowance | None:
    for entry in allowlist():
        if rule_id not in entry.exempt:
            continue
        if resource.type == HELM_RELEASE and chart_name(resource.props) in entry.charts:
            return entry
        if labels.get(NAME_LABEL) in entry.labels:
            return entry
    return None


def _at(resource: Resource, where: str, path: str, container: Mapping[str, Any]) -> str:
    """Where a finding is, for messages: `kind name <pod template>spec.<path> (<container>)`."""
    return f"{short(resource)} {where}spec.{path} ({container.get('name')})"


def _pods(resource: Resource, rule_id: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(path, pod spec) of the workload's pods, unless the allow-list exempts them from the rule."""
    for where, template in pod_templates(resource):
        if allowance_for(resource, workload_labels(resource, template), rule_id) is None:
            yield where, mapping(template.get("spec"))


def _context(pod: Mapping[str, Any], container: Mapping[str, Any], key: str) -> Any:
    """A security setting as the kubelet resolves it: the container's, else the pod's."""
    value = get(container, "securityContext", key)
    return value if value is not None else get(pod, "securityContext", key)


@resource_rule(
    "workload-non-root",
    description="Containers run as a non-root user (runAsNonRoot, or a non-zero runAsUser).",
    remediation="Set securityContext.runAsNonRoot: true and runAsUser/fsGroup to an unprivileged UID; "
    "operators that need root are listed in policies/allowlist.yaml with the reason.",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=WORKLOAD_TYPES,
)
def workload_non_root(resource: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for where, pod in _pods(resource, "workload-non-root"):
        for path, container in containers(pod):
            non_root = truthy(_context(pod, container, "runAsNonRoot"))
            user = _context(pod, container, "runAsUser")
            if user == 0 or (non_root is not True and not (isinstance(user, int) and user > 0)):
                yield (f"{_at(resource, where, path, container)}: may run as root (UID 0)")


@resource_rule(
    "workload-read-only-root",
    description="Containers have a read-only root filesystem; caches and scratch space are volumes.",
    remediation="Set securityContext.readOnlyRootFilesystem: true and mount emptyDir volumes where the "
    "program writes (for vLLM: the Hugging Face, torch and Triton caches, /tmp).",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=WORKLOAD_TYPES,
)
def workload_read_only_root(resource: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for where, pod in _pods(resource, "workload-read-only-root"):
        for path, container in containers(pod):
            if truthy(get(container, "securityContext", "readOnlyRootFilesystem")) is not True:
                yield (f"{_at(resource, where, path, container)}: root filesystem is writable")


@resource_rule(
    "workload-seccomp",
    description="Pods run under a seccomp profile (RuntimeDefault or a Localhost profile).",
    remediation="Set securityContext.seccompProfile.type: RuntimeDefault on the pod.",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=WORKLOAD_TYPES,
)
def workload_seccomp(resource: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for where, pod in _pods(resource, "workload-seccomp"):
        for path, container in containers(pod):
            profile = get(_context(pod, container, "seccompProfile"), "type")
            if profile not in ("RuntimeDefault", "Localhost"):
                yield (
                    f"{_at(resource, where, path, container)}: seccomp profile is "
                    f"{profile or 'unset'} (Unconfined)"
                )


@resource_rule(
    "workload-no-token-mount",
    description="Pods that do not call the Kubernetes API get no service account token.",
    remediation="Set automountServiceAccountToken: false on the pod spec; operators that call the API are "
    "listed in policies/allowlist.yaml.",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=WORKLOAD_TYPES,
)
def workload_no_token_mount(resource: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for where, pod in _pods(resource, "workload-no-token-mount"):
        if truthy(pod.get("automountServiceAccountToken")) is not False:
            yield (
                f"{short(resource)} {where}spec.automountServiceAccountToken is "
                f"{pod.get('automountServiceAccountToken', 'unset')}; a compromised process gets an API token"
            )


_DANGEROUS_CAPABILITIES = {
    "ALL",
    "SYS_ADMIN",
    "NET_ADMIN",
    "SYS_PTRACE",
    "SYS_MODULE",
    "BPF",
    "NET_RAW",
    "DAC_READ_SEARCH",
}


@resource_rule(
    "workload-not-privileged",
    description="No privileged containers, host namespaces, hostPath volumes or added kernel capabilities.",
    remediation="Remove privileged, hostNetwork/hostPID/hostIPC, hostPath volumes and capabilities.add; "
    "an operator that needs them goes into policies/allowlist.yaml with the reason.",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=WORKLOAD_TYPES,
)
def workload_not_privileged(resource: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for where, pod in _pods(resource, "workload-not-privileged"):
        for key in ("hostNetwork", "hostPID", "hostIPC"):
            if truthy(pod.get(key)):
                yield f"{short(resource)} {where}spec.{key} is true"
        for i, volume in enumerate(items(pod.get("volumes"))):
            if get(volume, "hostPath") is not None:
                yield (
                    f"{short(resource)} {where}spec.volumes[{i}] ({get(volume, 'name')}) "
                    f"mounts the host path {get(volume, 'hostPath', 'path')}"
                )
        for path, container in containers(pod):
            if truthy(get(container, "securityContext", "privileged")):
                yield f"{_at(resource, where, path, container)} is privileged"
            added = {str(c).upper() for c in items(get(container, "securityContext", "capabilities", "add"))}
            if added & _DANGEROUS_CAPABILITIES:
                yield (
                    f"{_at(resource, where, path, container)} "
                    f"adds {', '.join(sorted(added & _DANGEROUS_CAPABILITIES))}"
                )


@resource_rule(
    "workload-no-privilege-escalation",
    description="Containers drop every capability and cannot gain privileges (no setuid escalation).",
    remediation="Set securityContext.allowPrivilegeEscalation: false and capabilities.drop: [ALL].",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=WORKLOAD_TYPES,
)
def workload_no_privilege_escalation(resource: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    for where, pod in _pods(resource, "workload-no-privilege-escalation"):
        for path, container in containers(pod):
            context = mapping(container.get("securityContext"))
            if truthy(context.get("allowPrivilegeEscalation")) is not False:
                yield (f"{_at(resource, where, path, container)}: allowPrivilegeEscalation is not false")
            dropped = {str(c).upper() for c in items(get(context, "capabilities", "drop"))}
            if "ALL" not in dropped:
                yield (f"{_at(resource, where, path, container)}: capabilities.drop lacks ALL")


# Values keys through which charts grant host access or root.
_PRIVILEGE_VALUES = {
    "privileged": True,
    "hostNetwork": True,
    "useHostNetwork": True,
    "hostPID": True,
    "hostIPC": True,
    "runAsNonRoot": False,
    "allowPrivilegeEscalation": True,
}


@resource_rule(
    "helm-privileges-allow-listed",
    description="A Helm release whose values grant privileges (privileged, host network or PID, root) is "
    "an allow-listed operator.",
    remediation="Drop the setting, or add the chart to policies/allowlist.yaml with the reason it needs it.",
    level=Level.MANDATORY,
    category=Category.SECURITY,
    types=(HELM_RELEASE,),
)
def helm_privileges_allow_listed(resource: Resource, _: Mapping[str, Any]) -> Iterator[str]:
    if allowance_for(resource, {}, "helm-privileges-allow-listed") is not None:
        return
    for path, key, value in walk_strings(mapping(resource.props.get("values")), "values"):
        if key in _PRIVILEGE_VALUES and truthy(value) is _PRIVILEGE_VALUES[key]:
            yield (
                f"{short(resource)}: {path} is {value} but chart "
                f"{chart_name(resource.props)} is not allow-listed"
            )
        if key in ("runAsUser", "runAsGroup") and value == 0:
            yield (
                f"{short(resource)}: {path} is 0 (root) but chart "
                f"{chart_name(resource.props)} is not allow-listed"
            )


# --------------------------------------------------------------------------- serving namespaces


@dataclass(frozen=True)
class ModelPods:
    resource: Resource
    namespace: str
    labels: dict[str, str]


def model_workloads(resources: Sequence[Resource]) -> list[ModelPods]:
    """Workloads whose pods request GPUs, with their namespace and pod labels (namespace known only)."""
    found = []
    for resource in resources:
        if resource.type not in WORKLOAD_TYPES:
            continue
        namespace = namespace_of(resource)
        for _, template in pod_templates(resource):
            if pod_gpus(mapping(template.get("spec"))) and namespace is not None:
                found.append(ModelPods(resource, namespace, workload_labels(resource, template)))
                break
    return found


@stack_rule(
    "serving-namespace-restricted",
    description="Namespaces that serve models enforce the restricted Pod Security Standard.",
    remediation="Label the serving namespace pod-security.kubernetes.io/enforce=restricted.",
    level=Level.MANDATORY,
    category=Category.SECURITY,
)
def serving_namespace_restricted(
    resources: Sequence[Resource], _: StackFacts, __: Mapping[str, Any]
) -> Iterator[Violation]:
    namespaces = {
        get(r.props, "metadata", "name"): r for r in resources if r.type == "kubernetes:core/v1:Namespace"
    }
    for namespace in sorted({pods.namespace for pods in model_workloads(resources)}):
        created = namespaces.get(namespace)
        if created is None:
            continue  # a namespace the stack does not own: its labels are not ours to check
        level = get(created.props, "metadata", "labels", PSS_ENFORCE)
        if level != "restricted":
            yield Violation(
                f"Namespace {namespace} serves models but enforces Pod Security {level or 'nothing'!r}, "
                "not 'restricted'",
                created.urn,
            )


def _ingress_policies(resources: Sequence[Resource], namespace: str) -> list[Resource]:
    found = []
    for resource in resources:
        if (
            resource.type != "kubernetes:networking.k8s.io/v1:NetworkPolicy"
            or namespace_of(resource) != namespace
        ):
            continue
        spec = mapping(resource.props.get("spec"))
        types = [str(t) for t in items(spec.get("policyTypes"))]
        # Without policyTypes a policy is an Ingress policy (the API server's default).
        if "Ingress" in types or not types:
            found.append(resource)
    return found


@stack_rule(
    "serving-network-policy",
    description="Every model's pods are selected by an ingress NetworkPolicy in their namespace "
    "(default deny, then the model port from the namespaces allowed).",
    remediation="Add a default-deny ingress NetworkPolicy to the serving namespace and one that allows the "
    "model port from the clients' and the monitoring namespaces.",
    level=Level.MANDATORY,
    category=Category.SECURITY,
)
def serving_network_policy(
    resources: Sequence[Resource], _: StackFacts, __: Mapping[str, Any]
) -> Iterator[Violation]:
    for pods in model_workloads(resources):
        policies = _ingress_policies(resources, pods.namespace)
        if not any(
            selector_matches(mapping(get(p.props, "spec", "podSelector")), pods.labels) for p in policies
        ):
            yield Violation(
                f"{short(pods.resource)} in {pods.namespace}: no ingress NetworkPolicy selects its pods; any "
                "pod in the cluster can call the model",
                pods.resource.urn,
            )

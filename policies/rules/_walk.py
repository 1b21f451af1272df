"""Reading resource inputs: paths, pod specs, containers, secret-looking text, address ranges."""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from llmops.policies.rules._base import SECRET_MASK, UNKNOWN, Resource


def get(value: Any, *path: str | int) -> Any:
    """The value at `path`, or None where any step is missing (or unknown)."""
    for step in path:
        if isinstance(step, int):
            if not isinstance(value, Sequence) or isinstance(value, str) or step >= len(value):
                return None
            value = value[step]
        elif isinstance(value, Mapping) and step in value:
            value = value[step]
        else:
            return None
    return value


def items(value: Any) -> list[Any]:
    """A list input as a list; anything else (missing, unknown) as an empty one."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return list(value)
    return []


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def is_unknown(value: Any) -> bool:
    return value == UNKNOWN


def truthy(value: Any) -> bool | None:
    """A boolean input (the AWS provider writes some as the strings "true"/"false"); None if unset."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


def short(resource: Resource) -> str:
    """`kind name` for messages: the Kubernetes kind or the type's last part, and the resource name."""
    kind = resource.type.rsplit(":", 1)[-1]
    return f"{kind} {resource.name}"


# --------------------------------------------------------------------------- Kubernetes workloads

K8S = "kubernetes:"
WORKLOAD_TYPES = (
    "kubernetes:apps/v1:Deployment",
    "kubernetes:apps/v1:StatefulSet",
    "kubernetes:apps/v1:DaemonSet",
    "kubernetes:apps/v1:ReplicaSet",
    "kubernetes:batch/v1:Job",
    "kubernetes:batch/v1:CronJob",
    "kubernetes:core/v1:Pod",
    "kubernetes:ray.io/v1:RayService",
    "kubernetes:ray.io/v1:RayCluster",
    "kubernetes:ray.io/v1:RayJob",
)
HELM_RELEASE = "kubernetes:helm.sh/v3:Release"
GPU_RESOURCE = "nvidia.com/gpu"


def _ray_cluster_spec(props: Mapping[str, Any], type_token: str) -> Mapping[str, Any]:
    spec = mapping(props.get("spec"))
    if type_token.endswith(":RayService"):
        return mapping(spec.get("rayClusterConfig"))
    if type_token.endswith(":RayJob"):
        return mapping(spec.get("rayClusterSpec"))
    return spec


def pod_templates(resource: Resource) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(path, pod template) pairs: `metadata` and `spec` of every pod the workload runs."""
    props = resource.props
    kind = resource.type.rsplit(":", 1)[-1]
    if kind == "Pod":
        yield "", props
    elif kind == "CronJob":
        template = get(props, "spec", "jobTemplate", "spec", "template")
        if isinstance(template, Mapping):
            yield "spec.jobTemplate.spec.template.", template
    elif kind in ("RayService", "RayCluster", "RayJob"):
        cluster = _ray_cluster_spec(props, resource.type)
        head = get(cluster, "headGroupSpec", "template")
        if isinstance(head, Mapping):
            yield "headGroupSpec.template.", head
        for i, group in enumerate(items(cluster.get("workerGroupSpecs"))):
            template = get(group, "template")
            if isinstance(template, Mapping):
                yield f"workerGroupSpecs[{i}].template.", template
    else:
        template = get(props, "spec", "template")
        if isinstance(template, Mapping):
            yield "spec.template.", template


def containers(pod_spec: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(`containers[i]` path, container) for every init, regular and ephemeral container."""
    for key in ("initContainers", "containers", "ephemeralContainers"):
        for i, container in enumerate(items(pod_spec.get(key))):
            if isinstance(container, Mapping):
                yield f"{key}[{i}]", container


def gpu_request(container: Mapping[str, Any]) -> int:
    resources = mapping(container.get("resources"))
    for key in ("limits", "requests"):
        value = mapping(resources.get(key)).get(GPU_RESOURCE)
        try:
            if value is not None:
                return int(str(value))
        except ValueError:
            continue
    return 0


def pod_gpus(pod_spec: Mapping[str, Any]) -> int:
    return sum(gpu_request(c) for key, c in containers(pod_spec) if key.startswith("containers"))


def workload_labels(resource: Resource, template: Mapping[str, Any]) -> dict[str, str]:
    labels = dict(mapping(get(resource.props, "metadata", "labels")))
    labels.update(mapping(get(template, "metadata", "labels")))
    return {str(k): str(v) for k, v in labels.items()}


def namespace_of(resource: Resource) -> str | None:
    value = get(resource.props, "metadata", "namespace")
    return value if isinstance(value, str) and not is_unknown(value) else None


def selector_matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions) against a set of labels."""
    for key, value in mapping(selector.get("matchLabels")).items():
        if labels.get(key) != value:
            return False
    for expression in items(selector.get("matchExpressions")):
        key = get(expression, "key")
        operator = get(expression, "operator")
        values = [str(v) for v in items(get(expression, "values"))]
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


# --------------------------------------------------------------------------- secret-looking text

# Values that are credentials whatever key they sit under (formats published by each vendor).
SECRET_VALUE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a private key", re.compile(r"-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")),
    ("an AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    ("a Hugging Face token", re.compile(r"\bhf_[A-Za-z0-9]{30,}\b")),
    ("a GitHub token", re.compile(r"\b(?:ghp|gho|ghs|ghu|github_pat)_[A-Za-z0-9_]{20,}\b")),
    ("an API secret key", re.compile(r"\bsk-[A-Za-z0-9_-]{20,}\b")),
    ("a K3s join token", re.compile(r"\bK10[0-9a-f]{40,}::")),
    ("a Slack token", re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b")),
)

# Key or option names that carry a secret: the last word of the name, any case or separator.
_SECRET_WORDS = (
    "password",
    "passwd",
    "secret",
    "token",
    "apikey",
    "privatekey",
    "secretkey",
    "accesskey",
    "clientsecret",
    "credentials",
    "credential",
)
# Names that refer to a secret held elsewhere (a Secret's name, the key inside it).
_REFERENCE_MARKERS = ("existing", "secretname", "secretref", "keyref", "ref", "name", "file", "path", "key")


def _normal(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def is_secret_name(name: str) -> bool:
    """True for `HF_TOKEN`, `api-key`, `adminPassword`; false for `existingSecret`, `passwordKey`."""
    normal = _normal(name)
    if not normal.endswith(_SECRET_WORDS):
        return False
    stem = normal
    for word in _SECRET_WORDS:
        if normal.endswith(word):
            stem = normal[: -len(word)]
            break
    # "existingSecret", "tokenSecretRef"-style names point at a Secret; they are not one.
    return not stem.endswith(("existing", "use", "create", "enable", "enabled"))


def is_reference_name(name: str) -> bool:
    normal = _normal(name)
    return normal.endswith(_REFERENCE_MARKERS) and not normal.endswith(_SECRET_WORDS)


def secret_material(text: str) -> str | None:
    """What kind of credential the text contains, or None."""
    for what, pattern in SECRET_VALUE_PATTERNS:
        if pattern.search(text):
            return what
    return None


def literal_secret(value: Any) -> bool:
    """A value under a secret-looking name that is written into the object itself.

    A Pulumi secret (`[secret]` in the plan) counts too: it is encrypted in the state, but
    the Kubernetes object or Helm release that receives it holds it in plain text.
    """
    return isinstance(value, str) and value.strip() != "" and value != UNKNOWN


def decoded_user_data(value: Any) -> str:
    """User data as text: the AWS provider takes it plain or base64-encoded."""
    if not isinstance(value, str) or value in (UNKNOWN, SECRET_MASK):
        return ""
    try:
        raw = base64.b64decode(value, validate=True)
        return raw.decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return value


def walk_strings(value: Any, path: str = "") -> Iterator[tuple[str, Any, Any]]:
    """(dotted path, key, value) for every leaf of a nested value."""
    if isinstance(value, Mapping):
        for key, inner in value.items():
            yield from walk_strings(inner, f"{path}.{key}" if path else str(key))
    elif isinstance(value, Sequence) and not isinstance(value, str):
        for i, inner in enumerate(value):
            yield from walk_strings(inner, f"{path}[{i}]")
    else:
        key = path.rsplit(".", 1)[-1].split("[", 1)[0] if path else ""
        yield path, key, value


# --------------------------------------------------------------------------- address arithmetic

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_network(text: str) -> Network | None:
    """A CIDR in any form the clouds accept (`0.0.0.0/00`, `::0/0`, a bare address); None if not one."""
    text = text.strip()
    if text in ("*", "Internet", "any", "0/0"):
        return ipaddress.IPv4Network("0.0.0.0/0")
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        pass
    address, _, prefix = text.partition("/")
    try:
        # `0.0.0.0/0.0.0.0`: a netmask instead of a prefix length
        return ipaddress.ip_network(f"{address}/{int(prefix)}" if prefix.isdigit() else text, strict=False)
    except ValueError:
        return None


def public_addresses(networks: Sequence[Network], version: int) -> int:
    """How many internet addresses the union of the networks covers (special-purpose blocks excluded):
    the same arithmetic as the config's and the clouds' own guard (components/netguard.py)."""
    from llmops.components.netguard import PUBLIC_V4_ADDRESSES, PUBLIC_V6_ADDRESSES, public_share

    share_v4, share_v6 = public_share(n for n in networks if n.version == version)
    return round(share_v4 * PUBLIC_V4_ADDRESSES) if version == 4 else round(share_v6 * PUBLIC_V6_ADDRESSES)

"""What cluster-autoscaler's GCE provider needs from GCP: zonal MIGs it can find by name prefix, a
node template in each instance template, and an IAM role that lets it resize only those MIGs.

Facts from kubernetes/autoscaler `cluster-autoscaler/cloudprovider/gce` (tag
cluster-autoscaler-chart-9.59.0, application v1.35.0), docs/decisions/104-gcp-cluster-autoscaler.md:

- Every MIG call goes to the zonal `instanceGroupManagers` API and a MIG's id is parsed from
  `.../zones/<zone>/instanceGroups/<name>`: regional MIGs cannot be resized by it. A pool the
  autoscaler resizes is therefore one zonal MIG per zone (`<pool>-<zone>-<hex>`).
- Discovery: `--node-group-auto-discovery=mig:namePrefix=<p>,min=<n>,max=<m>` lists the instance
  groups whose name matches `^<p>.+` in the zones of the region (`--regional`; otherwise only the
  autoscaler's own zone), each with that min and max. One prefix per zonal MIG keeps the pool's
  min and max exact across zones (`zone_sizes`).
- Scale from zero: the template node takes its labels, taints and extra resources from the
  instance template's `kube-env` metadata (`AUTOSCALER_ENV_VARS: node_labels=...;node_taints=...;
  extended_resources=...`), its CPU and memory from the machine type, and GPUs only from the
  template's `guestAccelerators` (empty for G2/A2/A3, whose GPUs come with the machine type), so
  the GPU count goes into `extended_resources`.
- GPU readiness: nodes labelled `cloud.google.com/gke-accelerator` whose GPUs are not yet
  allocatable count as not ready, so the autoscaler does not add a second node while the GPU
  operator starts on the first (`GPU_LABEL`).

Pure rendering (tested without Pulumi) plus `grant_cluster_autoscaler`, the IAM resources.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pulumi
import yaml
from llmops.components.k3s.render import NodeTaint

GPU_LABEL = "cloud.google.com/gke-accelerator"
"""The GCE provider's GPU label: the value is the accelerator type (`nvidia-l4`)."""
GPU_RESOURCE = "nvidia.com/gpu"
KUBE_ENV_KEY = "kube-env"

READ_PERMISSIONS: tuple[str, ...] = (
    # Discovery: instance groups by name in each zone of the region (Regions.Get for the zones).
    "compute.instanceGroups.list",
    "compute.regions.get",
    "compute.zones.list",
    # Each MIG, its instances and its template (the scale-from-zero node).
    "compute.instanceGroupManagers.get",
    "compute.instanceGroupManagers.list",
    "compute.instanceTemplates.get",
    "compute.instances.list",
    # Node shapes: machine types, boot disk types, reservations.
    "compute.machineTypes.get",
    "compute.machineTypes.list",
    "compute.diskTypes.list",
    "compute.reservations.list",
    # Waiting for its resize operations.
    "compute.zoneOperations.get",
)
"""What the GCE provider reads (its `autoscalingGceClientV1` calls); list calls take no
resource-level condition, so these are granted on the project, without one."""
RESIZE_PERMISSIONS: tuple[str, ...] = ("compute.instanceGroupManagers.update",)
"""Resize, create and delete instances of a MIG; granted only on the pools' MIGs (`resize_condition`)."""


@dataclass(frozen=True)
class ZonalGroup:
    """One zonal MIG of an autoscaled pool, as the autoscaler sees it."""

    pool: str
    zone: str
    min_size: int
    max_size: int

    @property
    def name_prefix(self) -> str:
        """The discovery prefix: the MIG is named `<pool>-<zone>-<hex>` (Pulumi's auto-name)."""
        return f"{self.pool}-{self.zone}-"


def zone_sizes(total: int, zones: Sequence[str]) -> dict[str, int]:
    """`total` nodes split over `zones` as evenly as integers allow (earlier zones take the
    remainder), so the per-zone sizes add up to the pool's exactly."""
    if not zones:
        return {}
    base, extra = divmod(total, len(zones))
    return {zone: base + (1 if index < extra else 0) for index, zone in enumerate(zones)}


def zonal_groups(pool: str, zones: Sequence[str], min_size: int, max_size: int) -> list[ZonalGroup]:
    """The pool's zonal MIGs with their share of its min and max."""
    mins = zone_sizes(min_size, zones)
    maxes = zone_sizes(max_size, zones)
    return [ZonalGroup(pool, zone, mins[zone], maxes[zone]) for zone in zones]


def zone_suffix(zone: str) -> str:
    """`us-central1-a` -> `a`: the instance names of one zone's MIG (node names stay unique)."""
    return zone.rsplit("-", 1)[-1]


def group_pattern(pool: str, zones: Sequence[str]) -> str:
    """The priority expander's pattern for a pool: its MIGs' ids end in `/instanceGroups/<name>`."""
    alternatives = "|".join(re.escape(zone) for zone in zones)
    return f"/instanceGroups/{re.escape(pool)}-({alternatives})-[0-9a-f]+$"


def _list(values: Mapping[str, str]) -> str:
    for key, value in values.items():
        if any(c in f"{key}{value}" for c in ",;="):
            raise ValueError(f"{key}={value}: ',', ';' and '=' cannot appear in a kube-env list entry")
    return ",".join(f"{key}={value}" for key, value in sorted(values.items()))


def kube_env(labels: Mapping[str, str], taints: Sequence[NodeTaint], gpus: int, accelerator: str) -> str:
    """The `kube-env` metadata value the autoscaler builds a scale-from-zero node from. Pure.

    Nothing on our nodes reads it (K3s takes its labels from its own config); it only describes them."""
    variables = {
        "node_labels": _list({**labels, GPU_LABEL: accelerator}),
        "node_taints": _list({t.key: f"{t.value}:{t.effect}" for t in taints}),
        "extended_resources": _list({GPU_RESOURCE: str(gpus)}),
        "os": "linux",
        "os_distribution": "ubuntu",
        "arch": "amd64",
    }
    env = ";".join(f"{key}={value}" for key, value in variables.items() if value)
    return yaml.safe_dump({"AUTOSCALER_ENV_VARS": env}, default_flow_style=False)


def resize_condition(project: str, groups: Sequence[tuple[str, str]]) -> str:
    """IAM condition: the resource is one of these zonal MIGs, each `(zone, name)`."""
    names = sorted(f"projects/{project}/zones/{zone}/instanceGroupManagers/{name}" for zone, name in groups)
    return " || ".join(f'resource.name == "{name}"' for name in names)


def role_id(cluster_name: str, what: str) -> str:
    """A custom role id (3 to 64 of [a-zA-Z0-9_.]), unique per Pulumi project, stack and cluster.

    A deleted custom role keeps its id for up to 44 days: the digest changes with the stack, so
    a new stack never meets an old one's id."""
    key = f"{pulumi.get_project()}/{pulumi.get_stack()}/{cluster_name}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:8]
    stem = re.sub(r"[^a-zA-Z0-9_]+", "_", cluster_name)[:32].strip("_") or "cluster"
    return f"llmops_{stem}_{digest}_ca_{what}"


def grant_cluster_autoscaler(
    name: str,
    *,
    project: str,
    member: pulumi.Input[str],
    groups: Sequence[tuple[pulumi.Input[str], pulumi.Input[str]]],
    cluster_name: str,
    parent: pulumi.Resource | None = None,
) -> list[pulumi.Resource]:
    """Two custom roles for `member` (the servers' service account): the reads on the project, and
    `compute.instanceGroupManagers.update` under a condition naming exactly `groups` (zone, MIG name)."""
    import pulumi_gcp as gcp

    opts = pulumi.ResourceOptions(parent=parent)
    read = gcp.projects.IAMCustomRole(
        f"{name}-ca-read",
        project=project,
        role_id=role_id(cluster_name, "read"),
        title=f"llmops cluster-autoscaler reads ({cluster_name})",
        description="What cluster-autoscaler's GCE provider lists and reads",
        permissions=list(READ_PERMISSIONS),
        stage="GA",
        opts=opts,
    )
    resize = gcp.projects.IAMCustomRole(
        f"{name}-ca-resize",
        project=project,
        role_id=role_id(cluster_name, "resize"),
        title=f"llmops cluster-autoscaler resizes ({cluster_name})",
        description="Resize the autoscaled pools' MIGs",
        permissions=list(RESIZE_PERMISSIONS),
        stage="GA",
        opts=opts,
    )
    read_member = gcp.projects.IAMMember(
        f"{name}-ca-read", project=project, role=read.name, member=member, opts=opts
    )
    condition = pulumi.Output.all(*[pulumi.Output.all(zone, mig) for zone, mig in groups]).apply(
        lambda pairs: resize_condition(project, [(str(z), str(n)) for z, n in pairs])
    )
    resize_member = gcp.projects.IAMMember(
        f"{name}-ca-resize",
        project=project,
        role=resize.name,
        member=member,
        condition=gcp.projects.IAMMemberConditionArgs(
            title="the autoscaled pools' MIGs",
            description="cluster-autoscaler resizes these managed instance groups and no other",
            expression=condition,
        ),
        opts=opts,
    )
    return [read, resize, read_member, resize_member]

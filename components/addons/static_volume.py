"""A file share the stack already has, as a Kubernetes volume: one statically provisioned
PersistentVolume (kept when released) and the ReadWriteMany claim bound to exactly it.

The model stores (EFS, Azure Files, an NFS export) differ only in the CSI source they hand in.
"""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_kubernetes as k8s

LABELS = {"app.kubernetes.io/managed-by": "llmops"}


def static_claim(
    name: str,
    *,
    parent: pulumi.Resource,
    provider: k8s.Provider | None,
    namespace: pulumi.Input[str],
    size_gib: int,
    csi: k8s.core.v1.CSIPersistentVolumeSourceArgs,
    mount_options: Sequence[str] = (),
    depends_on: Sequence[pulumi.Resource] = (),
) -> pulumi.Output[str]:
    """The volume `<name>-models` on `csi` and its claim in `namespace`; returns the claim's name.
    The claim names the volume and no storage class, so nothing else can bind it or it anything
    else; `Retain` keeps the share's files when the claim goes."""
    volume_name = f"{name}-models"
    volume = k8s.core.v1.PersistentVolume(
        f"{name}-volume",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=volume_name, labels=dict(LABELS)),
        spec=k8s.core.v1.PersistentVolumeSpecArgs(
            capacity={"storage": f"{size_gib}Gi"},
            access_modes=["ReadWriteMany"],
            persistent_volume_reclaim_policy="Retain",
            storage_class_name="",
            volume_mode="Filesystem",
            mount_options=list(mount_options),
            csi=csi,
        ),
        opts=pulumi.ResourceOptions(parent=parent, provider=provider, depends_on=list(depends_on)),
    )
    claim = k8s.core.v1.PersistentVolumeClaim(
        f"{name}-claim",
        metadata=k8s.meta.v1.ObjectMetaArgs(name=volume_name, namespace=namespace, labels=dict(LABELS)),
        spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
            access_modes=["ReadWriteMany"],
            storage_class_name="",
            volume_name=volume.metadata.apply(lambda m: m.name or volume_name),
            resources=k8s.core.v1.VolumeResourceRequirementsArgs(requests={"storage": f"{size_gib}Gi"}),
        ),
        opts=pulumi.ResourceOptions(parent=parent, provider=provider),
    )
    return claim.metadata.apply(lambda m: m.name or volume_name)

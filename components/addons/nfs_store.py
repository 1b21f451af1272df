"""`NfsModelStore`: an existing NFS export as the model store (csi-driver-nfs, one static
PersistentVolume and its ReadWriteMany claim), for clusters this package did not build."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from llmops.components.addons.charts import CSI_DRIVER_NFS, load_values

CHART = CSI_DRIVER_NFS
NFS_CSI_DRIVER = "nfs.csi.k8s.io"


@dataclass(kw_only=True)
class NfsModelStoreArgs:
    """Inputs of `NfsModelStore`."""

    server: pulumi.Input[str]
    """NFS server name or address (an output where the stack creates the server, e.g. Filestore)."""
    path: str
    """Exported path; the store's files live directly under it."""
    namespace: pulumi.Input[str]
    """Namespace of the claim (where the models run)."""
    size_gib: int = 500
    """Size the claim asks for (NFS does not enforce it; the stack checks the models fit)."""
    provider: k8s.Provider | None = None
    """Provider of the cluster; default: the ambient kubeconfig."""
    driver_namespace: str = "kube-system"
    """Namespace of the CSI driver release."""
    install_driver: bool = True
    """Install csi-driver-nfs; off when the cluster already runs it. Default: on."""
    mount_options: Sequence[str] = ("nfsvers=4.1", "hard")
    """Mount options of the volume; default: NFSv4.1, hard mounts (a server that serves only NFSv3,
    such as Filestore's Basic tiers, needs `nfsvers=3`)."""
    mount_permissions: str | None = None
    """Octal mode csi-driver-nfs gives the share's root at each mount (its `mountPermissions`);
    default: none, the export's own ownership and mode stand."""


class NfsModelStore(pulumi.ComponentResource):
    """The shared model store on an NFS export."""

    claim_name: pulumi.Output[str]

    def __init__(self, name: str, args: NfsModelStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__("llmops:addons:NfsModelStore", name, None, opts)
        cluster = pulumi.ResourceOptions(parent=self, provider=args.provider)
        depends: list[pulumi.Resource] = []
        if args.install_driver:
            depends.append(
                k8s.helm.v3.Release(
                    f"{name}-nfs-csi",
                    name=f"{name}-nfs-csi",
                    **CHART.release_source(),
                    namespace=args.driver_namespace,
                    values=load_values(CHART),
                    opts=cluster,
                )
            )
        volume_name = f"{name}-models"
        labels = {"app.kubernetes.io/managed-by": "llmops"}
        volume = k8s.core.v1.PersistentVolume(
            f"{name}-volume",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=volume_name, labels=labels),
            spec=k8s.core.v1.PersistentVolumeSpecArgs(
                capacity={"storage": f"{args.size_gib}Gi"},
                access_modes=["ReadWriteMany"],
                persistent_volume_reclaim_policy="Retain",
                storage_class_name="",
                mount_options=list(args.mount_options),
                csi=k8s.core.v1.CSIPersistentVolumeSourceArgs(
                    driver=NFS_CSI_DRIVER,
                    # The driver's own handle format: server#share#subdir (no subdir here).
                    volume_handle=pulumi.Output.concat(args.server, "#", args.path, "#"),
                    volume_attributes={
                        "server": args.server,
                        "share": args.path,
                        **({"mountPermissions": args.mount_permissions} if args.mount_permissions else {}),
                    },
                ),
            ),
            opts=pulumi.ResourceOptions(parent=self, provider=args.provider, depends_on=depends),
        )
        claim = k8s.core.v1.PersistentVolumeClaim(
            f"{name}-claim",
            metadata=k8s.meta.v1.ObjectMetaArgs(name=volume_name, namespace=args.namespace, labels=labels),
            spec=k8s.core.v1.PersistentVolumeClaimSpecArgs(
                access_modes=["ReadWriteMany"],
                storage_class_name="",
                volume_name=volume.metadata.apply(lambda m: m.name or volume_name),
                resources=k8s.core.v1.VolumeResourceRequirementsArgs(
                    requests={"storage": f"{args.size_gib}Gi"}
                ),
            ),
            opts=cluster,
        )
        self.claim_name = claim.metadata.apply(lambda m: m.name or volume_name)
        self.register_outputs({"claimName": self.claim_name})

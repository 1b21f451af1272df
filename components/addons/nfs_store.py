"""`NfsModelStore`: an existing NFS export as the model store (csi-driver-nfs, one static
PersistentVolume and its ReadWriteMany claim), for clusters this package did not build."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_kubernetes as k8s
from llmops.components.addons.charts import CSI_DRIVER_NFS, load_values
from llmops.components.addons.static_volume import static_claim

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
        self.claim_name = static_claim(
            name,
            parent=self,
            provider=args.provider,
            namespace=args.namespace,
            size_gib=args.size_gib,
            mount_options=args.mount_options,
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
            depends_on=depends,
        )
        self.register_outputs({"claimName": self.claim_name})

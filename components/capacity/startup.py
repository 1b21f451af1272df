"""Time from a new pod to a ready vLLM replica: image pull + weight load + engine start.

Pure (no Pulumi). The figures and where they come from are in docs/capacity.md ("Start-up
time"); each is a named constant here so the benchmark can print its inputs.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass

from llmops.components.capacity.models import get_model

GB = 1e9
MIB = 1024**2


class WeightSource(enum.Enum):
    """Where a starting replica reads its weights from."""

    HUB = "hub"
    """Download from the Hugging Face Hub into the pod's emptyDir, then load from local disk."""
    EFS_ELASTIC = "efs-elastic"
    EFS_BURSTING = "efs-bursting"
    NFS = "nfs"
    """A stack's own NFS export or an existing RWX claim."""
    FILESTORE_BASIC_HDD = "filestore-basic-hdd"
    """GCP Filestore, Basic HDD tier."""
    AZUREFILES = "azurefiles"
    """A premium Azure Files NFS share (its throughput grows with its provisioned size)."""


# Effective read/download rates in bytes per second (docs/capacity.md gives the sources).
HUB_DOWNLOAD_BPS = 125e6
"""About 1 Gbit/s: what one huggingface_hub client sustains from the hub's CDN on an EC2 node."""
LOCAL_LOAD_BPS = 2e9
"""safetensors from a local NVMe/EBS disk (mostly page cache right after the download) into GPU memory."""
EFS_ELASTIC_CLIENT_BPS = 500 * MIB
"""One NFS client of an Elastic-throughput EFS: the per-client figure AWS gives for a single connection."""
EFS_BURSTING_BPS = 100 * MIB
"""Bursting throughput of a file system under 1 TiB: bursts to 100 MiB/s."""
FILESTORE_BASIC_HDD_BPS = 100e6
"""Basic HDD reads at 100 MB/s per instance at 1 TiB (cloud.google.com/filestore/docs/performance)."""
NFS_BPS = 500 * MIB
"""An in-house NFS server on 10 GbE, about half the link rate; measure your own."""
AZURE_FILES_BPS = 110 * MIB
"""A premium share of the 100 GiB minimum: 100 + ceil(0.04 x 100) + ceil(0.06 x 100) MiB/s (provisioned
v1, learn.microsoft.com/azure/storage/files/understanding-billing); larger shares are faster."""
SOURCE_BPS = {
    WeightSource.HUB: HUB_DOWNLOAD_BPS,
    WeightSource.EFS_ELASTIC: EFS_ELASTIC_CLIENT_BPS,
    WeightSource.EFS_BURSTING: EFS_BURSTING_BPS,
    WeightSource.NFS: NFS_BPS,
    WeightSource.FILESTORE_BASIC_HDD: FILESTORE_BASIC_HDD_BPS,
    WeightSource.AZUREFILES: AZURE_FILES_BPS,
}

IMAGE_GB = 9.0
"""Compressed size of the vllm/vllm-openai image (Docker Hub lists 8-10 GB for the v0.x tags)."""
IMAGE_PULL_BPS = 100e6
"""Pull and unpack on a fresh node: containerd unpacks gzip layers on one core at ~100 MB/s."""
ENGINE_START_S = 45.0
"""vLLM process start, CUDA context, memory profiling, CUDA graph capture (its start-up log: 30-60 s)."""


@dataclass(frozen=True)
class StartupEstimate:
    image_pull_s: float
    weight_load_s: float
    engine_start_s: float
    weights_gb: float
    source: str
    pre_pulled: bool

    @property
    def total_s(self) -> float:
        return self.image_pull_s + self.weight_load_s + self.engine_start_s

    def to_json(self) -> dict[str, float | str | bool]:
        return {**asdict(self), "total_s": round(self.total_s, 1)}


def estimate(
    weights_bytes: float,
    *,
    source: WeightSource,
    pre_pulled: bool,
    image_gb: float = IMAGE_GB,
    engine_start_s: float = ENGINE_START_S,
) -> StartupEstimate:
    """Seconds to ready for weights of `weights_bytes`, read from `source`."""
    if weights_bytes < 0 or image_gb < 0:
        raise ValueError("sizes must be >= 0")
    image_pull = 0.0 if pre_pulled else image_gb * GB / IMAGE_PULL_BPS
    load = weights_bytes / SOURCE_BPS[source]
    if source is WeightSource.HUB:
        # Downloaded whole first, then loaded from the local copy.
        load += weights_bytes / LOCAL_LOAD_BPS
    return StartupEstimate(
        image_pull_s=round(image_pull, 1),
        weight_load_s=round(load, 1),
        engine_start_s=engine_start_s,
        weights_gb=round(weights_bytes / GB, 2),
        source=source.value,
        pre_pulled=pre_pulled,
    )


def model_estimate(
    model_id: str,
    *,
    source: WeightSource,
    pre_pulled: bool,
    dtype: str | None = None,
    quantization: str | None = None,
) -> StartupEstimate:
    """The estimate for a catalog model (weights from its parameter count and dtype)."""
    weights = get_model(model_id).weight_bytes(dtype, quantization)
    return estimate(weights, source=source, pre_pulled=pre_pulled)


def model_weights_gb(model_id: str, dtype: str | None = None, quantization: str | None = None) -> float:
    """Weight size in GB from the catalog (what a store must hold for the model)."""
    return get_model(model_id).weight_bytes(dtype, quantization) / GB

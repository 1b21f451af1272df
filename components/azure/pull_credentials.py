"""Whether the Azure agents can pull from the stack's registry: only with the ACR credential provider,
which the bootstrap installs only against a recorded SHA-256 (scripts/image-credentials.sh). Pure."""

from __future__ import annotations

from llmops.components.azure.checks import SCRIPTS_DIR
from llmops.components.image_credentials import ProviderPin, read_pin

IMAGE_CREDENTIALS_SCRIPT = SCRIPTS_DIR / "image-credentials.sh"


def acr_provider_pin() -> ProviderPin:
    return read_pin(IMAGE_CREDENTIALS_SCRIPT, "AZURE_ACR_PROVIDER")


def acr_pull_unavailable() -> str | None:
    """None once the provider's checksum is recorded; else why `images.vllm: build` cannot work yet."""
    pin = acr_provider_pin()
    if pin.sha256:
        return None
    return (
        f"the nodes pull from ACR through acr-credential-provider {pin.version}, whose SHA-256 is not "
        "recorded yet (AZURE_ACR_PROVIDER_SHA256 in components/azure/scripts/image-credentials.sh; "
        "docs/decisions/124-acr-for-the-serving-image.md)"
    )

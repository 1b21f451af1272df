"""Azure cloud layer: network, the K3s server on a VM, GPU scale sets, and the kit the generic layers use.

`llmops.components.azure.kit.KIT` is what `llmops.components.cloud.kit("azure")` returns. The component
classes import pulumi_azure_native, so import them from their modules.
"""

"""Reusable llmops Pulumi components: one module per layer (serving, k3s, aws, observability, capacity)."""

"""The llmops program: typed stack config, the composition of components, and the `llmops` CLI."""

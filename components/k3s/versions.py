"""Pinned versions of what the K3s layer installs. Bumping one is a reviewed change."""

from __future__ import annotations

K3S_VERSION = "v1.33.5+k3s1"
"""K3s release installed on every node (servers and agents run the same one)."""

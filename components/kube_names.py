"""Kubernetes name and quantity formats, shared by every component's validation (pure Python)."""

from __future__ import annotations

import re

# RFC 1123 label: namespaces, most object names.
DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# RFC 1035 label (starts with a letter): Service names, hence anything a Service is named after.
DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
MAX_LABEL_LENGTH = 63
# Resource quantities as the API server parses them ("500m", "16Gi", "2G", "4").
QUANTITY = re.compile(r"^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")


def is_dns1035_label(name: str, max_length: int = MAX_LABEL_LENGTH) -> bool:
    return len(name) <= max_length and DNS1035_LABEL.match(name) is not None

"""Kubernetes label keys and values (pure Python): the API server's own rules."""

from __future__ import annotations

import re

MAX_LABEL_VALUE = 63
_NAME = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")
_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def label_value_problem(value: str) -> str | None:
    if len(value) > MAX_LABEL_VALUE:
        return f"is {len(value)} characters; a label value has at most {MAX_LABEL_VALUE}"
    if not _NAME.match(value):
        return "is not a label value (letters, digits, '-', '_', '.', starting and ending alphanumeric)"
    return None


def label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if not name or len(name) > MAX_LABEL_VALUE or not _NAME.match(name):
        return (
            "is not a label key (a name of at most 63 letters, digits, '-', '_', '.', optionally prefix/name)"
        )
    if "/" in key and (not prefix or len(prefix) > 253 or not _PREFIX.match(prefix)):
        return "has a prefix that is not a DNS subdomain of at most 253 characters"
    return None

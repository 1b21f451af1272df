"""The kubelet's `matchImages` rule, as its configuration reference states it, for checking what a
credential provider config written by the bootstrap would be asked for.

kubelet-config.v1 `CredentialProvider.matchImages`: an image matches a pattern when both have the same
number of domain parts and each part matches (a glob matches within one part only), the pattern's
URL path is a prefix of the image's path, and the ports are the same. The kubelet (urlsMatch in its
credential provider package) compares the paths as strings and the ports exactly, as here.
"""

from __future__ import annotations

from fnmatch import fnmatchcase


def _split(reference: str) -> tuple[list[str], str, str]:
    host, slash, path = reference.partition("/")
    host, _, port = host.partition(":")
    return host.split("."), port, slash + path


def matches(pattern: str, image: str) -> bool:
    pattern_host, pattern_port, pattern_path = _split(pattern)
    image_host, image_port, image_path = _split(image)
    if pattern_port != image_port or len(pattern_host) != len(image_host):
        return False
    if not image_path.startswith(pattern_path):
        return False
    return all(fnmatchcase(part, glob) for glob, part in zip(pattern_host, image_host, strict=True))

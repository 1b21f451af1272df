"""Reading a stack file with bounded time and memory, and every malformed input a key-path error.

A stack file is small, so anything large or deep is refused before it can cost minutes or
gigabytes: the file size, the nesting depth, the number of aliases and the size the document
would have with its aliases expanded (an alias bomb is tiny on disk and astronomic in memory).
The YAML is read with PyYAML's parser (no recursion in the parser itself), then composed and
constructed with a loader that refuses duplicate keys, non-string keys, tags other than the
plain YAML types, integers beyond 64 bits and non-finite floats, and keeps dates as text.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml import nodes

MAX_FILE_BYTES = 1 << 20
"""1 MiB: the largest shipped stack is a few KiB."""
MAX_DEPTH = 32
"""Nesting of mappings and lists; a stack file needs about 6."""
MAX_ALIASES = 100
MAX_EXPANDED_NODES = 100_000
"""Scalars, mappings and lists the document holds with every alias expanded."""
INT64 = (-(2**63), 2**63 - 1)
# Top-level keys of a Pulumi stack file besides `config` (pulumi/sdk: workspace.ProjectStack).
STACK_FILE_KEYS = ("config", "encryptionsalt", "encryptedkey", "secretsprovider", "environment")


@dataclass(frozen=True)
class FileProblem:
    path: str
    message: str
    fix: str


class StackFileError(Exception):
    def __init__(self, problems: list[FileProblem]):
        super().__init__("; ".join(f"{p.path}: {p.message}" for p in problems))
        self.problems = problems


def _where(mark: Any) -> str:
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""


def read_bounded(path: Path) -> str:
    """The file's text: at most MAX_FILE_BYTES, strict UTF-8."""
    with path.open("rb") as handle:
        data = handle.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise StackFileError(
            [
                FileProblem(
                    "(file)",
                    f"is larger than {MAX_FILE_BYTES // 1024} KiB, far beyond any stack file",
                    "check that this is the stack file; keep large data (dashboards, traces) "
                    "in their own files",
                )
            ]
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise StackFileError(
            [
                FileProblem(
                    "(file)",
                    f"is not UTF-8 text (byte {exc.start}, line {line}: {data[exc.start : exc.start + 1]!r})",
                    "save the file as UTF-8",
                )
            ]
        ) from None


def _check_events(text: str) -> None:
    """Depth and alias counts from the event stream, before any node is built."""
    depth = 0
    aliases = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise StackFileError(
                    [
                        FileProblem(
                            "(file)",
                            f"nests mappings and lists more than {MAX_DEPTH} deep{_where(event.start_mark)}",
                            "flatten the structure; stack keys nest a few levels at most",
                        )
                    ]
                )
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        elif isinstance(event, yaml.AliasEvent):
            aliases += 1
            if aliases > MAX_ALIASES:
                raise StackFileError(
                    [
                        FileProblem(
                            "(file)",
                            f"uses more than {MAX_ALIASES} YAML aliases{_where(event.start_mark)}",
                            "write the values out instead of referring to anchors",
                        )
                    ]
                )


def _expanded_size(root: nodes.Node) -> int:
    """Nodes the document holds with aliases expanded (shared nodes counted at every use)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: nodes.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise StackFileError(
                [
                    FileProblem(
                        "(file)",
                        f"has an alias that contains itself{_where(node.start_mark)}",
                        "remove the recursive alias",
                    )
                ]
            )
        active.add(key)
        total = 1
        if isinstance(node, nodes.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, nodes.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        active.discard(key)
        sizes[key] = min(total, MAX_EXPANDED_NODES + 1)
        return sizes[key]

    return size(root)


class _Loader(yaml.SafeLoader):
    """SafeLoader with the key-path checks; every value a plain str/int/float/bool/None/dict/list."""

    def __init__(self, stream: str):
        super().__init__(stream)
        self.problems: list[FileProblem] = []

    def construct_document(self, node: nodes.Node) -> Any:
        return self._build(node, "")

    def _build(self, node: nodes.Node, path: str) -> Any:
        if isinstance(node, nodes.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, nodes.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                return self._bad_tag(node, path)
            return [self._build(child, f"{path}[{i}]") for i, child in enumerate(node.value)]
        return self._scalar(node, path)

    def _mapping(self, node: nodes.MappingNode, path: str) -> Any:
        if node.tag != "tag:yaml.org,2002:map":
            return self._bad_tag(node, path)
        self.flatten_mapping(node)  # `<<: *anchor` merge keys, as YAML 1.1 defines them
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self._scalar(key_node, path) if isinstance(key_node, nodes.ScalarNode) else None
            if not isinstance(key, str) or key_node.tag != "tag:yaml.org,2002:str":
                shown = key_node.value if isinstance(key_node, nodes.ScalarNode) else "a mapping or list"
                self.problems.append(
                    FileProblem(
                        _join(path, str(shown)),
                        f"is not a text key{_where(key_node.start_mark)}",
                        f"quote the key: '{shown}'"
                        if isinstance(key_node, nodes.ScalarNode)
                        else "use a plain key",
                    )
                )
                continue
            if key in result:
                self.problems.append(
                    FileProblem(
                        _join(path, key),
                        f"is given twice in one mapping{_where(key_node.start_mark)}; "
                        "YAML would keep the last one silently",
                        "keep one of them",
                    )
                )
                continue
            result[key] = self._build(value_node, _join(path, key))
        return result

    def _scalar(self, node: nodes.Node, path: str) -> Any:
        tag = node.tag
        value = node.value
        if tag == "tag:yaml.org,2002:str" or tag == "tag:yaml.org,2002:timestamp":
            return value  # dates stay text: the config has no date-typed key
        if tag == "tag:yaml.org,2002:null":
            return None
        if tag == "tag:yaml.org,2002:bool":
            return self.construct_yaml_bool(node)  # type: ignore[arg-type]
        if tag == "tag:yaml.org,2002:int":
            text = str(value).replace("_", "")
            digits = text.lstrip("+-")
            if len(digits) > 25:  # int() of thousands of digits is slow, and far beyond 64 bits anyway
                return self._out_of_range(node, path, value)
            number = self.construct_yaml_int(node)  # type: ignore[arg-type]
            if not INT64[0] <= number <= INT64[1]:
                return self._out_of_range(node, path, value)
            return number
        if tag == "tag:yaml.org,2002:float":
            number = self.construct_yaml_float(node)  # type: ignore[arg-type]
            if not math.isfinite(number):
                self.problems.append(
                    FileProblem(
                        path or "(file)",
                        f"{value!r} is not a finite number{_where(node.start_mark)}",
                        "write a number",
                    )
                )
                return None
            return number
        return self._bad_tag(node, path)

    def _out_of_range(self, node: nodes.Node, path: str, value: Any) -> None:
        self.problems.append(
            FileProblem(
                path or "(file)",
                f"{str(value)[:30]!r} is beyond a 64-bit integer{_where(node.start_mark)}",
                "write a number that fits the key (see docs/configuration.md)",
            )
        )

    def _bad_tag(self, node: nodes.Node, path: str) -> None:
        self.problems.append(
            FileProblem(
                path or "(file)",
                f"has the YAML tag {node.tag!r}{_where(node.start_mark)}; stack files take plain text, "
                "numbers, booleans, lists and mappings",
                "remove the tag",
            )
        )


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def load_document(text: str) -> Any:
    """The YAML document in `text`, or StackFileError naming where and why."""
    try:
        _check_events(text)
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
            if root is None:
                return None
            if _expanded_size(root) > MAX_EXPANDED_NODES:
                raise StackFileError(
                    [
                        FileProblem(
                            "(file)",
                            f"would hold more than {MAX_EXPANDED_NODES:,} values with its aliases expanded "
                            "(an alias bomb?)",
                            "write the values out instead of nesting aliases",
                        )
                    ]
                )
            document = loader.construct_document(root)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        raise StackFileError(
            [FileProblem("(file)", f"is not valid YAML{_where(mark)}: {problem}", "fix the YAML syntax")]
        ) from None
    if loader.problems:
        raise StackFileError(loader.problems)
    return document


def stack_config(document: Any) -> dict[str, Any]:
    """The `config:` mapping of a stack file; keys beside it that Pulumi does not know are errors."""
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise StackFileError([FileProblem("(file)", "is not a YAML mapping", "start with 'config:'")])
    problems = [
        FileProblem(
            key,
            f"is not a stack file key (allowed beside config: {', '.join(STACK_FILE_KEYS[1:])})",
            f"move it under config: as '{key if ':' in key else 'llmops:' + key}', or remove it",
        )
        for key in document
        if key not in STACK_FILE_KEYS
    ]
    config = document.get("config")
    if config is not None and not isinstance(config, dict):
        problems.append(FileProblem("config", "is not a mapping", "write 'key: value' lines under config:"))
    if problems:
        raise StackFileError(problems)
    return config or {}


def iter_problems(error: StackFileError) -> Iterator[FileProblem]:
    yield from error.problems

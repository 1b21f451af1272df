"""Request-trace readers: Azure LLM inference CSV, Mooncake JSONL, a generic CSV, per-minute aggregates.

Request traces become per-request arrays; per-minute aggregates stay aggregates (a fluid load),
because production-scale series carry about a thousand requests a second. Every bad row raises
TraceFormatError naming the file, the line, the column, the value and what is expected.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

FORMATS = ("auto", "azure", "mooncake", "generic", "minute")

_COLUMNS = {
    "azure": ("TIMESTAMP", "ContextTokens", "GeneratedTokens"),
    "generic": ("timestamp", "input_tokens", "output_tokens"),
    "minute": ("minute", "requests", "request_tokens", "response_tokens"),
}


class TraceFormatError(ValueError):
    """A trace file the reader cannot use; the message says where and how to fix it."""


@dataclass(frozen=True)
class Trace:
    """Either individual requests (`arrival_s` set) or per-bin aggregates (`bin_s` set)."""

    source: str
    format: str
    arrival_s: np.ndarray | None
    """Seconds since the first request, sorted (request traces)."""
    input_tokens: np.ndarray
    """Per request, or per bin: total prompt tokens."""
    output_tokens: np.ndarray
    requests: np.ndarray | None = None
    """Per bin: requests (aggregates only; may be fractional)."""
    bin_s: float | None = None

    @property
    def is_aggregate(self) -> bool:
        return self.arrival_s is None

    @property
    def request_count(self) -> float:
        if self.requests is not None:
            return float(self.requests.sum())
        return float(len(self.input_tokens))

    @property
    def span_s(self) -> float:
        if self.arrival_s is None:
            return float(len(self.input_tokens) * (self.bin_s or 60.0))
        return float(self.arrival_s[-1] - self.arrival_s[0]) if len(self.arrival_s) else 0.0

    def mean_tokens(self) -> tuple[float, float]:
        count = self.request_count
        if count <= 0:
            return 0.0, 0.0
        return float(self.input_tokens.sum()) / count, float(self.output_tokens.sum()) / count


def _bad(path: Path, line: int, column: str, value: str, expected: str) -> TraceFormatError:
    return TraceFormatError(
        f"{path}:{line}: column {column!r} is {value!r}, expected {expected}; fix or delete the row"
    )


def _number(path: Path, line: int, column: str, value: str, *, integer: bool) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if math.isnan(number) or math.isinf(number) or number < 0 or (integer and not number.is_integer()):
        kind = "a non-negative integer" if integer else "a non-negative number"
        raise _bad(path, line, column, value, kind)
    return number


def detect_format(path: Path) -> str:
    with path.open(encoding="utf-8", newline="") as handle:
        first = handle.readline().strip()
    if path.suffix in (".jsonl", ".json") or first.startswith("{"):
        return "mooncake"
    header = tuple(cell.strip() for cell in first.split(","))
    for name, columns in _COLUMNS.items():
        if header[: len(columns)] == columns:
            return name
    known = "; ".join(f"{name}: {','.join(cols)}" for name, cols in _COLUMNS.items())
    raise TraceFormatError(
        f"{path}:1: cannot tell the trace format from the header {first[:80]!r}; expected one of "
        f"{known}; mooncake: JSON lines with timestamp, input_length, output_length. "
        "Pass --format to choose one."
    )


def _read_csv(path: Path, fmt: str) -> list[tuple[int, list[str]]]:
    columns = _COLUMNS[fmt]
    rows: list[tuple[int, list[str]]] = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None or tuple(c.strip() for c in header[: len(columns)]) != columns:
            raise TraceFormatError(
                f"{path}:1: header is {','.join(header or [])!r}, expected {','.join(columns)} "
                f"for --format {fmt}"
            )
        for cells in reader:
            if not cells or all(not c.strip() for c in cells):
                continue
            if len(cells) < len(columns):
                raise TraceFormatError(
                    f"{path}:{reader.line_num}: {len(cells)} column(s), expected {len(columns)} "
                    f"({','.join(columns)}); fix or delete the row"
                )
            rows.append((reader.line_num, cells))
    if not rows:
        raise TraceFormatError(f"{path}: no data rows after the header")
    return rows


def _azure_seconds(path: Path, line: int, text: str) -> float:
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise _bad(path, line, "TIMESTAMP", text, "a time like 2023-11-16 18:17:03.9799600") from None


def _requests(path: Path, fmt: str, times: list[float], inputs: list[float], outputs: list[float]) -> Trace:
    arrival = np.asarray(times, dtype=np.float64)
    order = np.argsort(arrival, kind="stable")
    arrival = arrival[order]
    return Trace(
        source=str(path),
        format=fmt,
        arrival_s=arrival - arrival[0],
        input_tokens=np.asarray(inputs, dtype=np.float64)[order],
        output_tokens=np.asarray(outputs, dtype=np.float64)[order],
    )


def read_trace(path: str | Path, fmt: str = "auto") -> Trace:
    path = Path(path)
    if fmt not in FORMATS:
        raise TraceFormatError(f"--format {fmt!r} is not one of {', '.join(FORMATS)}")
    if not path.is_file():
        raise TraceFormatError(f"{path}: no such file")
    if fmt == "auto":
        fmt = detect_format(path)
    times: list[float] = []
    inputs: list[float] = []
    outputs: list[float] = []
    if fmt == "mooncake":
        with path.open(encoding="utf-8") as handle:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise TraceFormatError(
                        f"{path}:{line_number}: not a JSON object ({exc.msg}); fix or delete the line"
                    ) from None
                if not isinstance(record, dict):
                    raise TraceFormatError(
                        f"{path}:{line_number}: expected a JSON object, got {line.strip()[:60]!r}"
                    )
                for key in ("timestamp", "input_length", "output_length"):
                    if key not in record:
                        raise TraceFormatError(
                            f"{path}:{line_number}: key {key!r} is missing; each line needs timestamp (ms), "
                            "input_length and output_length"
                        )
                values = [
                    _number(path, line_number, key, str(record[key]), integer=key != "timestamp")
                    for key in ("timestamp", "input_length", "output_length")
                ]
                times.append(values[0] / 1000.0)
                inputs.append(values[1])
                outputs.append(values[2])
        if not times:
            raise TraceFormatError(f"{path}: no requests in the file")
        return _requests(path, fmt, times, inputs, outputs)

    rows = _read_csv(path, fmt)
    if fmt == "minute":
        minutes = np.empty(len(rows), dtype=np.int64)
        data = np.empty((len(rows), 3), dtype=np.float64)
        for index, (line, cells) in enumerate(rows):
            minutes[index] = int(_number(path, line, "minute", cells[0], integer=True))
            for column, name in enumerate(("requests", "request_tokens", "response_tokens"), start=1):
                data[index, column - 1] = _number(path, line, name, cells[column], integer=False)
        steps = np.diff(minutes)
        if len(steps) and np.any(steps != 1):
            bad = int(np.argmax(steps != 1)) + 1
            line = rows[bad][0]
            raise TraceFormatError(
                f"{path}:{line}: column 'minute' is {rows[bad][1][0]!r} after {minutes[bad - 1]}; "
                "minutes must be consecutive (write 0 requests for quiet minutes)"
            )
        return Trace(
            source=str(path),
            format=fmt,
            arrival_s=None,
            requests=data[:, 0],
            input_tokens=data[:, 1],
            output_tokens=data[:, 2],
            bin_s=60.0,
        )
    for line, cells in rows:
        if fmt == "azure":
            times.append(_azure_seconds(path, line, cells[0]))
        else:
            times.append(_number(path, line, "timestamp", cells[0], integer=False))
        inputs.append(_number(path, line, _COLUMNS[fmt][1], cells[1], integer=True))
        outputs.append(_number(path, line, _COLUMNS[fmt][2], cells[2], integer=True))
    return _requests(path, fmt, times, inputs, outputs)

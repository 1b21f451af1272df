"""Trace readers: every format, auto-detection, and bad rows named by file and line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from llmops.components.capacity.traces import TraceFormatError, read_trace

from tests.conftest import require_shared


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_azure(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "a.csv",
        "TIMESTAMP,ContextTokens,GeneratedTokens\n"
        "2023-11-16 18:17:03.9799600,4808,10\n"
        "2023-11-16 18:17:05.4799600,100,20\n",
    )
    trace = read_trace(path)
    assert trace.format == "azure"
    np.testing.assert_allclose(trace.arrival_s, [0.0, 1.5])
    np.testing.assert_allclose(trace.input_tokens, [4808, 100])
    assert trace.span_s == pytest.approx(1.5)


def test_mooncake_and_generic_agree(tmp_path: Path) -> None:
    records = [
        {"timestamp": 0, "input_length": 10, "output_length": 5, "hash_ids": [1]},
        {"timestamp": 2500, "input_length": 20, "output_length": 7, "hash_ids": [2]},
    ]
    mooncake = read_trace(write(tmp_path, "m.jsonl", "\n".join(json.dumps(r) for r in records) + "\n"))
    generic = read_trace(write(tmp_path, "g.csv", "timestamp,input_tokens,output_tokens\n0,10,5\n2.5,20,7\n"))
    assert (mooncake.format, generic.format) == ("mooncake", "generic")
    np.testing.assert_allclose(mooncake.arrival_s, generic.arrival_s)
    np.testing.assert_allclose(mooncake.output_tokens, generic.output_tokens)


def test_unsorted_requests_are_sorted(tmp_path: Path) -> None:
    trace = read_trace(write(tmp_path, "g.csv", "timestamp,input_tokens,output_tokens\n5,1,1\n2,2,2\n"))
    np.testing.assert_allclose(trace.arrival_s, [0, 3])
    np.testing.assert_allclose(trace.input_tokens, [2, 1])


def test_minute_aggregates_stay_fluid(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "s.minute.csv",
        "minute,requests,request_tokens,response_tokens\n0,60.5,6050,605\n1,0,0,0\n2,120,12000,1200\n",
    )
    trace = read_trace(path, "minute")
    assert trace.is_aggregate and trace.bin_s == 60
    assert trace.request_count == pytest.approx(180.5)
    assert trace.mean_tokens() == pytest.approx((18050 / 180.5, 1805 / 180.5))


@pytest.mark.parametrize(
    ("name", "text", "fmt", "message"),
    [
        (
            "a.csv",
            "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.9,10,1\n"
            "2023-11-16 18:17:04,ten,1\n",
            "auto",
            "a.csv:3: column 'ContextTokens' is 'ten', expected a non-negative integer; fix or delete",
        ),
        (
            "a.csv",
            "TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,10,1\n",
            "azure",
            "a.csv:2: column 'TIMESTAMP' is 'yesterday', expected a time like 2023-11-16 18:17:03.9799600",
        ),
        (
            "g.csv",
            "timestamp,input_tokens,output_tokens\n1,2,3\n\n4,-5,6\n",
            "generic",
            "g.csv:4: column 'input_tokens' is '-5', expected a non-negative integer",
        ),
        (
            "g.csv",
            "timestamp,input_tokens,output_tokens\n1,2\n",
            "generic",
            "g.csv:2: 2 column(s), expected 3 (timestamp,input_tokens,output_tokens)",
        ),
        (
            "m.jsonl",
            '{"timestamp": 1, "input_length": 2, "output_length": 3}\n{"timestamp": 2, "input_length": 2}\n',
            "mooncake",
            "m.jsonl:2: key 'output_length' is missing",
        ),
        (
            "m.jsonl",
            '{"timestamp": 1, "input_length": 2, "output_length": 3}\n{oops\n',
            "auto",
            "m.jsonl:2: not a JSON object",
        ),
        (
            "s.csv",
            "minute,requests,request_tokens,response_tokens\n0,1,2,3\n2,1,2,3\n",
            "minute",
            "s.csv:3: column 'minute' is '2' after 0; minutes must be consecutive",
        ),
        (
            "s.csv",
            "minute,requests,request_tokens,response_tokens\n0,1,nan,3\n",
            "minute",
            "s.csv:2: column 'request_tokens' is 'nan', expected a non-negative number",
        ),
        (
            "x.csv",
            "when,prompt,completion\n1,2,3\n",
            "auto",
            "x.csv:1: cannot tell the trace format from the header 'when,prompt,completion'",
        ),
        (
            "x.csv",
            "when,prompt,completion\n1,2,3\n",
            "azure",
            "x.csv:1: header is 'when,prompt,completion', expected TIMESTAMP,ContextTokens,GeneratedTokens",
        ),
    ],
)
def test_bad_rows_name_file_line_and_fix(
    tmp_path: Path, name: str, text: str, fmt: str, message: str
) -> None:
    path = write(tmp_path, name, text)
    with pytest.raises(TraceFormatError) as raised:
        read_trace(path, fmt)
    assert str(raised.value).startswith(
        str(tmp_path / message.split(":", 1)[0]) + ":" + message.split(":", 1)[1]
    )


def test_shared_traces_parse() -> None:
    folder = require_shared("data/traces")
    code = read_trace(folder / "AzureLLMInferenceTrace_code.csv")
    conv = read_trace(folder / "AzureLLMInferenceTrace_conv.csv")
    minute = read_trace(folder / "servegen-language-m-mid.minute.csv")
    # Row counts from data/traces/SOURCES.md.
    assert (len(code.input_tokens), len(conv.input_tokens)) == (8819, 19366)
    assert len(minute.input_tokens) == 20160 and minute.span_s == 14 * 86400

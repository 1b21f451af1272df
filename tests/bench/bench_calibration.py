"""The throughput model against published measurements (components/capacity/data/calibration.csv).

Prints one line per row (setup, measured, predicted, error) and the summary against the targets
(median absolute error <= 15 %, no row beyond 35 %), and writes build/bench/calibration.json.
"""

from __future__ import annotations

import json

from llmops.components.capacity.calibration import compare, summary

from tests.conftest import REPO_ROOT


def main() -> None:
    comparisons = compare()
    header = f"{'row':<40}{'metric':<22}{'measured':>12}{'predicted':>12}{'error':>9}  source (date)"
    print(header)
    print("-" * len(header))
    rows = []
    for item in comparisons:
        row = item.row
        print(
            f"{row.id:<40}{row.metric:<22}{row.measured:>12.5g}{item.predicted:>12.5g}{item.error:>+9.1%}"
            f"  {row.source[:60]} ({row.date})"
        )
        rows.append(
            {
                "id": row.id,
                "model": row.model,
                "gpu": row.gpu,
                "tp": row.tp,
                "precision": row.precision_class,
                "quantization": row.quantization,
                "kv_cache_dtype": row.kv_cache_dtype,
                "input_tokens": row.input_tokens,
                "output_tokens": row.output_tokens,
                "concurrency": row.concurrency,
                "engine": row.engine,
                "metric": row.metric,
                "measured": row.measured,
                "predicted": round(item.predicted, 6),
                "error": round(item.error, 4),
                "source": row.source,
                "date": row.date,
            }
        )
    result = summary(comparisons)
    median, worst = float(result["median_abs_error"]), float(result["max_abs_error"])  # type: ignore[arg-type]
    print()
    print(
        f"{result['rows']} rows; median |error| {median:.1%} (target <= 15 %: "
        f"{'meets' if median <= 0.15 else 'misses'}), max {worst:.1%} at {result['worst']} "
        f"(target <= 35 %: {'meets' if worst <= 0.35 else 'misses'}); precisions {result['precisions']}"
    )
    out = REPO_ROOT / "build" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    (out / "calibration.json").write_text(json.dumps({"summary": result, "rows": rows}, indent=2) + "\n")
    print(f"wrote {out / 'calibration.json'}")


if __name__ == "__main__":
    main()

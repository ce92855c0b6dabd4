"""The GPU suite's tables (bench/gpu_suite.py): one line a part for the short table, and each part's
rows in full."""

from __future__ import annotations

import math
import statistics


def _num(v) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if math.isnan(v) or math.isinf(v):
        return str(v)
    if v == 0:
        return "0"
    if abs(v) >= 100:
        return f"{v:,.0f}"
    if abs(v) >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def _tests(rows: list[dict]) -> str:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r["outcome"]] = counts.get(r["outcome"], 0) + 1
    text = ", ".join(f"{n} {k}" for k, n in sorted(counts.items()))
    failed = [r["test"].split("::")[-1] for r in rows if r["outcome"] == "failed"]
    return text + (f"; failed: {', '.join(failed[:3])}{' …' if len(failed) > 3 else ''}" if failed else "")


def _resume(rows: list[dict]) -> str:
    parts = []
    for r in rows:
        if "error" in r:
            parts.append(f"{r['mode']}: {r['error'][:120]}")
            continue
        exact = "bitwise" if r["resume_bitwise"] else f"max |Δ| {r['resume_max_diff']:.2g}"
        twice = "bitwise" if r["same_seed_twice_bitwise"] else f"max |Δ| {r['same_seed_twice_max_diff']:.2g}"
        parts.append(f"{r['mode']}: resume {exact}, same seed twice {twice}")
    return "; ".join(parts)


def _speed(rows: list[dict]) -> str:
    done = [r for r in rows if "steps_per_s" in r]
    if not done:
        return "no row measured"
    by = _by_config(done)
    same = max(by.values(), key=len)  # the configuration measured in the most ways: where they compare
    base = next((r for r in same if r["variant"] in ("eager bf16", "eager fp32")), same[0])
    ratios = ", ".join(f"{r['variant']} ×{r['steps_per_s'] / base['steps_per_s']:.2f}" for r in same if r is not base)
    text = (f"{base['preset']} {base['size']} px b{base['batch']}: {base['variant']} {base['steps_per_s']:.0f} steps/s, "
            f"{base['images_per_s']:,.0f} img/s" + (f"; {ratios}" if ratios else ""))
    missing = len([r for r in rows if "not_run" in r])
    failed = len([r for r in rows if "error" in r])
    return text + f" ({len(done)} rows" + (f", {failed} failed" if failed else "") + \
        (f", {missing} not run: out of time" if missing else "") + ")"


def _tutorial(rows: list[dict]) -> str:
    by: dict[str, list[float]] = {}
    for r in rows:
        by.setdefault(r["loop"], []).append(r["steps_per_s"])
    if "tutorial" not in by:
        return "no tutorial figure"
    base = statistics.median(by["tutorial"])
    ratios = ", ".join(f"{loop} ×{statistics.median(v) / base:.2f}" for loop, v in by.items() if loop != "tutorial")
    return f"tutorial loop {base:.0f} steps/s; {ratios} (target on CUDA: 5×)"


def _studio(rows: list[dict]) -> str:
    by: dict[str, list[float]] = {}
    for r in rows:
        by.setdefault(r["listener"], []).append(r["steps_per_s"])
    inline, thread = by.get("none (inline)"), by.get("thread at the GUI's rate")
    if not inline or not thread:
        return "incomplete"
    a, b = statistics.median(inline), statistics.median(thread)
    return f"on a thread with events at the GUI's rate: ×{b / a:.3f} of inline ({b:.0f} vs {a:.0f} steps/s)"


def _digits(rows: list[dict]) -> str:
    final = next((r for r in rows if r.get("final")), None)
    readings = [r for r in rows if "frechet" in r]
    if final is None:
        return f"FD {readings[-1]['frechet']:.2f} at step {readings[-1]['step']:,} (unfinished)" if readings else "no reading"
    last = f"FD {readings[-1]['frechet']:.2f} at step {readings[-1]['step']:,}, " if readings else ""
    return f"{last}{final['steps']:,} steps in {final['seconds']:.0f} s ({final['steps_per_s']:.0f} steps/s); {final['reference']}"


def _pictures(rows: list[dict]) -> str:
    r = rows[-1]
    if "error" in r:
        return r["error"]
    readings = [x for x in rows if "frechet" in x]
    last = f"; picture FD {readings[-1]['frechet']:.2f} at step {readings[-1]['step']:,}" if readings else ""
    if not r.get("final"):
        return f"unfinished{last}"
    return (f"{r['minutes']:.1f} min on {r['pictures']:,} pictures: {r['steps']:,} steps, "
            f"{r['images_per_s']:,.0f} img/s{last}; {r['grid']}")


def _by_config(rows: list[dict]) -> dict[tuple, list[dict]]:
    by: dict[tuple, list[dict]] = {}
    for r in rows:
        by.setdefault((r["preset"], r["size"], r["batch"]), []).append(r)
    return by


def speed_pivot(rows: list[dict]) -> list[str]:
    """steps/s with each configuration a row and each way of running the step a column."""
    done = [r for r in rows if "steps_per_s" in r]
    variants: list[str] = []
    for r in done:
        variants += [r["variant"]] if r["variant"] not in variants else []
    lines = ["steps/s (images/s = steps/s × batch; peak memory and compile time in the rows below):", "",
             "| preset | px | batch | " + " | ".join(variants) + " |", "|---|---|---|" + "---|" * len(variants)]
    for (preset, size, batch), group in _by_config(done).items():
        cell = {r["variant"]: r for r in group}
        lines.append(f"| {preset} | {size} | {batch} | " + " | ".join(
            (f"{cell[v]['steps_per_s']:,.1f}" + ("" if cell[v]["compiled"] or "compiled" not in v else " (eager: fell back)"))
            if v in cell else "" for v in variants) + " |")
    return lines + [""]


HEADLINES = {"tests": _tests, "resume": _resume, "speed": _speed, "tutorial": _tutorial, "studio": _studio,
             "digits": _digits, "pictures": _pictures}


def rows_table(rows: list[dict]) -> list[str]:
    columns: list[str] = []
    for r in rows:
        columns += [k for k in r if k not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for r in rows:
        cells = [_num(r[c]).replace("|", "\\|").replace("\n", " ") if c in r else "" for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def details(outcomes) -> list[str]:
    lines = []
    for o in outcomes:
        lines += [f"## {o.part}: {o.status}" + (f" ({o.note})" if o.note else ""), ""]
        if o.part == "speed" and o.rows:
            lines += speed_pivot(o.rows)
        lines += (rows_table(o.rows) if o.rows else ["no rows"]) + [""]
    return lines


def machine_line(device: str) -> str:
    from bench.common import commit, machine

    return f"{time_now()} · commit {commit()} · {machine()} · device {device}"


def time_now() -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M")

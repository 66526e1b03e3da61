"""Tables, rendered as plain text (stdout) or Markdown (docs).

A table is a list of header strings and rows of cell strings; the same table
renders both ways, so the terminal and the docs never disagree. Each suite
gets a *timing* table (times per fit or per epoch, the ratio with its spread
over the repeats, the same with one thread) and an *agreement* table (scores
and whatever the suite compares between the two fits).
"""

from dataclasses import dataclass

from .harness import format_seconds
from .machine import BUSY_LOAD, format_load, machine_facts

ACCEPTABLE_RATIO = 1.0


@dataclass
class Table:
    """Headers and rows of strings; ``numeric`` marks right-aligned columns."""

    headers: list
    rows: list
    numeric: set


def render_text(table):
    """A fixed-width table with a rule under the header."""
    widths = [
        max(len(cell) for cell in column)
        for column in zip(table.headers, *table.rows)
    ]

    def line(cells):
        return "  ".join(
            cell.rjust(width) if index in table.numeric else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(cells, widths))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(table.headers), rule, *(line(row) for row in table.rows)])


def render_markdown(table):
    """A GitHub-style pipe table (valid MyST)."""
    align = ["---:" if index in table.numeric else ":---" for index in range(len(table.headers))]

    def line(cells):
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return "\n".join([line(table.headers), line(align), *(line(row) for row in table.rows)])


def _format_value(value):
    """Floats in scientific notation (agreement is about orders), else str."""
    if isinstance(value, float):
        return f"{value:.1e}"
    return str(value)


def ratio_cell(timing):
    """The median per-repeat ratio and, in brackets, the lowest and highest."""
    if timing.repeats == 1:
        return f"{timing.ratio:.2f} (one repeat)"
    low, high = timing.ratio_range
    return f"{timing.ratio:.2f} [{low:.2f}, {high:.2f}]"


def _megabytes(value):
    return "-" if value is None else f"{value / 2**20:.3g}"


def _peak_cell(peaks):
    """Each side's peak memory above the data, in MiB (:class:`~benchmarks.machine.PeakMemory`)."""
    if not peaks or all(value is None for value in peaks):
        return "-"
    return " / ".join(map(_megabytes, peaks))


def _dtype_cell(dtypes):
    ours, theirs = dtypes
    return ours if ours == theirs else f"{ours} / {theirs}"


def _case_cell(result):
    """The case's name, marked when other processes were busy while it ran."""
    usage = result.usage
    return f"{result.case.name} (busy: {usage.others:.1f} cores)" if usage and usage.busy \
        else result.case.name


def _per(suite):
    return "" if suite.unit == "fit" else f" / {suite.unit}"


def case_table(suite, results):
    """The timing table: one row per case, times and ratios with their spread.

    Columns: shape, the dtype both sides were fitted in (``ours / theirs``
    when they differ), each side's median time per fit (or per epoch), the
    median per-repeat ratio with its range, any of the suite's
    ``timing_columns``, the same with one thread when measured, each side's
    peak memory above the data in its warm-up fit, and the number of repeats
    (default threads / one thread).
    """
    per = _per(suite)
    single = any(result.single is not None for result in results)
    headers = ["case", "train n x p", "dtype", f"skscratch{per}", f"sklearn{per}",
               "ratio [min, max]", *suite.timing_columns]
    if single:
        headers += [f"skscratch{per}, 1 thread", f"sklearn{per}, 1 thread",
                    "ratio, 1 thread [min, max]"]
    headers += ["peak MB skscratch / sklearn", "repeats"]
    rows = []
    for result in results:
        timing, units = result.timing, result.case.units
        row = [
            _case_cell(result),
            f"{result.n_train} x {result.n_features}",
            _dtype_cell(result.dtypes),
            format_seconds(timing.ours_median / units),
            format_seconds(timing.theirs_median / units),
            ratio_cell(timing),
            *(_format_value(result.columns.get(name, "-")) for name in suite.timing_columns),
        ]
        repeats = str(timing.repeats)
        if single:
            one = result.single
            row += ["-", "-", "-"] if one is None else [
                format_seconds(one.ours_median / units),
                format_seconds(one.theirs_median / units),
                ratio_cell(one),
            ]
            repeats += "" if one is None else f" / {one.repeats}"
        rows.append(row + [_peak_cell(timing.peak_memory), repeats])
    numeric = {index for index, name in enumerate(headers)
               if name not in ("case", "dtype", *suite.timing_columns)}
    return Table(headers, rows, numeric)


def agreement_table(suite, results):
    """The agreement table: one row per case, scores and the suite's comparisons."""
    extra = []
    for result in results:
        extra += [name for name in result.columns
                  if name not in extra and name not in suite.timing_columns]
    headers = ["case", f"{suite.score_name} skscratch", f"{suite.score_name} sklearn", *extra]
    rows = [
        [
            result.case.name,
            f"{result.ours_score:.4f}",
            f"{result.theirs_score:.4f}",
            *(_format_value(result.columns.get(name, "-")) for name in extra),
        ]
        for result in results
    ]
    return Table(headers, rows, numeric={1, 2})


def sweep_table(sweep_result):
    """One row per sweep point: size, both median times, ratio with its range."""
    rows = [
        [str(size), format_seconds(ours), format_seconds(theirs),
         ratio_cell(timing) if timing is not None else f"{ours / theirs:.2f}",
         str(timing.repeats) if timing is not None else "-"]
        for (size, ours, theirs), timing in zip(
            sweep_result.points,
            sweep_result.timings or [None] * len(sweep_result.points))
    ]
    headers = [sweep_result.sweep.label, "skscratch", "sklearn", "ratio [min, max]", "repeats"]
    return Table(headers, rows, {0, 1, 2, 3, 4})


def worst_ratio_line(results):
    """The acceptance check in one sentence: the largest skscratch/sklearn ratio.

    Medians decide; the range of the worst case is given with it, and the
    worst one-thread ratio where one was measured.
    """
    if not results:
        return "No cases were run."
    worst = max(results, key=lambda result: result.timing.ratio)
    above = [r for r in results if r.timing.ratio > ACCEPTABLE_RATIO]
    verdict = (
        ("the only case" if len(results) == 1 else f"all {len(results)} cases")
        + f" at or below {ACCEPTABLE_RATIO:.2f}"
        if not above
        else f"{len(above)} of {len(results)} cases above {ACCEPTABLE_RATIO:.2f}"
    )
    line = (f"Worst time ratio (skscratch/sklearn): {ratio_cell(worst.timing)} "
            f"({worst.case.name}); {verdict}.")
    single = [result for result in results if result.single is not None]
    if single:
        worst_one = max(single, key=lambda result: result.single.ratio)
        line += (f" With one thread: {ratio_cell(worst_one.single)} "
                 f"({worst_one.case.name}).")
    return line


def facts_table(load_at_start):
    """Machine facts as a two-column table."""
    return Table(["fact", "value"], [list(pair) for pair in machine_facts(load_at_start)], set())


def thread_table(pools):
    """The native thread pools (from :func:`.machine.thread_pools`), one row each."""
    headers = ["user_api", "internal_api", "loaded from", "version", "architecture",
               "num_threads"]
    return Table(headers, [[pool[name] for name in headers] for pool in pools], {5})


def _others(usage):
    return "unknown" if usage.others is None else f"{usage.others:.2f}"


def usage_table(runs, total):
    """Per suite: wall time, load averages, other processes' CPU, the verdict."""
    headers = ["suite", "cases", "wall time", "load at start", "load at end",
               "others' cores (mean)", "busy cases", "machine"]
    rows = []
    for run in runs:
        usage = run.usage
        busy_cases = sum(1 for result in run.cases if result.usage and result.usage.busy)
        rows.append([
            run.suite.name, str(len(run.cases)), f"{usage.wall:.0f} s",
            format_load(usage.load_start), format_load(usage.load_end), _others(usage),
            str(busy_cases), "busy" if is_busy(run) else "idle",
        ])
    rows.append(["all", str(sum(len(run.cases) for run in runs)), f"{total.wall:.0f} s",
                 format_load(total.load_start), format_load(total.load_end), _others(total),
                 str(sum(1 for run in runs for result in run.cases
                         if result.usage and result.usage.busy)),
                 "busy" if total.busy else "idle"])
    return Table(headers, rows, {1, 2, 3, 4, 5, 6})


def is_busy(run):
    """A suite ran on a busy machine: others used more than the limit, on average
    or during any one case."""
    return (run.usage is not None and run.usage.busy) or any(
        result.usage is not None and result.usage.busy for result in run.cases)


def busy_summary(runs, load_at_start, total):
    """A sentence naming what made the run busy, or None for an idle run."""
    reasons = []
    if load_at_start is not None and load_at_start > BUSY_LOAD:
        reasons.append(f"load average {load_at_start:.2f} at the start")
    if total.busy:
        reasons.append(f"other processes kept {total.others:.2f} cores busy on average")
    busy_suites = [run.suite.name for run in runs if is_busy(run)]
    if busy_suites:
        reasons.append(f"busy during {', '.join(busy_suites)}")
    if not reasons:
        return None
    return (f"Measured on a busy machine ({'; '.join(reasons)}; the limit is {BUSY_LOAD} "
            "cores): the ratios of the cases marked busy are not reliable.")

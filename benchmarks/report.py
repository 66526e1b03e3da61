"""Tables and machine facts, rendered as plain text (stdout) or Markdown (docs).

A table is a list of header strings and rows of cell strings; the same table
renders both ways, so the terminal and the docs never disagree.
"""

import os
import platform
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from .harness import format_seconds

ACCEPTABLE_RATIO = 1.0
ENV_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


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


def case_table(suite, results):
    """One row per case: shape, median times, ratio, scores, extra columns."""
    extra = []
    for result in results:
        extra += [name for name in result.columns if name not in extra]
    headers = [
        "case", "train n x p", "skscratch", "sklearn", "ratio",
        f"{suite.score_name} skscratch", f"{suite.score_name} sklearn", *extra,
    ]
    rows = []
    for result in results:
        timing = result.timing
        rows.append([
            result.case.name,
            f"{result.n_train} x {result.n_features}",
            format_seconds(timing.ours_median),
            format_seconds(timing.theirs_median),
            f"{timing.ratio:.2f}",
            f"{result.ours_score:.4f}",
            f"{result.theirs_score:.4f}",
            *(_format_value(result.columns.get(name, "-")) for name in extra),
        ])
    return Table(headers, rows, numeric={1, 2, 3, 4, 5, 6})


def sweep_table(sweep_result):
    """One row per sweep point: size, both median times, ratio."""
    rows = [
        [str(size), format_seconds(ours), format_seconds(theirs), f"{ours / theirs:.2f}"]
        for size, ours, theirs in sweep_result.points
    ]
    return Table([sweep_result.sweep.label, "skscratch", "sklearn", "ratio"], rows, {0, 1, 2, 3})


def worst_ratio_line(results):
    """The acceptance check in one sentence: the largest skscratch/sklearn ratio."""
    if not results:
        return "No cases were run."
    worst = max(results, key=lambda result: result.timing.ratio)
    above = [r for r in results if r.timing.ratio > ACCEPTABLE_RATIO]
    verdict = (
        f"all {len(results)} cases at or below {ACCEPTABLE_RATIO:.2f}"
        if not above
        else f"{len(above)} of {len(results)} cases above {ACCEPTABLE_RATIO:.2f}"
    )
    return f"Worst time ratio (skscratch/sklearn): {worst.timing.ratio:.2f} ({worst.case.name}); {verdict}."


def _cpu_model():
    """``platform.processor()`` is empty on many Linux builds; fall back to /proc."""
    name = platform.processor()
    if name:
        return name
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def _version(distribution):
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def load_average():
    """The 1-minute load average, or None where the OS does not report it."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _format_load(load):
    return "unknown" if load is None else f"{load:.2f}"


def machine_facts(load_at_start):
    """``(name, value)`` pairs describing where the numbers were measured.

    The load average is there because on a shared machine another busy
    process makes multithreaded BLAS slow unevenly, and ratios with it.
    """
    import skscratch

    return [
        ("CPU count (os.cpu_count)", str(os.cpu_count())),
        ("Processor", _cpu_model()),
        ("Platform", platform.platform()),
        ("Python", platform.python_version()),
        ("numpy", _version("numpy")),
        ("scipy", _version("scipy")),
        ("scikit-learn", _version("scikit-learn")),
        ("skscratch", skscratch.__version__),
        *((name, os.environ.get(name, "unset")) for name in ENV_VARS),
        # Only the start: by the end the benchmark's own threads are in it.
        ("Load average (1 min) before the run", _format_load(load_at_start)),
    ]


def thread_table():
    """The native thread pools loaded now (BLAS, OpenMP) and their sizes.

    Called after the benchmarks ran, so every library they loaded is listed.
    numpy and scipy wheels each bundle their own OpenBLAS; the folder it was
    loaded from (``numpy.libs``, ``scipy.libs``) tells them apart: skscratch's
    matrix products run on numpy's, scikit-learn's ``lstsq`` on scipy's.
    """
    from threadpoolctl import threadpool_info

    rows = [
        [
            str(pool.get("user_api", "-")),
            str(pool.get("internal_api", "-")),
            Path(pool.get("filepath", "-")).parent.name,
            str(pool.get("version", "-")),
            str(pool.get("architecture", "-")),
            str(pool.get("num_threads", "-")),
        ]
        for pool in threadpool_info()
    ]
    headers = ["user_api", "internal_api", "loaded from", "version", "architecture", "num_threads"]
    return Table(headers, rows, {5})


def facts_table(load_at_start):
    """Machine facts as a two-column table."""
    return Table(["fact", "value"], [list(pair) for pair in machine_facts(load_at_start)], set())

"""Command line: ``python -m benchmarks [--only NAMES] [--quick | --full] ...``.

Progress goes to stderr, the tables to stdout, and unless ``--no-write`` the
Markdown report and its PNG plots to ``docs/``.

Three modes. The default run is bounded: adaptive repeats (as few as the
spread of the ratios allows, within a time budget per case), sweeps cut off
when their time budget is spent, and the longest cases left to ``--full``.
``--quick`` runs every suite and every kind of row on smaller data, for a
representative report in a few minutes. ``--full`` runs every sweep point and
every case, with more repeats and no time budget.
"""

import argparse
import shlex
import sys
from pathlib import Path

from .document import RunOptions, SuiteRun, write_document
from .harness import Repeats, log, run_case, run_sweep
from .machine import BUSY_LOAD, Meter, load_average, thread_pools, usage_line
from .report import (
    agreement_table, busy_summary, case_table, facts_table, render_text, sweep_table,
    thread_table, usage_table, worst_ratio_line,
)
from .suites import SUITES, load_suite

DEFAULT_OUT = Path("docs") / "benchmarks.md"

# Repeats per case and per sweep point, and seconds per sweep, in each mode.
# A case stops at the minimum once its per-repeat ratios agree within
# `spread` (relative range), else goes on to the maximum, or to two repeats
# once its budget is spent (see harness.Repeats).
CASE_REPEATS = {
    "quick": Repeats(minimum=2, maximum=4, spread=0.15, budget=5.0),
    "default": Repeats(minimum=3, maximum=7, spread=0.10, budget=20.0),
    "full": Repeats(minimum=5, maximum=11, spread=0.05, budget=None),
}
SWEEP_REPEATS = {
    "quick": Repeats(minimum=2, maximum=3, spread=0.15, budget=5.0),
    "default": Repeats(minimum=2, maximum=3, spread=0.10, budget=10.0),
    "full": Repeats(minimum=3, maximum=5, spread=0.10, budget=None),
}
SWEEP_BUDGET = {"quick": 10.0, "default": 20.0, "full": None}


def _names(text):
    """Parse ``--only``: comma-separated names that must all be registered."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in SUITES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown suite(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(SUITES)}"
        )
    return names


def _positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _seconds(text):
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be positive")
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time skscratch estimators against their scikit-learn twins.",
    )
    parser.add_argument(
        "--only", type=_names, default=list(SUITES), metavar="NAME[,NAME]",
        help=f"suites to run (default: all of {', '.join(SUITES)})",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick", action="store_true",
        help="every suite and kind of row on smaller data, fewer repeats (a few minutes)",
    )
    mode.add_argument(
        "--full", action="store_true",
        help="every sweep point and every case (also those left out of the default run), "
             "more repeats, no time budget",
    )
    parser.add_argument(
        "--repeats", type=_positive, default=None,
        help="timed repeats per case, fixed (default: adaptive, "
             f"{CASE_REPEATS['default'].minimum} to {CASE_REPEATS['default'].maximum})",
    )
    parser.add_argument(
        "--budget", type=_seconds, default=None, metavar="SECONDS",
        help="seconds per case after which it stops at two repeats (default "
             f"{CASE_REPEATS['default'].budget:g}, {CASE_REPEATS['quick'].budget:g} with --quick)",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print the tables only; write no files",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT,
        help=f"Markdown report path (default {DEFAULT_OUT}); plots go to _static/bench/ beside it",
    )
    return parser.parse_args(argv)


def run_suite(suite, options, image_dir):
    """Run a suite's cases and sweeps; save its plot if ``image_dir`` is given."""
    meter = Meter()
    full = options.mode == "full"
    chosen = suite.cases(options.quick)
    skipped = [case for case in chosen if case.full_only and not full]
    for case in skipped:
        log(f"[{suite.name}] {case.name}: not run (needs --full)")
    cases = [run_case(suite, case, options.repeats) for case in chosen if case not in skipped]
    sweeps = [run_sweep(suite, sweep, options.sweep_repeats, options.sweep_budget)
              for sweep in suite.sweeps(options.quick)]
    run = SuiteRun(suite, cases, sweeps, skipped=skipped)
    if sweeps and image_dir is not None:
        # Imported here so --no-write runs do not need matplotlib.
        from .plots import plot_sweeps

        image_dir.mkdir(parents=True, exist_ok=True)
        run.plot = image_dir / f"{suite.name}_scaling.png"
        plot_sweeps(suite, sweeps, run.plot)
        log(f"[{suite.name}] wrote {run.plot}")
    run.usage = meter.stop()
    log(f"[{suite.name}] done: {usage_line(run.usage)}")
    return run


def print_text(runs, machine, options):
    """The stdout report: per suite its tables, worst ratio and sweeps; then the machine."""
    facts, threads, usage, busy = machine
    for run in runs:
        print(f"\n{run.suite.title}: {run.suite.ours_label} vs {run.suite.theirs_label}\n")
        print(render_text(case_table(run.suite, run.cases)))
        print(worst_ratio_line(run.cases))
        print()
        print(render_text(agreement_table(run.suite, run.cases)))
        for case in run.skipped:
            print(f"Not run (needs --full): {case.name}")
        for sweep in run.sweeps:
            print()
            print(render_text(sweep_table(sweep)))
            if sweep.skipped:
                print(f"Skipped by the time budget: {', '.join(map(str, sweep.skipped))}")
        print(f"\n[{run.suite.name}] {usage_line(run.usage)}")
    print("\nMachine\n")
    print(render_text(facts))
    print()
    print(render_text(threads))
    print()
    print(render_text(usage))
    every_case = [result for run in runs for result in run.cases]
    if len(runs) > 1:
        print("\nAll suites. " + worst_ratio_line(every_case))
    if busy:
        print(f"\n{busy}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    total = Meter()
    load_at_start = load_average()
    if load_at_start is not None and load_at_start > BUSY_LOAD:
        log(f"warning: load average {load_at_start:.2f} at start (limit {BUSY_LOAD}); other "
            "processes are running and the ratios may be unreliable")
    mode = "quick" if args.quick else "full" if args.full else "default"
    repeats = Repeats.fixed(args.repeats) if args.repeats else CASE_REPEATS[mode]
    if args.budget is not None:
        repeats = Repeats(repeats.minimum, repeats.maximum, repeats.spread, args.budget)
    options = RunOptions(
        command=shlex.join(["python", "-m", "benchmarks", *argv]),
        mode=mode, repeats=repeats, sweep_repeats=SWEEP_REPEATS[mode],
        sweep_budget=SWEEP_BUDGET[mode],
    )
    image_dir = None if args.no_write else args.out.parent / "_static" / "bench"
    runs = [run_suite(load_suite(name), options, image_dir) for name in args.only]
    options.usage = total.stop()
    busy = busy_summary(runs, load_at_start, options.usage)
    machine = (facts_table(load_at_start), thread_table(thread_pools()),
               usage_table(runs, options.usage), busy)
    print_text(runs, machine, options)
    if not args.no_write:
        write_document(args.out, runs, options, machine, image_dir)
        log(f"wrote {args.out}")
    log(f"all suites: {usage_line(options.usage)}")
    if busy:
        log(f"warning: {busy}")


if __name__ == "__main__":
    main()

"""Command line: ``python -m benchmarks [--only NAMES] [--quick] ...``.

Progress goes to stderr, the tables to stdout, and unless ``--no-write`` the
Markdown report and its PNG plots to ``docs/``.
"""

import argparse
import shlex
import sys
from pathlib import Path

from .document import RunOptions, SuiteRun, write_document
from .harness import log, run_case, run_sweep
from .report import (
    case_table, facts_table, load_average, render_text, sweep_table, thread_table,
    worst_ratio_line,
)
from .suites import SUITES, load_suite

DEFAULT_OUT = Path("docs") / "benchmarks.md"
FULL_REPEATS, QUICK_REPEATS = 7, 3
# Above this 1-minute load the BLAS threads share cores with someone else.
BUSY_LOAD = 0.5


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


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="Time skscratch estimators against their scikit-learn twins.",
    )
    parser.add_argument(
        "--only", type=_names, default=list(SUITES), metavar="NAME[,NAME]",
        help=f"suites to run (default: all of {', '.join(SUITES)})",
    )
    parser.add_argument(
        "--quick", action="store_true",
        help=f"{QUICK_REPEATS} repeats and smaller sweeps (same cases, same table)",
    )
    parser.add_argument(
        "--repeats", type=_positive, default=None,
        help=f"timed repeats per case (default {FULL_REPEATS}, {QUICK_REPEATS} with --quick)",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print the tables only; write no files",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT,
        help=f"Markdown report path (default {DEFAULT_OUT}); plots go to _static/bench/ beside it",
    )
    return parser.parse_args(argv)


def run_suite(suite, repeats, sweep_repeats, quick, image_dir):
    """Run a suite's cases and sweeps; save its plot if ``image_dir`` is given."""
    cases = [run_case(suite, case, repeats) for case in suite.cases(quick)]
    sweeps = [run_sweep(suite, sweep, sweep_repeats) for sweep in suite.sweeps(quick)]
    run = SuiteRun(suite, cases, sweeps)
    if sweeps and image_dir is not None:
        # Imported here so --no-write runs do not need matplotlib.
        from .plots import plot_sweeps

        image_dir.mkdir(parents=True, exist_ok=True)
        run.plot = image_dir / f"{suite.name}_scaling.png"
        plot_sweeps(suite, sweeps, run.plot)
        log(f"[{suite.name}] wrote {run.plot}")
    return run


def print_text(runs, machine):
    """The stdout report: per suite its case table, worst ratio and sweeps."""
    facts, threads = machine
    for run in runs:
        print(f"\n{run.suite.title}: {run.suite.ours_label} vs {run.suite.theirs_label}\n")
        print(render_text(case_table(run.suite, run.cases)))
        print(worst_ratio_line(run.cases))
        for sweep in run.sweeps:
            print()
            print(render_text(sweep_table(sweep)))
    print("\nMachine\n")
    print(render_text(facts))
    print()
    print(render_text(threads))
    every_case = [result for run in runs for result in run.cases]
    if len(runs) > 1:
        print("\nAll suites. " + worst_ratio_line(every_case))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    load_at_start = load_average()
    if load_at_start is not None and load_at_start > BUSY_LOAD:
        log(f"warning: load average {load_at_start:.2f} at start; other processes are "
            "running and the ratios may be unreliable")
    repeats = args.repeats or (QUICK_REPEATS if args.quick else FULL_REPEATS)
    # Sweeps are many small measurements feeding a plot: half the repeats do.
    sweep_repeats = max(1, repeats // 2)
    image_dir = None if args.no_write else args.out.parent / "_static" / "bench"
    runs = [
        run_suite(load_suite(name), repeats, sweep_repeats, args.quick, image_dir)
        for name in args.only
    ]
    machine = (facts_table(load_at_start), thread_table())
    print_text(runs, machine)
    if not args.no_write:
        command = shlex.join(["python", "-m", "benchmarks", *argv])
        options = RunOptions(command, repeats, sweep_repeats, args.quick)
        write_document(args.out, runs, options, machine, image_dir)
        log(f"wrote {args.out}")


if __name__ == "__main__":
    main()

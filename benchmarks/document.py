"""The Markdown report (``docs/benchmarks.md``), written as MyST for Sphinx."""

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from .harness import LONG_FIT_SECONDS, MIN_BATCH_SECONDS, Repeats
from .machine import BUSY_LOAD, usage_line
from .report import agreement_table, case_table, render_markdown, sweep_table, worst_ratio_line
from .suites import SUITES


@dataclass
class SuiteRun:
    """One suite's results: cases run, sweeps, where its scaling plot was saved
    (if any), what the machine did meanwhile, and the cases left to ``--full``."""

    suite: object
    cases: list
    sweeps: list
    plot: Path | None = None
    usage: object = None
    skipped: list = field(default_factory=list)


@dataclass
class RunOptions:
    """What the run was asked to do, recorded in the report."""

    command: str
    mode: str  # "quick", "default" or "full"
    repeats: Repeats
    sweep_repeats: Repeats
    sweep_budget: float | None
    usage: object = None

    @property
    def quick(self):
        return self.mode == "quick"


def _policy(repeats, what):
    """A repeats policy in words."""
    if repeats.minimum == repeats.maximum:
        return f"{repeats.minimum} repeats per {what}"
    text = (f"{repeats.minimum} to {repeats.maximum} repeats per {what}, stopping at the "
            f"minimum once the per-repeat ratios agree within {repeats.spread:.0%} of their "
            "median")
    if repeats.budget is not None:
        text += (f" (at two once the {what} has taken {repeats.budget:g} s, shared by its two "
                 "timings where it also has a one-thread timing)" if what == "case" else
                 f" (at two once the {what} has taken {repeats.budget:g} s)")
    return text


def _method(options):
    sweeps = ("every sweep point" if options.sweep_budget is None else
              f"sweep points while the sweep's {options.sweep_budget:g} s budget lasts "
              "(the larger points are listed as skipped; `--full` runs them)")
    return [
        "Each skscratch estimator and its scikit-learn twin are fitted on the same data in "
        "the same process, alternately (the order flips every repeat), after one untimed "
        "warm-up fit each (kept as the first repeat when both take longer than "
        f"{LONG_FIT_SECONDS:g} s, where first-call costs are lost in the fit). A problem "
        f"small enough to fit in under {MIN_BATCH_SECONDS * 1e3:.0f} ms is fitted several "
        "times per repeat and the mean per fit is taken. Times are measured with "
        "`time.perf_counter`.",
        "",
        f"Repeats: {_policy(options.repeats, 'case')}; "
        f"{_policy(options.sweep_repeats, 'sweep point')}; {sweeps}.",
        "",
        "**Ratios and their spread.** A *ratio* is skscratch's time over scikit-learn's "
        "(below 1: skscratch is faster). Each repeat times both sides back to back, so each "
        "repeat gives one ratio measured on the machine in one state; the tables show the "
        "median of these per-repeat ratios and, in brackets, the lowest and the highest. "
        "Min and max rather than quartiles because a case has "
        f"{min(2, options.repeats.minimum)} to {options.repeats.maximum} repeats: quartiles "
        "of three numbers are the numbers themselves, and the range hides nothing (a case "
        "whose fits take tens of seconds may be capped at one repeat outside `--full`: its "
        "suite's notes say so and its ratio is marked *one repeat*). The "
        "per-repeat ratio rather than a ratio of two medians because a slow spell of the "
        "machine then slows both sides of a ratio together instead of widening it. Read "
        "the ratios, not the absolute times.",
        "",
        "**Threads.** Every case runs with the libraries' default thread pools (their sizes, "
        "and the environment variables that set them, are listed under *Machine*). Where threading decides the result (the small fits and the per-epoch "
        "tables) both sides are timed a second time with every BLAS and OpenMP pool limited "
        "to one thread (`threadpoolctl.threadpool_limits(1)`): the *1 thread* columns.",
        "",
        "**Load.** The machine is shared. For every case and suite the harness records how "
        "many cores other processes kept busy on average (the machine's busy CPU time from "
        "`/proc/stat`, hypervisor steal included, minus this process's CPU time, over the "
        "wall time), and the 1-minute load average at the start and end of each suite (which "
        "includes the benchmark's own threads, so it is not the verdict). A case or suite "
        f"during which others used more than {BUSY_LOAD} cores, or a run that started at a "
        f"load average above {BUSY_LOAD}, is marked **busy**.",
        "",
        "**Memory.** *peak MB* is what each side's warm-up fit added to the process's "
        "resident memory at its peak, above the data it was given (Linux's high-water mark "
        "`VmHWM`, reset through `/proc/self/clear_refs` before the fit, minus the resident "
        "size at that moment; `-` where the system cannot reset it). Pages are counted when "
        "touched, so a temporary array counts in full; a few MB are allocator noise.",
        "",
        "Accuracy is reported beside speed, because a faster wrong answer is not a result.",
    ]


def _suite_section(run, image_dir_relative):
    suite = run.suite
    lines = [
        f"## {suite.title}", "",
        f"`{suite.ours_label}` against `{suite.theirs_label}`.", "",
        render_markdown(case_table(suite, run.cases)), "",
        f"**{worst_ratio_line(run.cases)}**", "",
        render_markdown(agreement_table(suite, run.cases)), "",
    ]
    lines += [f"- **{result.case.name}**: {result.case.description}" for result in run.cases]
    lines += [f"- **{case.name}** (not run: needs `--full`): {case.description}"
              for case in run.skipped]
    lines.append("")
    if suite.notes:
        lines += [suite.notes, ""]
    if run.sweeps:
        lines += ["### Scaling", ""]
        if run.plot is not None:
            image = f"{image_dir_relative}/{run.plot.name}"
            lines += [f"![{suite.title}: fit time against problem size]({image})", ""]
        for sweep in run.sweeps:
            lines += [render_markdown(sweep_table(sweep)), ""]
            if sweep.skipped:
                lines += [f"Not run within the sweep's time budget: {sweep.sweep.label} = "
                          f"{', '.join(map(str, sweep.skipped))} (`--full` runs them).", ""]
    if run.usage is not None:
        lines += [f"*This suite: {usage_line(run.usage)}.*", ""]
    return lines


def render_document(runs, options, machine, image_dir_relative):
    """The whole report as one Markdown string.

    ``machine`` is ``(facts, threads, usage, busy)``: three tables from
    :mod:`.report` and the busy sentence (or None), gathered once after the
    run so stdout and the docs show the same facts.
    """
    facts, threads, usage, busy = machine
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    mode = {"quick": "quick mode: smaller data, fewer repeats",
            "default": "the default run", "full": "full mode: every sweep point and case"}
    names = [run.suite.name for run in runs]
    # A partial or non-default run says so in its title: it is published
    # beside the default report, not in place of it.
    title = "Benchmarks" if options.mode == "default" and names == list(SUITES) else (
        f"Benchmarks, {options.mode} mode: {', '.join(names)}")
    lines = [f"# {title}", ""]
    if busy:
        lines += [f"```{{warning}}\n{busy}\n```", ""]
    lines += [
        f"Measured on {stamp} with `{options.command}` ({mode[options.mode]}; "
        f"{options.usage.wall / 60:.1f} minutes). This page is generated by `make bench`; "
        "edit `benchmarks/` rather than this file.", "",
        "## Method", "",
        *_method(options), "",
    ]
    for run in runs:
        lines += _suite_section(run, image_dir_relative)
    lines += [
        "## Machine", "",
        render_markdown(facts), "",
        "Native thread pools loaded during the run (`threadpoolctl.threadpool_info()`), "
        "with their default sizes:", "",
        render_markdown(threads), "",
        "Time and load per suite (load averages over 1 minute; *others' cores*: the mean "
        "number of cores other processes kept busy; *busy cases*: cases during which "
        f"that mean passed {BUSY_LOAD}):", "",
        render_markdown(usage), "",
    ]
    return "\n".join(lines)


def write_document(path, runs, options, machine, image_dir):
    """Write the report, with image links relative to the report's folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    relative = Path(os.path.relpath(image_dir, path.parent)).as_posix()
    path.write_text(render_document(runs, options, machine, relative), encoding="utf-8")

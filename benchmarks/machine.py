"""What the machine was doing while the benchmarks ran: facts, threads, load.

A ratio measured while another process holds a core is not the ratio of the
two implementations: multithreaded BLAS and OpenMP slow down unevenly when a
thread loses its core (scikit-learn's OpenMP loops wait for the slowest
thread), so the harness records, for every case and every suite, how much CPU
*other* processes used, and marks a busy run as such.

Why not the load average alone: it counts this process's own threads (two busy
BLAS threads make a load of 2 on an otherwise idle machine), so after the
first second of a run it no longer tells an idle machine from a busy one. It is
still recorded (at the start of the run and of each suite, and at each suite's
end) because it is the number people know. The busy verdict uses the CPU time
of the whole machine minus this process's own, from ``/proc/stat`` and
``time.process_time``; where ``/proc/stat`` is missing, the load average at the
start of the run is all there is.
"""

import os
import platform
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

# Above this many cores' worth of other processes' work (a 1-minute load
# average at the start of a run, or other processes' average CPU use during a
# case or a suite) the measurements share the cores with someone else.
BUSY_LOAD = 0.5
# Environment that changes what the BLAS and OpenMP libraries do.
ENV_VARS = (
    "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
)


def load_average():
    """The 1-minute load average, or None where the OS does not report it."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


def _busy_cpu_seconds():
    """CPU seconds the whole machine has spent busy since boot, or None.

    From the first line of ``/proc/stat`` (in clock ticks): user, nice,
    system, irq, softirq and steal, the last being time the hypervisor gave
    this machine's virtual CPUs to someone else, which slows a benchmark as
    surely as a local process does. Idle and I/O wait are not busy.
    """
    try:
        with open("/proc/stat") as stat:
            fields = stat.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[1:9])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def _descendant_cpu_seconds():
    """CPU seconds of each live process descended from this one, ``{pid: seconds}``.

    The worker processes of a local Dask cluster that a suite starts do the
    suite's own work: counted as "other processes", they would mark every
    case of that suite busy. Read from ``/proc/<pid>/stat`` (user and system
    time, fields 14 and 15); empty off Linux.
    """
    parents, times = {}, {}
    tick = os.sysconf("SC_CLK_TCK")
    try:
        entries = [entry for entry in os.listdir("/proc") if entry.isdigit()]
    except OSError:
        return {}
    for entry in entries:
        try:
            with open(f"/proc/{entry}/stat") as stat:
                text = stat.read()
        except OSError:
            continue  # ended meanwhile
        # the command name (field 2) is in parentheses and may hold spaces
        fields = text[text.rindex(")") + 2:].split()
        parents[int(entry)] = int(fields[1])
        times[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    own, frontier = set(), [os.getpid()]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        own.update(children)
        frontier.extend(children)
    return {pid: times[pid] for pid in own}


@dataclass
class Usage:
    """Wall time of a stretch of the run and what the machine did meanwhile.

    ``others`` is the average number of cores that other processes kept busy
    (None where ``/proc/stat`` is missing); ``load_start`` and ``load_end``
    are 1-minute load averages, which include this process's own threads.
    """

    wall: float
    own_cpu: float
    others: float | None
    load_start: float | None
    load_end: float | None

    @property
    def busy(self):
        return self.others is not None and self.others > BUSY_LOAD


def _status_kib(field):
    """A ``/proc/self/status`` field in KiB (``VmRSS``, ``VmHWM``), or None off Linux."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class PeakMemory:
    """The memory one stretch of code adds on top of what the process held before.

    ``peak = PeakMemory(); fit(); extra = peak.stop()``: the process's resident
    high-water mark during the stretch minus its resident size at the start,
    in bytes (None where Linux's ``/proc/self/clear_refs`` cannot reset the mark).
    Writing ``5`` there resets the mark to the current resident size, a constant-time
    call outside any timed fit. Resident memory counts pages touched, so a
    temporary array that is allocated and filled counts in full; memory that the
    allocator kept from an earlier, larger stretch and reuses is not counted
    again (large numpy arrays are returned to the system when freed, so this
    undercounts only small allocations).
    """

    def __init__(self):
        self.start = _status_kib("VmRSS")
        try:
            with open("/proc/self/clear_refs", "w") as refs:
                refs.write("5")
        except OSError:
            self.start = None

    def stop(self):
        peak = _status_kib("VmHWM")
        if self.start is None or peak is None:
            return None
        return max(0, peak - self.start) * 1024


class Meter:
    """Measures a stretch of the run: ``meter = Meter(); ...; usage = meter.stop()``."""

    def __init__(self):
        self.load_start = load_average()
        self.busy_start = _busy_cpu_seconds()
        self.own_start = time.process_time()  # every thread of this process
        self.children_start = _descendant_cpu_seconds()  # and of its worker processes
        self.wall_start = time.perf_counter()

    def stop(self):
        wall = time.perf_counter() - self.wall_start
        own = time.process_time() - self.own_start
        # a worker started during the stretch counts from its start
        own += sum(seconds - self.children_start.get(pid, 0.0)
                   for pid, seconds in _descendant_cpu_seconds().items())
        busy_end = _busy_cpu_seconds()
        others = None
        if self.busy_start is not None and busy_end is not None and wall > 0:
            # Clock ticks are 10 ms: a short stretch rounds, hence the floor at 0.
            others = max(0.0, (busy_end - self.busy_start - own) / wall)
        return Usage(wall, own, others, self.load_start, load_average())


def format_load(value):
    return "unknown" if value is None else f"{value:.2f}"


def usage_line(usage):
    """One sentence on a suite's (or the run's) time and load."""
    others = ("other processes' CPU use unknown" if usage.others is None
              else f"other processes kept {usage.others:.2f} cores busy on average")
    verdict = f"**busy** (above {BUSY_LOAD})" if usage.busy else "idle"
    return (f"{usage.wall:.0f} s wall time; load average {format_load(usage.load_start)} at "
            f"the start, {format_load(usage.load_end)} at the end; {others}: {verdict}")


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


def _affinity():
    """Cores this process may run on (``os.sched_getaffinity``), where the OS says."""
    try:
        return str(len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return "unknown"


def machine_facts(load_at_start):
    """``(name, value)`` pairs describing where the numbers were measured."""
    import skscratch

    return [
        ("CPU count (os.cpu_count)", str(os.cpu_count())),
        ("CPUs this process may use (sched_getaffinity)", _affinity()),
        ("Processor", _cpu_model()),
        ("Platform", platform.platform()),
        ("Python", platform.python_version()),
        ("numpy", _version("numpy")),
        ("scipy", _version("scipy")),
        ("scikit-learn", _version("scikit-learn")),
        ("threadpoolctl", _version("threadpoolctl")),
        ("skscratch", skscratch.__version__),
        *((name, os.environ.get(name, "unset")) for name in ENV_VARS),
        ("Load average (1 min) before the run", format_load(load_at_start)),
    ]


def thread_pools():
    """The native thread pools loaded now (BLAS, OpenMP), one dict each.

    Called after the benchmarks ran, so every library they loaded is listed.
    numpy and scipy wheels each bundle their own OpenBLAS; the folder it was
    loaded from (``numpy.libs``, ``scipy.libs``) tells them apart: skscratch's
    matrix products run on numpy's, scikit-learn's ``lstsq`` on scipy's.
    """
    from threadpoolctl import threadpool_info

    return [
        {
            "user_api": str(pool.get("user_api", "-")),
            "internal_api": str(pool.get("internal_api", "-")),
            "loaded from": Path(pool.get("filepath", "-")).parent.name,
            "version": str(pool.get("version", "-")),
            "architecture": str(pool.get("architecture", "-")),
            "num_threads": str(pool.get("num_threads", "-")),
        }
        for pool in threadpool_info()
    ]

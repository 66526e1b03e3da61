"""Log-log plots of fit time against problem size, one figure per suite."""

import matplotlib

# Headless: the benchmarks run in terminals and CI without a display.
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_sweeps(suite, sweep_results, path):
    """Draw one panel per sweep, both libraries on log-log axes, save a PNG."""
    fig, axes = plt.subplots(
        1, len(sweep_results), figsize=(5.5 * len(sweep_results), 4.2), squeeze=False
    )
    for ax, result in zip(axes[0], sweep_results):
        sizes = [size for size, _, _ in result.points]
        ax.loglog(sizes, [ours for _, ours, _ in result.points], "o-", label="skscratch")
        ax.loglog(sizes, [theirs for _, _, theirs in result.points], "s--", label="scikit-learn")
        ax.set_xlabel(result.sweep.label)
        ax.set_ylabel("median fit time (s)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.suptitle(f"{suite.title}: {suite.ours_label} vs {suite.theirs_label}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

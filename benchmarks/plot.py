"""A PNG of accuracy against batch-1 latency, one point per artifact (matplotlib, Agg)."""

from __future__ import annotations

from pathlib import Path

from edgedigits_runtime.fileio import atomic_path

__all__ = ["plot_report"]

# Label positions, cycled, so that artifacts with the same speed and accuracy stay legible.
_OFFSETS = [(6, 4), (6, -22), (-48, 4), (-48, -22)]


def plot_report(report, path) -> Path:
    """Plot each measured artifact's accuracy against its batch-1 p50 latency at the fewest threads.

    The gate is drawn as a horizontal line; the recommended artifact is ringed.

    Args:
      report: a :class:`~edgedigits.bench.report.BenchReport`.
      path: the PNG to write (atomically).

    Returns:
      ``path`` as a Path.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in report.rows if r.ok and r.accuracy is not None and r.latency_ms]
    threads = min((int(t) for r in rows for t in r.latency_ms), default=1)
    best = report.recommended()
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    try:
        for k, row in enumerate(rows):
            x, y = row.p50(threads), 100 * row.accuracy
            if x is None:
                continue
            s = row.latency_ms[str(threads)]
            ax.errorbar([x], [y], xerr=[[x - s.get("min", x)], [s.get("p99", x) - x]], fmt="o",
                        color="tab:green" if row.gate == "pass" else "tab:red", capsize=3)
            ax.annotate(f"{row.format}\n{row.size_bytes / 1024:.0f} KB" if row.size_bytes else row.format, (x, y),
                        textcoords="offset points", xytext=_OFFSETS[k % len(_OFFSETS)], fontsize=8)
            if best is not None and row.name == best.name:
                ax.plot([x], [y], "o", ms=16, mfc="none", mec="black")
        gate = 100 * report.min_accuracy
        ax.axhline(gate, color="gray", ls="--", lw=1, label=f"gate {report.min_accuracy:.2%}")
        ax.legend(loc="best", fontsize=8, frameon=False)  # placed where no point is: never on top of one
        ax.set_ylim(*_accuracy_limits([100 * r.accuracy for r in rows], gate))
        subset = f" (first {report.config.get('test_limit'):,} test images)" if report.subset else " (10,000 test images)"
        ax.set_xlabel(f"batch-1 latency, p50 ms, {threads} thread{'s' if threads > 1 else ''} (bars: min to p99)")
        ax.set_ylabel("test accuracy, %" + subset)
        ax.set_title(f"edgedigits bench: {report.machine.get('cpu', '')}", fontsize=9)
        ax.grid(alpha=0.3)
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png")
    finally:
        plt.close(fig)
    return Path(path)


def _accuracy_limits(accuracies: list[float], gate: float) -> tuple[float, float]:
    """The y range (percent): every point and the gate with a margin, never above 100%."""
    low, high = min(accuracies + [gate]), max(accuracies + [gate])
    pad = max(0.05, 0.15 * (high - low))
    return low - pad, min(100.0, high + pad)

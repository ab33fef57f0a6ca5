"""What a finished run reports: metrics from the test set, and the two plots."""

from __future__ import annotations

import numpy as np

from edgedigits_runtime.fileio import atomic_path

__all__ = ["confusion_matrix", "per_class_accuracy", "plot_curves", "plot_confusion"]


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, num_classes: int = 10) -> np.ndarray:
    """Counts ``[true, predicted]`` as an int64 ``(num_classes, num_classes)`` array."""
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels, dtype=np.int64), np.asarray(predicted, dtype=np.int64)), 1)
    return matrix


def per_class_accuracy(matrix: np.ndarray) -> list[float]:
    """Recall of each class from a confusion matrix (NaN-free: 0 for an absent class)."""
    totals = matrix.sum(axis=1)
    return [float(matrix[i, i] / totals[i]) if totals[i] else 0.0 for i in range(len(matrix))]


def plot_curves(history: dict, path) -> None:
    """Loss and error rate (1 - accuracy) per epoch, training against validation, as a PNG.

    Both on a log axis: past 99% accuracy the last tenths of a percent are what changes, and
    a linear accuracy axis flattens them into one line.
    """
    plt = _pyplot()
    from matplotlib import ticker

    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    fig, (ax_loss, ax_err) = plt.subplots(1, 2, figsize=(10, 4))
    for key, ax, title in (("loss", ax_loss, "loss (log scale)"), ("accuracy", ax_err, "error rate, % (log scale)")):
        for prefix, label in (("", "train"), ("val_", "validation")):
            values = history.get(prefix + key)
            if values is None:
                continue
            values = np.asarray(values, dtype=np.float64)
            if key == "accuracy":
                values = 100.0 * (1.0 - values)
            ax.plot(epochs[: len(values)], np.maximum(values, 1e-4), marker="o", label=label)
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)))  # 0.1 0.2 0.5 1 2 5 ...
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))  # 0.5, not 5 x 10^-1
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xlabel("epoch")
        ax.set_title(title)
        ax.grid(alpha=0.3, which="both")
        ax.legend()
    fig.tight_layout()
    _save(fig, path)


def plot_confusion(matrix: np.ndarray, path, title: str = "test set") -> None:
    """The confusion matrix with counts in the cells, as a PNG."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5.5))
    shown = np.log1p(matrix)
    ax.imshow(shown, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        if count:
            ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                    color="white" if shown[i, j] > shown.max() * 0.6 else "black")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    accuracy = np.trace(matrix) / max(1, matrix.sum())
    ax.set_title(f"Confusion matrix, {title} (accuracy {accuracy:.2%})")
    fig.tight_layout()
    _save(fig, path)


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> None:
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    finally:
        plt.close(fig)

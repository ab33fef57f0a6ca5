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
    """Loss and accuracy per epoch, training against validation, as a PNG."""
    plt = _pyplot()
    epochs = np.arange(1, len(history.get("loss", [])) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    for key, ax in (("loss", ax_loss), ("accuracy", ax_acc)):
        ax.plot(epochs, history.get(key, []), marker="o", label="train")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], marker="o", label="validation")
        ax.set_xlabel("epoch")
        ax.set_title(key)
        ax.grid(alpha=0.3)
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

"""The timing order (interleaving), timed calls, and the runtime's scorer as bench uses it, with a recording stand-in classifier."""

from __future__ import annotations

import numpy as np

from edgedigits.bench.measure import schedule, time_batches, time_calls
from edgedigits.errors import ModelError
from edgedigits_runtime.errors import first_line
from edgedigits_runtime.evaluate import score


class _Recorder:
    """Predicts the image's first pixel; remembers what it was given."""

    def __init__(self):
        self.calls = []

    def predict(self, images):
        images = np.asarray(images)
        self.calls.append(images.shape)
        return images.reshape(-1, 28 * 28)[:, 0].astype(np.int64)


def test_schedule_interleaves_artifacts_round_by_round():
    order = [(s.round, s.threads, s.artifact) for s in schedule(3, 2, [1, 2])]
    assert order == [(0, 1, 0), (0, 1, 1), (0, 1, 2), (0, 2, 0), (0, 2, 1), (0, 2, 2),
                     (1, 1, 0), (1, 1, 1), (1, 1, 2), (1, 2, 0), (1, 2, 1), (1, 2, 2)]
    artifacts = [s.artifact for s in schedule(3, 4, [1])]
    assert artifacts == [0, 1, 2] * 4  # A B C A B C ...: no artifact is timed twice in a row


def test_schedule_times_throughput_after_each_rounds_latency():
    steps = list(schedule(2, 2, [1, 2], [32, 256]))
    kinds = [(s.round, s.kind, s.threads or s.batch, s.artifact) for s in steps]
    one_round = [("latency", 1, 0), ("latency", 1, 1), ("latency", 2, 0), ("latency", 2, 1),
                 ("throughput", 32, 0), ("throughput", 32, 1), ("throughput", 256, 0), ("throughput", 256, 1)]
    assert kinds == [(0, *k) for k in one_round] + [(1, *k) for k in one_round]
    assert [s.label for s in steps[:5]] == ["1 thread", "1 thread", "2 threads", "2 threads", "batch 32"]
    assert not [s for s in schedule(2, 3, [1]) if s.kind == "throughput"]  # no batch sizes: latency only


def test_time_calls_times_single_images_cycling_through_them():
    clf = _Recorder()
    images = np.zeros((3, 28, 28), np.uint8)
    seconds = time_calls(clf, images, 7, start=2)
    assert seconds.shape == (7,) and np.all(seconds >= 0)
    assert clf.calls == [(28, 28)] * 7  # batch 1, as a device calls it
    assert time_calls(clf, images, 0).shape == (0,)


def test_time_batches_times_whole_batches():
    clf = _Recorder()
    assert time_batches(clf, np.zeros((32, 28, 28), np.uint8), 3).shape == (3,)
    assert clf.calls == [(32, 28, 28)] * 3


def test_score_counts_accuracy_and_agreement_over_batches():
    images = np.zeros((1200, 28, 28), np.uint8)
    images[:, 0, 0] = np.arange(1200) % 10
    labels = np.arange(1200) % 10
    labels[:120] = (labels[:120] + 1) % 10  # 10% wrong
    reference = images[:, 0, 0].astype(np.int64)
    scored = score(_Recorder(), images, labels, reference)
    assert scored.accuracy == 0.9 and scored.agreement == 1.0 and scored.errors == 120 and scored.images == 1200
    assert scored.per_class_accuracy == [0.9] * 10
    assert score(_Recorder(), images, labels).agreement is None


def test_first_line_of_errors():
    assert first_line(ModelError("bad file\nmore detail")) == "bad file"
    assert first_line(RuntimeError("boom")) == "RuntimeError: boom"
    assert first_line(KeyError()) == "KeyError"

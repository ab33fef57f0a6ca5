"""benchmarks/figures/read_errors.py: each reading sorted by how it is wrong, and a second opinion per position."""

import pytest
from bench_helpers import figure_script


def test_a_reading_is_sorted_by_comparing_its_positions_with_the_truth(monkeypatch):
    kind_of = figure_script("read_errors", monkeypatch).kind_of
    assert kind_of("2048", "2048") == "right"
    assert kind_of("2048", "2043") == "misread" and kind_of("2048", "20?8") == "misread"
    assert kind_of("2048", "248") == "dropped" and kind_of("2048", "20418") == "extra"
    assert kind_of("2048", "") == "nothing" and kind_of("2048", None) == "refused"


def test_the_second_opinion_lists_reader_and_classifier_per_read_position(monkeypatch, mnist_dir):
    pytest.importorskip("cv2")
    script = figure_script("read_errors", monkeypatch)  # puts tests/runtime (photos.py) on sys.path
    from photos import number_photos

    from edgedigits_runtime.classifier import load_default
    from edgedigits_runtime.mnist import load_mnist
    from edgedigits_runtime.reader import load_reader

    images, labels = load_mnist("test", mnist_dir)
    photo, number, _ = number_photos(images, labels, 1, seed=105, spacing="apart")[0]
    read, pairs, line = script.second_opinion(photo, load_reader(num_threads=1), load_default(num_threads=1))
    assert read == number and line is not None
    assert "".join(str(d) for d, *_ in pairs) == read  # the reader's digit per position, left to right
    for _, classifier_digit, score, confidence, shared in pairs:
        assert -1 <= classifier_digit <= 9 and -1.0 <= score <= 1.0 and 0.0 <= confidence <= 1.0
        assert shared in (True, False)

"""benchmarks/figures/read_no_digit.py: what a no-digit photo reads as, and the screened candidate rule."""

import numpy as np
import pytest
from bench_helpers import figure_script


@pytest.mark.parametrize(("seed", "kind"), [(244, "letters"), (206, "objects")])
def test_the_candidate_empties_two_positions_apart_the_classifier_refuses(monkeypatch, seed, kind):
    """A scenes.py script letter / object the shipped code reads as two digits apart ("10", "20"), both refused by
    the digit classifier: the candidate (2 digits, every position refused) makes it "no digits found"; the
    runtime itself is unchanged once the candidate is closed."""
    pytest.importorskip("cv2")
    script = figure_script("read_no_digit", monkeypatch)  # puts tests/runtime (scenes.py) on sys.path
    from scenes import no_digit_scene

    import edgedigits_runtime.read as read_module
    from edgedigits_runtime.reader import load_reader

    reader = load_reader(num_threads=1)
    photo = no_digit_scene(np.random.default_rng([seed]), kind)
    got, key = script.what_they_read(photo, reader)
    assert len(got) == 2 and key == (2, True, 2)
    decide = read_module._decide
    with script.candidate(2, 1.0):
        assert script.answer(photo, reader) == ""
    assert read_module._decide is decide and script.answer(photo, reader) == got

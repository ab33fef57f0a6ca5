"""benchmarks/figures/explore_frontier.py: its `tiny`-class candidates stay within `tiny`'s budget; run-folder names."""

from bench_helpers import figure_script


def _module(monkeypatch):
    from edgedigits.train import architectures

    # importing the script registers its candidates: keep them out of the shared registry
    monkeypatch.setattr(architectures, "_REGISTRY", dict(architectures._REGISTRY))
    return figure_script("explore_frontier", monkeypatch)


def test_wider_tiny_candidate_fits_tiny_budget_and_is_the_registered_tiny(monkeypatch):
    from edgedigits._tf import tf_and_keras
    from edgedigits.train.architectures import count_macs, create_model
    from edgedigits.train.trainer import with_not_a_digit_class

    _module(monkeypatch)
    _, keras = tf_and_keras()
    old = with_not_a_digit_class(keras, create_model("t-valid", keras))  # `tiny` before the twelfth session
    wide = with_not_a_digit_class(keras, create_model("t-w40", keras))
    assert count_macs(wide) <= 300_000 and count_macs(wide) < count_macs(old)  # issue 13's <= 0.3M MACs
    # wider where the decision is made: the last conv has more filters than the layout it replaced
    last = [layer.filters for layer in wide.layers if isinstance(layer, keras.layers.Conv2D)][-1]
    assert last > [layer.filters for layer in old.layers if isinstance(layer, keras.layers.Conv2D)][-1]
    assert wide.count_params() < 9_000  # int8 weights leave room under 15 KB with the file's overhead
    # t-w40 is the registered `tiny` since the twelfth session: the same layers
    tiny = with_not_a_digit_class(keras, create_model("tiny", keras))
    assert [layer.get_config().get("filters") for layer in tiny.layers] == \
        [layer.get_config().get("filters") for layer in wide.layers] and count_macs(tiny) == count_macs(wide)
    # t-w46n (thirteenth session, not adopted): width moved further to the last conv, still in the budget
    moved = with_not_a_digit_class(keras, create_model("t-w46n", keras))
    assert count_macs(moved) < count_macs(tiny) and moved.count_params() < 9_000
    assert [layer.filters for layer in moved.layers if isinstance(layer, keras.layers.Conv2D)][-1] > last


def test_run_folder_names_shorten_teacher_lists_to_their_last_parts(monkeypatch):
    short = _module(monkeypatch)._short
    assert short(["/a/runs/edge-s0", "/a/runs/edge-s1"]) == "edge-s0+edge-s1"
    assert short(0.25) == "0.25"

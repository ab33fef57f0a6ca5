"""A model the user brings (no manifest, no integrity record): the layouts, batches, outputs and input scalings
people's own MNIST models have, each either answered right or refused with a one-line error that says what to do.

The models are ONNX graphs built here with the onnx helper API (``own_models.py``): skipped in the runtime-only
environment, which has onnxruntime but not onnx. TFLite files of the same kinds are made with TensorFlow in
tests/export/test_user_models.py.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

from edgedigits_runtime import DigitClassifier, ManifestWarning
from edgedigits_runtime.errors import ModelError, UsageError

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from onnx import helper  # noqa: E402
from own_models import graph_onnx, knn_onnx, knn_reference, linear_onnx, linear_reference  # noqa: E402


@pytest.fixture(scope="module")
def mnist_train(mnist_dir):
    from edgedigits_runtime.mnist import load_mnist

    return load_mnist("train", mnist_dir)


def _open(data, name="user.onnx", **kwargs):
    """A classifier from model bytes, the unverified-model warning silenced; other warnings are returned."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = DigitClassifier.from_bytes(data, name=name, **kwargs)
    return clf, [str(w.message) for w in caught if "running it unverified" not in str(w.message)]


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_reference_digits_are_the_mnist_training_images_they_say(mnist_train):
    from edgedigits_runtime.scaling import REFERENCE_INDICES, reference_digits

    images, labels = reference_digits()
    np.testing.assert_array_equal(images, mnist_train[0][list(REFERENCE_INDICES)])
    np.testing.assert_array_equal(labels, mnist_train[1][list(REFERENCE_INDICES)])


# ------------------------------------------------------------------ layouts and batches


@pytest.mark.parametrize("in_shape, batch", [
    ([1, 1, 28, 28], 1),            # torch.onnx.export's default: NCHW, batch fixed at 1
    (["N", 1, 28, 28], None),       # exported with dynamic_axes
    ([1, 28, 28, 1], 1),            # NHWC, batch fixed
    (["N", 28, 28], None),          # no channel axis
    (["N", 784], None),             # flat
    ([4, 1, 28, 28], 4),            # a fixed batch of 4: the last call padded
    (["N", 1, "H", "W"], None),     # dynamic height and width: fed 28x28
])
def test_layouts_and_batches_answer_like_numpy(in_shape, batch, digits):
    clf, said = _open(linear_onnx(in_shape, [in_shape[0], 10]))
    images = digits[0][:7]
    expected = _softmax(linear_reference(images))
    np.testing.assert_allclose(clf.predict_proba(images), expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(images[3]), expected[3:4], rtol=1e-4, atol=1e-6)
    assert clf.info["batch"] == batch and clf.info["output_kind"] == "logits"
    assert all("reference MNIST digits" in s for s in said)  # random weights: only the "poor" warning, if any


def test_a_batch_fixed_inside_the_graph_runs_image_by_image(digits, capfd):
    """The input declares any batch, but a Reshape to [1, 784] inside (PyTorch's x.view(1, -1)) fixes it at 1."""
    clf, _ = _open(linear_onnx(["N", 1, 28, 28], ["N", 10], flatten_to=(1, 784)))
    images = digits[0][:5]
    np.testing.assert_allclose(clf.predict_proba(images), _softmax(linear_reference(images)), rtol=1e-4, atol=1e-6)
    assert clf.info["batch"] == 1  # found at load (the reference digits ran as a batch)
    assert capfd.readouterr().err == ""  # onnxruntime's own log of the failed batch call stays quiet


@pytest.mark.parametrize("head, kind", [(None, "logits"), ("LogSoftmax", "logits"), ("Softmax", "probabilities")])
def test_outputs_logits_log_softmax_or_probabilities(head, kind, digits):
    clf, _ = _open(linear_onnx(["N", 1, 28, 28], ["N", 10], head=head))
    images = digits[0][:20]
    assert clf.info["output_kind"] == kind
    p = clf.predict_proba(images)
    np.testing.assert_allclose(p, _softmax(linear_reference(images)), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-5)


def test_an_output_with_extra_unit_axes_is_read_as_10_scores(digits):
    clf, _ = _open(linear_onnx(["N", 1, 28, 28], ["N", 10, 1, 1], out_reshape=(-1, 10, 1, 1)))
    images = digits[0][:6]
    np.testing.assert_allclose(clf.predict_proba(images), _softmax(linear_reference(images)), rtol=1e-4, atol=1e-6)


def test_uint8_pixels_in_are_fed_as_they_are(digits):
    """A model that takes uint8 0-255 without quantization and scales them itself (Cast, Div inside)."""
    nodes = [helper.make_node("Cast", ["input"], ["f"], to=onnx.TensorProto.FLOAT),
             helper.make_node("Div", ["f", "d"], ["u"]),
             helper.make_node("Reshape", ["u", "s"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["xw"]), helper.make_node("Add", ["xw", "b"], ["z"])]
    from own_models import _const, linear_weights

    w, b = linear_weights()
    data = graph_onnx(nodes, [("input", ["N", 28, 28, 1], "UINT8")], [("z", ["N", 10])],
                      [_const(np.float32(255), "d"), _const(np.array([-1, 784], np.int64), "s"), _const(w, "w"), _const(b, "b")])
    clf, _ = _open(data)
    images = digits[0][:8]
    np.testing.assert_allclose(clf.predict_proba(images), _softmax(linear_reference(images)), rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(clf.predict_proba(images / 255.0), clf.predict_proba(images), rtol=1e-5, atol=1e-7)
    assert clf.info["normalize"]["name"] == "raw"
    with pytest.raises(UsageError, match="takes uint8 pixels .* as they are .* normalize 'mnist' does not apply"):
        _open(data, normalize="mnist")


# ------------------------------------------------------------------ input scaling


@pytest.mark.parametrize("scaling", ["raw", "mnist", "symmetric"])
def test_a_model_trained_on_another_scaling_is_refused_until_it_is_said(scaling, mnist_train, mnist_test):
    data = knn_onnx(mnist_train, scaling)
    with pytest.warns(ManifestWarning, match="unverified"), pytest.raises(ModelError) as caught:
        DigitClassifier.from_bytes(data, name="knn.onnx")
    message = str(caught.value)
    assert "\n" not in message and f"--normalize {scaling}" in message and "the default" in message, message
    clf, said = _open(data, name="knn.onnx", normalize=scaling)
    assert said == []  # right scaling: the reference digits agree, nothing to warn about
    images, labels = mnist_test[0][:300], mnist_test[1][:300]
    predictions = clf.predict(images)
    np.testing.assert_array_equal(predictions, knn_reference(mnist_train, scaling, images))
    assert (predictions == labels).mean() > 0.75  # a nearest-template classifier: about 83% on MNIST
    assert clf.info["normalize"]["name"] == scaling and clf.info["reference_digits"]["right"][scaling] >= 24


def test_the_default_scaling_model_runs_without_a_word(mnist_train):
    clf, said = _open(knn_onnx(mnist_train, "unit"))
    assert said == [] and clf.info["normalize"] == {"name": "unit", "mean": 0.0, "std": 1.0}


def test_a_stated_scaling_that_the_reference_digits_contradict_is_a_warning(mnist_train):
    clf, said = _open(knn_onnx(mnist_train, "raw"), normalize="unit")
    assert len(said) == 1, said
    right = clf.info["reference_digits"]["right"]
    assert right["raw"] - right["unit"] >= 4  # what made it a warning
    assert said[0].startswith(f"user.onnx answers {right['unit']} of 30 reference MNIST digits right fed unit (x / 255, "
                              f"0 to 1), as stated, and {right['raw']} of 30 fed raw (x, 0 to 255): check its input "
                              "scaling (--normalize)"), said


def test_mean_and_std_given_as_numbers(mnist_train, mnist_test):
    """torchvision's Normalize((0.1307,), (0.3081,)) written out is the same as the name."""
    data = knn_onnx(mnist_train, "mnist")
    by_name, _ = _open(data, normalize="mnist")
    for given in ("0.1307,0.3081", (0.1307, 0.3081), {"mean": 0.1307, "std": 0.3081}):
        clf, said = _open(data, normalize=given)
        assert said == [] and clf.info["normalize"]["name"] == "mnist"
        np.testing.assert_array_equal(clf.predict(mnist_test[0][:50]), by_name.predict(mnist_test[0][:50]))


@pytest.mark.parametrize("given, message", [
    ("mnsit", "did you mean 'mnist'"), ("0.1,0", "STD a number above 0"), ("a,b", "not MEAN,STD"), (3, "a name or MEAN,STD"),
])
def test_a_bad_scaling_is_a_usage_error(given, message, shipped):
    with pytest.raises(UsageError, match=message):
        DigitClassifier(shipped[0], normalize=given)


def test_a_model_that_answers_no_reference_digit_right_is_warned_about():
    clf, said = _open(linear_onnx(["N", 1, 28, 28], ["N", 10]))  # random weights
    assert len(said) == 1 and "may not be an MNIST digit classifier" in said[0], said
    assert clf.info["reference_digits"]["right"]["unit"] < 15


def test_the_manifest_records_the_scaling(mnist_train, mnist_test, tmp_path):
    from edgedigits_runtime.fileio import sha256_bytes

    data = knn_onnx(mnist_train, "mnist")
    path = tmp_path / "knn.onnx"
    path.write_bytes(data)
    entry = {"sha256": sha256_bytes(data), "runtime": "onnx", "output_kind": "logits", "normalize": "mnist"}
    (tmp_path / "manifest.json").write_text(json.dumps({"schema": "edgedigits-manifest/1", "artifacts": {"knn.onnx": entry}}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # verified: no warning at all
        clf = DigitClassifier(path, strict=True)
    assert clf.info["verified"] and clf.info["normalize"]["name"] == "mnist" and clf.info["reference_digits"] is None
    images = mnist_test[0][:100]
    np.testing.assert_array_equal(clf.predict(images), knn_reference(mnist_train, "mnist", images))
    assert DigitClassifier(path, normalize="0.1307,0.3081").info["normalize"]["name"] == "mnist"  # the same: fine
    with pytest.raises(UsageError, match="manifest records its input as mnist .* normalize says unit"):
        DigitClassifier(path, normalize="unit")
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"schema": "edgedigits-manifest/1", "artifacts": {"knn.onnx": {**entry, "normalize": "minst"}}}))
    with pytest.raises(ModelError, match="normalize 'minst' is not a scaling: did you mean 'mnist'"):
        DigitClassifier(path)


def test_an_edgedigits_model_takes_no_other_scaling(shipped):
    with pytest.raises(UsageError, match="records its input as unit .* normalize says mnist"):
        DigitClassifier(shipped[0], normalize="mnist")
    assert DigitClassifier(shipped[0], normalize="unit").info["verified"]


# ------------------------------------------------------------------ not a digit classifier


def _conv_model(in_shape, channels_first=True):
    w = np.random.default_rng(1).normal(0, 0.1, (10, in_shape[1] if channels_first else in_shape[-1], 3, 3)).astype(np.float32)
    from own_models import _const

    nodes = [helper.make_node("Conv", ["input", "w"], ["c"]), helper.make_node("GlobalAveragePool", ["c"], ["g"]),
             helper.make_node("Flatten", ["g"], ["scores"])]
    return graph_onnx(nodes, [("input", in_shape)], [("scores", ["N", 10])], [_const(w, "w")])


@pytest.mark.parametrize("make, message", [
    (lambda: _conv_model(["N", 3, 28, 28]), r"takes input of shape \[-1, 3, 28, 28\] \(colour images: .*one grey channel"),
    (lambda: _conv_model(["N", 1, 32, 32]), r"\[-1, 1, 32, 32\] \(32x32 images: MNIST digits here are 28x28"),
    (lambda: _classes(11), r"outputs 11 values per image .* If the 11th is a 'not a digit' class, give the model's first 10 "
                           "outputs"),
    (lambda: _classes(26), r"outputs 26 values per image .* a model of 26 classes classifies something else"),
    (lambda: _label_only(), r"outputs 1 value per image .* export the model without its final argmax"),
    (lambda: _two("outputs"), r"has 1 input\(s\) \(input \[-1, 1, 28, 28\]\) and 2 output\(s\) \(scores \[-1, 10\], "
                              r"features \[-1, 784\]\): a digit classifier takes one tensor in and gives one tensor out, "
                              r".*: export it with only its output 'scores'$"),
    (lambda: _two("inputs"), r"has 2 input\(s\) .* and 1 output\(s\)"),
])
def test_a_model_that_is_not_a_digit_classifier_is_one_clear_error(make, message):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ManifestWarning)
        with pytest.raises(ModelError, match=message) as caught:
            DigitClassifier.from_bytes(make(), name="other.onnx")
    text = str(caught.value)
    assert text.startswith("other.onnx ") and "\n" not in text and "corrupted" not in text, text


def _classes(n):
    from own_models import _const

    w = np.random.default_rng(2).normal(0, 0.05, (784, n)).astype(np.float32)
    nodes = [helper.make_node("Reshape", ["input", "s"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["z"]),
             helper.make_node("Softmax", ["z"], ["scores"], axis=1)]
    return graph_onnx(nodes, [("input", ["N", 1, 28, 28])], [("scores", ["N", n])],
                      [_const(np.array([-1, 784], np.int64), "s"), _const(w, "w")])


def _label_only():
    from own_models import _const, linear_weights

    w, _ = linear_weights()
    nodes = [helper.make_node("Reshape", ["input", "s"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["z"]),
             helper.make_node("ArgMax", ["z"], ["label"], axis=1, keepdims=0)]
    return graph_onnx(nodes, [("input", ["N", 1, 28, 28])], [("label", ["N"], "INT64")],
                      [_const(np.array([-1, 784], np.int64), "s"), _const(w, "w")])


def _two(which):
    from own_models import _const, linear_weights

    w, _ = linear_weights()
    if which == "outputs":
        nodes = [helper.make_node("Reshape", ["input", "s"], ["features"]), helper.make_node("MatMul", ["features", "w"], ["scores"])]
        return graph_onnx(nodes, [("input", ["N", 1, 28, 28])], [("scores", ["N", 10]), ("features", ["N", 784])],
                          [_const(np.array([-1, 784], np.int64), "s"), _const(w, "w")])
    nodes = [helper.make_node("Add", ["input", "other"], ["sum"]), helper.make_node("Reshape", ["sum", "s"], ["f"]),
             helper.make_node("MatMul", ["f", "w"], ["scores"])]
    return graph_onnx(nodes, [("input", ["N", 1, 28, 28]), ("other", ["N", 1, 28, 28])], [("scores", ["N", 10])],
                      [_const(np.array([-1, 784], np.int64), "s"), _const(w, "w")])


@pytest.mark.parametrize("options, detail", [
    ({"op": "FooBar"}, "No Op registered for FooBar"),
    ({"opset": 40}, "Opset 40 is under development"),
    ({"ir_version": 99}, "Unsupported model IR version: 99"),
])
def test_a_model_that_needs_a_newer_onnxruntime_is_not_called_damaged(options, detail):
    nodes = [helper.make_node("Reshape", ["input", "s"], ["f"]), helper.make_node(options.pop("op", "Identity"), ["f"], ["y"])]
    from own_models import _const

    data = graph_onnx(nodes, [("input", ["N", 28, 28, 1])], [("y", ["N", 10])], [_const(np.array([-1, 10], np.int64), "s")],
                      check=False, **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ManifestWarning)
        with pytest.raises(ModelError) as caught:
            DigitClassifier.from_bytes(data, name="new.onnx")
    text = str(caught.value)
    assert text.startswith("new.onnx uses an operator or a format version that onnxruntime ") and detail in text, text
    assert "corrupted" not in text and "onnxruntime_src" not in text and "opset_version=17" in text and "\n" not in text


def test_a_scikit_learn_style_model_label_and_zipmap_is_one_clear_error():
    """skl2onnx's classifiers give a label and a ZipMap (a sequence of {class: probability} maps, not a tensor)."""
    import onnx
    from onnx import TensorProto
    from own_models import _const, linear_weights

    w, _ = linear_weights()
    nodes = [helper.make_node("Reshape", ["input", "s"], ["f"]), helper.make_node("MatMul", ["f", "w"], ["z"]),
             helper.make_node("Softmax", ["z"], ["p"], axis=1), helper.make_node("ArgMax", ["p"], ["label"], axis=1, keepdims=0),
             helper.make_node("ZipMap", ["p"], ["probabilities"], domain="ai.onnx.ml", classlabels_int64s=list(range(10)))]
    zipmap = helper.make_value_info("probabilities", helper.make_sequence_type_proto(
        helper.make_map_type_proto(TensorProto.INT64, helper.make_tensor_type_proto(TensorProto.FLOAT, []))))
    graph = helper.make_graph(nodes, "sklearn_like", [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 784])],
                              [helper.make_tensor_value_info("label", TensorProto.INT64, ["N"]), zipmap],
                              [_const(np.array([-1, 784], np.int64), "s"), _const(w, "w")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 1)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ManifestWarning)
        with pytest.raises(ModelError, match=r"has 1 input\(s\) \(input \[-1, 784\]\) and 2 output\(s\) \(label \[-1\], "
                                             r"probabilities \(not a tensor\)\)"):
            DigitClassifier.from_bytes(model.SerializeToString(), name="sklearn.onnx")


# ------------------------------------------------------------------ the command line


def test_the_command_line_says_which_scaling_and_takes_it(mnist_train, mnist_test, tmp_path):
    pytest.importorskip("PIL")
    from PIL import Image
    from typer.testing import CliRunner

    from edgedigits_runtime.cli import app

    model = tmp_path / "knn_mnist.onnx"
    model.write_bytes(knn_onnx(mnist_train, "mnist"))
    images, labels = mnist_test
    picks = [i for i in range(40) if knn_reference(mnist_train, "mnist", images[i:i + 1])[0] == labels[i]][:4]
    for i in picks:
        Image.fromarray(images[i]).save(tmp_path / f"d{i}.png")
    runner = CliRunner()
    refused = runner.invoke(app, ["predict", str(tmp_path / "d*.png"), "--model", str(model)])
    assert refused.exit_code == 1
    errors = [line for line in refused.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "--normalize mnist" in errors[0], refused.output
    ok = runner.invoke(app, ["predict", str(tmp_path / "d*.png"), "--model", str(model), "--normalize", "mnist"])
    assert ok.exit_code == 0, ok.output
    got = {line.split(": ")[0]: int(line.split(": ")[1].split()[0]) for line in ok.stdout.splitlines()}
    assert got == {str(tmp_path / f"d{i}.png"): int(labels[i]) for i in picks}
    info = runner.invoke(app, ["info", str(model), "--normalize", "mnist", "--json"])
    assert info.exit_code == 0, info.output
    details = json.loads(info.stdout)
    assert details["normalize"]["name"] == "mnist" and details["input_layout"] == "NCHW" and details["batch"] == 1
    bad = runner.invoke(app, ["predict", str(tmp_path / "d*.png"), "--model", str(model), "--normalize", "mnsit"])
    assert bad.exit_code == 1 and bad.output.count("error: ") == 1 and "did you mean 'mnist'" in bad.output


def test_read_and_watch_say_a_digit_classifier_is_not_a_number_reader(tmp_path):
    from typer.testing import CliRunner

    from edgedigits_runtime.cli import app

    model = tmp_path / "mine.onnx"
    model.write_bytes(linear_onnx([1, 1, 28, 28], [1, 10]))
    result = CliRunner().invoke(app, ["watch", "0", "--model", str(model)])
    assert result.exit_code == 1 and result.output.count("error: ") == 1, result.output
    assert "looks like a digit classifier" in result.output and "predict --model" in result.output

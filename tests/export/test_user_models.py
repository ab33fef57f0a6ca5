"""TFLite and ONNX files as users convert their own MNIST models by hand, through the runtime (no manifest, no record).

Each file is made here from the session's tiny trained ``edge`` model (``tiny_model`` in this folder's conftest:
a real trained CNN, so a file fed the wrong scaling really answers wrongly) with TensorFlow's own converter or
tf2onnx, the way a user's script would: a batch fixed at 1 with a Reshape to ``[1, ...]`` inside, a ``(1, 28, 28)``
input without a channel, uint8 quantized input and output, float16 weights, logits without a softmax, inputs
scaled as PyTorch's MNIST example, an NCHW ONNX file of batch 1; and models that are no digit classifier. It lives
here for ``tiny_model``; the ONNX graphs built without TensorFlow are in tests/runtime/test_own_model.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytestmark = [pytest.mark.slow, pytest.mark.needs_tf]

from edgedigits_runtime import DigitClassifier, ManifestWarning  # noqa: E402
from edgedigits_runtime.errors import ModelError  # noqa: E402
from edgedigits_runtime.scaling import SCALINGS  # noqa: E402

N = 200  # test images compared with Keras


@pytest.fixture(scope="module")
def tf():
    from edgedigits._tf import tf_and_keras

    return tf_and_keras()[0]


@pytest.fixture(scope="module")
def keras():
    from edgedigits._tf import tf_and_keras

    return tf_and_keras()[1]


@pytest.fixture(scope="module")
def keras_probs(tiny_model, test_images):
    return tiny_model.predict(test_images[0][:N].astype(np.float32)[..., None] / 255.0, verbose=0)


def _open(data, name, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = DigitClassifier.from_bytes(data, name=name, **kwargs)
    return clf, [str(w.message) for w in caught if "running it unverified" not in str(w.message)]


def _convert(tf, fn, shape, quantize=None, calibration=None):
    """TFLite bytes of ``fn`` traced for a float32 input of ``shape``: float, or quantize="uint8"/"float16"."""
    concrete = tf.function(fn, input_signature=[tf.TensorSpec(shape, tf.float32)]).get_concrete_function()
    conv = tf.lite.TFLiteConverter.from_concrete_functions([concrete])
    if quantize == "float16":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.target_spec.supported_types = [tf.float16]
    elif quantize == "uint8":
        conv.optimizations = [tf.lite.Optimize.DEFAULT]
        conv.representative_dataset = lambda: ([c[None].reshape([1, *shape[1:]])] for c in calibration)
        conv.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        conv.inference_input_type = tf.uint8
        conv.inference_output_type = tf.uint8
    return conv.convert()


def _scaled(tiny_model, tf, scaling):
    """The tiny model as a user trained on ``scaling`` has it: it takes (x / 255 - mean) / std."""
    s = SCALINGS[scaling]
    return lambda z: tiny_model(z * s.std + s.mean, training=False)


# batch: what the runtime runs it with (None: any batch, one call): a batch of 1 declared but not needed by the graph
# (the converter folds the Reshape pair away) is found so on the reference digits; a graph that needs it (Keras'
# Flatten traced at batch 1, or a Reshape to [1, ...] under an input that declares any batch) is run image by image.
@pytest.mark.parametrize("case, batch", [("fixed batch 1, Reshape to [1, 784] and back inside", None),
                                         ("any batch declared, Reshape to [1, ...] inside", 1),
                                         ("(1, 28, 28) input, no channel", 1), ("float16 weights", None)])
def test_hand_converted_tflite_files_answer_like_keras(case, batch, tiny_model, tf, keras_probs, test_images):
    core = lambda x: tiny_model(x, training=False)  # noqa: E731
    if case.startswith("fixed"):
        data = _convert(tf, lambda x: core(tf.reshape(tf.reshape(x, [1, 784]), [1, 28, 28, 1])), [1, 28, 28, 1])
    elif case.startswith("any"):
        data = _convert(tf, lambda x: core(tf.reshape(x, [1, 28, 28, 1])), [None, 28, 28, 1])
    elif case.startswith("(1"):
        data = _convert(tf, lambda x: core(tf.expand_dims(x, -1)), [1, 28, 28])
    else:
        data = _convert(tf, core, [None, 28, 28, 1], quantize="float16")
    clf, said = _open(data, "mine.tflite")
    assert said == [], said
    images = test_images[0][:N]
    p = clf.predict_proba(images)
    np.testing.assert_allclose(p, keras_probs, atol=2e-3 if case == "float16 weights" else 1e-4)
    np.testing.assert_array_equal(np.concatenate([clf.predict_proba(i) for i in images[:5]]), p[:5])
    assert clf.info["batch"] == batch and clf.info["output_kind"] == "probabilities"


def test_uint8_quantized_input_and_output(tiny_model, tf, keras_probs, test_images):
    calibration = test_images[0][-100:].astype(np.float32)[..., None] / 255.0
    data = _convert(tf, lambda x: tiny_model(x, training=False), [None, 28, 28, 1], "uint8", calibration)
    clf, said = _open(data, "old_style_uint8.tflite")
    assert said == [] and clf.info["input_dtype"] == "uint8" and clf.info["output_dtype"] == "uint8"
    assert clf.info["output_kind"] == "probabilities"  # uint8 from 0 in 1/256 steps: a softmax's range
    agree = (clf.predict(test_images[0][:N]) == keras_probs.argmax(axis=1)).mean()
    assert agree >= 0.97, agree


def test_logits_without_softmax(tiny_model, keras, tf, keras_probs, test_images):
    last = tiny_model.layers[-1]
    body = keras.Model(tiny_model.inputs, tiny_model.layers[-2].output)
    data = _convert(tf, lambda x: tf.matmul(body(x, training=False), last.kernel) + last.bias, [None, 28, 28, 1])
    clf, said = _open(data, "logits.tflite")
    assert said == [] and clf.info["output_kind"] == "logits"
    np.testing.assert_allclose(clf.predict_proba(test_images[0][:N]), keras_probs, atol=1e-4)


@pytest.mark.parametrize("fmt", ["tflite float", "tflite uint8", "onnx NCHW batch 1"])
def test_a_model_trained_on_pytorch_scaling_says_so_then_answers_like_keras(fmt, tiny_model, tf, keras_probs, test_images):
    fn = _scaled(tiny_model, tf, "mnist")
    if fmt == "tflite float":
        data, name = _convert(tf, fn, [None, 28, 28, 1]), "torchlike.tflite"
    elif fmt == "tflite uint8":
        calibration = SCALINGS["mnist"].apply(test_images[0][-100:].astype(np.float32)[..., None] / 255.0)
        data, name = _convert(tf, fn, [None, 28, 28, 1], "uint8", calibration), "torchlike_uint8.tflite"
    else:
        import tf2onnx

        spec = [tf.TensorSpec((1, 28, 28, 1), tf.float32, name="input")]
        proto, _ = tf2onnx.convert.from_function(tf.function(fn, input_signature=spec), input_signature=spec, opset=17,
                                                 inputs_as_nchw=["input"])
        data, name = proto.SerializeToString(), "torchlike.onnx"
    with pytest.warns(ManifestWarning), pytest.raises(ModelError, match="--normalize mnist .normalize='mnist'") as caught:
        DigitClassifier.from_bytes(data, name=name)
    assert "\n" not in str(caught.value)
    clf, said = _open(data, name, normalize="mnist")
    assert said == [], said
    if fmt.startswith("onnx"):
        assert clf.info["input_shape"] == [-1, 1, 28, 28] and clf.info["batch"] == 1
    agree = (clf.predict(test_images[0][:N]) == keras_probs.argmax(axis=1)).mean()
    assert agree >= (0.97 if "uint8" in fmt else 1.0), agree


@pytest.mark.parametrize("kind, message", [
    ("3 channels", r"takes input of shape \[-1, 28, 28, 3\] \(colour images"),
    ("11 classes", r"outputs 11 values per image .*If the 11th is a 'not a digit' class"),
    ("two outputs", r"has 1 input\(s\) .* and 2 output\(s\)"),
])
def test_tflite_files_that_are_no_digit_classifier(kind, message, keras, tf):
    inputs = keras.Input((28, 28, 3) if kind == "3 channels" else (28, 28, 1))
    h = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    probs = keras.layers.Dense(11 if kind == "11 classes" else 10, activation="softmax")(h)
    model = keras.Model(inputs, [probs, h] if kind == "two outputs" else probs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ManifestWarning)
        with pytest.raises(ModelError, match=message) as caught:
            DigitClassifier.from_bytes(tf.lite.TFLiteConverter.from_keras_model(model).convert(), name="other.tflite")
    assert str(caught.value).startswith("other.tflite ") and "corrupted" not in str(caught.value)


def test_a_failed_resize_goes_on_with_a_fresh_interpreter(tiny_model, tf, test_images):
    """A TFLite interpreter whose resize to a batch failed is not used again (tflite-runtime 2.14 crashed with a
    segmentation fault at the next allocation, resizing back to 1: RESULTS.md, "Runtime", nineteenth session)."""
    from edgedigits_runtime.backends import open_model

    data = _convert(tf, lambda x: tiny_model(tf.reshape(x, [1, 28, 28, 1]), training=False), [None, 28, 28, 1])
    session = open_model("tflite", data, 1)
    first = session._it
    images = (test_images[0][:5].astype(np.float32) / 255.0)[..., None]
    batch = session.run(images)
    assert session._it is not first and session.batch == 1
    np.testing.assert_array_equal(batch, np.concatenate([session.run(images[i:i + 1]) for i in range(5)]))

"""ONNX models as users bring them, built in code with the onnx helper API (no TensorFlow, no files in the repo).

- :func:`linear_onnx`: a fixed random linear map to 10 scores, in any input layout and batch declaration, ending
  in nothing (logits), Softmax or LogSoftmax; its answers are recomputed in numpy by :func:`linear_reference`.
- :func:`knn_onnx`: a nearest-template classifier over MNIST training images (100 per class, none of the
  runtime's reference digits), its templates stored in the model's own input scaling: it answers MNIST digits
  right (about 83% of the test set) only when fed that scaling, as a trained network does.
- :func:`graph_onnx`: any small graph (models that are not digit classifiers).

``pytest.importorskip("onnx")`` first: the runtime-only environment has onnxruntime but not onnx.
"""

from __future__ import annotations

import numpy as np

RNG_SEED = 0


def _model(nodes, inputs, outputs, initializers, opset: int = 17, ir_version: int = 8, check: bool = True) -> bytes:
    import onnx
    from onnx import helper

    model = helper.make_model(helper.make_graph(nodes, "user_model", inputs, outputs, initializers),
                              opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = ir_version
    if check:
        onnx.checker.check_model(model)
    return model.SerializeToString()


def _tensor(name, shape, elem="FLOAT"):
    from onnx import TensorProto, helper

    return helper.make_tensor_value_info(name, getattr(TensorProto, elem), shape)


def _const(array, name):
    from onnx import numpy_helper

    return numpy_helper.from_array(np.asarray(array), name)


def linear_weights():
    rng = np.random.default_rng(RNG_SEED)
    return rng.normal(0, 0.05, (784, 10)).astype(np.float32), rng.normal(0, 0.1, (10,)).astype(np.float32)


def linear_onnx(in_shape, out_shape=("N", 10), head=None, flatten_to=(-1, 784), out_reshape=None) -> bytes:
    """``x -> Reshape(flatten_to) -> x W + b [-> head]`` with input ``in_shape`` (float) and output ``out_shape``.

    ``flatten_to=(1, 784)`` fixes the batch inside the graph (PyTorch's ``x.view(1, -1)``) whatever the input
    declares; ``out_reshape`` reshapes the output (e.g. ``(-1, 10, 1, 1)``); ``head``: "Softmax" or "LogSoftmax".
    """
    from onnx import helper

    w, b = linear_weights()
    nodes = [helper.make_node("Reshape", ["input", "flat_shape"], ["flat"]),
             helper.make_node("MatMul", ["flat", "w"], ["xw"]),
             helper.make_node("Add", ["xw", "b"], ["z"])]
    last = "z"
    if head:
        nodes.append(helper.make_node(head, [last], ["h"], axis=1))
        last = "h"
    inits = [_const(np.array(flatten_to, np.int64), "flat_shape"), _const(w, "w"), _const(b, "b")]
    if out_reshape:
        nodes.append(helper.make_node("Reshape", [last, "out_shape"], ["r"]))
        inits.append(_const(np.array(out_reshape, np.int64), "out_shape"))
        last = "r"
    nodes.append(helper.make_node("Identity", [last], ["scores"]))
    return _model(nodes, [_tensor("input", list(in_shape))], [_tensor("scores", list(out_shape))], inits)


def linear_reference(images: np.ndarray) -> np.ndarray:
    """The linear model's logits for uint8 images fed x / 255."""
    w, b = linear_weights()
    return (images.reshape(len(images), 784).astype(np.float32) / np.float32(255)) @ w + b


def knn_onnx(mnist_train, scaling: str, in_shape=(1, 1, 28, 28), per_class: int = 100) -> bytes:
    """A nearest-template MNIST classifier fed ``scaling`` (a name of ``edgedigits_runtime.scaling.SCALINGS``).

    Scores: ``max over a class's templates t of 2 z.t - |t|^2`` (= ``|z|^2 - min |z - t|^2``), templates taken from
    MNIST training images 1000 onwards (the runtime's reference digits are among the first 42).
    """
    from onnx import helper

    from edgedigits_runtime.scaling import SCALINGS

    images, labels = mnist_train
    rest, rest_labels = images[1000:], labels[1000:]
    unit = np.concatenate([rest[rest_labels == c][:per_class] for c in range(10)]).reshape(-1, 784) / np.float32(255)
    t = SCALINGS[scaling].apply(unit.astype(np.float32))
    nodes = [helper.make_node("Reshape", ["input", "flat_shape"], ["flat"]),
             helper.make_node("MatMul", ["flat", "templates"], ["dot"]),
             helper.make_node("Mul", ["dot", "two"], ["dot2"]),
             helper.make_node("Sub", ["dot2", "norms"], ["score"]),
             helper.make_node("Reshape", ["score", "class_shape"], ["per_class"]),
             helper.make_node("ReduceMax", ["per_class"], ["logits"], axes=[2], keepdims=0)]
    batch = in_shape[0]
    inits = [_const(np.array([-1, 784], np.int64), "flat_shape"), _const(np.ascontiguousarray(t.T), "templates"),
             _const(np.float32(2), "two"), _const((t * t).sum(1).astype(np.float32), "norms"),
             _const(np.array([-1, 10, per_class], np.int64), "class_shape")]
    return _model(nodes, [_tensor("input", list(in_shape))], [_tensor("logits", [batch, 10])], inits)


def knn_reference(mnist_train, scaling: str, images: np.ndarray, per_class: int = 100) -> np.ndarray:
    """What :func:`knn_onnx` answers for uint8 ``images`` fed their right scaling, computed in numpy."""
    from edgedigits_runtime.scaling import SCALINGS

    train, labels = mnist_train
    rest, rest_labels = train[1000:], labels[1000:]
    scale = SCALINGS[scaling]
    t = scale.apply(np.concatenate([rest[rest_labels == c][:per_class] for c in range(10)]).reshape(-1, 784) / np.float32(255))
    z = scale.apply(images.reshape(len(images), 784) / np.float32(255))
    score = 2 * z @ t.T - (t * t).sum(1)
    return score.reshape(len(images), 10, per_class).max(axis=2).argmax(axis=1)


def graph_onnx(nodes, inputs, outputs, initializers=(), **options) -> bytes:
    """Any small model: ``inputs``/``outputs`` as ``(name, shape[, elem type name])``; ``options``: ``opset``,
    ``ir_version``, ``check=False`` (no onnx checker: a model onnxruntime must refuse itself)."""
    return _model(nodes, [_tensor(*i) for i in inputs], [_tensor(*o) for o in outputs], list(initializers), **options)

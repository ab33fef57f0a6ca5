"""edgedigits-runtime: classify handwritten digits on a device, without TensorFlow.

Needs numpy plus one of ai-edge-litert, tflite-runtime (numpy<2) or onnxruntime;
Pillow (the ``image`` extra) to read image files.

Example:

>>> from edgedigits_runtime import load_default, preprocess_image   # doctest: +SKIP
>>> clf = load_default()                                            # the shipped int8 model   # doctest: +SKIP
>>> clf.top_k(preprocess_image("photo_of_a_7.jpg"), k=2)            # doctest: +SKIP
[[(7, 0.99609375), (1, 0.00390625)]]
>>> clf.classify(preprocess_image("photo_of_a_letter_A.jpg")).labels  # doctest: +SKIP
array([-1])                                                          # NOT_A_DIGIT
"""

from edgedigits_runtime.classifier import DEFAULT_MODEL, DigitClassifier, load_default
from edgedigits_runtime.errors import (
                                       BackendUnavailableError,
                                       DataError,
                                       EdgeDigitsError,
                                       InputError,
                                       ModelError,
                                       ModelIntegrityError,
                                       SourceError,
                                       UsageError,
)
from edgedigits_runtime.manifest import ManifestWarning
from edgedigits_runtime.preprocess import preprocess_image
from edgedigits_runtime.read import DigitReading, NumberReading, SignReading, read_number
from edgedigits_runtime.reject import NOT_A_DIGIT, Classification

__version__ = "0.1.0"

__all__ = ["DigitClassifier", "load_default", "NOT_A_DIGIT", "Classification", "DEFAULT_MODEL", "preprocess_image",
           "read_number", "NumberReading", "DigitReading", "SignReading", "ManifestWarning", "EdgeDigitsError", "UsageError",
           "DataError", "ModelError", "ModelIntegrityError", "InputError", "BackendUnavailableError",
           "SourceError", "__version__"]

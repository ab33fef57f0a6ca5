"""edgedigits-runtime: classify handwritten digits on a device, without TensorFlow.

Needs numpy plus one of ai-edge-litert, tflite-runtime (numpy<2) or onnxruntime.
"""

__version__ = "0.1.0"

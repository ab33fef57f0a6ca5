"""Export a trained run to every format and print the figures for benchmarks/RESULTS.md ("Export").

Usage:
  python benchmarks/figures/export_formats.py [RUN] [--out DIR] [--repeats N]

RUN defaults to the latest finished run under runs/. Every registered format is
exported with the real gates; a format that misses its gate still gets its
size/accuracy/agreement reported (and no file). Then each written TFLite model is
timed at batch 1, one thread, through ai-edge-litert with the default resolver
(XNNPACK delegate applied) and without it (built-in kernels, ruy), and each ONNX
model through onnxruntime with one intra-op thread. Prints Markdown.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import describe, versions


def _latency_us(run_once, repeats: int) -> float:
    for _ in range(200):
        run_once()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run_once()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e6)


def _tflite_latency(path: Path, image_u8: np.ndarray, resolver: str, repeats: int) -> float:
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(model_path=str(path), num_threads=1,
                         experimental_op_resolver_type=getattr(OpResolverType, resolver))
    interp.allocate_tensors()
    detail = interp.get_input_details()[0]
    scale, zero_point = detail["quantization"]
    x = image_u8.astype(np.float32)[None, ..., None] / 255.0
    if scale:
        x = np.clip(np.round(x / scale) + zero_point, -128, 127)
    x = x.astype(detail["dtype"])

    def run_once():
        interp.set_tensor(detail["index"], x)
        interp.invoke()

    return _latency_us(run_once, repeats)


def _onnx_latency(path: Path, image_u8: np.ndarray, repeats: int) -> float:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    x = image_u8.astype(np.float32)[None, ..., None] / 255.0
    return _latency_us(lambda: session.run(None, {name: x}), repeats)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", default=None)
    parser.add_argument("--out", default=None, help="export folder (default: a temporary folder)")
    parser.add_argument("--repeats", type=int, default=3000)
    args = parser.parse_args()

    from edgedigits.export import FORMATS, ExportConfig, export
    from edgedigits.runs import resolve_run
    from edgedigits_runtime.mnist import load_mnist

    run = resolve_run(args.run)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="edgedigits-export-bench-"))
    start = time.perf_counter()
    result = export(ExportConfig(run=str(run), formats=list(FORMATS), out=str(out), overwrite=True),
                    progress=lambda m: print(m, file=sys.stderr))
    total = time.perf_counter() - start
    image = load_mnist("test")[0][0]

    print(f"Machine: {describe()}")
    tools = versions("tensorflow", "tensorflow-model-optimization", "tf2onnx", "onnxruntime", "ai-edge-litert")
    print("Tools: " + ", ".join(f"{k} {v}" for k, v in tools.items()))
    print(f"Command: python benchmarks/figures/export_formats.py {run}   (whole export {total:.0f}s)")
    print(f"Keras model: {run}/model.keras, test accuracy {result.keras_accuracy:.2%}\n")
    print("| format | file | size | accuracy | agreement with Keras | export time | gate | latency µs, XNNPACK | latency µs, built-in |")
    print("|---|---|---:|---:|---:|---:|---|---:|---:|")
    for row in result.rows:
        name = Path(row.path).name if row.path else FORMATS[row.format].filename("…") + " (not written)"
        gate = "pass" if row.status == "ok" else f"**fail** ({row.error_kind})"
        fast = slow = "–"
        if row.path and row.runtime == "tflite":
            fast = f"{_tflite_latency(Path(row.path), image, 'AUTO', args.repeats):.1f}"
            slow = f"{_tflite_latency(Path(row.path), image, 'BUILTIN_WITHOUT_DEFAULT_DELEGATES', args.repeats):.1f}"
        elif row.path:
            fast = f"{_onnx_latency(Path(row.path), image, args.repeats):.1f} (onnxruntime)"
        size = f"{row.size / 1024:.1f} KB" if row.size else "–"
        acc = f"{row.accuracy:.2%}" if row.accuracy is not None else "–"
        agree = f"{row.agreement:.2%}" if row.agreement is not None else "–"
        secs = f"{row.seconds:.1f} s" if row.seconds is not None else "–"
        print(f"| {row.format} | {name} | {size} | {acc} | {agree} | {secs} | {gate} | {fast} | {slow} |")


if __name__ == "__main__":
    main()

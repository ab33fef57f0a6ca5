"""The TFLM row of the device table: the same images as the emulated Pis, through TensorFlow Lite Micro.

Usage: python benchmarks/pi_emulation/tflm.py [WORK] [--from TARGET]      (the toolkit env: edgedigits + tflite-micro)
       (after run.sh TARGET: default WORK /tmp/edgedigits-pi, TARGET arm64-bookworm)

Takes the images run.sh made for TARGET (the MNIST test subset as PNGs and the photo-like JPEGs), answers
them on the host as `edgedigits-rt predict` does (predict_files, ai-edge-litert), turns every file into the 28x28
digit with the runtime's own preprocess_image (what `predict` does), quantizes it with the int8 model's
input scale/zero point (the micro pack's lookup table) and runs the shipped model in TFLM (the
`tflite-micro` PyPI wheel: the C++ interpreter with reference kernels, x86-64 only). TFLM's top-1 digit
is compared with the host's top-1 digit file by file ("not a digit" is a rule applied after the model,
not part of the micro pack). Writes WORK/tflm/run/result.json for table.py; exits 1 on a mismatch.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("work", nargs="?", default=os.environ.get("EDGEDIGITS_PI_WORK", "/tmp/edgedigits-pi"))
    parser.add_argument("--from", dest="target", default="arm64-bookworm", help="the run.sh target whose images to use")
    args = parser.parse_args()
    src = Path(args.work) / args.target / "run"
    folder = src / "share" / "digits"
    if not folder.is_dir():
        print(f"error: {folder} is missing: run benchmarks/pi_emulation/run.sh {args.target} first", file=sys.stderr)
        return 1
    from tflite_micro.python.tflite_micro import runtime as tflm

    from edgedigits.export.micro import input_table
    from edgedigits_runtime import DEFAULT_MODEL, load_default
    from edgedigits_runtime.predict import predict_files
    from edgedigits_runtime.preprocess import preprocess_image

    rows = [r.as_dict() for r in predict_files([folder], load_default(backend="litert"), top_k=1)]
    host = {Path(r["path"]).name: r for r in rows if r.get("top_k")}
    model = DEFAULT_MODEL.read_bytes()
    interpreter = tflm.Interpreter.from_bytes(model, arena_size=1 << 17)
    q = interpreter.get_input_details(0)["quantization_parameters"]
    table = input_table(float(q["scales"][0]), int(q["zero_points"][0]))
    truth = lambda name: int(name.split("_is")[1].split(".")[0])
    labels, differ = {}, []
    for name in sorted(host):
        x = table[preprocess_image(src / "share" / "digits" / name)][None, ..., None]
        interpreter.set_input(x, 0)
        interpreter.invoke()
        labels[name] = int(np.argmax(interpreter.get_output(0)[0]))
        if labels[name] != host[name]["top_k"][0][0]:
            differ.append(name)
    kinds = {k: [n for n in labels if n.startswith(k)] for k in ("mnist", "photo")}
    predict = {"images": len(labels), "mnist": len(kinds["mnist"]), "photos": len(kinds["photo"]),
               "same_labels": len(labels) - len(differ), "differ": differ[:20],
               "pi_correct": {("photo" if k == "photo" else k): sum(labels[n] == truth(n) for n in v)
                              for k, v in kinds.items()}, "compared": "top-1 digit"}
    import tflite_micro

    result = {"target": "tflm", "description": "TensorFlow Lite Micro (micro pack's interpreter, reference kernels)",
              "board": "x86-64 host", "qemu_cpu": None, "backend": "tflm",
              "machine": f"{platform.machine()} tflite-micro {getattr(tflite_micro, '__version__', '?')}",
              "install": 'pip install tflite-micro (x86_64 wheels); on a board: edgedigits export --micro',
              "all_checks_passed": not differ and bool(labels), "predict": predict, "source": str(src)}
    out = Path(args.work) / "tflm" / "run"
    out.mkdir(parents=True, exist_ok=True)
    (out / "result.json").write_text(json.dumps(result, indent=2))
    print(f"TFLM: {predict['same_labels']}/{len(labels)} same top-1 digit as the host's litert "
          f"({predict['mnist']} MNIST + {predict['photos']} photos); differ: {differ or 'none'}")
    return 0 if result["all_checks_passed"] else 1


if __name__ == "__main__":
    sys.exit(main())

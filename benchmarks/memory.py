"""Peak resident memory of a fresh process that loads and runs a model.

Measured in a child Python process (``python -c``), so that this process's own
libraries (TensorFlow, matplotlib, every other model) do not count: the child
imports numpy and the runtime, loads the model, runs a batch-1 call and one
larger batch, and reports its peak resident set: ``VmHWM`` from ``/proc/self/status``
where there is one (Linux, the Pi), else ``ru_maxrss``. (On Linux ``ru_maxrss`` is
inherited across fork and exec, so a child of a process holding TensorFlow reports
TensorFlow's peak: measured here, it said 949 MB for every model.) Idle baselines (Python + numpy +
runtime, then + the backend library) tell the model's own cost from the
libraries'. The child also reports the time from its start to its first
prediction: what a device pays to answer its first digit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from edgedigits.bench import measure

__all__ = ["measure_model", "measure_baseline", "BACKEND_MODULES"]

BACKEND_MODULES = measure.BACKEND_MODULES
_TIMEOUT = 300

_CHILD = r"""
import json, resource, sys, time
t0 = time.perf_counter()
args = json.loads(sys.argv[1])
out = {}
try:
    import importlib
    import numpy as np
    module, _, attr = args["classifier"].partition(":")
    cls = getattr(importlib.import_module(module), attr)
    for name in args.get("modules", []):
        try:
            importlib.import_module(name)
            out["module"] = name
            break
        except ImportError:
            pass
    if args.get("model"):
        t1 = time.perf_counter()
        clf = cls(args["model"], num_threads=args["threads"], **({"normalize": args["normalize"]} if args.get("normalize") else {}))
        t2 = time.perf_counter()
        rng = np.random.default_rng(0)
        clf.predict(rng.integers(0, 256, (28, 28), dtype=np.uint8))
        t3 = time.perf_counter()
        clf.predict(rng.integers(0, 256, (args["batch"], 28, 28), dtype=np.uint8))
        out.update(load_s=t2 - t1, first_s=t3 - t2, start_to_first_s=t3 - t0)
except Exception as exc:
    lines = str(exc).strip().splitlines()
    out["error"] = (lines[0] if lines else "") or type(exc).__name__
try:  # VmHWM: peak RSS of this process image only (ru_maxrss keeps the parent's peak across fork + exec)
    with open("/proc/self/status") as fh:
        out["maxrss_kb"] = next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:"))
        out["source"] = "VmHWM"
except (OSError, StopIteration, ValueError):
    out["maxrss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out["source"] = "ru_maxrss"
print("EDGEDIGITS-BENCH " + json.dumps(out))
"""


def _run_child(args: dict) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    try:
        done = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(args)], capture_output=True, text=True,
                              timeout=_TIMEOUT, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"the memory-measuring process took over {_TIMEOUT} s"}
    for line in done.stdout.splitlines():
        if line.startswith("EDGEDIGITS-BENCH "):
            return json.loads(line.split(" ", 1)[1])
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    return {"error": f"the memory-measuring process failed (exit {done.returncode}): {tail}"}


def _mb(result: dict) -> float | None:
    kb = result.get("maxrss_kb")
    return None if kb is None else kb / 1024.0  # Linux reports kilobytes


def measure_model(path, threads: int, batch: int, classifier: str | None = None, normalize: str | None = None) -> dict:
    """Peak RSS (MB) and start-up times of a fresh process that loads and runs ``path``.

    Args:
      path: model file.
      threads: interpreter threads.
      batch: size of the one larger batch the child also runs.
      classifier: classifier class ``"module:attribute"`` (default the runtime's).
      normalize: the model's input scaling (``DigitClassifier``'s ``normalize``; None: not given).

    Returns:
      ``{"peak_rss_mb", "load_s", "first_s", "start_to_first_s"}``, or ``{"error": message}``.
    """
    result = _run_child({"classifier": classifier or measure.CLASSIFIER, "model": str(path), "threads": threads, "batch": batch,
                         "normalize": normalize})
    if "error" in result:
        return {"error": result["error"]}
    return {"peak_rss_mb": _mb(result), "load_s": result["load_s"], "first_s": result["first_s"],
            "start_to_first_s": result["start_to_first_s"]}


def measure_baseline(runtime: str | None = None, classifier: str | None = None) -> dict:
    """Peak RSS (MB) of an idle Python + numpy + runtime process (plus a backend library when given).

    Args:
      runtime: ``"tflite"`` or ``"onnx"`` to also import that backend library, or None.
      classifier: classifier class ``"module:attribute"`` (default the runtime's).

    Returns:
      ``{"peak_rss_mb", "module"}`` (the backend module imported, if any), or ``{"error": message}``.
    """
    result = _run_child({"classifier": classifier or measure.CLASSIFIER, "modules": BACKEND_MODULES.get(runtime or "", [])})
    if "error" in result:
        return {"error": result["error"]}
    if runtime and "module" not in result:
        return {"error": f"no {runtime} backend library installed"}
    return {"peak_rss_mb": _mb(result), "module": result.get("module")}

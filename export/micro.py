"""The microcontroller pack: the int8 model as C++ sources for TensorFlow Lite Micro, verified by TFLM itself.

From the int8 ``.tflite`` bytes this builds a folder a firmware project can drop in:

- ``edgedigits_model.h`` / ``edgedigits_model.cc``: the model as an ``alignas(16) const``
  array, its SHA-256 and integrity record in the header, the arena size, the input/output
  scale and zero point (and the "not a digit" threshold when the model has one);
- ``edgedigits_ops.h``: a ``MicroMutableOpResolver<N>`` with exactly the model's operators,
  read from the flatbuffer (no "Didn't find op for builtin opcode" at run time);
- ``edgedigits_quantize.h``: a 256-entry table that turns a 28x28 uint8 image (white ink on
  black, as MNIST) into the model's int8 input exactly as the Python runtime does;
- ``edgedigits_example_digit.h`` and ``main.cc``: one MNIST test digit and a minimal program
  that classifies it;
- ``README.md``: the figures below and the board-fit table.

Verification (at export): TFLM's own interpreter (the ``tflite-micro`` package, the same C++
code as on the device, reference kernels) finds the smallest arena that allocates and runs
(by bisection), prints its allocation report, then classifies the test images one by one
and is compared with LiteRT on the same int8 bytes: with LiteRT's built-in kernels (TFLite's
reference integer arithmetic) every label must agree; with LiteRT's default XNNPACK path (what
the Pi runs, a slightly different requantization) the agreement is reported.

Example:

>>> pack = build_micro_pack(int8_bytes, images=x_test, example=(x_test[0], 7))   # doctest: +SKIP
>>> pack.arena_size, pack.agreement                                                # doctest: +SKIP
(24576, 1.0)
>>> write_micro_pack(pack, "runs/edge/export/edge_micro")                          # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np

from edgedigits.errors import ExportError
from edgedigits_runtime.record import read_record
from edgedigits_runtime.reject import score_description

__all__ = ["BOARDS", "ARENA_MARGIN", "Board", "MicroPack", "build_micro_pack", "write_micro_pack", "model_operators",
           "resolver_method", "board_fit", "input_table", "tflm_outputs"]

# Spare arena on top of what TFLM's reference kernels needed here: optimized kernels (CMSIS-NN
# on Cortex-M, ESP-NN on ESP32) ask for scratch buffers the reference ones do not.
ARENA_MARGIN = 0.25
_ARENA_ROUND = 1024


@dataclasses.dataclass(frozen=True)
class Board:
    """A common microcontroller board and what it offers (from its vendor's datasheet, not measured)."""

    name: str
    chip: str
    flash_kib: int
    ram_kib: int
    source: str


# Flash and RAM of common boards, from their vendors' published specifications. RAM is what an
# application can use for data (ESP32: its 320 KiB of DRAM out of 520 KiB SRAM).
BOARDS = (
    Board("ESP32 DevKitC (ESP32-WROOM-32)", "ESP32, 2x Xtensa LX6 240 MHz", 4096, 320,
          "Espressif ESP32 datasheet (520 KiB SRAM, 320 KiB of it DRAM) and ESP32-WROOM-32 datasheet (4 MB flash)"),
    Board("Raspberry Pi Pico", "RP2040, 2x Cortex-M0+ 133 MHz", 2048, 264,
          "Raspberry Pi Pico datasheet (264 KB SRAM, 2 MB QSPI flash)"),
    Board("Arduino Nano 33 BLE Sense", "nRF52840, Cortex-M4F 64 MHz", 1024, 256,
          "Arduino Nano 33 BLE Sense product page / Nordic nRF52840 product specification (1 MB flash, 256 KB RAM)"),
    Board("STM32 Nucleo-F401RE", "STM32F401RE, Cortex-M4F 84 MHz", 512, 96,
          "ST STM32F401xD/xE datasheet (512 KB flash, 96 KB SRAM)"),
    Board("STM32F4 Discovery", "STM32F407VG, Cortex-M4F 168 MHz", 1024, 192,
          "ST STM32F405/407 datasheet (1 MB flash, 192 KB SRAM = 128 KB + 64 KB CCM)"),
)

# BuiltinOperator names whose MicroMutableOpResolver method is not the plain CamelCase of the name.
_METHOD_EXCEPTIONS = {"PADV2": "AddPadV2", "CUMSUM": "AddCumSum", "SELECT_V2": "AddSelectV2",
                      "BATCH_MATMUL": "AddBatchMatMul", "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM"}


@dataclasses.dataclass
class MicroPack:
    """A verified microcontroller pack (``files`` not yet written).

    Attributes:
      files: file name -> text.
      sha256: SHA-256 of the model array's bytes (the ``.tflite`` as exported).
      model_size: bytes of the array (flash).
      operators: builtin operator names, in first-use order.
      arena_min: the smallest tensor arena TFLM allocated and ran the model in (bytes).
      arena_size: the recommended arena: ``arena_min`` plus :data:`ARENA_MARGIN`, rounded up to 1 KiB.
      allocations: TFLM's allocation report at ``arena_min`` (its RecordingMicroAllocator).
      input: ``{"scale", "zero_point", "dtype"}`` of the model input; ``output`` likewise.
      images: how many test images went through TFLM.
      agreement: share of them where TFLM's top-1 equals TFLite's (LiteRT's built-in int8 kernels,
        no delegate: the reference integer arithmetic TFLM implements too). The export requires 1.0.
      identical_builtin: share of images whose int8 outputs are bit-identical to those built-in kernels.
      agreement_xnnpack: share where TFLM's top-1 equals LiteRT's default path (XNNPACK delegate), which
        is what the Raspberry Pi runs; ``differ_xnnpack`` lists the test image indices where it does not.
      max_step_diff: the largest difference between TFLM's and LiteRT/XNNPACK's int8 outputs (quantization steps).
      within_one_step: share of the int8 output values (images x 10) where those differ by at most one step.
      tflm_seconds: time TFLM took for those images (reference kernels, x86-64: not a speed figure).
      boards: :func:`board_fit` rows.
    """

    files: dict
    sha256: str
    model_size: int
    operators: list
    arena_min: int
    arena_size: int
    allocations: str
    input: dict
    output: dict
    images: int
    agreement: float
    identical_builtin: float
    agreement_xnnpack: float
    differ_xnnpack: list
    max_step_diff: int
    within_one_step: float
    tflm_seconds: float
    boards: list

    def summary(self) -> dict:
        """The figures as JSON-able data (what the export manifest records for the pack)."""
        fields = dataclasses.asdict(self)
        fields.pop("files")
        fields.pop("allocations")
        fields["arena_margin"] = ARENA_MARGIN
        fields["file_names"] = sorted(self.files)
        return fields

    def board_table(self) -> str:
        """The board-fit table as plain text."""
        lines = [f"{'board':32s} {'flash':>9s} {'RAM':>8s}  model in flash  arena in RAM  fits"]
        for row in self.boards:
            lines.append(f"{row['board']:32s} {row['flash_kib']:>5d} KiB {row['ram_kib']:>4d} KiB  "
                         f"{row['flash_share']:>13.1%}  {row['ram_share']:>11.1%}  {'yes' if row['fits'] else 'no'}")
        return "\n".join(lines)


def model_operators(model: bytes) -> list[str]:
    """Builtin operator names the model uses, in first-use order (read from the flatbuffer).

    Raises:
      ExportError: the bytes are not a TFLite flatbuffer, or it uses a custom operator.
    """
    schema = _schema()
    try:
        root = schema.Model.GetRootAsModel(model, 0)
        codes = [root.OperatorCodes(i) for i in range(root.OperatorCodesLength())]
        names = {value: name for name, value in vars(schema.BuiltinOperator).items() if not name.startswith("_")}
        used = []
        for g in range(root.SubgraphsLength()):
            graph = root.Subgraphs(g)
            for o in range(graph.OperatorsLength()):
                code = codes[graph.Operators(o).OpcodeIndex()]
                builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
                name = names.get(builtin)
                if name is None or name == "CUSTOM":
                    raise ExportError(f"the model uses a custom or unknown operator (code {builtin}); "
                                      "TFLM's MicroMutableOpResolver cannot register it by name")
                if name not in used:
                    used.append(name)
    except ExportError:
        raise
    except Exception as exc:  # noqa: BLE001 (flatbuffers raises anything on bad bytes)
        raise ExportError(f"cannot read the operators of the TFLite model: {exc}") from None
    return used


def resolver_method(op: str) -> str:
    """``MicroMutableOpResolver``'s method for a builtin operator name, e.g. ``CONV_2D`` -> ``AddConv2D``."""
    if op in _METHOD_EXCEPTIONS:
        return _METHOD_EXCEPTIONS[op]
    return "Add" + "".join(part if part[:1].isdigit() else part.capitalize() for part in op.split("_"))


def input_table(scale: float, zero_point: int) -> np.ndarray:
    """int8 model input for each uint8 pixel value 0..255: ``round(v / 255 / scale) + zero_point``, clipped.

    The same float32 arithmetic as :class:`edgedigits_runtime.DigitClassifier` (x / 255, then
    quantize), so the device feeds exactly what the host feeds.
    """
    levels = np.arange(256, dtype=np.float32) / np.float32(255.0)
    q = np.rint(np.multiply(levels, np.float32(1.0 / scale), dtype=np.float32)) + np.float32(zero_point)
    return np.clip(q, -128, 127).astype(np.int8)


def board_fit(model_size: int, arena_size: int, boards=BOARDS) -> list[dict]:
    """Flash (model array) and RAM (tensor arena with margin) against each board.

    TFLM's own code and the application also need flash and RAM (stack, buffers): "fits" asks
    for at most half of each, leaving the rest to them.
    """
    rows = []
    for board in boards:
        flash_share = model_size / (board.flash_kib * 1024)
        ram_share = arena_size / (board.ram_kib * 1024)
        rows.append({"board": board.name, "chip": board.chip, "flash_kib": board.flash_kib, "ram_kib": board.ram_kib,
                     "flash_share": round(flash_share, 4), "ram_share": round(ram_share, 4),
                     "fits": flash_share <= 0.5 and ram_share <= 0.5, "source": board.source})
    return rows


def build_micro_pack(model: bytes, *, images: np.ndarray, example: tuple[np.ndarray, int],
                     log: Callable[[str], None] | None = None) -> MicroPack:
    """Measure and verify the int8 model in TFLM and generate the pack's sources.

    Args:
      model: the int8 ``.tflite`` bytes, as exported: its integrity record (manifest entry: accuracy,
        "not a digit" rule, ...) is restated in the header.
      images: uint8 (N, 28, 28) test images to run through TFLM and LiteRT (the full test set at export).
      example: ``(image, label)``: the MNIST test digit embedded in the example program.
      log: progress messages.

    Returns:
      A :class:`MicroPack`.

    Raises:
      ExportError: TFLM is not installed, cannot run the model, or disagrees with LiteRT on a label.
    """
    log = log or (lambda message: None)
    runtime = _tflm()
    operators = model_operators(model)
    probe = runtime.Interpreter.from_bytes(model, arena_size=max(len(model) * 10, 1 << 16))
    spec_in, spec_out = _spec(probe.get_input_details(0)), _spec(probe.get_output_details(0))
    if spec_in["dtype"] != "int8" or spec_out["dtype"] != "int8" or tuple(spec_in["shape"][1:]) != (28, 28, 1):
        raise ExportError(f"the micro pack needs an int8 (1, 28, 28, 1) -> int8 model; this one takes {spec_in['dtype']} "
                          f"{spec_in['shape']} and gives {spec_out['dtype']}")
    table = input_table(spec_in["scale"], spec_in["zero_point"])
    arena_min = _smallest_arena(runtime, model, table[np.asarray(example[0])][None, ..., None])
    arena_size = int(math.ceil(arena_min * (1 + ARENA_MARGIN) / _ARENA_ROUND) * _ARENA_ROUND)
    interpreter = runtime.Interpreter.from_bytes(model, arena_size=arena_min)
    log(f"micro: TFLM runs the model in a {arena_min:,}-byte arena (smallest found); checking {len(images):,} test images")

    inputs = table[np.asarray(images, dtype=np.uint8)][..., None]
    start = time.perf_counter()
    tflm = tflm_outputs(interpreter, inputs)
    seconds = time.perf_counter() - start
    with _captured_stderr() as report:
        interpreter.print_allocations()
    n = max(len(images), 1)
    builtin = _litert_outputs(model, inputs, delegates=False)
    differ = np.flatnonzero(tflm.argmax(axis=1) != builtin.argmax(axis=1))
    identical = float((tflm == builtin).all(axis=1).sum() / n) if len(images) else 1.0
    xnnpack = _litert_outputs(model, inputs)
    differ_x = np.flatnonzero(tflm.argmax(axis=1) != xnnpack.argmax(axis=1))
    steps = np.abs(tflm.astype(np.int16) - xnnpack.astype(np.int16))
    step = int(steps.max()) if len(images) else 0
    within = float((steps <= 1).mean()) if len(images) else 1.0
    if len(differ):
        raise ExportError(f"TFLM and TFLite (LiteRT's built-in int8 kernels) give different labels on {len(differ)} of "
                          f"{len(images)} test images (first: image {differ[0]}): the pack would not classify as TFLite does")

    digest = hashlib.sha256(model).hexdigest()
    example_image = np.asarray(example[0], dtype=np.uint8)
    expected = _tflm_label(interpreter, table[example_image][None, ..., None])
    pack = MicroPack(files={}, sha256=digest, model_size=len(model), operators=operators, arena_min=arena_min,
                     arena_size=arena_size, allocations=report.text.strip(), input=spec_in, output=spec_out,
                     images=int(len(images)), agreement=1.0, identical_builtin=round(identical, 6),
                     agreement_xnnpack=round(1 - len(differ_x) / n, 6), differ_xnnpack=differ_x[:20].tolist(),
                     max_step_diff=step, within_one_step=round(within, 6), tflm_seconds=round(seconds, 2),
                     boards=board_fit(len(model), arena_size))
    record = read_record(model)
    if record.status == "ok" and not record.matches:
        raise ExportError("the int8 model does not match the integrity record inside it: re-export it")
    pack.files = _sources(pack, model, table, example_image, int(example[1]), expected, record.entry or {})
    return pack


def write_micro_pack(pack: MicroPack, folder: str | os.PathLike) -> Path:
    """Write the pack's files into ``folder`` (created; files replaced atomically)."""
    from edgedigits_runtime.fileio import atomic_write_text

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in pack.files.items():
        atomic_write_text(folder / name, text)
    return folder


# ---------------------------------------------------------------------------- TFLM and LiteRT


def _tflm():
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError as exc:
        raise ExportError(f"the micro pack is verified with TensorFlow Lite Micro, which is not installed ({exc}): "
                          'pip install "edgedigits[dev]" (or pip install tflite-micro)') from None
    return runtime


def _schema():
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated

    return schema_py_generated


def _spec(detail: dict) -> dict:
    q = detail["quantization_parameters"]
    return {"dtype": np.dtype(detail["dtype"]).name, "shape": [int(d) for d in detail["shape"]],
            "scale": float(q["scales"][0]) if len(q["scales"]) else None,
            "zero_point": int(q["zero_points"][0]) if len(q["zero_points"]) else None}


def _runs(runtime, model: bytes, size: int, x: np.ndarray) -> bool:
    try:
        interpreter = runtime.Interpreter.from_bytes(model, arena_size=size)
        interpreter.set_input(x, 0)
        interpreter.invoke()
    except Exception:  # noqa: BLE001 (TFLM raises RuntimeError/ValueError when the arena is too small)
        return False
    return True


def _smallest_arena(runtime, model: bytes, x: np.ndarray) -> int:
    """Bisect the smallest arena (bytes) in which TFLM allocates and runs the model once."""
    from edgedigits_runtime.native import quiet_native_stderr

    high = max(len(model) * 10, 1 << 16)
    with quiet_native_stderr(replay_on_error=False):  # each failed try prints "Failed to allocate ..."
        if not _runs(runtime, model, high, x):
            raise ExportError(f"TFLM cannot run the model even in a {high:,}-byte arena")
        low = 0  # fails (or nothing), high works
        while high - low > 16:
            middle = (low + high) // 2
            if _runs(runtime, model, middle, x):
                high = middle
            else:
                low = middle
        for size in range(low + 1, high + 1):  # the exact byte within the last 16
            if _runs(runtime, model, size, x):
                return size
    return high  # pragma: no cover - high always runs


def tflm_outputs(interpreter, inputs: np.ndarray) -> np.ndarray:
    """The int8 outputs (N, 10) of a TFLM interpreter (``tflite_micro``'s Python runtime) on the model's int8 inputs
    (N, 28, 28, 1), one image a call, as a device runs them."""
    outputs = np.empty((len(inputs), 10), np.int8)
    for i in range(len(inputs)):
        interpreter.set_input(inputs[i : i + 1], 0)
        interpreter.invoke()
        outputs[i] = interpreter.get_output(0)[0]
    return outputs


def _tflm_label(interpreter, x: np.ndarray) -> int:
    interpreter.set_input(x, 0)
    interpreter.invoke()
    return int(np.argmax(interpreter.get_output(0)[0]))


def _litert_outputs(model: bytes, inputs: np.ndarray, delegates: bool = True) -> np.ndarray:
    """LiteRT's raw int8 outputs for int8 inputs (N, 28, 28, 1).

    ``delegates=True``: through the runtime's backend session, as the Pi runs it (XNNPACK);
    False: LiteRT's built-in kernels alone (``BUILTIN_WITHOUT_DEFAULT_DELEGATES``).
    """
    if not len(inputs):
        return np.zeros((0, 10), np.int8)
    if delegates:
        from edgedigits_runtime.backends import open_model

        session = open_model("tflite", model, 1)
        return np.concatenate([session.run(inputs[i : i + 1000]) for i in range(0, len(inputs), 1000)])
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interpreter = Interpreter(model_content=model, num_threads=1,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interpreter.resize_tensor_input(interpreter.get_input_details()[0]["index"], list(inputs.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], inputs)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


@contextlib.contextmanager
def _captured_stderr():
    """What native code writes to file descriptor 2 in the block, as ``.text`` afterwards."""

    class _Report:
        text = ""

    report = _Report()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield report
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            report.text = sink.read().decode(errors="replace")


# ---------------------------------------------------------------------------- sources

_GUARD = "EDGEDIGITS_{name}_H_"
_NOTICE = "// Generated by `edgedigits export --micro`; do not edit (re-export instead).\n"


# The pack's Makefile (GNU make; recipe lines start with a tab): TFLM's own Makefile builds the library for the
# TFLM_ARGS given, the pack is compiled with that build's compiler and flags. Run against tflite-micro's tree by
# benchmarks/figures/micro_build.py (host x86-64; Cortex-M4 under QEMU, reference and CMSIS-NN kernels).
_MAKEFILE = """# Builds main.cc with TensorFlow Lite Micro's own Makefile and sources (GNU make).
#
#   make TFLM_DIR=/path/to/tflite-micro              # host build, reference kernels; then `make run TFLM_DIR=...`
#   make TFLM_DIR=... TFLM_ARGS="TARGET=cortex_m_qemu TARGET_ARCH=cortex-m4 OPTIMIZED_KERNEL_DIR=cmsis_nn"
#   make run TFLM_DIR=... TFLM_ARGS="..." RUNNER="qemu-arm -cpu cortex-m4"
#   make size TFLM_DIR=... TFLM_ARGS="..."           # text/data/bss of the program
#
# TFLM's Makefile builds its library (libtensorflow-microlite.a; it downloads its third-party code on
# first use) for the TARGET, TARGET_ARCH and OPTIMIZED_KERNEL_DIR given in TFLM_ARGS; this file
# compiles the pack with that build's compiler and flags and links build/<TFLM_ARGS>/main.
# TFLM_LIB=path/libtensorflow-microlite.a links a library built before (same TFLM_ARGS) instead of
# building it; MAIN=other.cc (in this folder) builds another program with the pack instead of main.cc;
# LDEXTRA adds link flags. `make clean` after pointing TFLM_DIR at another tree.
ifeq ($(strip $(TFLM_DIR)),)
$(error set TFLM_DIR to a tflite-micro source tree: make TFLM_DIR=$$HOME/tflite-micro)
endif
TFLM_DIR := $(abspath $(TFLM_DIR))
TFLM_ARGS ?=
RUNNER ?=
MAIN ?= main.cc
LDEXTRA ?=
TFLM_LIB ?=
TFLM_MAKE = $(MAKE) --no-print-directory -s -C $(TFLM_DIR) -f tensorflow/lite/micro/tools/make/Makefile $(TFLM_ARGS)
export PATH := $(TFLM_DIR)/tensorflow/lite/micro/tools/make/downloads/gcc_embedded/bin:$(PATH)

empty :=
OUT := build/$(or $(subst =,-,$(subst $(empty) $(empty),_,$(strip $(TFLM_ARGS)))),host)
BIN := $(OUT)/$(basename $(notdir $(MAIN)))
TFLM_VARS := CXX CXXFLAGS CORE_OPTIMIZATION_LEVEL INCLUDES LDFLAGS MICROLITE_LIBS GENDIR TARGET_TOOLCHAIN_PREFIX

.PHONY: all run size clean
all: $(BIN)

# TFLM's compiler and flags for these TFLM_ARGS (its relative include paths made absolute).
$(OUT)/tflm.mk: $(TFLM_DIR)/tensorflow/lite/micro/tools/make/Makefile
\t@mkdir -p $(OUT)
\t$(TFLM_MAKE) $(addprefix print-,$(TFLM_VARS)) > $@.txt
\tsed -n 's/^\\([A-Z_]*\\)=/TFLM_\\1 := /p' $@.txt | sed 's@-I\\([^/]\\)@-I$(TFLM_DIR)/\\1@g' > $@ && rm $@.txt
ifeq ($(filter clean,$(MAKECMDGOALS)),)
include $(OUT)/tflm.mk
endif

OBJS := $(OUT)/$(basename $(notdir $(MAIN))).o $(OUT)/edgedigits_model.o

$(OUT)/%.o: %.cc $(wildcard *.h) $(OUT)/tflm.mk
\t$(TFLM_CXX) $(TFLM_CXXFLAGS) $(TFLM_CORE_OPTIMIZATION_LEVEL) $(TFLM_INCLUDES) -I. -c $< -o $@

$(BIN): $(OBJS) FORCE
\t@$(if $(TFLM_LIB),true,echo "TFLM's library (its first build compiles about 200 files: make -j helps)")
\t$(if $(TFLM_LIB),,$(TFLM_MAKE) microlite)
\t$(TFLM_CXX) $(TFLM_CXXFLAGS) $(OBJS) $(or $(TFLM_LIB),$(TFLM_DIR)/$(TFLM_GENDIR)lib/libtensorflow-microlite.a) \\
\t  $(TFLM_LDFLAGS) $(LDEXTRA) $(TFLM_MICROLITE_LIBS) -o $@

run: $(BIN)
\t$(RUNNER) ./$(BIN)

size: $(BIN)
\t$(TFLM_TARGET_TOOLCHAIN_PREFIX)size $(BIN)

clean:
\trm -rf build

FORCE:
"""


def _c_bytes(data: bytes, per_line: int = 16) -> str:
    lines = []
    for i in range(0, len(data), per_line):
        lines.append("    " + ", ".join(f"0x{b:02x}" for b in data[i : i + per_line]) + ",")
    return "\n".join(lines)


def _c_float(value: float) -> str:
    return f"{value!r}f" if "e" in repr(value) or "." in repr(value) else f"{value!r}.0f"


def _reject_lines(reject: dict | None) -> str:
    """The header's "not a digit" rule: a comment saying which score the threshold applies to, and its defines.

    ``EDGEDIGITS_REJECT_DIGIT_MASS`` is 1 when the score is the sum of the 10 digit outputs (``digit_mass``: a model
    trained with an 11th "not a digit" class whose column the export cut off), 0 when it is the top digit's
    probability (``max_prob``). Empty without a calibrated threshold.
    """
    if not reject or not isinstance(reject.get("threshold"), (int, float)):
        return ""
    method = str(reject.get("method") or "max_prob")
    if method == "digit_mass":
        score = f"the sum of the 10 dequantized digit outputs ({score_description(method)})"
    elif method == "max_prob":
        score = f"the largest of the 10 dequantized digit outputs ({score_description(method)})"
    else:
        raise ExportError(f"the model's reject method {method!r} has no C description: expected digit_mass or max_prob")
    rest = {k: v for k, v in reject.items() if k not in ("threshold", "method", "chosen_on")}
    lines = (f"// \"Not a digit\" (method {method}) when {score} is below this threshold; calibrated as the manifest "
             f"says: {json.dumps(rest, sort_keys=True)[:300].rstrip(chr(92))}.\n"  # no line splice
             f"#define EDGEDIGITS_REJECT_DIGIT_MASS {1 if method == 'digit_mass' else 0}\n"
             f"#define EDGEDIGITS_REJECT_THRESHOLD {_c_float(float(reject['threshold']))}\n")
    if isinstance(reject.get("min_share"), (int, float)):
        lines += ("// ... and when the top digit's probability is below this share of the 10 digit outputs' sum "
                  "(the model splits the image between two digits).\n"
                  f"#define EDGEDIGITS_REJECT_MIN_SHARE {_c_float(float(reject['min_share']))}\n")
    return lines


def _sources(pack: MicroPack, model: bytes, table: np.ndarray, example: np.ndarray, label: int, expected: int,
             entry: dict) -> dict:
    reject = entry.get("reject") if isinstance(entry.get("reject"), dict) else None
    shown = {key: value for key, value in entry.items() if key not in ("sha256", "size")}
    record = json.dumps(shown, sort_keys=True, indent=1).replace("*/", "* /")
    threshold = _reject_lines(reject)
    files = {}
    files["edgedigits_model.h"] = f"""{_NOTICE}// The edgedigits int8 MNIST classifier for TensorFlow Lite Micro.
//
// Model bytes: {pack.model_size} (flash). SHA-256 of g_edgedigits_model (the .tflite as exported):
//   {pack.sha256}
// The array is the exported .tflite itself: it also carries its edgedigits integrity record
// (TFLite metadata "edgedigits_record"), so a copy of it verifies on any edgedigits runtime.
//
// Tensor arena: TFLM needed {pack.arena_min} bytes here (the smallest arena that allocated and ran the
// model, found by bisection with TFLM's reference kernels); EDGEDIGITS_ARENA_SIZE adds
// {ARENA_MARGIN:.0%} for optimized kernels' scratch buffers (CMSIS-NN, ESP-NN), rounded up to 1 KiB.
//
// Manifest entry of the model (the integrity record's content):
/*
{record}
*/
#ifndef {_GUARD.format(name="MODEL")}
#define {_GUARD.format(name="MODEL")}

#include <stdint.h>

#define EDGEDIGITS_MODEL_SHA256 "{pack.sha256}"
#define EDGEDIGITS_MODEL_SIZE {pack.model_size}
#define EDGEDIGITS_ARENA_MEASURED {pack.arena_min}
#define EDGEDIGITS_ARENA_SIZE {pack.arena_size}
#define EDGEDIGITS_NUM_CLASSES 10
// Input: int8 (1, 28, 28, 1), white ink on black, real = (q - zero_point) * scale, real = pixel / 255.
#define EDGEDIGITS_INPUT_SCALE {_c_float(pack.input['scale'])}
#define EDGEDIGITS_INPUT_ZERO_POINT ({pack.input['zero_point']})
// Output: int8 (1, 10) digit probabilities, p = (q - zero_point) * scale.
#define EDGEDIGITS_OUTPUT_SCALE {_c_float(pack.output['scale'])}
#define EDGEDIGITS_OUTPUT_ZERO_POINT ({pack.output['zero_point']})
{threshold}
extern const unsigned char g_edgedigits_model[];
extern const unsigned int g_edgedigits_model_len;

#endif  // {_GUARD.format(name="MODEL")}
"""
    files["edgedigits_model.cc"] = f"""{_NOTICE}// SHA-256 {pack.sha256}, {pack.model_size} bytes.
#include "edgedigits_model.h"

alignas(16) const unsigned char g_edgedigits_model[] = {{
{_c_bytes(model)}
}};
const unsigned int g_edgedigits_model_len = {pack.model_size};
"""
    adds = "\n".join(f"  if (resolver.{resolver_method(op)}() != kTfLiteOk) return kTfLiteError;  // {op}"
                     for op in pack.operators)
    files["edgedigits_ops.h"] = f"""{_NOTICE}// Exactly the operators the model uses, read from its flatbuffer: {", ".join(pack.operators)}.
#ifndef {_GUARD.format(name="OPS")}
#define {_GUARD.format(name="OPS")}

#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"

using EdgeDigitsOpResolver = tflite::MicroMutableOpResolver<{len(pack.operators)}>;

inline TfLiteStatus EdgeDigitsRegisterOps(EdgeDigitsOpResolver& resolver) {{
{adds}
  return kTfLiteOk;
}}

#endif  // {_GUARD.format(name="OPS")}
"""
    rows = "\n".join("    " + ", ".join(f"{int(v):4d}" for v in table[i : i + 16]) + "," for i in range(0, 256, 16))
    files["edgedigits_quantize.h"] = f"""{_NOTICE}// 28x28 uint8 image (0-255, white ink on black as MNIST) -> the model's int8 input.
// Table entry v = round(v / 255 / EDGEDIGITS_INPUT_SCALE) + EDGEDIGITS_INPUT_ZERO_POINT, clipped to int8:
// the same numbers the Python runtime feeds (no float arithmetic on the device).
// A photo needs the runtime's preprocessing first (crop, invert to white-on-black, 28x28).
#ifndef {_GUARD.format(name="QUANTIZE")}
#define {_GUARD.format(name="QUANTIZE")}

#include <stdint.h>

static const int8_t kEdgeDigitsInputTable[256] = {{
{rows}
}};

// pixels: 784 bytes, row by row; input: the model's input tensor data (interpreter.input(0)->data.int8).
static inline void EdgeDigitsQuantizeImage(const uint8_t* pixels, int8_t* input) {{
  for (int i = 0; i < 28 * 28; ++i) input[i] = kEdgeDigitsInputTable[pixels[i]];
}}

#endif  // {_GUARD.format(name="QUANTIZE")}
"""
    files["edgedigits_example_digit.h"] = f"""{_NOTICE}// One MNIST test image (uint8, 28x28, white ink on black) and its label.
#ifndef {_GUARD.format(name="EXAMPLE_DIGIT")}
#define {_GUARD.format(name="EXAMPLE_DIGIT")}

#include <stdint.h>

static const int kEdgeDigitsExampleLabel = {label};
// What TFLM answered for it at export.
static const int kEdgeDigitsExampleExpected = {expected};
static const uint8_t kEdgeDigitsExampleDigit[28 * 28] = {{
{_c_bytes(example.tobytes(), 28)}
}};

#endif  // {_GUARD.format(name="EXAMPLE_DIGIT")}
"""
    files["main.cc"] = f"""{_NOTICE}// Classify the embedded MNIST test digit with TensorFlow Lite Micro; exit code 0 when it is right.
// Build: `make TFLM_DIR=/path/to/tflite-micro` with the Makefile beside this file (host, or any TFLM target
// through TFLM_ARGS), or add main.cc and edgedigits_model.cc to your board's TFLM port (Arduino_TensorFlowLite,
// esp-tflite-micro, pico-tflmicro). Output goes through TFLM's MicroPrintf (your port's DebugLog).
#include <stdint.h>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/micro/system_setup.h"
#include "tensorflow/lite/schema/schema_generated.h"

#include "edgedigits_example_digit.h"
#include "edgedigits_model.h"
#include "edgedigits_ops.h"
#include "edgedigits_quantize.h"

alignas(16) static uint8_t tensor_arena[EDGEDIGITS_ARENA_SIZE];

int main() {{
  tflite::InitializeTarget();  // the board port's setup (UART for DebugLog, clocks); a no-op on a host build
  const tflite::Model* model = tflite::GetModel(g_edgedigits_model);
  if (model->version() != TFLITE_SCHEMA_VERSION) {{
    MicroPrintf("edgedigits: model schema %d, TFLM expects %d", static_cast<int>(model->version()),
                TFLITE_SCHEMA_VERSION);
    return 1;
  }}
  static EdgeDigitsOpResolver resolver;
  if (EdgeDigitsRegisterOps(resolver) != kTfLiteOk) return 1;
  static tflite::MicroInterpreter interpreter(model, resolver, tensor_arena, sizeof(tensor_arena));
  if (interpreter.AllocateTensors() != kTfLiteOk) {{
    MicroPrintf("edgedigits: the %d-byte arena is too small", EDGEDIGITS_ARENA_SIZE);
    return 2;
  }}
  EdgeDigitsQuantizeImage(kEdgeDigitsExampleDigit, interpreter.input(0)->data.int8);
  if (interpreter.Invoke() != kTfLiteOk) return 3;
  const int8_t* scores = interpreter.output(0)->data.int8;
  int best = 0;
  for (int i = 1; i < EDGEDIGITS_NUM_CLASSES; ++i) {{
    if (scores[i] > scores[best]) best = i;
  }}
  // Probability in thousandths: integer output only, as some boards' printf has no %f.
  const int per_mille = static_cast<int>((scores[best] - EDGEDIGITS_OUTPUT_ZERO_POINT) * EDGEDIGITS_OUTPUT_SCALE * 1000.0f + 0.5f);
  MicroPrintf("edgedigits: digit %d (p=%d/1000), label %d", best, per_mille, kEdgeDigitsExampleLabel);
  MicroPrintf("edgedigits: arena used %d of %d bytes (%d measured at export)", static_cast<int>(interpreter.arena_used_bytes()),
              EDGEDIGITS_ARENA_SIZE, EDGEDIGITS_ARENA_MEASURED);
  MicroPrintf("edgedigits: %s", best == kEdgeDigitsExampleLabel ? "PASS" : "FAIL");
  return best == kEdgeDigitsExampleLabel ? 0 : 4;
}}
"""
    files["Makefile"] = _MAKEFILE
    files["README.md"] = _readme(pack)
    return files


def _readme(pack: MicroPack) -> str:
    sources = "\n".join(f"- {b.name}: {b.source}" for b in BOARDS)
    facts = [
        ("model (flash)", f"{pack.model_size:,} bytes, SHA-256 `{pack.sha256}`"),
        ("operators", f"{len(pack.operators)}: {', '.join(pack.operators)}"),
        ("tensor arena", f"{pack.arena_min:,} bytes measured (smallest that allocates and runs, by bisection); "
                         f"`EDGEDIGITS_ARENA_SIZE` = {pack.arena_size:,} (+{ARENA_MARGIN:.0%}, rounded up to 1 KiB)"),
        ("input", f"int8 (1, 28, 28, 1), scale {pack.input['scale']!r}, zero point {pack.input['zero_point']} "
                  "(`edgedigits_quantize.h`)"),
        ("output", f"int8 (1, 10), scale {pack.output['scale']!r}, zero point {pack.output['zero_point']}"),
        ("TFLM vs TFLite", f"same label as LiteRT's built-in int8 kernels on {pack.agreement:.2%} of {pack.images:,} "
                           f"MNIST test images, bit-identical outputs on {pack.identical_builtin:.2%}"),
        ("TFLM vs the Pi", f"same label as LiteRT's default XNNPACK path on {pack.agreement_xnnpack:.2%} (differs on "
                           f"test images {pack.differ_xnnpack}); int8 outputs within one step on "
                           f"{pack.within_one_step:.2%} of values, at most {pack.max_step_diff} apart"),
    ]
    rows = "\n".join(f"| {name} | {value} |" for name, value in facts)
    return f"""# edgedigits microcontroller pack (TensorFlow Lite Micro)

Generated by `edgedigits export --micro`; verified at export with TFLM's own interpreter
(the `tflite-micro` Python package: the same C++ interpreter, reference kernels).

| | |
|---|---|
{rows}

Files: `edgedigits_model.h/.cc` (the model array and its constants), `edgedigits_ops.h`
(`MicroMutableOpResolver<{len(pack.operators)}>` with exactly these operators),
`edgedigits_quantize.h` (uint8 image -> int8 input, a 256-entry table), `edgedigits_example_digit.h`
and `main.cc` (classify one MNIST test digit), `Makefile` (builds `main.cc` with TFLM's own Makefile).

## Build and run

With a [tflite-micro](https://github.com/tensorflow/tflite-micro) source tree and GNU make (TFLM's Makefile
downloads its third-party code on first use):

```
make TFLM_DIR=/path/to/tflite-micro && make run TFLM_DIR=/path/to/tflite-micro
```

builds TFLM's library for the host and `build/host/main`, which prints the digit, the arena TFLM used
and `PASS` (exit code 0) when it matches the embedded digit's label. For an Arm Cortex-M4 with the CMSIS-NN
kernels (Debian: `gcc-arm-none-eabi`, `libnewlib-arm-none-eabi`, `libstdc++-arm-none-eabi-newlib`):

```
make TFLM_DIR=... TFLM_ARGS="TARGET=cortex_m_qemu TARGET_ARCH=cortex-m4 OPTIMIZED_KERNEL_DIR=cmsis_nn"
```

links `build/TARGET-cortex_m_qemu_TARGET_ARCH-cortex-m4_OPTIMIZED_KERNEL_DIR-cmsis_nn/main` for TFLM's QEMU target
(newlib's start-up, output through semihosting). TFLM runs those with `qemu-arm -cpu cortex-m4`
(`make run ... RUNNER="qemu-arm -cpu cortex-m4"`); Debian 12's QEMU 7.2 aborts on every Cortex-M program that way,
so edgedigits' own check (`benchmarks/figures/micro_build.py` in its repository) links the same objects for QEMU's
`mps2-an386` board (a start-up file and linker script passed through `LDEXTRA`) and runs them with
`qemu-system-arm`.

`make size ...` prints the program's text/data/bss. On a board, add `main.cc` (or your own code) and
`edgedigits_model.cc` to its TFLM port; `main.cc` calls `tflite::InitializeTarget()` and prints through
TFLM's `MicroPrintf`, so its output goes wherever the port's `DebugLog` sends it.

The arena was measured with the Python `tflite-micro` interpreter on x86-64 (64-bit pointers). Built
against TFLM's sources, edgedigits' `edge` and `tiny` models used less on a Cortex-M4 (32-bit pointers; `edge` on the host too),
with TFLM's reference kernels and with CMSIS-NN, whose scratch buffers the margin is there for (figures:
benchmarks/RESULTS.md in the edgedigits repository); other optimized kernels (ESP-NN, ...) were not built.
`main.cc` prints `interpreter.arena_used_bytes()`: check it on your board.

## Board fit

Flash: the model array; RAM: the recommended arena. TFLM's code (tens of KB for a few kernels),
your application and its stack come on top, so "fits" asks for at most half of each.

```
{pack.board_table()}
```

Board figures are the vendors' published specifications, not measurements:
{sources}

## TFLM's allocation report at the measured arena

```
{pack.allocations}
```
"""


# ---------------------------------------------------------------------------- the registry row's hooks


def convert(ctx) -> bytes:
    """The registry row's converter: the int8 QAT model (the fine-tune is shared with ``int8`` in one export)."""
    from edgedigits.export.convert_tflite import int8_qat

    return int8_qat(ctx)


def write(path: Path, data: bytes, ctx) -> Path:
    """The registry row's writer: verify in TFLM on the full test set, then write the pack folder at ``path``.

    The pack's figures go into the manifest entry (``ctx.notes["micro"]["micro"]``) and the
    board-fit table into the export's progress output.

    Raises:
      ExportError: TFLM is missing or disagrees with LiteRT.
    """
    import shutil

    from edgedigits.data import load_test

    images, labels = load_test(ctx.config.data_dir)
    pack = build_micro_pack(data, images=images, example=(images[0], int(labels[0])), log=ctx.log)
    ctx.log(f"micro: TFLM gives TFLite's label on {pack.agreement:.2%} of {pack.images:,} test images "
            f"(bit-identical outputs on {pack.identical_builtin:.2%}; LiteRT/XNNPACK's label on {pack.agreement_xnnpack:.2%}) "
            f"({pack.tflm_seconds:.0f} s); arena {pack.arena_min:,} B measured, {pack.arena_size:,} B with margin; "
            f"{len(pack.operators)} operators")
    ctx.log("micro: board fit (model array in flash, arena in RAM):\n" + pack.board_table())
    ctx.notes["micro"] = {"micro": pack.summary()}
    path = Path(path)
    staging = path.with_name(path.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    write_micro_pack(pack, staging)
    if path.exists():
        shutil.rmtree(path)
    staging.rename(path)
    return path

"""The microcontroller pack: sources that compile, an op resolver read from the model, TFLM-measured arena.

Built from the committed exported int8 model (tests/runtime/fixtures/edge_int8_record.tflite) so
no training is needed; TFLM itself (the ``tflite-micro`` package) measures and checks it.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

from edgedigits.export.micro import (
    ARENA_MARGIN,
    BOARDS,
    board_fit,
    build_micro_pack,
    input_table,
    model_operators,
    resolver_method,
    write_micro_pack,
)

FIXTURE = Path(__file__).resolve().parents[1] / "runtime" / "fixtures" / "edge_int8_record.tflite"

_HARNESS = r"""
#include <stdio.h>
#include "edgedigits_model.h"
#include "edgedigits_quantize.h"
#include "edgedigits_example_digit.h"

static_assert(sizeof(EDGEDIGITS_MODEL_SHA256) == 65, "a hex SHA-256");

int main(int argc, char** argv) {
  if (argc != 3) return 9;
  if (g_edgedigits_model_len != EDGEDIGITS_MODEL_SIZE) return 1;
  if (reinterpret_cast<uintptr_t>(g_edgedigits_model) % 16 != 0) return 2;
  FILE* out = fopen(argv[1], "wb");
  fwrite(g_edgedigits_model, 1, g_edgedigits_model_len, out);
  fclose(out);
  int8_t input[28 * 28];
  EdgeDigitsQuantizeImage(kEdgeDigitsExampleDigit, input);
  out = fopen(argv[2], "wb");
  fwrite(input, 1, sizeof(input), out);
  fclose(out);
  printf("%s %d %d %d\n", EDGEDIGITS_MODEL_SHA256, EDGEDIGITS_ARENA_SIZE, kEdgeDigitsExampleLabel,
         kEdgeDigitsExampleExpected);
  return 0;
}
"""


@pytest.fixture(scope="module")
def pack(test_images):
    images, labels = test_images
    return build_micro_pack(FIXTURE.read_bytes(), images=images[:200], example=(images[0], int(labels[0])))


def test_operators_and_resolver_methods_come_from_the_flatbuffer(pack):
    ops = model_operators(FIXTURE.read_bytes())
    assert ops == pack.operators and set(ops) >= {"CONV_2D", "FULLY_CONNECTED", "SOFTMAX"}
    assert [resolver_method(op) for op in ("CONV_2D", "DEPTHWISE_CONV_2D", "MAX_POOL_2D", "FULLY_CONNECTED",
                                           "BATCH_TO_SPACE_ND", "L2_POOL_2D", "RELU6", "PADV2", "ADD_N")] == [
        "AddConv2D", "AddDepthwiseConv2D", "AddMaxPool2D", "AddFullyConnected", "AddBatchToSpaceNd", "AddL2Pool2D",
        "AddRelu6", "AddPadV2", "AddAddN"]
    header = pack.files["edgedigits_ops.h"]
    assert f"MicroMutableOpResolver<{len(ops)}>" in header
    assert re.findall(r"resolver\.(Add\w+)\(\)", header) == [resolver_method(op) for op in ops]


def test_arena_is_measured_by_tflm_and_the_margin_stated(pack):
    from tflite_micro.python.tflite_micro import runtime

    assert 4096 < pack.arena_min < 200_000 and pack.arena_size >= pack.arena_min * (1 + ARENA_MARGIN)
    assert pack.arena_size % 1024 == 0 and "Arena allocation total" in pack.allocations
    x = input_table(pack.input["scale"], pack.input["zero_point"])[np.zeros((1, 28, 28, 1), np.uint8)]
    for size, works in ((pack.arena_min, True), (pack.arena_min - 64, False)):  # the smallest: 64 bytes less fails
        try:
            interpreter = runtime.Interpreter.from_bytes(FIXTURE.read_bytes(), arena_size=size)
            interpreter.set_input(x, 0)
            interpreter.invoke()
            ran = True
        except Exception:  # noqa: BLE001
            ran = False
        assert ran is works, size


def test_tflm_gives_litert_labels(pack):
    assert pack.images == 200 and pack.agreement == 1.0 and pack.within_one_step >= 0.99
    assert pack.identical_builtin == 1.0  # TFLM's reference kernels = LiteRT's built-in kernels, bit for bit


def test_input_table_is_the_runtime_quantization(pack, recorded_copy):
    from edgedigits_runtime import DigitClassifier

    clf = DigitClassifier(recorded_copy)
    levels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    big = np.zeros((1, 28, 28), np.uint8)
    big[0, :16, :16] = levels
    fed = clf._prepare(big).reshape(28, 28)[:16, :16].ravel()  # what the runtime feeds the interpreter
    np.testing.assert_array_equal(input_table(pack.input["scale"], pack.input["zero_point"]), fed)


def test_board_fit_table(pack):
    rows = board_fit(pack.model_size, pack.arena_size)
    assert [r["board"] for r in rows] == [b.name for b in BOARDS] and all(r["source"] for r in rows)
    for family in ("ESP32", "Pico", "Nano 33 BLE", "STM32"):
        assert any(family in r["board"] for r in rows), family
    assert all(r["fits"] for r in rows)  # a 38 KB model and a ~24 KB arena fit every listed board
    tiny = board_fit(600 * 1024, 200 * 1024)
    assert not any(r["fits"] for r in tiny if r["ram_kib"] < 400)
    assert "STM32 Nucleo-F401RE" in pack.board_table() and "Board fit" in pack.files["README.md"]


@pytest.mark.skipif(shutil.which("g++") is None or shutil.which("gcc") is None, reason="needs the system C/C++ compiler")
def test_generated_sources_compile_and_hold_the_model(pack, tmp_path, test_images):
    folder = write_micro_pack(pack, tmp_path / "pack")
    data = FIXTURE.read_bytes()
    header = (folder / "edgedigits_model.h").read_text()
    digest = hashlib.sha256(data).hexdigest()
    assert f"//   {digest}" in header and f'#define EDGEDIGITS_MODEL_SHA256 "{digest}"' in header
    assert '"format": "int8"' in header  # the integrity record's entry, restated
    assert (folder / "edgedigits_model.cc").read_text().count("alignas(16) const unsigned char g_edgedigits_model[]") == 1
    for name in ("edgedigits_model.h", "edgedigits_quantize.h", "edgedigits_example_digit.h"):  # plain C too
        done = subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-x", "c", name],
                              cwd=folder, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    (folder / "harness.cc").write_text(_HARNESS)
    exe = tmp_path / "harness"
    done = subprocess.run(["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic", "-O1", "edgedigits_model.cc",
                           "harness.cc", "-o", str(exe)], cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    ran = subprocess.run([str(exe), str(tmp_path / "model.bin"), str(tmp_path / "input.bin")], capture_output=True,
                         text=True, timeout=60)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    sha, arena, label, expected = ran.stdout.split()
    assert (tmp_path / "model.bin").read_bytes() == data and sha == digest
    assert int(arena) == pack.arena_size and int(label) == int(test_images[1][0]) and int(expected) == int(label)
    table = input_table(pack.input["scale"], pack.input["zero_point"])
    np.testing.assert_array_equal(np.frombuffer((tmp_path / "input.bin").read_bytes(), np.int8),
                                  table[test_images[0][0]].ravel())


_DIGIT_MASS = {"method": "digit_mass", "threshold": 0.42578125, "min_share": 0.5411764979362488, "holdout_kind": "shapes",
               "chosen_on": "validation digits", "note": "x" * 297 + "\\"}  # truncated just after a backslash


def test_reject_rule_of_a_not_a_digit_model_names_its_score(pack, tmp_path, test_images):
    """A "not a digit" model (11-way head, `digit_mass`): the header says the threshold applies to the SUM of the digit
    outputs, not the top one, and the defines compile in C (a backslash cut at the comment's end splices no line)."""
    from edgedigits.export import micro

    lines = micro._reject_lines(_DIGIT_MASS)
    assert "sum of the 10 dequantized digit outputs" in lines and "top digit probability is below" not in lines
    assert "#define EDGEDIGITS_REJECT_DIGIT_MASS 1\n" in lines
    assert f"#define EDGEDIGITS_REJECT_THRESHOLD {_DIGIT_MASS['threshold']!r}f" in lines
    assert f"#define EDGEDIGITS_REJECT_MIN_SHARE {_DIGIT_MASS['min_share']!r}f" in lines
    assert all(not line.endswith("\\") for line in lines.splitlines())
    table = input_table(pack.input["scale"], pack.input["zero_point"])
    files = micro._sources(pack, FIXTURE.read_bytes(), table, test_images[0][0], int(test_images[1][0]), 0,
                           {"format": "int8", "reject": _DIGIT_MASS})
    (tmp_path / "edgedigits_model.h").write_text(files["edgedigits_model.h"])
    (tmp_path / "check.c").write_text('#include "edgedigits_model.h"\n'
                                      "_Static_assert(EDGEDIGITS_REJECT_DIGIT_MASS == 1, \"digit mass\");\n"
                                      "float t = EDGEDIGITS_REJECT_THRESHOLD, m = EDGEDIGITS_REJECT_MIN_SHARE;\n")
    done = subprocess.run(["gcc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-fsyntax-only", "check.c"], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_reject_rule_of_a_top_probability_model_and_of_none():
    from edgedigits.errors import ExportError
    from edgedigits.export import micro

    lines = micro._reject_lines({"method": "max_prob", "threshold": 0.8046875})
    assert "largest of the 10 dequantized digit outputs" in lines and "#define EDGEDIGITS_REJECT_DIGIT_MASS 0" in lines
    assert "MIN_SHARE" not in lines
    assert micro._reject_lines(None) == "" and micro._reject_lines({"method": "max_prob"}) == ""
    with pytest.raises(ExportError, match="energy"):
        micro._reject_lines({"method": "energy", "threshold": 0.5})


@pytest.fixture
def recorded_copy(tmp_path):
    path = tmp_path / "edge_int8.tflite"
    path.write_bytes(FIXTURE.read_bytes())
    return path


@pytest.mark.slow
def test_export_micro_writes_a_verified_pack(exported):
    """`edgedigits export --micro` through the registry: the folder, and TFLM's figures in the manifest."""
    import json

    row = exported.row("micro")
    folder = Path(row.path)
    assert folder.is_dir() and sorted(p.name for p in folder.iterdir()) == sorted(
        ["README.md", "edgedigits_example_digit.h", "edgedigits_model.cc", "edgedigits_model.h", "edgedigits_ops.h",
         "edgedigits_quantize.h", "main.cc", "Makefile"])
    entry = json.loads(exported.manifest_path.read_text())["artifacts"][folder.name]
    figures = entry["micro"]
    assert figures["images"] == 10_000 and figures["agreement"] == 1.0
    assert figures["arena_min"] <= figures["arena_size"] and figures["sha256"] == entry["sha256"]
    assert f'EDGEDIGITS_MODEL_SHA256 "{entry["sha256"]}"' in (folder / "edgedigits_model.h").read_text()
    assert "Board fit" in (folder / "README.md").read_text()


# ---------------------------------------------------------------------------- building the pack (its Makefile, main.cc)

_needs_make = pytest.mark.skipif(shutil.which("make") is None or shutil.which("g++") is None or shutil.which("ar") is None,
                                 reason="needs GNU make, g++ and ar")


def _build(folder: Path, tflm: Path, *extra: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-s", "-C", str(folder), f"TFLM_DIR={tflm}", *extra], capture_output=True, text=True,
                          env=env, timeout=600)


@pytest.fixture(scope="module")
def stub_build(pack, tmp_path_factory):
    """The pack built with its own Makefile against the stand-in TFLM tree (tests/export/tflm_stub.py)."""
    from tflm_stub import write_stub_tflm

    root = tmp_path_factory.mktemp("stub_build")
    tflm = write_stub_tflm(root / "tflm", pack.operators)
    folder = write_micro_pack(pack, root / "pack")
    done = _build(folder, tflm)
    return folder, tflm, done


def _run(program: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([str(program), *args], capture_output=True, text=True, timeout=60, env={**os.environ, **env})


@_needs_make
def test_pack_makefile_builds_main_with_the_tflm_trees_compiler_and_flags(stub_build):
    """`make TFLM_DIR=...` asks TFLM's Makefile for its compiler, flags and library (relative include paths made
    absolute), builds the library with `microlite`, and links build/host/main; main.cc compiles cleanly under strict
    flags (-Wdouble-promotion, -pedantic, -Werror), the ones TFLM's own build adds included."""
    folder, tflm, done = stub_build
    assert done.returncode == 0, done.stdout + done.stderr
    flags = (folder / "build" / "host" / "tflm.mk").read_text()
    assert f"-I{tflm}/." in flags and f"-I{tflm}/tensorflow/lite/micro/tools/make/downloads" in flags
    assert "TFLM_CXXFLAGS := -std=c++17" in flags and "TFLM_GENDIR := gen/stub_host/" in flags
    assert (tflm / "gen/stub_host/lib/libtensorflow-microlite.a").is_file()
    assert (folder / "build" / "host" / "main").is_file()


@_needs_make
def test_main_initializes_the_target_prints_through_microprintf_and_exits_by_the_label(stub_build, pack):
    """main.cc calls tflite::InitializeTarget() first (the stand-in's GetModel answers a wrong schema otherwise),
    prints its three lines through MicroPrintf, and exits 0 only when the answer is the embedded digit's label."""
    import sys

    folder, _, _ = stub_build
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "figures"))
    try:
        from micro_build import parse_main_output
    finally:
        sys.path.pop(0)
    label = int(re.search(r"kEdgeDigitsExampleLabel = (\d+)", (folder / "edgedigits_example_digit.h").read_text())[1])
    right = _run(folder / "build" / "host" / "main", STUB_DIGIT=str(label), STUB_ARENA="1234")
    assert right.returncode == 0, right.stdout
    shown = parse_main_output(right.stdout)
    assert shown == {"digit": label, "p_per_mille": round((127 - pack.output["zero_point"]) * pack.output["scale"] * 1000),
                     "label": label, "arena_used": 1234, "arena_size": pack.arena_size,
                     "arena_measured_at_export": pack.arena_min, "passed": True}
    wrong = _run(folder / "build" / "host" / "main", STUB_DIGIT=str((label + 1) % 10))
    assert wrong.returncode == 4 and parse_main_output(wrong.stdout)["passed"] is False
    small = _run(folder / "build" / "host" / "main", STUB_ARENA=str(pack.arena_size + 1))
    assert small.returncode == 2 and f"the {pack.arena_size}-byte arena is too small" in small.stdout
    source = (folder / "main.cc").read_text()
    assert "printf(" not in source.replace("MicroPrintf(", "")  # a board's printf may go nowhere; DebugLog does not


@_needs_make
def test_pack_makefile_links_a_given_library_and_builds_another_program(stub_build, tmp_path, test_images):
    """TFLM_LIB= links a library built before (TFLM's make is not asked to build one); MAIN= builds another program of
    the folder: here micro_build.py's batch program, whose int8 inputs are the header table's for every image."""
    import sys

    folder, tflm, _ = stub_build
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "figures"))
    try:
        from micro_build import BATCH_SOURCE, parse_batch_output
    finally:
        sys.path.pop(0)
    library = tmp_path / "libprebuilt.a"
    shutil.copyfile(tflm / "gen/stub_host/lib/libtensorflow-microlite.a", library)
    (folder / "edgedigits_batch.cc").write_text(BATCH_SOURCE)
    done = _build(folder, tflm / "missing", "MAIN=edgedigits_batch.cc", f"TFLM_LIB={library}")
    assert done.returncode != 0  # TFLM_DIR must still be a TFLM tree (its flags)
    done = _build(folder, tflm, "MAIN=edgedigits_batch.cc", f"TFLM_LIB={library}")
    assert done.returncode == 0, done.stdout + done.stderr
    images = test_images[0][:7]
    (tmp_path / "in.u8").write_bytes(images.tobytes())
    ran = _run(folder / "build" / "host" / "edgedigits_batch", str(tmp_path / "in.u8"), str(tmp_path / "out.i8"),
               STUB_COPY="1")
    assert ran.returncode == 0, ran.stdout
    summary = parse_batch_output(ran.stdout)
    assert summary["images"] == 7 and summary["arena_given"] == pack_arena(folder)
    table = input_table(*_scale_zero(folder))
    fed = np.frombuffer((tmp_path / "out.i8").read_bytes(), np.int8).reshape(7, 10)
    np.testing.assert_array_equal(fed, table[images.reshape(7, -1)[:, :10]])
    too_small = _run(folder / "build" / "host" / "edgedigits_batch", str(tmp_path / "in.u8"), str(tmp_path / "o.i8"), "999")
    assert too_small.returncode == 2


def pack_arena(folder: Path) -> int:
    return int(re.search(r"#define EDGEDIGITS_ARENA_SIZE (\d+)", (folder / "edgedigits_model.h").read_text())[1])


def _scale_zero(folder: Path) -> tuple[float, int]:
    header = (folder / "edgedigits_model.h").read_text()
    return (float(re.search(r"#define EDGEDIGITS_INPUT_SCALE ([0-9.e+-]+)f", header)[1]),
            int(re.search(r"#define EDGEDIGITS_INPUT_ZERO_POINT \((-?\d+)\)", header)[1]))


def test_pack_makefile_needs_tflm_dir(pack, tmp_path):
    if shutil.which("make") is None:
        pytest.skip("needs GNU make")
    folder = write_micro_pack(pack, tmp_path / "pack")
    done = subprocess.run(["make", "-C", str(folder)], capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "set TFLM_DIR to a tflite-micro source tree" in done.stderr
    assert "make TFLM_DIR=" in pack.files["README.md"] and "OPTIMIZED_KERNEL_DIR=cmsis_nn" in pack.files["README.md"]


@pytest.mark.slow
@pytest.mark.skipif(not __import__("os").environ.get("EDGEDIGITS_TFLM_DIR"),
                    reason="needs a tflite-micro source tree with its downloads: set EDGEDIGITS_TFLM_DIR")
def test_pack_builds_and_runs_against_real_tflm(pack, tmp_path):
    """With TFLM's own sources (EDGEDIGITS_TFLM_DIR): the pack's Makefile builds TFLM's library and main for the host,
    main exits 0 with the embedded digit's label and an arena TFLM used within EDGEDIGITS_ARENA_SIZE."""
    import os
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks" / "figures"))
    try:
        from micro_build import parse_main_output
    finally:
        sys.path.pop(0)
    folder = write_micro_pack(pack, tmp_path / "pack")
    tflm = Path(os.environ["EDGEDIGITS_TFLM_DIR"])
    done = subprocess.run(["make", "-C", str(folder), f"TFLM_DIR={tflm}", "-j2"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    ran = _run(folder / "build" / "host" / "main")
    shown = parse_main_output(ran.stdout + ran.stderr)
    assert ran.returncode == 0 and shown["passed"] and shown["digit"] == shown["label"]
    assert 0 < shown["arena_used"] <= pack.arena_size

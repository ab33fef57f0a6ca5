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
         "edgedigits_quantize.h", "main.cc"])
    entry = json.loads(exported.manifest_path.read_text())["artifacts"][folder.name]
    figures = entry["micro"]
    assert figures["images"] == 10_000 and figures["agreement"] == 1.0
    assert figures["arena_min"] <= figures["arena_size"] and figures["sha256"] == entry["sha256"]
    assert f'EDGEDIGITS_MODEL_SHA256 "{entry["sha256"]}"' in (folder / "edgedigits_model.h").read_text()
    assert "Board fit" in (folder / "README.md").read_text()

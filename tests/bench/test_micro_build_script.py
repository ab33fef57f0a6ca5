"""benchmarks/figures/micro_build.py: the parts that need no TFLM tree, compiler or emulator (its build and run are
exercised against a stand-in TFLM tree in tests/export/test_micro.py, and against TFLM itself by hand: RESULTS.md)."""

import numpy as np
import pytest
from bench_helpers import figure_script

OPERATORS = ["CONV_2D", "MAX_POOL_2D", "RESHAPE", "FULLY_CONNECTED", "SOFTMAX", "SHAPE", "STRIDED_SLICE", "PACK"]


@pytest.fixture(scope="module")
def mb():
    return figure_script("micro_build")


def test_tflm_args_per_target_and_kernel_set(mb):
    assert mb.tflm_args("host", "reference") == []
    assert mb.tflm_args("cortex-m4", "reference") == ["TARGET=cortex_m_qemu", "TARGET_ARCH=cortex-m4"]
    assert mb.tflm_args("cortex-m4", "cmsis_nn")[-1] == "OPTIMIZED_KERNEL_DIR=cmsis_nn"
    with pytest.raises(ValueError, match="Cortex-M"):
        mb.tflm_args("host", "cmsis_nn")
    with pytest.raises(ValueError):
        mb.tflm_args("esp32", "reference")


def test_command_runs_host_programs_directly_and_cortex_m_ones_on_mps2_with_semihosting(mb, monkeypatch):
    assert mb.command("host", "/b/main", "x", "7") == ["/b/main", "x", "7"]
    monkeypatch.setattr(mb.shutil, "which", lambda name: f"/usr/bin/{name}")
    run = mb.command("cortex-m4", "/b/batch", "/w/in.u8", "4096")
    assert run[:3] == ["/usr/bin/qemu-system-arm", "-M", "mps2-an386"] and run[-2:] == ["-kernel", "/b/batch"]
    assert run[run.index("-semihosting-config") + 1] == "enable=on,target=native,arg=/b/batch,arg=/w/in.u8,arg=4096"
    with pytest.raises(ValueError, match="comma"):
        mb.command("cortex-m4", "/b/batch", "a,b")
    monkeypatch.setattr(mb.shutil, "which", lambda name: None)
    with pytest.raises(FileNotFoundError, match="qemu-system-arm"):
        mb.command("cortex-m4", "/b/main")


def test_main_and_batch_lines_parse(mb):
    text = ("noise\nedgedigits: digit 7 (p=996/1000), label 7\r\n"
            "edgedigits: arena used 19204 of 26624 bytes (20752 measured at export)\r\nedgedigits: PASS\r\n")
    assert mb.parse_main_output(text) == {"digit": 7, "p_per_mille": 996, "label": 7, "arena_used": 19204,
                                          "arena_size": 26624, "arena_measured_at_export": 20752, "passed": True}
    assert mb.parse_main_output(text.replace("PASS", "FAIL"))["passed"] is False
    with pytest.raises(ValueError, match="no result"):
        mb.parse_main_output("edgedigits: the 26624-byte arena is too small\n")
    batch = mb.parse_batch_output("edgedigits-batch: images 200 arena_used 19204 arena_given 26624 sizeof_pointer 4\n")
    assert batch == {"images": 200, "arena_used": 19204, "arena_given": 26624, "pointer_bytes": 4}
    with pytest.raises(ValueError):
        mb.parse_batch_output("")


def test_size_output_parses(mb):
    text = "   text\t   data\t    bss\t    dec\t    hex\tfilename\n 181092\t   2500\t  28548\t 212140\t  33cac\tmain\n"
    assert mb.parse_size(text) == {"text": 181092, "data": 2500, "bss": 28548}
    with pytest.raises(ValueError):
        mb.parse_size("nothing")


# A GNU ld map in miniature: output sections at column 0, input sections with their address, size and file (a long
# input section name alone on its line, its figures on the next), fill lines and non-allocated sections to ignore.
_MAP = """Archive member included to satisfy reference by file (symbol)
/x/libtensorflow-microlite-model.a(conv.o) main.o (tflite::Register_CONV_2D())

Linker script and memory map

.text           0x00000000    0x2000
 *(.vectors)
 .vectors       0x00000000       0x40 /w/mps2_startup.o
 .text.startup.main
                0x00000040      0x100 build/x/main.o
 .text._ZN6tflite4EvalEv
                0x00000140      0x300 /x/libtensorflow-microlite-model.a(conv.o)
 .text.memcpy   0x00000440       0x20 /usr/lib/arm-none-eabi/lib/thumb/v7e-m/nofp/libc.a(libc_a-memcpy.o)
 *fill*         0x00000460        0x4
 .rodata.g_edgedigits_model
                0x00000470     0xbbd0 build/x/edgedigits_model.o
 .rodata.str1.1 0x0000c040       0x10 /x/libtensorflow-microlite-model.a(micro_log.o)
.data           0x20000000       0x10 load address 0x0000c050
 .data.impure   0x20000000       0x10 /usr/lib/arm-none-eabi/lib/libc.a(libc_a-impure.o)
.bss            0x20000010     0x6800
 .bss.tensor_arena
                0x20000010     0x6800 build/x/main.o
 COMMON         0x20006810        0x8 /x/libtensorflow-microlite-model.a(kernel_util.o)
.comment        0x00000000       0x20
 .comment       0x00000000       0x20 build/x/main.o
.debug_info     0x00000000      0x100 /x/libtensorflow-microlite-model.a(conv.o)
"""


def test_map_breakdown_sorts_each_input_section_into_its_part(mb):
    parts = mb.map_breakdown(_MAP)
    assert parts["tflm"] == {"flash": 0x300 + 0x10, "data": 0, "bss": 8}
    assert parts["model"] == {"flash": 0xBBD0, "data": 0, "bss": 0}
    assert parts["pack"] == {"flash": 0x100, "data": 0, "bss": 0x6800}
    assert parts["runtime"] == {"flash": 0x40 + 0x20, "data": 0x10, "bss": 0}  # start-up file and libc
    assert mb.map_breakdown("no map here") == {}


def test_smallest_arena_bisects_to_the_step(mb):
    tried = []

    def runs(size):
        tried.append(size)
        return size >= 19_205

    assert mb.smallest_arena(runs, 4 * 26_624) == 19_208  # the first multiple of 4 that works
    assert len(tried) < 40
    assert mb.smallest_arena(lambda size: False, 1024) is None


def test_compare_outputs_counts_identical_rows_labels_and_steps(mb):
    reference = np.array([[1, 2, 3], [5, 0, 0], [0, 0, 9]], np.int8)
    built = reference.copy()
    built[1, 1] = 7  # label changes (1 instead of 0), 7 steps apart
    built[2, 0] = 1  # same label, one step
    got = mb.compare_outputs(built, reference)
    assert got == {"images": 3, "bit_identical": 1, "same_label": 2, "max_step_diff": 7, "first_differences": [1, 2]}


def test_model_kernel_sources_pick_the_operators_files_from_tflms_list(mb):
    listed = ["k/cmsis_nn/conv.cc", "k/conv_common.cc", "k/depthwise_conv.cc", "k/cmsis_nn/pooling.cc", "k/pooling_common.cc",
              "k/reshape.cc", "k/reshape_common.cc", "k/cmsis_nn/fully_connected.cc", "k/fully_connected_common.cc",
              "k/cmsis_nn/softmax.cc", "k/softmax_common.cc", "k/shape.cc", "k/strided_slice.cc",
              "k/strided_slice_common.cc", "k/pack.cc", "k/unpack.cc", "k/kernel_util.cc", "k/micro_tensor_utils.cc",
              "k/add.cc", "signal/src/window.cc"]
    chosen = mb.model_kernel_sources(listed, OPERATORS)
    assert chosen == [s for s in listed if s not in ("k/depthwise_conv.cc", "k/unpack.cc", "k/add.cc", "signal/src/window.cc")]


def test_cmsis_nn_sources_are_the_operators_folders_without_float_files(mb, tmp_path):
    source = tmp_path / mb._CMSIS_NN_DIR / "Source"
    for name in ("ConvolutionFunctions/arm_convolve_s8.c", "ConvolutionFunctions/arm_convolve_f32.c",
                 "NNSupportFunctions/arm_nntables.c", "NNSupportFunctions/arm_nntables_flt.c",
                 "SoftmaxFunctions/arm_softmax_s8.c", "SVDFunctions/arm_svdf_s8.c", "PoolingFunctions/arm_max_pool_s8.c"):
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text("")
    got = mb.cmsis_nn_sources(tmp_path, ["CONV_2D", "SOFTMAX", "RESHAPE"])
    assert got == [f"{mb._CMSIS_NN_DIR}/Source/{name}" for name in
                   ("ConvolutionFunctions/arm_convolve_s8.c", "NNSupportFunctions/arm_nntables.c",
                    "SoftmaxFunctions/arm_softmax_s8.c")]


def test_model_bytes_read_back_from_a_packs_array(mb, tmp_path):
    from edgedigits.export.micro import _c_bytes

    data = bytes(range(256)) * 3 + b"\x07"
    (tmp_path / "edgedigits_model.cc").write_text('#include "edgedigits_model.h"\n\nalignas(16) const unsigned char '
                                                  f"g_edgedigits_model[] = {{\n{_c_bytes(data)}\n}};\n")
    assert mb._model_bytes(tmp_path) == data

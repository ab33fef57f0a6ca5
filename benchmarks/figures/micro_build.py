"""Build the microcontroller pack against TensorFlow Lite Micro's own sources, run it, and measure it.

Usage (toolkit installed; a tflite-micro source tree whose third-party downloads are in place or reachable):

  python benchmarks/figures/micro_build.py --tflm DIR (--pack DIR | --model FILE)
      [--target host|cortex-m4] [--kernels reference|cmsis_nn] [--images N] [--work DIR] [--data-dir DIR]

What it does, the way an embedded engineer would:

1. the pack (``--pack``, an ``edgedigits export --micro`` folder; or ``--model``: a pack made from an int8
   ``.tflite`` with ``build_micro_pack`` on the first ``--images`` test images) is copied to ``--work``;
2. ``make TFLM_DIR=... TFLM_ARGS=...`` with the pack's own Makefile: TFLM's Makefile builds its library for the
   target (host: x86-64 Linux; cortex-m4: TFLM's ``cortex_m_qemu`` target, run by ``qemu-arm -cpu cortex-m4``
   with semihosting), the pack's ``main.cc`` is linked against it and run: exit code, its lines, the arena
   TFLM reports (``arena_used_bytes()``);
3. a batch program (``BATCH_SOURCE``: the same interpreter set-up as ``main.cc``, reading raw 28x28 images from a
   file) built the same way runs ``--images`` MNIST test images; its int8 outputs are compared with the Python
   ``tflite-micro`` interpreter's (the export's check) on the same inputs;
4. the smallest arena in which the built program allocates and runs (bisection, on the target);
5. sizes: ``size`` of both programs and, from the link map, what TFLM's library, the model array, the pack's
   code and the C/C++ runtime libraries each put in flash and RAM.

Prints a summary and one JSON line. QEMU times are not speed figures and are not reported.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]

TARGETS = ("host", "cortex-m4")
KERNELS = ("reference", "cmsis_nn")

# The batch program: main.cc's set-up, then every 784-byte image of a file through the interpreter.
BATCH_SOURCE = r"""// edgedigits micro_build.py: run raw 28x28 uint8 images through the pack, write the int8 outputs.
// usage: edgedigits_batch IMAGES.u8 OUTPUTS.i8 [ARENA_BYTES]
#include <stdio.h>
#include <stdlib.h>

#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/system_setup.h"
#include "tensorflow/lite/schema/schema_generated.h"

#include "edgedigits_model.h"
#include "edgedigits_ops.h"
#include "edgedigits_quantize.h"

#define BATCH_ARENA_MAX (4 * EDGEDIGITS_ARENA_SIZE)
alignas(16) static uint8_t tensor_arena[BATCH_ARENA_MAX];

int main(int argc, char** argv) {
  tflite::InitializeTarget();
  if (argc < 3) return 9;
  long arena = argc > 3 ? atol(argv[3]) : EDGEDIGITS_ARENA_SIZE;
  if (arena <= 0 || arena > BATCH_ARENA_MAX) return 9;
  const tflite::Model* model = tflite::GetModel(g_edgedigits_model);
  static EdgeDigitsOpResolver resolver;
  if (EdgeDigitsRegisterOps(resolver) != kTfLiteOk) return 1;
  static tflite::MicroInterpreter interpreter(model, resolver, tensor_arena, static_cast<size_t>(arena));
  if (interpreter.AllocateTensors() != kTfLiteOk) return 2;
  FILE* in = fopen(argv[1], "rb");
  FILE* out = fopen(argv[2], "wb");
  if (in == nullptr || out == nullptr) return 8;
  static uint8_t pixels[28 * 28];
  int n = 0;
  while (fread(pixels, 1, sizeof(pixels), in) == sizeof(pixels)) {
    EdgeDigitsQuantizeImage(pixels, interpreter.input(0)->data.int8);
    if (interpreter.Invoke() != kTfLiteOk) return 3;
    fwrite(interpreter.output(0)->data.int8, 1, EDGEDIGITS_NUM_CLASSES, out);
    ++n;
  }
  fclose(in);
  fclose(out);
  printf("edgedigits-batch: images %d arena_used %d arena_given %ld sizeof_pointer %d\n", n,
         static_cast<int>(interpreter.arena_used_bytes()), arena, static_cast<int>(sizeof(void*)));
  return 0;
}
"""


def tflm_args(target: str, kernels: str) -> list[str]:
    """The ``TFLM_ARGS`` (TFLM Makefile variables) for a target and kernel set.

    Raises:
      ValueError: an unknown target or kernel set, or CMSIS-NN on the host.
    """
    if target not in TARGETS or kernels not in KERNELS:
        raise ValueError(f"target must be one of {TARGETS} and kernels one of {KERNELS}")
    if target == "host":
        if kernels != "reference":
            raise ValueError("CMSIS-NN kernels are for Arm Cortex-M: use --target cortex-m4")
        return []
    args = ["TARGET=cortex_m_qemu", "TARGET_ARCH=cortex-m4"]
    return args + (["OPTIMIZED_KERNEL_DIR=cmsis_nn"] if kernels == "cmsis_nn" else [])


def command(target: str, program: str, *args: str) -> list[str]:
    """The command that runs a built program with its arguments.

    Cortex-M4: QEMU's system emulator, board mps2-an386 (a Cortex-M4), semihosting for the program's output,
    arguments, files and exit code (TFLM's own ``cortex_m_qemu`` target runs its programs with ``qemu-arm -cpu
    cortex-m4``, QEMU's user mode, whose Debian 12 build, 7.2, aborts on every Cortex-M program, even a hello world).

    Raises:
      FileNotFoundError: the emulator is not installed.
    """
    if target == "host":
        return [program, *args]
    qemu = shutil.which("qemu-system-arm")
    if qemu is None:
        raise FileNotFoundError("qemu-system-arm (Debian: qemu-system-arm) is needed to run Cortex-M programs")
    if any("," in a for a in (program, *args)):
        raise ValueError("QEMU's semihosting arguments cannot contain a comma")
    semihosting = ",".join(["enable=on,target=native", *(f"arg={a}" for a in (program, *args))])
    return [qemu, "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none",
            "-semihosting-config", semihosting, "-kernel", program]


# Linking for QEMU's mps2-an386: its memory map, and a start-up file (vector table, .data/.bss, C++ constructors,
# newlib's semihosting handles, argv from SYS_GET_CMDLINE, exit code through semihosting). TFLM's library and the pack
# are compiled by TFLM's cortex_m_qemu target as they are; only the link uses these (with -nostartfiles).
MPS2_LINKER_SCRIPT = """/* Arm MPS2 AN386 (Cortex-M4) as QEMU's mps2-an386 models it:
   4 MiB SSRAM1 at 0 (code), 4 MiB SSRAM2/3 at 0x20000000. */
MEMORY
{
  FLASH (rx)  : ORIGIN = 0x00000000, LENGTH = 4M
  RAM   (rwx) : ORIGIN = 0x20000000, LENGTH = 4M
}
ENTRY(Reset_Handler)
SECTIONS
{
  .text :
  {
    KEEP(*(.vectors))
    *(.text*)
    KEEP(*(.init))
    KEEP(*(.fini))
    *(.rodata*)
    . = ALIGN(4);
    __preinit_array_start = .;
    KEEP(*(.preinit_array))
    __preinit_array_end = .;
    __init_array_start = .;
    KEEP(*(SORT(.init_array.*)))
    KEEP(*(.init_array))
    __init_array_end = .;
    __fini_array_start = .;
    KEEP(*(SORT(.fini_array.*)))
    KEEP(*(.fini_array))
    __fini_array_end = .;
  } > FLASH
  .ARM.extab : { *(.ARM.extab* .gnu.linkonce.armextab.*) } > FLASH
  .ARM.exidx : { __exidx_start = .; *(.ARM.exidx* .gnu.linkonce.armexidx.*) __exidx_end = .; } > FLASH
  . = ALIGN(4);
  __etext = .;
  .data : AT(__etext)
  {
    __data_start__ = .;
    *(.data*)
    . = ALIGN(4);
    __data_end__ = .;
  } > RAM
  .bss (NOLOAD) :
  {
    __bss_start__ = .;
    *(.bss*)
    *(COMMON)
    . = ALIGN(4);
    __bss_end__ = .;
  } > RAM
  end = .;
  __end__ = .;
  __StackTop = ORIGIN(RAM) + LENGTH(RAM);
}
"""

MPS2_STARTUP = r"""/* Minimal start-up for QEMU's mps2-an386 (Cortex-M4): vector table, .data/.bss, C++ constructors, newlib's semihosting
   (rdimon) handles, the command line from semihosting SYS_GET_CMDLINE as argv, main, exit(code) through semihosting. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

extern uint32_t __etext, __data_start__, __data_end__, __bss_start__, __bss_end__, __StackTop;
extern int main(int argc, char** argv);
extern void initialise_monitor_handles(void);
extern void __libc_init_array(void);
void _init(void) {}
void _fini(void) {}
void* __dso_handle = 0; /* crtbegin.o's, for static objects' destructors (-nostartfiles leaves it out) */

static int semihost(int op, void* arg) {
  register int r0 __asm__("r0") = op;
  register void* r1 __asm__("r1") = arg;
  __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
  return r0;
}

static char cmdline[1024];
static char* argv[32];

void Reset_Handler(void) {
  uint32_t* src = &__etext;
  for (uint32_t* dst = &__data_start__; dst < &__data_end__;) *dst++ = *src++;
  for (uint32_t* dst = &__bss_start__; dst < &__bss_end__;) *dst++ = 0;
  __asm__ volatile("ldr r0, =0xE000ED88\n ldr r1, [r0]\n orr r1, r1, #(0xF << 20)\n str r1, [r0]" ::: "r0", "r1", "memory");
  initialise_monitor_handles();
  __libc_init_array();
  int argc = 0;
  struct { char* buffer; int size; } block = {cmdline, sizeof(cmdline) - 1};
  if (semihost(0x15, &block) == 0) {  /* SYS_GET_CMDLINE */
    cmdline[block.size] = 0;
    for (char* p = strtok(cmdline, " "); p != NULL && argc < 31; p = strtok(NULL, " ")) argv[argc++] = p;
  }
  argv[argc] = NULL;
  exit(main(argc, argv));
}

static void Fault_Handler(void) {
  static const char message[] = "edgedigits-mps2: fault\n";
  semihost(0x04, (void*)message); /* SYS_WRITE0 */
  exit(100);
}

__attribute__((section(".vectors"), used)) static const void* vectors[16] = {
    &__StackTop, (void*)Reset_Handler, (void*)Fault_Handler, (void*)Fault_Handler, (void*)Fault_Handler,
    (void*)Fault_Handler, (void*)Fault_Handler, 0, 0, 0, 0, (void*)Fault_Handler, (void*)Fault_Handler, 0,
    (void*)Fault_Handler, (void*)Fault_Handler};
"""


def _mps2_link(work: Path) -> str:
    """Compile the start-up file; the link flags (LDEXTRA) that place a program on mps2-an386."""
    (work / "mps2_an386.ld").write_text(MPS2_LINKER_SCRIPT)
    (work / "mps2_startup.c").write_text(MPS2_STARTUP)
    done = subprocess.run(["arm-none-eabi-gcc", "-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=soft", "--specs=rdimon.specs",
                           "-O2", "-Wall", "-c", str(work / "mps2_startup.c"), "-o", str(work / "mps2_startup.o")],
                          capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the mps2-an386 start-up file did not compile: {done.stderr}")
    return f"-nostartfiles -T {work / 'mps2_an386.ld'} {work / 'mps2_startup.o'}"


# TFLM kernel file (stem, in tensorflow/lite/micro/kernels/ or its optimized copy) of a builtin operator, when it is
# not the operator's name in lower case; each kernel also has a ``<stem>_common.cc`` in most TFLM versions.
_KERNEL_FILES = {"CONV_2D": "conv", "DEPTHWISE_CONV_2D": "depthwise_conv", "MAX_POOL_2D": "pooling",
                 "AVERAGE_POOL_2D": "pooling"}
_KERNEL_SUPPORT = ("kernel_util", "micro_tensor_utils")
# CMSIS-NN source folders (Source/<name>Functions) a builtin operator's CMSIS-NN kernel calls.
_CMSIS_NN_FOLDERS = {"CONV_2D": "Convolution", "DEPTHWISE_CONV_2D": "Convolution", "FULLY_CONNECTED": "FullyConnected",
                     "MAX_POOL_2D": "Pooling", "AVERAGE_POOL_2D": "Pooling", "SOFTMAX": "Softmax"}


def model_kernel_sources(sources: list[str], operators: list[str]) -> list[str]:
    """The kernel sources of TFLM's list (``MICROLITE_CC_KERNEL_SRCS``, already specialized for the optimized
    kernel dir) that the model's operators need: their files, their ``_common`` files and the kernel utilities."""
    stems = set(_KERNEL_SUPPORT)
    for op in operators:
        stem = _KERNEL_FILES.get(op, op.lower())
        stems.update((stem, stem + "_common"))
    return [src for src in sources if Path(src).stem in stems]


_CMSIS_NN_DIR = "tensorflow/lite/micro/tools/make/downloads/cmsis_nn"


def cmsis_nn_sources(tflm: Path, operators: list[str]) -> list[str]:
    """CMSIS-NN's C sources the model's operators need, relative to the TFLM tree as TFLM's own list (int8 only, as
    TFLM's default build: no f16/f32 files)."""
    folders = {"NNSupport"} | {_CMSIS_NN_FOLDERS[op] for op in operators if op in _CMSIS_NN_FOLDERS}
    found = []
    for folder in sorted(folders):
        found += sorted(str(p.relative_to(tflm)) for p in (tflm / _CMSIS_NN_DIR / "Source" / f"{folder}Functions").rglob("*.c")
                        if not p.name.endswith(("_f16.c", "_f32.c")) and p.name != "arm_nntables_flt.c")
    return found


_MAIN_LINES = re.compile(r"edgedigits: digit (\d+) \(p=(\d+)/1000\), label (\d+).*?"
                         r"edgedigits: arena used (\d+) of (\d+) bytes \((\d+) measured at export\).*?"
                         r"edgedigits: (PASS|FAIL)", re.S)


def parse_main_output(text: str) -> dict:
    """The figures ``main.cc`` prints (its three ``edgedigits:`` lines).

    Raises:
      ValueError: the lines are not there (the program failed before printing them).
    """
    found = _MAIN_LINES.search(text)
    if found is None:
        raise ValueError(f"main printed no result: {text[-500:]!r}")
    digit, per_mille, label, used, size, measured, verdict = found.groups()
    return {"digit": int(digit), "p_per_mille": int(per_mille), "label": int(label), "arena_used": int(used),
            "arena_size": int(size), "arena_measured_at_export": int(measured), "passed": verdict == "PASS"}


def parse_batch_output(text: str) -> dict:
    """The batch program's summary line as numbers.

    Raises:
      ValueError: no summary line.
    """
    found = re.search(r"edgedigits-batch: images (\d+) arena_used (\d+) arena_given (\d+) sizeof_pointer (\d+)", text)
    if found is None:
        raise ValueError(f"the batch program printed no summary: {text[-500:]!r}")
    images, used, given, pointer = map(int, found.groups())
    return {"images": images, "arena_used": used, "arena_given": given, "pointer_bytes": pointer}


def parse_size(text: str) -> dict:
    """``size`` (Berkeley format) output: ``{"text", "data", "bss"}`` of the one file listed."""
    lines = [line.split() for line in text.strip().splitlines()]
    if len(lines) < 2 or lines[0][:3] != ["text", "data", "bss"]:
        raise ValueError(f"not the output of size: {text!r}")
    text_, data, bss = (int(v) for v in lines[1][:3])
    return {"text": text_, "data": data, "bss": bss}


# Output sections by where they live: flash only (code, constants), flash + RAM (initialised data), RAM only.
_FLASH = (".text", ".rodata", ".ARM.exidx", ".ARM.extab", ".eh_frame", ".eh_frame_hdr", ".init", ".fini", ".gcc_except_table")
_DATA = (".data", ".init_array", ".fini_array", ".preinit_array", ".tdata", ".data.rel.ro", ".got", ".got.plt")
_BSS = (".bss", ".tbss")


def _group(source: str) -> str:
    if re.search(r"libtensorflow-microlite[^/]*\.a\(", source):
        return "tflm"
    if "edgedigits_model" in source:
        return "model"
    if re.search(r"(main|edgedigits_batch)[^/]*\.o\b", source) or source.endswith(("main.o", "batch.o")):
        return "pack"
    return "runtime"  # libc, libm, libstdc++, libgcc, start-up files, linker stubs


def map_breakdown(text: str) -> dict:
    """Bytes each part of a program puts in flash-only sections, initialised data and zeroed RAM, from a GNU ld map.

    Parts: ``tflm`` (libtensorflow-microlite.a), ``model`` (edgedigits_model.cc: the array), ``pack`` (the main
    program), ``runtime`` (C/C++ libraries, start-up code). Returns ``{part: {"flash", "data", "bss"}}``.
    """
    start = text.find("Linker script and memory map")
    lines = text[start:].splitlines() if start >= 0 else []
    parts: dict = {}
    output = None
    pending = None  # an input section name alone on its line (the address, size and file on the next)
    for line in lines:
        if line and not line[0].isspace():  # an output section (or /DISCARD/, LOAD lines, ...): what follows belongs to it
            output = line.split()[0]
            pending = None
            continue
        entry = re.match(r"^ (\S+)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$", line)
        if entry is None:
            alone = re.match(r"^ (\S+)\s*$", line)
            pending = alone.group(1) if alone else None
            continue
        name = entry.group(1) or pending
        pending = None
        if name is None or name.startswith("*"):
            continue
        size, source = int(entry.group(3), 16), entry.group(4).strip()
        if output is None or size == 0 or source.startswith("load address"):
            continue
        kind = ("flash" if output.startswith(_FLASH) else "data" if output.startswith(_DATA)
                else "bss" if output.startswith(_BSS) or name == "COMMON" else None)
        if kind is None:
            continue
        part = parts.setdefault(_group(source), {"flash": 0, "data": 0, "bss": 0})
        part[kind] += size
    return parts


def smallest_arena(runs, high: int, step: int = 4) -> int | None:
    """Bisect the smallest arena size (bytes, to ``step``) for which ``runs(size)`` is true; None if ``high`` fails."""
    if not runs(high):
        return None
    low = 0
    while high - low > step:
        middle = (low + high) // 2 // step * step or step
        if middle <= low:
            break
        if runs(middle):
            high = middle
        else:
            low = middle
    return high


def compare_outputs(built: np.ndarray, reference: np.ndarray) -> dict:
    """Agreement of the built program's int8 outputs (N, 10) with the Python TFLM interpreter's."""
    n = len(reference)
    same = (built == reference).all(axis=1)
    steps = np.abs(built.astype(np.int16) - reference.astype(np.int16))
    return {"images": int(n), "bit_identical": int(same.sum()),
            "same_label": int((built.argmax(axis=1) == reference.argmax(axis=1)).sum()),
            "max_step_diff": int(steps.max()) if n else 0,
            "first_differences": np.flatnonzero(~same)[:10].tolist()}


def _python_tflm_outputs(model: bytes, inputs: np.ndarray, arena: int) -> np.ndarray:
    from tflite_micro.python.tflite_micro import runtime

    from edgedigits.export.micro import tflm_outputs

    return tflm_outputs(runtime.Interpreter.from_bytes(model, arena_size=arena), inputs)


def _make(pack: Path, tflm: Path, args: list[str], *extra: str, log: Path) -> subprocess.CompletedProcess:
    command = ["make", "-C", str(pack), f"TFLM_DIR={tflm}", "TFLM_ARGS=" + " ".join(args), *extra]
    done = subprocess.run(command, capture_output=True, text=True)
    with log.open("a") as out:
        out.write("$ " + " ".join(command) + f"\n{done.stdout}{done.stderr}(exit {done.returncode})\n")
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed (exit {done.returncode}), see {log}:\n{done.stderr[-2000:]}")
    return done


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tflm", required=True, help="a tflite-micro source tree")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--pack", help="a pack folder written by `edgedigits export --micro`")
    source.add_argument("--model", help="an int8 .tflite: a pack is made from it first")
    p.add_argument("--target", choices=TARGETS, default="host")
    p.add_argument("--kernels", choices=KERNELS, default="reference")
    p.add_argument("--images", type=int, default=1000, help="MNIST test images through the built program")
    p.add_argument("--library", choices=("full", "model"), default="full",
                   help="full: TFLM's whole library, as the pack's Makefile builds it; model: TFLM's Makefile with only "
                        "the kernels (and CMSIS-NN sources) the model's operators need, linked with TFLM_LIB (the "
                        "linker takes only the objects a program references from either library)")
    p.add_argument("--jobs", type=int, default=2, help="make -j for TFLM's library")
    p.add_argument("--work", default=None, help="folder for the copy of the pack and the builds (default: temporary)")
    p.add_argument("--data-dir", default=None)
    args = p.parse_args(argv)
    sys.path.insert(0, str(ROOT / "benchmarks" / "figures"))
    from machine import describe

    from edgedigits.export.micro import build_micro_pack, input_table, write_micro_pack
    from edgedigits_runtime.mnist import load_mnist

    build_args = tflm_args(args.target, args.kernels)
    command(args.target, "program")  # the emulator is there
    tflm = Path(args.tflm).resolve()
    images, labels = load_mnist("test", args.data_dir)
    images = images[: args.images]
    work = Path(args.work or tempfile.mkdtemp(prefix="micro_build_")).resolve()
    pack = work / "pack"
    if pack.exists():
        shutil.rmtree(pack)
    if args.pack:
        shutil.copytree(args.pack, pack)
        model = _model_bytes(pack)
    else:
        model = Path(args.model).read_bytes()
        write_micro_pack(build_micro_pack(model, images=images, example=(images[0], int(labels[0]))), pack)
    header = (pack / "edgedigits_model.h").read_text()
    defines = {k: int(v) for k, v in re.findall(r"#define (EDGEDIGITS_\w+) \(?(-?\d+)\)?\n", header)}
    log = work / f"build-{args.target}-{args.kernels}.log"
    log.unlink(missing_ok=True)
    (pack / "edgedigits_batch.cc").write_text(BATCH_SOURCE)

    result = {"machine": describe(), "tflm": str(tflm), "tflm_commit": _commit(tflm), "target": args.target,
              "kernels": args.kernels, "tflm_args": build_args, "model_size": len(model),
              "arena_size": defines["EDGEDIGITS_ARENA_SIZE"], "arena_measured_at_export": defines["EDGEDIGITS_ARENA_MEASURED"]}
    out = pack / "build" / (("_".join(build_args).replace("=", "-")) or "host")
    library = _library(tflm, build_args, args, model, work, log)
    extra = [f"TFLM_LIB={library}"] if library else []
    result["library"] = args.library
    link = _mps2_link(work) if args.target == "cortex-m4" else ""
    _make(pack, tflm, build_args, "all", f"LDEXTRA=-Wl,-Map={out}/main.map {link}", *extra, log=log)
    ran = subprocess.run(command(args.target, str(out / "main")), capture_output=True, text=True, timeout=600)
    result["main_exit"] = ran.returncode
    result["main"] = parse_main_output(ran.stdout + ran.stderr)
    result["main_output"] = [line for line in (ran.stdout + ran.stderr).splitlines() if line.startswith("edgedigits:")]
    size = subprocess.run(["arm-none-eabi-size" if args.target == "cortex-m4" else "size", str(out / "main")],
                          capture_output=True, text=True, check=True).stdout
    result["main_size"] = parse_size(size)
    result["main_parts"] = map_breakdown((out / "main.map").read_text())

    _make(pack, tflm, build_args, "all", "MAIN=edgedigits_batch.cc", f"LDEXTRA={link}", *extra, log=log)
    batch = out / "edgedigits_batch"
    table = _input_table(header, input_table)
    (work / "images.u8").write_bytes(np.ascontiguousarray(images, np.uint8).tobytes())
    ran = subprocess.run(command(args.target, str(batch), str(work / "images.u8"), str(work / "outputs.i8")), capture_output=True,
                         text=True, timeout=3600)
    if ran.returncode:
        raise RuntimeError(f"the batch program failed (exit {ran.returncode}): {ran.stdout[-500:]}{ran.stderr[-500:]}")
    result["batch"] = parse_batch_output(ran.stdout)
    built = np.frombuffer((work / "outputs.i8").read_bytes(), np.int8).reshape(-1, 10)
    reference = _python_tflm_outputs(model, table[images][..., None], 4 * result["arena_size"])
    result["vs_python_tflm"] = compare_outputs(built, reference)
    result["accuracy"] = float((built.argmax(axis=1) == labels[: len(built)]).mean())

    (work / "one.u8").write_bytes(np.ascontiguousarray(images[:1], np.uint8).tobytes())

    def runs(size: int) -> bool:
        done = subprocess.run(command(args.target, str(batch), str(work / "one.u8"), str(work / "one.i8"), str(size)),
                              capture_output=True, text=True, timeout=600)
        return done.returncode == 0

    result["arena_min_on_target"] = smallest_arena(runs, 4 * result["arena_size"])
    result["arena_size_runs"] = runs(result["arena_size"])
    _print(result)
    print(json.dumps(result))
    return 0 if result["main_exit"] == 0 and result["arena_size_runs"] else 1


def _tflm_variable(tflm: Path, build_args: list[str], name: str) -> str:
    done = subprocess.run(["make", "-s", "-C", str(tflm), "-f", "tensorflow/lite/micro/tools/make/Makefile", *build_args,
                           f"print-{name}"], capture_output=True, text=True)
    found = re.search(rf"^{name}=(.*)$", done.stdout, re.M)
    if found is None:
        raise RuntimeError(f"TFLM's Makefile did not print {name}: {done.stderr[-1000:]}")
    return found.group(1).strip()


def _library(tflm: Path, build_args: list[str], args, model: bytes, work: Path, log: Path) -> Path | None:
    """For ``--library model``: TFLM's Makefile builds the library with the model's kernels only; its copy's path."""
    if args.library == "full":
        return None
    from edgedigits.export.micro import model_operators

    operators = model_operators(model)
    sources = model_kernel_sources(_tflm_variable(tflm, build_args, "MICROLITE_CC_KERNEL_SRCS").split(), operators)
    overrides = [f"MICROLITE_CC_KERNEL_SRCS={' '.join(sources)}"]
    if "OPTIMIZED_KERNEL_DIR=cmsis_nn" in build_args:
        overrides.append(f"CMSIS_NN_CC_SRCS={' '.join(cmsis_nn_sources(tflm, operators))}")
    command = ["make", "-C", str(tflm), "-f", "tensorflow/lite/micro/tools/make/Makefile", f"-j{args.jobs}", *build_args,
               *overrides, "microlite"]
    done = subprocess.run(command, capture_output=True, text=True)
    with log.open("a") as out:
        out.write("$ " + " ".join(command) + f"\n{done.stdout}{done.stderr}(exit {done.returncode})\n")
    if done.returncode:
        raise RuntimeError(f"TFLM's library did not build (exit {done.returncode}), see {log}")
    gendir = _tflm_variable(tflm, build_args, "GENDIR")
    copy = work / f"libtensorflow-microlite-{'_'.join(build_args).replace('=', '-') or 'host'}-model.a"
    shutil.copyfile(tflm / gendir / "lib" / "libtensorflow-microlite.a", copy)
    return copy


def _model_bytes(pack: Path) -> bytes:
    """The model array of a pack's edgedigits_model.cc, as bytes."""
    text = (pack / "edgedigits_model.cc").read_text()
    body = text[text.index("{") + 1 : text.index("};")]
    return bytes(int(v, 16) for v in re.findall(r"0x([0-9a-f]{2})", body))


def _input_table(header: str, input_table) -> np.ndarray:
    scale = float(re.search(r"#define EDGEDIGITS_INPUT_SCALE ([0-9.e+-]+)f", header).group(1))
    zero = int(re.search(r"#define EDGEDIGITS_INPUT_ZERO_POINT \((-?\d+)\)", header).group(1))
    return input_table(scale, zero)


def _commit(tree: Path) -> str | None:
    done = subprocess.run(["git", "-C", str(tree), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def _print(r: dict) -> None:
    m = r["main"]
    print(f"target {r['target']} ({' '.join(r['tflm_args']) or 'host'}), kernels {r['kernels']}, TFLM {r['tflm_commit']}")
    print(f"main: exit {r['main_exit']}, digit {m['digit']} (label {m['label']}), arena used {m['arena_used']:,} of "
          f"{m['arena_size']:,} bytes (export measured {m['arena_measured_at_export']:,})")
    s = r["main_size"]
    print(f"main size: text {s['text']:,} data {s['data']:,} bss {s['bss']:,}")
    for part, v in sorted(r["main_parts"].items()):
        print(f"  {part:8s} flash {v['flash']:>8,}  data {v['data']:>6,}  bss {v['bss']:>7,}")
    c = r["vs_python_tflm"]
    print(f"batch: {c['images']:,} images, bit-identical to Python TFLM on {c['bit_identical']:,}, same label on "
          f"{c['same_label']:,} (max {c['max_step_diff']} steps apart), accuracy {r['accuracy']:.2%}; "
          f"arena used {r['batch']['arena_used']:,} ({r['batch']['pointer_bytes'] * 8}-bit pointers)")
    print(f"smallest arena that allocates and runs on the target: {r['arena_min_on_target']} bytes; "
          f"EDGEDIGITS_ARENA_SIZE {r['arena_size']:,} runs: {r['arena_size_runs']}")


if __name__ == "__main__":
    sys.exit(main())

"""A stand-in TensorFlow Lite Micro tree for the micro pack's tests (CI has no TFLM sources and no internet).

It has the few headers ``main.cc`` and the batch program of ``benchmarks/figures/micro_build.py`` include, each
declaring exactly the TFLM API they call (``tflite::InitializeTarget``, ``MicroPrintf``, ``MicroInterpreter``, the
resolver's ``Add...`` methods), a one-file "library" behind them, and a ``tensorflow/lite/micro/tools/make/Makefile``
that answers the pack's Makefile as TFLM's does (``print-VAR`` lines, a ``microlite`` target building
``GENDIR/lib/libtensorflow-microlite.a``, relative include paths). The interpreter it links is a fake whose
behaviour the environment sets:

- ``STUB_DIGIT=d``: ``Invoke`` answers digit ``d`` (int8 127 there, -128 elsewhere); ``STUB_COPY=1``: the outputs are
  the first 10 int8 inputs (so a caller can check what was fed);
- ``STUB_ARENA=n``: ``AllocateTensors`` needs ``n`` bytes (default 1000), ``arena_used_bytes()`` returns ``n``.

``GetModel`` answers a model of the wrong schema version unless ``InitializeTarget`` ran first, so a program that
skips it fails visibly.
"""

from __future__ import annotations

from pathlib import Path

from edgedigits.export.micro import resolver_method

_HEADERS = {
    "tensorflow/lite/core/c/common.h": """#pragma once
#include <stddef.h>
#include <stdint.h>
typedef enum { kTfLiteOk = 0, kTfLiteError = 1 } TfLiteStatus;
typedef union { int8_t* int8; uint8_t* uint8; } TfLitePtrUnion;
typedef struct { TfLitePtrUnion data; } TfLiteTensor;
""",
    "tensorflow/lite/schema/schema_generated.h": """#pragma once
#include <stdint.h>
#define TFLITE_SCHEMA_VERSION (3)
namespace tflite {
struct Model { uint32_t version_; uint32_t version() const { return version_; } };
const Model* GetModel(const void* buffer);
}  // namespace tflite
""",
    "tensorflow/lite/micro/micro_log.h": """#pragma once
void MicroPrintf(const char* format, ...);
""",
    "tensorflow/lite/micro/system_setup.h": """#pragma once
namespace tflite { void InitializeTarget(); }
""",
    "tensorflow/lite/micro/micro_interpreter.h": """#pragma once
#include "tensorflow/lite/core/c/common.h"
#include "tensorflow/lite/micro/micro_mutable_op_resolver.h"
#include "tensorflow/lite/schema/schema_generated.h"
namespace tflite {
class MicroInterpreter {
 public:
  MicroInterpreter(const Model* model, const MicroOpResolver& op_resolver, uint8_t* tensor_arena, size_t arena_size);
  TfLiteStatus AllocateTensors();
  TfLiteStatus Invoke();
  TfLiteTensor* input(size_t index);
  TfLiteTensor* output(size_t index);
  size_t arena_used_bytes() const;
 private:
  size_t arena_size_;
  bool allocated_ = false;
};
}  // namespace tflite
""",
}

_LIBRARY = r"""#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "tensorflow/lite/micro/micro_interpreter.h"
#include "tensorflow/lite/micro/micro_log.h"
#include "tensorflow/lite/micro/system_setup.h"

static bool initialized = false;
static int8_t input_data[28 * 28];
static int8_t output_data[10];
static TfLiteTensor input_tensor = {{input_data}};
static TfLiteTensor output_tensor = {{output_data}};
static tflite::Model good = {TFLITE_SCHEMA_VERSION}, bad = {0};

static long env(const char* name, long fallback) {
  const char* value = getenv(name);
  return value ? atol(value) : fallback;
}

void MicroPrintf(const char* format, ...) {
  va_list args;
  va_start(args, format);
  vprintf(format, args);
  va_end(args);
  printf("\r\n");
}

namespace tflite {
void InitializeTarget() { initialized = true; }
const Model* GetModel(const void* buffer) { return initialized && buffer ? &good : &bad; }
MicroInterpreter::MicroInterpreter(const Model*, const MicroOpResolver&, uint8_t*, size_t arena_size)
    : arena_size_(arena_size) {}
TfLiteStatus MicroInterpreter::AllocateTensors() {
  allocated_ = static_cast<long>(arena_size_) >= env("STUB_ARENA", 1000);
  return allocated_ ? kTfLiteOk : kTfLiteError;
}
TfLiteStatus MicroInterpreter::Invoke() {
  if (!allocated_) return kTfLiteError;
  long digit = env("STUB_DIGIT", 0);
  for (int i = 0; i < 10; ++i) output_data[i] = env("STUB_COPY", 0) ? input_data[i] : (i == digit ? 127 : -128);
  return kTfLiteOk;
}
TfLiteTensor* MicroInterpreter::input(size_t) { return &input_tensor; }
TfLiteTensor* MicroInterpreter::output(size_t) { return &output_tensor; }
size_t MicroInterpreter::arena_used_bytes() const { return static_cast<size_t>(env("STUB_ARENA", 1000)); }
}  // namespace tflite
"""

_MAKEFILE = """# A stand-in for TFLM's Makefile: the variables the pack's Makefile asks for, and the library.
GENDIR := gen/stub_host/
CXX := g++
CXXFLAGS := -std=c++17 -Wall -Wextra -Werror -Wdouble-promotion -Wsign-compare -Wvla -pedantic
CORE_OPTIMIZATION_LEVEL := -O1
INCLUDES := -I. -Itensorflow/lite/micro/tools/make/downloads
LDFLAGS :=
MICROLITE_LIBS := -lm
TARGET_TOOLCHAIN_PREFIX :=

print-%:
\t@echo '$*=$($*)'
\t@echo '  origin = $(origin $*)'

microlite: $(GENDIR)lib/libtensorflow-microlite.a

$(GENDIR)lib/libtensorflow-microlite.a: stub_library.cc
\tmkdir -p $(GENDIR)lib
\t$(CXX) $(CXXFLAGS) $(CORE_OPTIMIZATION_LEVEL) $(INCLUDES) -c stub_library.cc -o $(GENDIR)stub_library.o
\tar rcs $@ $(GENDIR)stub_library.o
"""


def write_stub_tflm(root: Path, operators: list[str]) -> Path:
    """Write the stand-in TFLM tree at ``root`` for a model with these builtin operators; returns ``root``."""
    root = Path(root)
    methods = "\n".join(f"  TfLiteStatus {resolver_method(op)}() {{ return kTfLiteOk; }}" for op in operators)
    files = dict(_HEADERS)
    files["tensorflow/lite/micro/micro_mutable_op_resolver.h"] = f"""#pragma once
#include <stddef.h>
#include "tensorflow/lite/core/c/common.h"
namespace tflite {{
class MicroOpResolver {{}};
template <unsigned int tOpCount>
class MicroMutableOpResolver : public MicroOpResolver {{
 public:
{methods}
}};
}}  // namespace tflite
"""
    files["stub_library.cc"] = _LIBRARY
    files["tensorflow/lite/micro/tools/make/Makefile"] = _MAKEFILE
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "tensorflow/lite/micro/tools/make/downloads").mkdir(exist_ok=True)
    return root

#!/usr/bin/env bash
# Install edgedigits-runtime in an emulated Raspberry Pi OS (made by setup.sh, which this runs first) the
# way a user would, and check that it gives the host's answers: same wheel, same shipped model, same
# labels on the same images (an MNIST test subset and photo-like JPEGs made here), same numbers read from photos of
# numbers (`read`), same labels on photo-path scenes (a desk or a thumb at the frame), same accuracy.
#
# Usage: bash benchmarks/pi_emulation/run.sh [TARGET|all] [WORK]
#        TARGET: arm64-bookworm (default), arm64-trixie, armhf-bookworm (see targets.sh); all: each in turn,
#        then the table of them (table.py). WORK default: /tmp/edgedigits-pi (outside the repository).
# Env:   PI=pi3|pi4|pi5   board to mimic (fake cpuinfo/sysfs/model + qemu -cpu); default: the target's first
#        SOURCE=head|worktree  build the runtime wheel from the last commit (default) or the working tree
#        LIMIT=500        MNIST test images compared label by label (the first LIMIT)
#        EVALUATE=1|0     also `edgedigits-rt evaluate` on the full test set (default 1)
#        TESTS=none|all|"-k expr"  pytest tests/runtime inside the emulation, one process per file (default none)
#        TEST_FILES="test_watch.py test_own_model.py"  only these files of tests/runtime (default: every test_*.py
#                         there; serve/ files need the serve extra's wheels: serve.sh's WORK/TARGET/wheels-serve)
#        MARKS="not slow"  pytest -m expression for those files (default: none, every test)
#        MNIST=folder     the MNIST files (default: $EDGEDIGITS_DATA)
#        PYTHON=python3   host Python (builds the wheel, makes the host reference venvs)
#
# Timings printed inside the emulation are qemu's, not a Pi's: they mean nothing about performance.
# Writes WORK/TARGET/run/{logs/,summary.txt,result.json}; exits 1 if any check failed.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source=targets.sh
. "$HERE/targets.sh"
WORK_ARG="${2:-${EDGEDIGITS_PI_WORK:-/tmp/edgedigits-pi}}"
if [ "${1:-}" = all ]; then
  rc=0
  for t in $TARGETS; do bash "$0" "$t" "$WORK_ARG" || rc=1; done
  "${PYTHON:-python3}" "$HERE/table.py" "$WORK_ARG"
  exit "$rc"
fi
target_load "${1:-arm64-bookworm}" || exit 1
bash "$HERE/setup.sh" "$TARGET" "$WORK_ARG" > /dev/null || { echo "error: setup.sh $TARGET failed (run it alone to see why)" >&2; exit 1; }
WORK="$(cd "$WORK_ARG" && pwd)"; T="$WORK/$TARGET"
PI="${PI:-$(board_default)}"
board_cpu "$PI" > /dev/null && board_install "$T" "$PI" || { echo "error: PI must be one of $BOARDS for $TARGET" >&2; exit 1; }
SOURCE="${SOURCE:-head}"; LIMIT="${LIMIT:-500}"; EVALUATE="${EVALUATE:-1}"; TESTS="${TESTS:-none}"
MNIST="$(cd "${MNIST:-${EDGEDIGITS_DATA:?set EDGEDIGITS_DATA or MNIST to the MNIST folder}}" && pwd)" || exit 1
PYTHON="${PYTHON:-python3}"

RUN="$T/run"; LOGS="$RUN/logs"
rm -rf "$RUN"; mkdir -p "$LOGS" "$RUN/src" "$RUN/dist" "$RUN/share/digits" "$RUN/share/numbers" "$RUN/share/scenes" "$RUN/home"
SUMMARY="$RUN/summary.txt"; : > "$SUMMARY"
FAILED=0
log() { printf '\n== [%s] %s\n' "$TARGET" "$*"; }
note "target: $TARGET ($DESCRIPTION), board $PI (qemu -cpu $(board_cpu "$PI"))"

# --- 1. the runtime wheel, built on the host ------------------------------------------------------
if [ "$SOURCE" = head ]; then
  git -C "$REPO" archive HEAD runtime tests/runtime tests/conftest.py pyproject.toml scripts | tar -x -C "$RUN/src" \
    || { echo "error: git archive of $REPO failed" >&2; exit 1; }
  note "source: commit $(git -C "$REPO" rev-parse --short HEAD)"
elif [ "$SOURCE" = worktree ]; then
  mkdir -p "$RUN/src/tests"
  cp -r "$REPO/runtime" "$RUN/src/runtime"; cp -r "$REPO/tests/runtime" "$RUN/src/tests/runtime"
  cp "$REPO/tests/conftest.py" "$RUN/src/tests/"; cp "$REPO/pyproject.toml" "$RUN/src/"; cp -r "$REPO/scripts" "$RUN/src/"
  find "$RUN/src" -name __pycache__ -prune -exec rm -rf {} +; rm -rf "$RUN/src/runtime/build" "$RUN/src/runtime"/*.egg-info
  note "source: working tree of $(git -C "$REPO" rev-parse --short HEAD) (uncommitted changes included)"
else
  echo "error: SOURCE must be head or worktree, got '$SOURCE'" >&2; exit 1
fi
"$PYTHON" -m pip wheel -q --disable-pip-version-check --no-deps -w "$RUN/dist" "$RUN/src/runtime" \
  2> >(grep -v "^WARNING: Location '.*' is ignored" >&2) || { echo "error: building the runtime wheel failed" >&2; exit 1; }
WHEEL="$(cd "$RUN/dist" && ls edgedigits_runtime-*-py3-none-any.whl 2>/dev/null | head -1)"
[ -n "$WHEEL" ] || { echo "error: no pure-Python edgedigits_runtime wheel in $RUN/dist" >&2; exit 1; }
note "wheel: $WHEEL"

# --- 2. host reference: the same wheel in fresh x86-64 venvs (packages from the index) -------------
log "host reference venvs"
_host_venv() {  # dir extras: an x86-64 venv holding this wheel (reinstalled) with its extras from the index
  local key; key="$(sha256sum "$RUN/dist/$WHEEL" | cut -c1-16) $2"
  [ -x "$1/bin/python" ] && [ "$(cat "$1/.edgedigits-wheel" 2>/dev/null)" = "$key" ] && return 0   # already this wheel
  if [ ! -x "$1/bin/python" ]; then "$PYTHON" -m venv "$1"; fi
  "$1/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$RUN/dist/$WHEEL" \
    2> >(grep -v "^WARNING: Location '.*' is ignored" >&2)
  "$1/bin/python" -m pip install -q --disable-pip-version-check "$RUN/dist/$WHEEL[$2]" \
    2> >(grep -v "^WARNING: Location '.*' is ignored" >&2) && echo "$key" > "$1/.edgedigits-wheel"
}
declare -A HOST_VENV=([litert]="$T/host-venv" [tflite-runtime]="$T/host-venv-tflite")   # per target: runs may overlap
_host_venv "${HOST_VENV[litert]}" litert,onnx,image   # the reference every target is also compared with
for extras in "$EXTRAS" "$FALLBACK_EXTRAS"; do   # the same interpreter as the target's, on the host
  [ "${extras%%,*}" = tflite-runtime ] && _host_venv "${HOST_VENV[tflite-runtime]}" tflite-runtime,image
done
HV="${HOST_VENV[litert]}"

# The images: the first LIMIT MNIST test digits as PNG files, and photo-like JPEGs (tests/runtime/photos.py:
# enlarged, off-centre, dark ink on lit paper or chalk on a board, rotated, noisy, RGB) of 12 later ones.
# For `read`: 14 photos of whole numbers (6 of photos.py's: apart, touching, overlapping; 8 of scenes.py's
# conditions: shadow, ruled paper, a decimal point, a minus, ...). For `predict` on the photo path's scenes:
# 6 one-digit photos with a desk or a thumb at the frame and 2 photos without a digit (scenes.py).
"$HV/bin/python" - "$MNIST" "$RUN/share" "$LIMIT" "$RUN/src/tests/runtime" <<'EOF' || exit 1
import sys
from pathlib import Path
import numpy as np
from PIL import Image
sys.path.insert(0, sys.argv[4])
from photos import make_photo, number_photos
from scenes import frame_clutter_scene, no_digit_scene, scene
from edgedigits_runtime.mnist import load_mnist

images, labels = load_mnist("test", sys.argv[1], download=False)
share, limit = Path(sys.argv[2]), int(sys.argv[3])
out = share / "digits"
for i in range(limit):
    Image.fromarray(images[i]).save(out / f"mnist{i:05d}_is{labels[i]}.png")
rng = np.random.default_rng(12)
for n, i in enumerate(range(9000, 9012)):
    (out / f"photo{i:05d}_is{labels[i]}.jpg").write_bytes(make_photo(images[i], rng, invert=n % 4 != 3))
pool, pool_labels = images[9100:], labels[9100:]
for n, (photo, number, style) in enumerate(number_photos(pool, pool_labels, 6, seed=15)):
    (share / "numbers" / f"number{n:02d}{style}_is{number}.jpg").write_bytes(photo)
rng = np.random.default_rng(16)
for n, condition in enumerate(("plain", "shadow", "ruled", "decimal_point", "minus", "colours", "tilt", "thin_pen")):
    photo, number = scene(pool, pool_labels, rng, condition)
    (share / "numbers" / f"scene{n:02d}{condition.replace('_', '')}_is{number}.jpg").write_bytes(photo)
for n, kind in enumerate(("desk", "desk", "desk", "desk", "thumb", "thumb")):
    photo, digit = frame_clutter_scene(pool, pool_labels, rng, kind)
    (share / "scenes" / f"{kind}{n:02d}_is{digit}.jpg").write_bytes(photo)
for n, kind in enumerate(("objects", "textures")):
    (share / "scenes" / f"nodigit{n:02d}{kind}_isnone.jpg").write_bytes(no_digit_scene(rng, kind))
print(limit, "MNIST PNGs and 12 photo JPEGs; 14 number photos; 8 scenes")
EOF

# --- 3. the emulated Pi: fresh venv, offline install from the target's wheels ----------------------
log "emulated $PI: venv and install (slow under qemu: minutes)"
check pi-machine guest_python "$T" "$PI" -c "import platform, struct, sys; print(platform.machine(), 8 * struct.calcsize('P'), 'bit', platform.python_version(), platform.libc_ver()); sys.exit(platform.machine() not in ('aarch64', 'armv7l'))"
note "  $(tail -1 "$LOGS/pi-machine.log")"

_install() {  # venv extras wheels-dir: what the user types, made offline
  # shellcheck disable=SC2086
  check "pi-venv-$(basename "$1")" guest_venv "$T" "$PI" "$1" $VENV_FLAGS
  check "pi-install-$(basename "$1")" _pi "$1/bin/pip" install --no-index --find-links "$3" --find-links "$RUN/dist" \
    "edgedigits-runtime[$2]"
  note "  $(basename "$1") ${VENV_FLAGS:+($VENV_FLAGS) }: $(_pi "$1/bin/pip" list --format=freeze 2>/dev/null | grep -Ei '^(edgedigits|ai-edge|tflite|onnxruntime|numpy|pillow|opencv)' | tr '\n' ' ')"
}
VENV="$RUN/venv"
_install "$VENV" "$EXTRAS" "$T/wheels"
BACKEND="${EXTRAS%%,*}"   # the target's first extra is its interpreter
cd "$RUN/home" || exit 1   # not the checkout: python -c puts the current folder on sys.path
check pi-no-tensorflow _pi "$VENV/bin/python" -c "
import importlib.util, sys, edgedigits_runtime
bad = [m for m in ('tensorflow', 'edgedigits') if importlib.util.find_spec(m)]
loaded = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'edgedigits')]
print('importable:', bad, 'loaded:', loaded); sys.exit(bool(bad or loaded))"
# doctor: exit 0 = an interpreter works and the shipped model verifies and gives the test digit's label
_doctor() { _pi "$VENV/bin/edgedigits-rt" doctor --json > "$LOGS/pi-doctor.json"; }
check pi-doctor _doctor

# --- 4. the commands, compared with the host ------------------------------------------------------
log "edgedigits-rt info / predict / read / evaluate inside the emulation, and on the host"
HVB="${HOST_VENV[$BACKEND]}"
(cd "$RUN/share/digits" && "$HVB/bin/edgedigits-rt" info --json --backend "$BACKEND") > "$LOGS/host-info.json" 2> "$LOGS/host-info.err"
(cd "$RUN/share/digits" && "$HVB/bin/edgedigits-rt" predict . --json --top-k 3 --backend "$BACKEND") \
  > "$LOGS/host-predict.jsonl" 2> "$LOGS/host-predict.err"
(cd "$RUN/share/digits" && "$HV/bin/edgedigits-rt" predict . --json --top-k 3 --backend litert) \
  > "$LOGS/host-predict-litert.jsonl" 2> "$LOGS/host-predict-litert.err"
(cd "$RUN/share/digits" && GUEST_ENV="PWD=$RUN/share/digits" check pi-info _pi "$VENV/bin/edgedigits-rt" info --json)
(cd "$RUN/share/digits" && _pi "$VENV/bin/edgedigits-rt" predict . --json --top-k 3) > "$LOGS/pi-predict.jsonl" 2> "$LOGS/pi-predict.err"

_compare() { "$HV/bin/python" "$HERE/compare.py" "$@"; }
check same-info-as-host _compare info "$LOGS/host-info.json" "$LOGS/pi-info.log"
check same-labels-as-host _compare predict "$LOGS/host-predict.jsonl" "$LOGS/pi-predict.jsonl" --result "$RUN/result-predict.json"
note "  $(tail -1 "$LOGS/same-labels-as-host.log")"
if [ "$BACKEND" != litert ]; then
  _compare predict "$LOGS/host-predict-litert.jsonl" "$LOGS/pi-predict.jsonl" --result "$RUN/result-predict-litert.json" \
    > "$LOGS/labels-vs-host-litert.log" 2>&1
  note "  against the host's litert: $(tail -1 "$LOGS/labels-vs-host-litert.log")"
fi
# `read` on the number photos and `predict` on the scenes: the photo path and the reader, compared with the host
for what in read predict; do
  folder="$RUN/share/$([ "$what" = read ] && echo numbers || echo scenes)"
  (cd "$folder" && "$HVB/bin/edgedigits-rt" "$what" . --json --backend "$BACKEND") > "$LOGS/host-$what-photos.jsonl" \
    2> "$LOGS/host-$what-photos.err"
  (cd "$folder" && _pi "$VENV/bin/edgedigits-rt" "$what" . --json) > "$LOGS/pi-$what-photos.jsonl" 2> "$LOGS/pi-$what-photos.err"
  check "same-$what-photos-as-host" _compare "$what" "$LOGS/host-$what-photos.jsonl" "$LOGS/pi-$what-photos.jsonl" \
    --result "$RUN/result-$what-photos.json"
  note "  $(tail -1 "$LOGS/same-$what-photos-as-host.log")"
done
if [ "$EVALUATE" = 1 ]; then
  "$HVB/bin/edgedigits-rt" evaluate --data-dir "$MNIST" --json --backend "$BACKEND" > "$LOGS/host-evaluate.json" 2> "$LOGS/host-evaluate.err"
  check pi-evaluate-run _pi "$VENV/bin/edgedigits-rt" evaluate --data-dir "$MNIST" --json
  grep '^{' "$LOGS/pi-evaluate-run.log" | tail -1 > "$LOGS/pi-evaluate.json"
  check same-accuracy-as-host _compare evaluate "$LOGS/host-evaluate.json" "$LOGS/pi-evaluate.json" --result "$RUN/result-evaluate.json"
  note "  $(tail -1 "$LOGS/same-accuracy-as-host.log")"
fi

# --- 5. a fallback interpreter in its own venv (arm64-bookworm: tflite-runtime, numpy<2) ------------
if [ -n "$FALLBACK_EXTRAS" ]; then
  log "fallback: $FALLBACK_EXTRAS"
  FB="$RUN/venv-fallback"; FBB="${FALLBACK_EXTRAS%%,*}"
  _install "$FB" "$FALLBACK_EXTRAS" "$T/wheels-fallback"
  (cd "$RUN/share/digits" && "${HOST_VENV[$FBB]}/bin/edgedigits-rt" predict . --json --top-k 3 --backend "$FBB") \
    > "$LOGS/host-predict-fallback.jsonl" 2> "$LOGS/host-predict-fallback.err"
  (cd "$RUN/share/digits" && _pi "$FB/bin/edgedigits-rt" predict . --json --top-k 3 --backend "$FBB") \
    > "$LOGS/pi-predict-fallback.jsonl" 2> "$LOGS/pi-predict-fallback.err"
  check same-labels-as-host-fallback _compare predict "$LOGS/host-predict-fallback.jsonl" "$LOGS/pi-predict-fallback.jsonl" \
    --result "$RUN/result-predict-fallback.json"
  note "  $(tail -1 "$LOGS/same-labels-as-host-fallback.log")"
fi

# --- 6. the runtime's tests inside the emulation --------------------------------------------------
if [ "$TESTS" != none ]; then
  log "pytest tests/runtime inside the emulation ($TESTS)"
  k_args=(); [ "$TESTS" != all ] && read -r -a k_args <<< "$TESTS"
  TV="$RUN/venv-test"
  _install "$TV" "$EXTRAS,test" "$T/wheels"
  # One pytest process per test file, each with a time limit: the whole suite in one process did not
  # finish under qemu-user (see RESULTS.md); file by file it does.
  m_args=(); [ -n "${MARKS:-}" ] && m_args=(-m "$MARKS")
  files=()
  if [ -n "${TEST_FILES:-}" ]; then
    for f in $TEST_FILES; do
      [ -e "$RUN/src/tests/runtime/$f" ] || { note "FAIL no tests/runtime/$f"; FAILED=1; continue; }
      files+=("$f")
    done
  else
    for f in "$RUN"/src/tests/runtime/test_*.py; do files+=("$(basename "$f")"); done
  fi
  for f in "${files[@]}"; do
    name="pi-pytest-$(printf '%s' "${f%.py}" | tr / -)"
    (cd "$RUN/src" && PI_TIMEOUT=1800 GUEST_ENV="EDGEDIGITS_DATA=$MNIST" check "$name" \
      _pi "$TV/bin/python" -m pytest "tests/runtime/$f" -q -p no:cacheprovider --basetemp "$RUN/pytest-tmp" "${k_args[@]}" "${m_args[@]}")
    note "  $f: $(tail -1 "$LOGS/$name.log")"
  done
fi

"$HV/bin/python" - "$RUN" "$TARGET" "$DESCRIPTION" "$PI" "$(board_cpu "$PI")" "$BACKEND" "$INSTALL" "$FAILED" <<'EOF'
import json, sys
from pathlib import Path
run, target, description, board, cpu, backend, install, failed = sys.argv[1:]
run = Path(run)
part = lambda name: json.loads((run / name).read_text()) if (run / name).exists() else None
machine = (run / "logs/pi-machine.log").read_text().strip().splitlines()
try:
    doctor = json.loads((run / "logs/pi-doctor.json").read_text())
except (OSError, ValueError):
    doctor = None
result = {"target": target, "description": description, "board": board, "qemu_cpu": cpu, "backend": backend,
          "machine": machine[-1] if machine else None, "install": install, "all_checks_passed": failed == "0",
          "predict": part("result-predict.json"), "predict_vs_host_litert": part("result-predict-litert.json"),
          "read_photos": part("result-read-photos.json"), "predict_scenes": part("result-predict-photos.json"),
          "evaluate": part("result-evaluate.json"), "fallback_predict": part("result-predict-fallback.json"),
          "doctor": doctor, "summary": (run / "summary.txt").read_text()}
(run / "result.json").write_text(json.dumps(result, indent=2))
EOF
log "summary ($SUMMARY)"
cat "$SUMMARY"
exit "$FAILED"

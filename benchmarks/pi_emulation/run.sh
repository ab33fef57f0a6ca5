#!/usr/bin/env bash
# Install edgedigits-runtime in the emulated 64-bit Raspberry Pi made by setup.sh and check that it works
# there exactly as on the host: same wheel, same shipped model, same answers.
#
# Usage: bash benchmarks/pi_emulation/run.sh [WORK]      (default WORK: /tmp/edgedigits-pi; run setup.sh first)
# Env:   PI=pi4|pi5      which board to mimic (fake cpuinfo/sysfs, qemu -cpu cortex-a72|cortex-a76); default pi4
#        SOURCE=head|worktree  build the runtime wheel from the last commit (default) or the working tree
#        TESTS="-k expr" | all | none   pytest tests/runtime inside the emulation (default: all)
#        MNIST=folder    the MNIST files (default: $EDGEDIGITS_DATA, else /work/shared/data/mnist)
#        PYTHON=python3  host Python (builds the wheel, makes the host reference venv)
#
# Timings printed inside the emulation are qemu's, not a Pi's: they mean nothing about performance.
# Writes WORK/logs/ (every command's output) and WORK/summary.txt; exits 1 if any check failed.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
WORK="$(cd "${1:-${EDGEDIGITS_PI_WORK:-/tmp/edgedigits-pi}}" && pwd)" || exit 1
PI="${PI:-pi4}"
SOURCE="${SOURCE:-head}"
TESTS="${TESTS:-all}"
MNIST="$(cd "${MNIST:-${EDGEDIGITS_DATA:-/work/shared/data/mnist}}" && pwd)" || exit 1
PYTHON="${PYTHON:-python3}"
case "$PI" in pi4) QEMU_CPU=cortex-a72;; pi5) QEMU_CPU=cortex-a76;; *) echo "error: PI must be pi4 or pi5, got '$PI'" >&2; exit 1;; esac
for need in rootfs/.done wheels wheels-tflite "cpuinfo/$PI" "cpuinfo/sys-$PI"; do
  [ -e "$WORK/$need" ] || { echo "error: $WORK/$need is missing: run bash $HERE/setup.sh $WORK first" >&2; exit 1; }
done

LOGS="$WORK/logs"; rm -rf "$LOGS" "$WORK/pi-test"; mkdir -p "$LOGS" "$WORK/pi-test"
SUMMARY="$WORK/summary.txt"; : > "$SUMMARY"
FAILED=0
log() { printf '\n== %s\n' "$*"; }
note() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }
check() {  # name command...: run, log to LOGS/name.log, record PASS/FAIL
  local name="$1"; shift
  if "$@" > "$LOGS/$name.log" 2>&1; then note "PASS $name"; else note "FAIL $name (see $LOGS/$name.log)"; FAILED=1; fi
}

# Folders the commands read (share/, src/, MNIST) are bound at their host paths: proot 5.1 (bookworm's)
# does not translate paths in the faccessat2 syscall that glibc 2.36 uses for os.access(), so an access
# check (Typer's "readable" on --data-dir or a model path) looks at the host's file system instead.
# The user-facing install lives in /home/pi/venv, as on a Pi; the tests run from a second venv in
# WORK/pi-test (same path inside and out) so that Typer's checks on the shipped model's path pass.
_pi() {  # run a command in the emulated Pi, as user pi (uid 1000) with the Pi's CPU model
  ${PI_TIMEOUT:+timeout -k 10 "$PI_TIMEOUT"} env -i HOME=/home/pi USER=pi LOGNAME=pi PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 TERM=dumb NO_COLOR=1 \
      ${GUEST_ENV:-} \
    proot -q "qemu-aarch64-static -cpu $QEMU_CPU" -r "$WORK/rootfs" -i 1000:1000 \
      -b /dev -b /proc -b "$WORK/cpuinfo/$PI:/proc/cpuinfo" -b "$WORK/cpuinfo/sys-$PI:/sys/devices/system/cpu" \
      -b "$WORK/wheels:/wheels" -b "$WORK/wheels-tflite:/wheels-tflite" -b "$WORK/dist:/dist" \
      -b "$WORK/share" -b "$WORK/src" -b "$WORK/pi-test" -b "$MNIST" \
      -w "${GUEST_CWD:-/home/pi}" "$@"
}

# --- 1. the runtime wheel, built on the host ------------------------------------------------------
log "runtime source: $SOURCE"
rm -rf "$WORK/src" "$WORK/dist" "$WORK/share"; mkdir -p "$WORK/src" "$WORK/dist" "$WORK/share/digits"
if [ "$SOURCE" = head ]; then
  git -C "$REPO" archive HEAD runtime tests/runtime tests/conftest.py pyproject.toml scripts | tar -x -C "$WORK/src" \
    || { echo "error: git archive of $REPO failed" >&2; exit 1; }
  note "source: commit $(git -C "$REPO" rev-parse --short HEAD) (runtime/ and tests/runtime/ as committed)"
elif [ "$SOURCE" = worktree ]; then
  mkdir -p "$WORK/src/tests"
  cp -r "$REPO/runtime" "$WORK/src/runtime"; cp -r "$REPO/tests/runtime" "$WORK/src/tests/runtime"
  cp "$REPO/tests/conftest.py" "$WORK/src/tests/"; cp "$REPO/pyproject.toml" "$WORK/src/"; cp -r "$REPO/scripts" "$WORK/src/"
  find "$WORK/src" -name __pycache__ -prune -exec rm -rf {} +; rm -rf "$WORK/src/runtime/build" "$WORK/src/runtime"/*.egg-info
  note "source: working tree of $(git -C "$REPO" rev-parse --short HEAD) (uncommitted changes included)"
else
  echo "error: SOURCE must be head or worktree, got '$SOURCE'" >&2; exit 1
fi
"$PYTHON" -m pip wheel -q --disable-pip-version-check --no-deps -w "$WORK/dist" "$WORK/src/runtime" \
  2> >(grep -v "^WARNING: Location '.*' is ignored" >&2) || { echo "error: building the runtime wheel failed" >&2; exit 1; }
WHEEL="$(cd "$WORK/dist" && ls edgedigits_runtime-*-py3-none-any.whl 2>/dev/null | head -1)"
[ -n "$WHEEL" ] || { echo "error: no pure-Python edgedigits_runtime wheel in $WORK/dist: $(ls "$WORK/dist")" >&2; exit 1; }
note "wheel: $WHEEL ($(unzip -l "$WORK/dist/$WHEEL" | grep -c '\.tflite$') .tflite inside)"

# --- 2. host reference: the same wheel in a fresh x86-64 venv (packages from the index) -----------
log "host reference venv"
_host_venv() {  # dir extras: an x86-64 venv holding this wheel (reinstalled) with its extras from the index
  if [ ! -x "$1/bin/python" ]; then "$PYTHON" -m venv "$1"; fi
  "$1/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$WORK/dist/$WHEEL" \
    2> >(grep -v "^WARNING: Location '.*' is ignored" >&2)
  "$1/bin/python" -m pip install -q --disable-pip-version-check "$WORK/dist/$WHEEL[$2]" \
    2> >(grep -v "^WARNING: Location '.*' is ignored" >&2)
}
HV="$WORK/host-venv"
_host_venv "$HV" litert,onnx,image

# PNG digits from the MNIST test set: plain 28x28 ones, and photo-like ones (large, dark ink on light
# grey paper, RGB, off-centre, uneven lighting, noise) for the preprocessing.
"$HV/bin/python" - "$MNIST" "$WORK/share/digits" <<'EOF'
import gzip, sys
from pathlib import Path
import numpy as np
from PIL import Image

def idx(path):
    data = gzip.open(path).read() if str(path).endswith(".gz") else open(path, "rb").read()
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * data[3]).reshape(dims)

src, out = Path(sys.argv[1]), Path(sys.argv[2])
find = lambda stem: next(p for p in sorted(src.iterdir()) if p.name.startswith(stem))
images, labels = idx(find("t10k-images")), idx(find("t10k-labels"))
rng = np.random.default_rng(0)
for digit in range(10):
    i = int(np.flatnonzero(labels == digit)[0])
    Image.fromarray(images[i]).save(out / f"mnist{i:05d}_is{digit}.png")
    if digit % 3 == 0:  # photo-like version of the same digit
        big = np.asarray(Image.fromarray(images[i]).resize((168, 168), Image.BILINEAR), np.float32)
        page = np.full((240, 320), 200.0, np.float32)
        page += np.linspace(-30, 30, 320)[None, :]                    # uneven lighting
        page[40:208, 90:258] -= big * 0.7                                 # dark ink, off-centre
        page += rng.normal(0, 6, page.shape)
        rgb = np.clip(np.stack([page, page * 0.97, page * 0.93], -1), 0, 255).astype(np.uint8)
        Image.fromarray(rgb).save(out / f"photo{i:05d}_is{digit}.png")
print(len(list(out.iterdir())), "PNG files")
EOF

HOST_CWD="$WORK/share/digits"
(cd "$HOST_CWD" && "$HV/bin/edgedigits-rt" info --json) > "$LOGS/host-info.json" 2> "$LOGS/host-info.err"
(cd "$HOST_CWD" && "$HV/bin/edgedigits-rt" predict '*.png' --json --top-k 3) > "$LOGS/host-predict.jsonl" 2> "$LOGS/host-predict.err"
"$HV/bin/edgedigits-rt" evaluate --data-dir "$MNIST" --json > "$LOGS/host-evaluate.json" 2> "$LOGS/host-evaluate.err"
cp "$WORK/src/tests/runtime/fixtures/linear_logits.onnx" "$WORK/share/" 2>/dev/null || true
if [ -e "$WORK/share/linear_logits.onnx" ]; then
  "$HV/bin/edgedigits-rt" evaluate "$WORK/share/linear_logits.onnx" --data-dir "$MNIST" --json \
    > "$LOGS/host-evaluate-onnx.json" 2> "$LOGS/host-evaluate-onnx.err"
fi
note "host: $("$HV/bin/python" -c 'import platform; print(platform.machine(), platform.python_version())'), evaluate: $(cat "$LOGS/host-evaluate.json")"

# tflite-runtime 2.14 and ai-edge-litert 2.3 may disagree on an image or two (different kernels): the
# fallback's reference is tflite-runtime on the host.
HVT="$WORK/host-venv-tflite"
_host_venv "$HVT" tflite-runtime,image
"$HVT/bin/edgedigits-rt" evaluate --data-dir "$MNIST" --json --backend tflite-runtime \
  > "$LOGS/host-evaluate-tflite.json" 2> "$LOGS/host-evaluate-tflite.err"
note "host tflite-runtime: $(cat "$LOGS/host-evaluate-tflite.json")"

# --- 3. the emulated Pi: fresh venv, offline install from the aarch64 wheels ----------------------
log "emulated $PI ($QEMU_CPU): venv and install (slow under qemu: minutes)"
rm -rf "$WORK/rootfs/home/pi/venv" "$WORK/rootfs/home/pi/venv-tflite"
chown -R 1000:1000 "$WORK/rootfs/home/pi"   # pi's home is pi's, as on the Pi (pip's cache checks it)
check pi-machine _pi /usr/bin/python3 -c "import platform, sys; m = platform.machine(); print(m, platform.python_version(), platform.libc_ver()); sys.exit(m != 'aarch64')"
cat "$LOGS/pi-machine.log" | tee -a "$SUMMARY"
check pi-venv _pi /usr/bin/python3 -m venv /home/pi/venv
check pi-install _pi /home/pi/venv/bin/pip install --no-index --find-links /wheels --find-links /dist \
  "edgedigits-runtime[litert,onnx,image]"
_pi /home/pi/venv/bin/pip list --format=freeze > "$LOGS/pi-pip-list.txt"
note "installed in the emulated Pi: $(tr '\n' ' ' < "$LOGS/pi-pip-list.txt")"
check pi-no-tensorflow _pi /home/pi/venv/bin/python -c "
import importlib.util, sys, edgedigits_runtime
bad = [m for m in ('tensorflow', 'edgedigits') if importlib.util.find_spec(m)]
loaded = [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'edgedigits')]
print('importable:', bad, 'loaded:', loaded); sys.exit(bool(bad or loaded))"

# --- 4. the commands, compared with the host ------------------------------------------------------
log "edgedigits-rt info / predict / evaluate inside the emulation"
GUEST_CWD="$WORK/share/digits" check pi-info _pi /home/pi/venv/bin/edgedigits-rt info --json
GUEST_CWD="$WORK/share/digits" check pi-predict-text _pi /home/pi/venv/bin/edgedigits-rt predict '*.png'
GUEST_CWD="$WORK/share/digits" _pi /home/pi/venv/bin/edgedigits-rt predict '*.png' --json --top-k 3 \
  > "$LOGS/pi-predict.jsonl" 2> "$LOGS/pi-predict.err"
check pi-evaluate-run _pi /home/pi/venv/bin/edgedigits-rt evaluate --data-dir "$MNIST" --json
grep '^{' "$LOGS/pi-evaluate-run.log" | tail -1 > "$LOGS/pi-evaluate.json"
if [ -e "$WORK/share/linear_logits.onnx" ]; then
  check pi-evaluate-onnx-run _pi /home/pi/venv/bin/edgedigits-rt evaluate "$WORK/share/linear_logits.onnx" --data-dir "$MNIST" --json
  grep '^{' "$LOGS/pi-evaluate-onnx-run.log" | tail -1 > "$LOGS/pi-evaluate-onnx.json"
fi

_compare() {  # what host-file pi-file
  "$HV/bin/python" - "$@" <<'EOF'
import json, sys
what, host, pi = sys.argv[1:]
read = lambda p: [json.loads(line) for line in open(p) if line.startswith("{")]
if what == "info":  # one indented JSON object, maybe after log lines
    def one(path):
        text = open(path).read()
        return json.JSONDecoder().raw_decode(text[text.index("{\n"):])[0]
    keys = ("sha256", "verified", "format", "backend")
    h, p = [{k: one(path).get(k) for k in keys} for path in (host, pi)]
    print("host", h, "\npi  ", p); sys.exit(h != p or not h.get("verified"))
h, p = read(host), read(pi)
if what == "predict":
    strip = lambda d: (d["path"], d.get("label"), round(d.get("confidence") or 0, 5), d.get("error"))
    bad = [(a, b) for a, b in zip(h, p) if strip(a) != strip(b)]
    for d in p: print(d["path"], d.get("label"), d.get("confidence"), d.get("error") or "")
    wrong = [d["path"] for d in p if d.get("label") is not None and f"_is{d['label']}." not in d["path"]]
    print(f"{len(p)} files; differ from host: {bad or 'none'}; label not the MNIST one: {wrong or 'none'}")
    sys.exit(bool(bad) or len(h) != len(p) or not p)
h, p = h[0], p[0]
keys = ("accuracy", "images", "errors", "per_class_accuracy")
print("host", {k: h[k] for k in keys + ("backend",)}, "\npi  ", {k: p[k] for k in keys + ("backend",)})
sys.exit(any(h[k] != p[k] for k in keys))
EOF
}
check same-info-as-host _compare info "$LOGS/host-info.json" "$LOGS/pi-info.log"
check same-predict-as-host _compare predict "$LOGS/host-predict.jsonl" "$LOGS/pi-predict.jsonl"
check same-accuracy-as-host _compare evaluate "$LOGS/host-evaluate.json" "$LOGS/pi-evaluate.json"
[ -e "$WORK/share/linear_logits.onnx" ] && \
  check same-onnx-accuracy-as-host _compare evaluate "$LOGS/host-evaluate-onnx.json" "$LOGS/pi-evaluate-onnx.json"
sed -n 1,2p "$LOGS/same-accuracy-as-host.log" | tee -a "$SUMMARY"

# --- 5. the tflite-runtime fallback (numpy<2), in its own venv ------------------------------------
log "tflite-runtime fallback"
check pi-venv-tflite _pi /usr/bin/python3 -m venv /home/pi/venv-tflite
check pi-install-tflite _pi /home/pi/venv-tflite/bin/pip install --no-index --find-links /wheels-tflite --find-links /dist \
  "edgedigits-runtime[tflite-runtime,image]"
note "tflite-runtime venv: $(_pi /home/pi/venv-tflite/bin/pip list --format=freeze 2>/dev/null | grep -Ei '^(numpy|tflite)' | tr '\n' ' ')"
check pi-evaluate-tflite-run _pi /home/pi/venv-tflite/bin/edgedigits-rt evaluate --data-dir "$MNIST" --json --backend tflite-runtime
grep '^{' "$LOGS/pi-evaluate-tflite-run.log" | tail -1 > "$LOGS/pi-evaluate-tflite.json"
check same-accuracy-tflite-runtime _compare evaluate "$LOGS/host-evaluate-tflite.json" "$LOGS/pi-evaluate-tflite.json"
sed -n 2p "$LOGS/same-accuracy-tflite-runtime.log" | tee -a "$SUMMARY"

# --- 6. the runtime's tests inside the emulation --------------------------------------------------
if [ "$TESTS" != none ]; then
  log "pytest tests/runtime inside the emulation ($TESTS)"
  k_args=(); [ "$TESTS" != all ] && read -r -a k_args <<< "$TESTS"
  TV="$WORK/pi-test/venv"
  check pi-venv-test _pi /usr/bin/python3 -m venv "$TV"
  check pi-install-test _pi "$TV/bin/pip" install --no-index --find-links /wheels --find-links /dist \
    "edgedigits-runtime[litert,onnx,image,test]"
  # One pytest process per test file, under /bin/sh, each with a time limit: the whole suite in one
  # process stopped silently, hung or aborted (heap corruption) under qemu-user after tests that start
  # child processes from a process running interpreter threads (see RESULTS.md); file by file it passes.
  for f in "$WORK"/src/tests/runtime/test_*.py; do
    name="pi-pytest-$(basename "$f" .py)"
    PI_TIMEOUT=1200 GUEST_ENV="EDGEDIGITS_DATA=$MNIST" GUEST_CWD="$WORK/src" check "$name" \
      _pi /bin/sh -c '"$@"; exit $?' sh "$TV/bin/python" -m pytest "tests/runtime/$(basename "$f")" -q -p no:cacheprovider \
        --basetemp "$WORK/pi-test/tmp" "${k_args[@]}"
    note "  $(basename "$f"): $(tail -1 "$LOGS/$name.log")"
  done
fi

log "summary ($SUMMARY)"
cat "$SUMMARY"
exit "$FAILED"

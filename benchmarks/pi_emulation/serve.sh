#!/usr/bin/env bash
# `edgedigits-rt serve` in the emulated Raspberry Pi: install the `serve` extra offline from the
# target's own wheels (pip's resolution for its Python and platform: aarch64, armv7l or pure Python only; on
# armhf-bookworm the serve extra's server packages by name, OpenCV and Pillow from Debian as run.sh installs them),
# start the server inside the emulation, and answer HTTP requests sent from the host over loopback
# (qemu-user shares the host's network): one digit image and one health check, compared with the
# host's `edgedigits-rt predict --json` on the same file. Then SIGTERM, and the server must exit 0.
#
# Usage: bash benchmarks/pi_emulation/serve.sh [TARGET] [WORK]   (defaults: arm64-bookworm, /tmp/edgedigits-pi)
#        Run setup.sh TARGET WORK first (it builds the emulated userland); this script only adds
#        WORK/TARGET/wheels-serve and WORK/TARGET/serve/ (logs, venv, summary.txt).
# Env:   PI=pi4|pi5 (board; default the target's first), SOURCE=head|worktree (runtime wheel from the last
#        commit or the working tree), MNIST=folder (default $EDGEDIGITS_DATA), PYTHON=python3 (host Python)
#
# Timings inside qemu are not a Pi's: none is reported. Exits 1 if any check failed.
set -uo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source=targets.sh
. "$HERE/targets.sh"
target_load "${1:-arm64-bookworm}" || exit 1
WORK="$(cd "${2:-${EDGEDIGITS_PI_WORK:-/tmp/edgedigits-pi}}" && pwd)" || exit 1
T="$WORK/$TARGET"
[ -e "$T/rootfs/.done" ] || { echo "error: $T/rootfs is missing: run bash $HERE/setup.sh $TARGET $WORK first" >&2; exit 1; }
PI="${PI:-$(board_default)}"
SOURCE="${SOURCE:-head}"
PYTHON="${PYTHON:-python3}"
MNIST="$(cd "${MNIST:-${EDGEDIGITS_DATA:?set EDGEDIGITS_DATA or MNIST to the MNIST folder}}" && pwd)" || exit 1
EXTRAS_SERVE="${EXTRAS%%,*},serve"   # the target's interpreter (litert; tflite-runtime on armhf) and the serve extra
# Where Debian provides the image libraries (armhf: NO_WHEEL, no armv7l wheel on PyPI), the serve extra would make pip
# build OpenCV from source: the user installs the interpreter's extra and the serve extra's own packages by name.
INSTALL_ARGS=("edgedigits-runtime[$EXTRAS_SERVE]")
TOKEN="pi-emulation-$(date +%s)"

RUN="$T/serve"; LOGS="$RUN/logs"
rm -rf "$RUN"; mkdir -p "$LOGS" "$RUN/src" "$RUN/dist" "$RUN/home" "$RUN/share"
SUMMARY="$RUN/summary.txt"; : > "$SUMMARY"
FAILED=0
log() { printf '\n== [%s serve] %s\n' "$TARGET" "$*"; }
note "target: $TARGET ($DESCRIPTION), board $PI (qemu -cpu $(board_cpu "$PI"))"

# --- 1. the serve extra's wheels for the target (pip's real resolution, binary only) ---------------
_serve_reqs() {  # [--serve-only] extra...: requirements from runtime/pyproject.toml, without NO_WHEEL's packages
  "$PYTHON" - "$REPO/runtime/pyproject.toml" "${NO_WHEEL[*]:-}" "$@" <<'EOF'
import re, sys, tomllib
p = tomllib.load(open(sys.argv[1], "rb"))["project"]
skip, extras = set(sys.argv[2].split()), sys.argv[3:]
serve_only = extras[:1] == ["--serve-only"]
reqs = [] if serve_only else list(p.get("dependencies", []))
for extra in extras[1:] if serve_only else extras:
    reqs += p["optional-dependencies"][extra]
name = lambda r: re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].strip().lower()
print("\n".join(r for r in dict.fromkeys(reqs) if name(r) not in skip))
EOF
}
mapfile -t REQS < <(_serve_reqs ${EXTRAS_SERVE//,/ })
if [ "${#NO_WHEEL[@]}" -gt 0 ]; then
  mapfile -t SERVE_PKGS < <(_serve_reqs --serve-only serve)
  INSTALL_ARGS=("edgedigits-runtime[${EXTRAS%%,*}]" "${SERVE_PKGS[@]}")
fi
WHEELS="$T/wheels-serve"
hash="$(printf '%s\n' "$PYVER" "${PIP_PLATFORMS[@]}" "${NO_DEPS[@]:-}" "${REQS[@]}" | sha256sum | cut -c1-16)"
if [ ! -e "$WHEELS/.done-$hash" ]; then
  log "downloading the serve extra's wheels for $TARGET: ${REQS[*]}"
  rm -rf "$WHEELS"; mkdir -p "$WHEELS"
  plat_args=(); for p in "${PIP_PLATFORMS[@]}"; do plat_args+=(--platform "$p"); done
  with=() without=()
  for r in "${REQS[@]}"; do  # NO_DEPS: wheels whose dependencies come from Debian (tflite-runtime -> numpy on armhf)
    if printf '%s\n' "${NO_DEPS[@]:-}" | grep -qx "$(printf '%s' "$r" | sed 's/[<>=!~;\[ ].*//')"; then without+=("$r"); else with+=("$r"); fi
  done
  pip=("$PYTHON" -m pip download -q --disable-pip-version-check --only-binary=:all: --implementation cp
       --python-version "$PYVER" --abi "cp${PYVER/./}" --abi abi3 --abi none "${plat_args[@]}" -d "$WHEELS")
  { [ "${#with[@]}" -eq 0 ] || "${pip[@]}" "${with[@]}"; } 2> >(grep -v "^WARNING: Location '.*' is ignored" >&2) \
    && { [ "${#without[@]}" -eq 0 ] || "${pip[@]}" --no-deps "${without[@]}"; } 2> >(grep -v "^WARNING: Location '.*' is ignored" >&2) \
    || { echo "error: pip download failed" >&2; exit 1; }
  touch "$WHEELS/.done-$hash"
fi
# Every wheel is pure Python or built for the target's machine: nothing compiles on the Pi.
machine="${PIP_PLATFORMS[-1]#linux_}"   # aarch64 (or armv7l)
check wheels-are-for-the-pi "$PYTHON" - "$WHEELS" "$machine" <<'EOF'
import sys
from pathlib import Path
wheels = sorted(p.name for p in Path(sys.argv[1]).glob("*.whl"))
bad = [w for w in wheels if not (w.endswith("-none-any.whl") or sys.argv[2] in w)]
for w in wheels:
    print(w)
print(f"{len(wheels)} wheels; not pure Python and not {sys.argv[2]}: {bad or 'none'}")
sys.exit(bool(bad) or not wheels or any(w.lower().startswith("tensorflow") for w in wheels))
EOF
note "  $(tail -1 "$LOGS/wheels-are-for-the-pi.log")"
note "  serve stack: $(grep -Ei '^(starlette|uvicorn|python_multipart|h11|anyio|opencv|ai_edge_litert|numpy|pillow)' "$LOGS/wheels-are-for-the-pi.log" | tr '\n' ' ')"

# numpy, OpenCV and LiteRT are C++: their wheels need the system's libstdc++6, which every Raspberry Pi OS
# image has but setup.sh's minimal userland (python3 and its dependencies) may lack. Add it from the
# target's own Debian suite with setup.sh's private apt, as dpkg -x would have.
if ! ls "$T/rootfs/usr/lib/$MULTIARCH"/libstdc++.so.6 > /dev/null 2>&1; then
  log "adding libstdc++6 ($DEB_ARCH, Debian $SUITE) to the emulated userland"
  A="$T/apt"
  APT=(apt-get -q -o "Dir::State=$A" -o "Dir::State::status=$A/status" -o "Dir::Etc::SourceList=$A/sources.list"
       -o "Dir::Etc::SourceParts=$A/none" -o "Dir::Etc::PreferencesParts=$A/none" -o "Dir::Cache=$A/cache"
       -o "APT::Architecture=$DEB_ARCH" -o "APT::Architectures=$DEB_ARCH" -o Debug::NoLocking=1
       -o APT::Install-Recommends=0 -o APT::Install-Suggests=0)
  mkdir -p "$A/cache/archives/partial" "$RUN/debs"
  { "${APT[@]}" install -y --download-only libstdc++6 && mv "$A"/cache/archives/*.deb "$RUN/debs/"; } > "$LOGS/libstdc++6.log" 2>&1 \
    || { echo "error: could not download libstdc++6 (see $LOGS/libstdc++6.log)" >&2; exit 1; }
  for deb in "$RUN"/debs/*.deb; do dpkg -x "$deb" "$T/rootfs"; done
  note "added to the userland: $(cd "$RUN/debs" && ls | tr '\n' ' ')"
fi

# --- 2. the runtime wheel, built on the host --------------------------------------------------------
if [ "$SOURCE" = head ]; then
  git -C "$REPO" archive HEAD runtime | tar -x -C "$RUN/src" || { echo "error: git archive of $REPO failed" >&2; exit 1; }
  note "source: commit $(git -C "$REPO" rev-parse --short HEAD)"
else
  cp -rL "$REPO/runtime" "$RUN/src/runtime"
  find "$RUN/src" -name __pycache__ -prune -exec rm -rf {} +; rm -rf "$RUN/src/runtime/build" "$RUN/src/runtime"/*.egg-info
  note "source: working tree of $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo '?')"
fi
"$PYTHON" -m pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation -w "$RUN/dist" "$RUN/src/runtime" \
  2> >(grep -v "^WARNING: Location '.*' is ignored" >&2) || { echo "error: building the runtime wheel failed" >&2; exit 1; }
WHEEL="$(cd "$RUN/dist" && ls edgedigits_runtime-*-py3-none-any.whl | head -1)"
note "wheel: $WHEEL ($(unzip -l "$RUN/dist/$WHEEL" | grep -c 'serve/static/') page files inside)"

# --- 3. install in the emulated Pi, offline ----------------------------------------------------------
log "emulated $PI: venv and pip install ${INSTALL_ARGS[*]} (slow under qemu: minutes)"
VENV="$RUN/venv"
# shellcheck disable=SC2086
check pi-venv guest_venv "$T" "$PI" "$VENV" $VENV_FLAGS
check pi-install-serve _pi "$VENV/bin/pip" install --no-index --find-links "$WHEELS" --find-links "$RUN/dist" \
  "${INSTALL_ARGS[@]}"
note "  install: pip install ${INSTALL_ARGS[*]}${VENV_FLAGS:+ (venv $VENV_FLAGS)}"
note "  installed: $(_pi "$VENV/bin/pip" list --format=freeze 2>/dev/null | grep -Ei '^(edgedigits|starlette|uvicorn|python-multipart|ai-edge|numpy|opencv)' | tr '\n' ' ')"
check pi-machine _pi "$VENV/bin/python" -c "import platform, sys; print(platform.machine(), platform.python_version()); sys.exit(platform.machine() not in ('aarch64', 'armv7l'))"

# --- 4. the server inside the emulation, asked from the host --------------------------------------
"$PYTHON" - "$MNIST" "$RUN/share" <<'EOF' || exit 1
import gzip, sys
from pathlib import Path
import numpy as np
src, out = Path(sys.argv[1]), Path(sys.argv[2])
def idx(stem):
    path = next(p for p in sorted(src.iterdir()) if p.name.startswith(stem))
    data = gzip.open(path).read() if path.suffix == ".gz" else path.read_bytes()
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(data[3])]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * data[3]).reshape(dims)
images, labels = idx("t10k-images"), idx("t10k-labels")
from PIL import Image
Image.fromarray(images[0]).save(out / f"digit_is{labels[0]}.png")
print(out / f"digit_is{labels[0]}.png")
EOF
DIGIT="$(ls "$RUN/share"/digit_is*.png)"
HV="$RUN/host-venv"
"$PYTHON" -m venv "$HV" && "$HV/bin/pip" install -q --disable-pip-version-check "$RUN/dist/$WHEEL[$EXTRAS_SERVE]" \
  2> >(grep -v "^WARNING: Location '.*' is ignored" >&2)
"$HV/bin/edgedigits-rt" predict "$DIGIT" --json --top-k 3 > "$LOGS/host-predict.json" 2> "$LOGS/host-predict.err"

log "edgedigits-rt serve inside the emulation"
# Not through _pi: $! must be timeout's own PID, so that the SIGTERM below reaches the server (timeout passes
# it on to qemu, which delivers it to the guest's Python) and `wait` gets the server's exit status.
timeout -k 10 3600 env -i HOME="$RUN/home" PATH=/usr/bin:/bin LANG=C.UTF-8 TERM=dumb NO_COLOR=1 EDGEDIGITS_TOKEN="$TOKEN" \
  "$VENV/bin/edgedigits-rt" serve --port 0 > "$LOGS/pi-serve.out" 2> "$LOGS/pi-serve.err" &
SERVER=$!
PORT=""
for _ in $(seq 1 600); do  # starting Python, numpy, OpenCV and LiteRT under qemu takes a while
  PORT="$(grep -o 'http://127.0.0.1:[0-9]*' "$LOGS/pi-serve.out" 2>/dev/null | head -1 | sed 's/.*://')"
  [ -n "$PORT" ] && break
  kill -0 "$SERVER" 2>/dev/null || break
  sleep 1
done
if [ -z "$PORT" ]; then
  note "FAIL pi-serve-start (see $LOGS/pi-serve.err)"; FAILED=1
else
  note "PASS pi-serve-start: $(head -1 "$LOGS/pi-serve.out")"
  check pi-serve-answers "$HV/bin/python" - "$PORT" "$TOKEN" "$DIGIT" "$LOGS/host-predict.json" <<'EOF'
import json, sys, urllib.error, urllib.request
port, token, digit, host_answer = sys.argv[1:]
url = f"http://127.0.0.1:{port}"
def call(path, data=None, headers=None):
    request = urllib.request.Request(url + path, data=data, headers=headers or {}, method="POST" if data else "GET")
    try:
        with urllib.request.urlopen(request, timeout=600) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())
auth = {"Authorization": f"Bearer {token}"}
status, body = call("/v1/health")
print("no token:", status, body); assert status == 401
status, health = call("/v1/health", headers=auth)
print("health:", status, health); assert status == 200 and health["verified"] is True
status, answer = call("/v1/predict?top_k=3", open(digit, "rb").read(), {**auth, "Content-Type": "image/png"})
print("predict:", status, answer)
expected = json.loads(open(host_answer).read())
same = {k: v for k, v in answer.items() if k != "path"} == {k: v for k, v in expected.items() if k != "path"}
print("host's `edgedigits-rt predict --json`:", expected, "\nsame fields and values:", same)
assert status == 200 and same and f"_is{answer['label']}." in digit
EOF
  sed -n 's/^predict: /  predict from the host: /p' "$LOGS/pi-serve-answers.log" | tee -a "$SUMMARY"
fi
kill -TERM "$SERVER" 2>/dev/null
wait "$SERVER"; code=$?
if [ "$code" = 0 ] && grep -q '^stopped' "$LOGS/pi-serve.out"; then note "PASS pi-serve-sigterm (exit 0)"; else
  note "FAIL pi-serve-sigterm (exit $code; see $LOGS/pi-serve.err)"; FAILED=1; fi

log "summary ($SUMMARY)"
cat "$SUMMARY"
exit "$FAILED"

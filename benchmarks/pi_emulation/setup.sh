#!/usr/bin/env bash
# Build an emulated 64-bit Raspberry Pi OS-like userland (Debian bookworm arm64, Python 3.11) on an
# x86-64 Debian/Ubuntu host, plus the aarch64 wheels edgedigits-runtime needs. Idempotent: every step
# is skipped when its output is already there (delete WORK, or one of its sub-folders, to redo it).
#
# Usage: bash benchmarks/pi_emulation/setup.sh [WORK]      (default WORK: /tmp/edgedigits-pi)
# Needs: root (apt-get, dpkg --add-architecture), a Debian bookworm-compatible apt source, the package
#        registry for `pip download`. Nothing is written inside the repository.
#
# WORK/
#   debs/      arm64 (and arch-all) .debs of python3.11 and the libraries it and the wheels need
#   rootfs/    those .debs unpacked with `dpkg -x`: the emulated root file system
#   wheels/    aarch64 cp311 wheels (manylinux tags a bookworm/glibc-2.36 pip accepts), never TensorFlow
#   wheels-tflite/  the same for the tflite-runtime fallback (numpy<2)
#   wheels-build/   setuptools and wheel, to install from a checkout (pip install ./runtime)
#   cpuinfo/   fake /proc/cpuinfo and /sys/devices/system/cpu of a Raspberry Pi 4 (Cortex-A72) and 5 (Cortex-A76)
#   versions.txt  what was installed/downloaded (qemu, proot, debs, wheels)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
WORK="${1:-${EDGEDIGITS_PI_WORK:-/tmp/edgedigits-pi}}"
PYTHON="${PYTHON:-python3}"   # host Python with pip, only used for `pip download`
WORK="$(mkdir -p "$WORK" && cd "$WORK" && pwd)"
case "$WORK/" in "$REPO"/*) echo "error: WORK ($WORK) is inside the repository; pick a folder outside it" >&2; exit 1;; esac

log() { printf '\n== %s\n' "$*"; }

# --- 1. host tools --------------------------------------------------------------------------------
if ! command -v qemu-aarch64-static >/dev/null || ! command -v proot >/dev/null; then
  log "installing qemu-user-static and proot"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-user-static proot
fi

# --- 2. arm64 debs -> rootfs ----------------------------------------------------------------------
# Debian bookworm is what 64-bit Raspberry Pi OS (bookworm) is built on: same python3.11 and glibc 2.36.
ARM64_DEBS=(
  libc6 libgcc-s1 gcc-12-base libstdc++6 zlib1g libexpat1 libffi8 libssl3 libsqlite3-0 libbz2-1.0
  liblzma5 libcrypt1 libdb5.3 libncursesw6 libtinfo6 libreadline8 libnsl2 libtirpc3 libuuid1
  libgssapi-krb5-2 libkrb5-3 libk5crypto3 libcom-err2 libkeyutils1 libkrb5support0
  libpython3.11-minimal libpython3.11-stdlib python3.11-minimal python3.11 python3.11-venv dash
  coreutils libacl1 libattr1 libgmp10 libselinux1 libpcre2-8-0
)
ALL_DEBS=(media-types readline-common libtirpc-common python3-pip-whl python3-setuptools-whl)

DEB_HASH="$(printf '%s\n' "${ARM64_DEBS[@]}" "${ALL_DEBS[@]}" | sha256sum | cut -c1-16)"
if [ ! -e "$WORK/debs/.done-$DEB_HASH" ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    log "adding the arm64 dpkg architecture"
    dpkg --add-architecture arm64
    apt-get update -q
  elif ! apt-cache show python3.11:arm64 >/dev/null 2>&1; then
    apt-get update -q
  fi
  log "downloading arm64 debs"
  rm -rf "$WORK/debs" "$WORK/rootfs"
  mkdir -p "$WORK/debs"
  (cd "$WORK/debs" && apt-get download -q "${ARM64_DEBS[@]/%/:arm64}" "${ALL_DEBS[@]}")
  touch "$WORK/debs/.done-$DEB_HASH"
fi

if [ ! -e "$WORK/rootfs/.done" ]; then
  log "unpacking the rootfs"
  rm -rf "$WORK/rootfs"
  mkdir -p "$WORK/rootfs"
  for deb in "$WORK"/debs/*.deb; do dpkg -x "$deb" "$WORK/rootfs"; done
  R="$WORK/rootfs"
  mkdir -p "$R/tmp" "$R/proc" "$R/dev" "$R/sys" "$R/etc" "$R/root" "$R/home/pi" "$R/usr/local/bin"
  chmod 1777 "$R/tmp"
  ln -sf python3.11 "$R/usr/bin/python3"          # what python3-minimal provides on the Pi
  ln -sf dash "$R/bin/sh"
  printf 'root:x:0:0:root:/root:/bin/sh\npi:x:1000:1000:pi:/home/pi:/bin/sh\n' > "$R/etc/passwd"
  printf 'root:x:0:\npi:x:1000:\n' > "$R/etc/group"
  touch "$R/.done"
fi

# --- 3. fake /proc/cpuinfo and /sys/devices/system/cpu ------------------------------------------
# LiteRT/XNNPACK and onnxruntime detect the CPU through the cpuinfo library, which reads /proc/cpuinfo
# and /sys/devices/system/cpu/{possible,present}; under qemu-user the host's x86 files make it fail.
# These mirror a Raspberry Pi 4 Model B (4x Cortex-A72) and a Raspberry Pi 5 (4x Cortex-A76). run.sh
# also runs qemu with the matching CPU model (-cpu cortex-a72 / cortex-a76): qemu's default "max" CPU
# advertises SVE/SME, which no Pi has, and LiteRT's SME path gives wrong answers under qemu 7.2.
mkdir -p "$WORK/cpuinfo"
_cpuinfo() {  # part variant revision features model revision-code
  local i
  for i in 0 1 2 3; do
    printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: %s\nCPU part\t: %s\nCPU revision\t: %s\n\n' \
      "$i" "$4" "$2" "$1" "$3"
  done
  printf 'Revision\t: %s\nSerial\t\t: 100000000badc0de\nModel\t\t: %s\n' "$6" "$5"
}
_sysfs() {  # folder max-kHz
  local d="$1" i
  rm -rf "$d"; mkdir -p "$d"
  for f in possible present online; do echo 0-3 > "$d/$f"; done
  echo 3 > "$d/kernel_max"; echo > "$d/offline"
  for i in 0 1 2 3; do
    mkdir -p "$d/cpu$i/topology" "$d/cpu$i/cpufreq"
    echo "$i" > "$d/cpu$i/topology/core_id"; echo 0 > "$d/cpu$i/topology/physical_package_id"
    echo 0-3 > "$d/cpu$i/topology/core_siblings_list"; echo 0-3 > "$d/cpu$i/topology/package_cpus_list"
    echo "$i" > "$d/cpu$i/topology/thread_siblings_list"; echo "$i" > "$d/cpu$i/topology/core_cpus_list"
    echo "$2" > "$d/cpu$i/cpufreq/cpuinfo_max_freq"
  done
}
_cpuinfo 0xd08 0x0 3 "fp asimd evtstrm crc32 cpuid" "Raspberry Pi 4 Model B Rev 1.5" d03115 > "$WORK/cpuinfo/pi4"
_cpuinfo 0xd0b 0x4 1 "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp" \
  "Raspberry Pi 5 Model B Rev 1.0" d04170 > "$WORK/cpuinfo/pi5"
_sysfs "$WORK/cpuinfo/sys-pi4" 1800000
_sysfs "$WORK/cpuinfo/sys-pi5" 2400000

# --- 4. aarch64 wheels ----------------------------------------------------------------------------
# The tags a pip on 64-bit Raspberry Pi OS bookworm (glibc 2.36, CPython 3.11) accepts.
PLATFORMS=(manylinux2014_aarch64)
for m in $(seq 17 36); do PLATFORMS+=("manylinux_2_${m}_aarch64"); done
PLATFORMS+=(linux_aarch64)
plat_args=(); for p in "${PLATFORMS[@]}"; do plat_args+=(--platform "$p"); done

_reqs() {  # extra... -> the runtime's dependencies plus those extras, read from runtime/pyproject.toml
  "$PYTHON" - "$REPO/runtime/pyproject.toml" "$@" <<'EOF'
import sys, tomllib
p = tomllib.load(open(sys.argv[1], "rb"))["project"]
reqs = list(p.get("dependencies", []))
for extra in sys.argv[2:]:
    reqs += p.get("optional-dependencies", {})[extra]
print("\n".join(dict.fromkeys(reqs)))
EOF
}

_download() {  # folder requirement...: pip's real resolution for CPython 3.11 on aarch64, wheels only
  local dir="$1"; shift
  local hash; hash="$(printf '%s\n' "$@" | sha256sum | cut -c1-16)"
  [ -e "$dir/.done-$hash" ] && return 0
  log "downloading aarch64 wheels into $dir for: $*"
  rm -rf "$dir"; mkdir -p "$dir"
  "$PYTHON" -m pip download -q --disable-pip-version-check --only-binary=:all: \
    --implementation cp --python-version 3.11 --abi cp311 --abi abi3 --abi none \
    "${plat_args[@]}" -d "$dir" "$@" 2> >(grep -v "^WARNING: Location '.*' is ignored" >&2)
  if ls "$dir" | grep -qi '^tensorflow'; then
    echo "error: a TensorFlow wheel was pulled in by the runtime's requirements ($dir)" >&2; exit 1
  fi
  touch "$dir/.done-$hash"
}

# The runtime with the extras the Pi install uses (litert, onnx, image) plus pytest for the tests.
mapfile -t REQS < <(_reqs litert onnx image test)
_download "$WORK/wheels" "${REQS[@]}"
# The fallback interpreter: tflite-runtime (its last release, 2.14, needs numpy<2), kept apart.
mapfile -t REQS_TFL < <(_reqs tflite-runtime image)
_download "$WORK/wheels-tflite" "${REQS_TFL[@]}"
# The build backend pip needs to install from a checkout (pip install ./runtime): runtime/pyproject.toml's
# [build-system] requires.
mapfile -t REQS_BUILD < <("$PYTHON" -c 'import sys, tomllib; print("\n".join(tomllib.load(open(sys.argv[1], "rb"))["build-system"]["requires"]))' "$REPO/runtime/pyproject.toml")
_download "$WORK/wheels-build" "${REQS_BUILD[@]}"

# --- 5. smoke test + versions ---------------------------------------------------------------------
log "smoke test: emulated python"
env -i PATH=/usr/bin:/bin proot -q "qemu-aarch64-static -cpu cortex-a72" -r "$WORK/rootfs" -b /dev -b /proc \
  -b "$WORK/cpuinfo/pi4:/proc/cpuinfo" -w / /usr/bin/python3.11 \
  -c 'import platform, ssl, sqlite3, venv, ensurepip; print(platform.machine(), platform.python_version(), platform.libc_ver())'

{
  echo "host: $(. /etc/os-release && echo "$PRETTY_NAME") $(uname -m)"
  echo "qemu: $(qemu-aarch64-static --version | head -1)"
  echo "proot: $(dpkg-query -W -f '${Version}' proot 2>/dev/null || echo '?')"
  echo "debs:"; (cd "$WORK/debs" && ls *.deb | sed 's/^/  /')
  echo "wheels:"; (cd "$WORK/wheels" && ls *.whl | sed 's/^/  /')
  echo "wheels-tflite:"; (cd "$WORK/wheels-tflite" && ls *.whl | sed 's/^/  /')
  echo "wheels-build:"; (cd "$WORK/wheels-build" && ls *.whl | sed 's/^/  /')
} > "$WORK/versions.txt"
log "ready: $WORK (see $WORK/versions.txt); next: bash $HERE/run.sh $WORK"

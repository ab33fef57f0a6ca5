#!/usr/bin/env bash
# Build an emulated Raspberry Pi OS-like userland on an x86-64 Debian/Ubuntu host, plus the wheels
# edgedigits-runtime needs there. One target per device class (see targets.sh):
#   arm64-bookworm  64-bit Raspberry Pi OS bookworm: Debian 12 arm64, Python 3.11   (Pi 4 / Pi 5)
#   arm64-trixie    64-bit Raspberry Pi OS trixie:   Debian 13 arm64, Python 3.13   (Pi 5 / Pi 4)
#   armhf-bookworm  32-bit Raspberry Pi OS bookworm: Debian 12 armhf, Python 3.11, armv7l (Pi 3)
# Idempotent: every step is skipped when its output is already there (delete WORK/TARGET to redo it).
#
# Usage: bash benchmarks/pi_emulation/setup.sh [TARGET] [WORK]   (defaults: arm64-bookworm, /tmp/edgedigits-pi)
# Needs: qemu-user-static (installed with apt-get when missing, which needs root), the Debian archive this machine's apt uses (or DEBIAN_MIRROR), read through a private apt state (the host's apt and
#        dpkg are not touched), the package index for `pip download`. Nothing is written in the repository.
#
# WORK/TARGET/
#   apt/       private apt state (sources.list for the target's suite and architecture, package lists)
#   debs/      the target's .debs: apt's own dependency closure of the packages in targets.sh
#   rootfs/    those .debs unpacked with `dpkg -x`, plus the links their maintainer scripts would make
#   wheels*/   the target's wheels (pip's real resolution for its Python/platform tags), never TensorFlow
#   versions.txt  what was downloaded
#   cpuinfo/   fake /proc/cpuinfo, /sys/devices/system/cpu and device-tree model of a Pi 3, 4 and 5
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
# shellcheck source=targets.sh
. "$HERE/targets.sh"
target_load "${1:-arm64-bookworm}" || exit 1
WORK="${2:-${EDGEDIGITS_PI_WORK:-/tmp/edgedigits-pi}}"
PYTHON="${PYTHON:-python3}"   # host Python with pip, only used for `pip download`
WORK="$(mkdir -p "$WORK" && cd "$WORK" && pwd)"
case "$WORK/" in "$REPO"/*) echo "error: WORK ($WORK) is inside the repository; pick a folder outside it" >&2; exit 1;; esac
T="$WORK/$TARGET"; mkdir -p "$T"

log() { printf '\n== [%s] %s\n' "$TARGET" "$*"; }

# --- 1. host tools --------------------------------------------------------------------------------
if ! command -v "$QEMU" >/dev/null; then
  log "installing qemu-user-static"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-user-static
fi

# --- 2. debs -> rootfs ----------------------------------------------------------------------------
# A private apt (its own sources, lists and empty dpkg status) resolves the full dependency closure of
# the target's packages for its architecture; the host's apt sources and dpkg database stay untouched.
A="$T/apt"
APT=(apt-get -q -o "Dir::State=$A" -o "Dir::State::status=$A/status" -o "Dir::Etc::SourceList=$A/sources.list"
     -o "Dir::Etc::SourceParts=$A/none" -o "Dir::Etc::PreferencesParts=$A/none" -o "Dir::Cache=$A/cache"
     -o "APT::Architecture=$DEB_ARCH" -o "APT::Architectures=$DEB_ARCH" -o Debug::NoLocking=1
     -o APT::Install-Recommends=0 -o APT::Install-Suggests=0)
DEB_HASH="$(printf '%s\n' "$DEB_ARCH" "$SUITE" "${DEBS[@]}" | sha256sum | cut -c1-16)"
if [ ! -e "$T/debs/.done-$DEB_HASH" ]; then
  log "resolving and downloading $DEB_ARCH debs of Debian $SUITE: ${DEBS[*]}"
  rm -rf "$A" "$T/debs" "$T/rootfs"
  mkdir -p "$A/lists/partial" "$A/cache/archives/partial" "$A/none" "$T/debs"
  : > "$A/status"
  {
    echo "deb [arch=$DEB_ARCH signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SUITE main"
    echo "deb [arch=$DEB_ARCH signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR $SUITE-updates main"
    # The security suite is left out: its index was caught mid-sync here; what matters is the release.
  } > "$A/sources.list"
  "${APT[@]}" update
  "${APT[@]}" install -y --download-only "${DEBS[@]}"
  mv "$A"/cache/archives/*.deb "$T/debs/"
  touch "$T/debs/.done-$DEB_HASH"
fi

if [ ! -e "$T/rootfs/.done" ]; then
  log "unpacking the rootfs"
  R="$T/rootfs"; rm -rf "$R"; mkdir -p "$R"
  for deb in "$T"/debs/*.deb; do dpkg -x "$deb" "$R"; done
  # What the maintainer scripts (which dpkg -x does not run) and the base system would have made:
  # trixie's merged /usr (its packages ship files under usr/ only), python3, /bin/sh, BLAS/LAPACK
  # alternatives, users.
  for d in bin sbin lib; do [ -e "$R/$d" ] || ln -s "usr/$d" "$R/$d"; done
  [ -e "$R/usr/bin/python3" ] || ln -s "python$PYVER" "$R/usr/bin/python3"
  [ -e "$R/bin/sh" ] || ln -s dash "$R/bin/sh"
  for lib in blas lapack; do
    for so in "$R"/usr/lib/"$MULTIARCH"/"$lib"/lib"$lib".so.3; do
      [ -e "$so" ] && ln -sf "$lib/lib$lib.so.3" "$R/usr/lib/$MULTIARCH/lib$lib.so.3"
    done
  done
  # Absolute symlinks would point into the host's tree once seen from outside the rootfs (qemu's
  # sysroot prefix follows them on the host): make them relative.
  find "$R" -type l -lname '/*' -print0 | while IFS= read -r -d '' link; do
    dest="$(readlink "$link")"
    ln -sfn "$(realpath -s -m --relative-to="$(dirname "$link")" "$R$dest")" "$link"
  done
  mkdir -p "$R/tmp" "$R/proc" "$R/dev" "$R/sys" "$R/etc" "$R/root" "$R/usr/local/bin"
  chmod 1777 "$R/tmp"
  printf 'root:x:0:0:root:/root:/bin/sh\npi:x:1000:1000:pi:/home/pi:/bin/sh\n' > "$R/etc/passwd"
  printf 'root:x:0:\npi:x:1000:\n' > "$R/etc/group"
  touch "$R/.done"
fi

# --- 3. fake /proc/cpuinfo, /sys/devices/system/cpu and device-tree model --------------------------
# LiteRT/XNNPACK, tflite-runtime and onnxruntime detect the CPU through the cpuinfo library, which reads
# /proc/cpuinfo and /sys/devices/system/cpu; under qemu-user the host's x86 files would be seen. These
# mirror a Raspberry Pi 3 Model B as 32-bit Raspberry Pi OS shows it (4x Cortex-A53 in AArch32 state,
# armv7l), a Pi 4 Model B (4x Cortex-A72) and a Pi 5 (4x Cortex-A76). run.sh runs qemu with a matching
# CPU model (targets.sh): qemu's default "max" CPU advertises SVE/SME, which no Pi has, and LiteRT's SME
# path gives wrong answers under qemu 7.2.
C="$T/cpuinfo"; mkdir -p "$C"   # per target: setups of several targets may run at once
_cpuinfo64() {  # part variant revision features model revision-code
  local i
  for i in 0 1 2 3; do
    printf 'processor\t: %s\nBogoMIPS\t: 108.00\nFeatures\t: %s\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: %s\nCPU part\t: %s\nCPU revision\t: %s\n\n' \
      "$i" "$4" "$2" "$1" "$3"
  done
  printf 'Revision\t: %s\nSerial\t\t: 100000000badc0de\nModel\t\t: %s\n' "$6" "$5"
}
_cpuinfo32() {  # model revision-code: a Pi 3 under a 32-bit kernel
  local i
  for i in 0 1 2 3; do
    printf 'processor\t: %s\nmodel name\t: ARMv7 Processor rev 4 (v7l)\nBogoMIPS\t: 38.40\nFeatures\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm crc32\nCPU implementer\t: 0x41\nCPU architecture: 7\nCPU variant\t: 0x0\nCPU part\t: 0xd03\nCPU revision\t: 4\n\n' "$i"
  done
  printf 'Hardware\t: BCM2835\nRevision\t: %s\nSerial\t\t: 00000000badc0de3\nModel\t\t: %s\n' "$2" "$1"
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
_model() { printf '%s\0' "$2" > "$C/model-$1"; }   # /proc/device-tree/model is NUL-terminated
_cpuinfo32 "Raspberry Pi 3 Model B Rev 1.2" a02082 > "$C/pi3"; _model pi3 "Raspberry Pi 3 Model B Rev 1.2"
_cpuinfo64 0xd08 0x0 3 "fp asimd evtstrm crc32 cpuid" "Raspberry Pi 4 Model B Rev 1.5" d03115 > "$C/pi4"
_model pi4 "Raspberry Pi 4 Model B Rev 1.5"
_cpuinfo64 0xd0b 0x4 1 "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp" \
  "Raspberry Pi 5 Model B Rev 1.0" d04170 > "$C/pi5"; _model pi5 "Raspberry Pi 5 Model B Rev 1.0"
_sysfs "$C/sys-pi3" 1200000; _sysfs "$C/sys-pi4" 1800000; _sysfs "$C/sys-pi5" 2400000

# --- 4. wheels ------------------------------------------------------------------------------------
plat_args=(); for p in "${PIP_PLATFORMS[@]}"; do plat_args+=(--platform "$p"); done

_reqs() {  # extra... -> the runtime's dependencies plus those extras, read from runtime/pyproject.toml,
           # without what the target takes from Debian instead (NO_WHEEL, e.g. numpy on armhf)
  "$PYTHON" - "$REPO/runtime/pyproject.toml" "${NO_WHEEL[*]:-}" "$@" <<'EOF'
import re, sys, tomllib
p = tomllib.load(open(sys.argv[1], "rb"))["project"]
skip = set(sys.argv[2].split())
reqs = list(p.get("dependencies", []))
for extra in sys.argv[3:]:
    reqs += p.get("optional-dependencies", {})[extra]
name = lambda r: re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].strip().lower()
print("\n".join(r for r in dict.fromkeys(reqs) if name(r) not in skip))
EOF
}

_download() {  # folder requirement...: pip's real resolution for the target's Python and platforms
  local dir="$1"; shift
  local hash; hash="$(printf '%s\n' "$PYVER" "${PIP_PLATFORMS[@]}" "${NO_DEPS[@]:-}" "$@" | sha256sum | cut -c1-16)"
  [ -e "$dir/.done-$hash" ] && return 0
  log "downloading wheels into $dir for: $*"
  rm -rf "$dir"; mkdir -p "$dir"
  local with=() without=() r
  for r in "$@"; do  # NO_DEPS: wheels whose dependencies come from Debian (tflite-runtime -> numpy on armhf)
    if printf '%s\n' "${NO_DEPS[@]:-}" | grep -qx "$(printf '%s' "$r" | sed 's/[<>=!~;\[ ].*//')"; then without+=("$r"); else with+=("$r"); fi
  done
  local pip=("$PYTHON" -m pip download -q --disable-pip-version-check --only-binary=:all: --implementation cp
             --python-version "$PYVER" --abi "cp${PYVER/./}" --abi abi3 --abi none "${plat_args[@]}" -d "$dir")
  [ "${#with[@]}" -gt 0 ] && "${pip[@]}" "${with[@]}" 2> >(grep -v "^WARNING: Location '.*' is ignored" >&2)
  [ "${#without[@]}" -gt 0 ] && "${pip[@]}" --no-deps "${without[@]}" 2> >(grep -v "^WARNING: Location '.*' is ignored" >&2)
  if ls "$dir" | grep -qi '^tensorflow'; then
    echo "error: a TensorFlow wheel was pulled in by the runtime's requirements ($dir)" >&2; exit 1
  fi
  touch "$dir/.done-$hash"
}

mapfile -t REQS < <(_reqs ${EXTRAS//,/ } test)
[ "${#REQS[@]}" -gt 0 ] || { echo "error: could not read the runtime's requirements for extras $EXTRAS" >&2; exit 1; }
_download "$T/wheels" "${REQS[@]}"
if [ -n "${FALLBACK_EXTRAS:-}" ]; then  # arm64-bookworm: the tflite-runtime fallback (numpy<2), kept apart
  mapfile -t REQS_FB < <(_reqs ${FALLBACK_EXTRAS//,/ })
  _download "$T/wheels-fallback" "${REQS_FB[@]}"
fi

# --- 5. smoke test + versions ---------------------------------------------------------------------
log "smoke test: emulated python"
# shellcheck disable=SC2016
guest_python "$T" "$(board_default)" -c 'import platform, ssl, sqlite3, venv; print(platform.machine(), platform.python_version(), platform.libc_ver())'

{
  echo "target: $TARGET ($DESCRIPTION)"
  echo "host: $(. /etc/os-release && echo "$PRETTY_NAME") $(uname -m)"
  echo "qemu: $("$QEMU" --version | head -1)"
  echo "debs ($(ls "$T"/debs/*.deb | wc -l)):"; (cd "$T/debs" && ls *.deb | sed 's/^/  /')
  for d in "$T"/wheels*; do echo "$(basename "$d"):"; (cd "$d" && ls *.whl | sed 's/^/  /'); done
} > "$T/versions.txt"
log "ready: $T (see $T/versions.txt); next: bash $HERE/run.sh $TARGET $WORK"

# The emulated device classes (sourced by setup.sh, run.sh and serve.sh; not a script of its own).
#
# Every target is run the same way: qemu-user with its sysroot prefix (`qemu-<arch>-static -L ROOTFS`)
# over Debian .debs unpacked with `dpkg -x`. proot is not used: it mistranslates glibc's statx for 32-bit
# ARM guests (every stat then looks at the host's tree). qemu 7.2 has the same gap (it passes statx to the
# host unprefixed): nostatx.py makes the host's statx answer ENOSYS, and qemu then falls back to a stat on
# the prefixed path. There is no binfmt_misc here either, so a guest
# program cannot exec another ARM binary; venvs get a small host-side `bin/python` wrapper that starts
# qemu again (see guest_venv), so Python's own child processes (ensurepip, pip, tests, doctor's probes)
# and the venv's console scripts (`#!.../bin/python`) work.
#
# DEBS: what python3.X needs plus what every Raspberry Pi OS image has and the wheels need (libstdc++6:
# numpy's, LiteRT's and onnxruntime's wheels link it; python3.X does not depend on it).
# A target sets: DESCRIPTION DEB_ARCH MULTIARCH SUITE PYVER QEMU BOARDS (first = default) DEBS
# EXTRAS (the runtime's extras installed from wheels) FALLBACK_EXTRAS (a second venv, or empty)
# VENV_FLAGS (python -m venv flags) NO_WHEEL (requirements Debian provides instead) NO_DEPS (wheels
# downloaded without their dependencies, which come from Debian) PIP_PLATFORMS (the tags its pip accepts)
# INSTALL (the user's install command proved, for the summary and the docs).

TARGETS="arm64-bookworm arm64-trixie armhf-bookworm"
# The Debian archive this machine's own apt uses (its first URIs: entry, or its first deb line), unless
# DEBIAN_MIRROR names one.
_host_mirror() {
  # Either file may be missing (a deb822-only host has no sources.list): a missing one is not an error.
  { sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null || true
    sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]*\).*/\2/p' /etc/apt/sources.list 2>/dev/null || true
  } | grep -v -- '-security' | head -n 1
}
MIRROR="${DEBIAN_MIRROR:-$(_host_mirror)}"

_manylinux() {  # arch max-glibc-minor [extra tags...]
  local m; PIP_PLATFORMS=()
  [ "$1" = armv7l ] || PIP_PLATFORMS+=("manylinux2014_$1")
  for m in $(seq 17 "$2"); do PIP_PLATFORMS+=("manylinux_2_${m}_$1"); done
  PIP_PLATFORMS+=("linux_$1")
}

target_load() {  # name: set the target's variables (exit status 1 and a message for an unknown name)
  TARGET="$1"; NO_WHEEL=(); NO_DEPS=(); FALLBACK_EXTRAS=""; VENV_FLAGS=""
  case "$1" in
    arm64-bookworm)
      DESCRIPTION="64-bit Raspberry Pi OS bookworm: Debian 12 arm64, Python 3.11, glibc 2.36"
      DEB_ARCH=arm64; MULTIARCH=aarch64-linux-gnu; SUITE=bookworm; PYVER=3.11; QEMU=qemu-aarch64-static
      BOARDS="pi4 pi5"; _manylinux aarch64 36
      DEBS=(python3.11 python3.11-venv libstdc++6 base-files dash coreutils)
      EXTRAS="litert,onnx,image"; FALLBACK_EXTRAS="tflite-runtime,image"
      INSTALL='python3 -m venv ~/edgedigits && ~/edgedigits/bin/pip install "edgedigits-runtime[litert,image]"';;
    arm64-trixie)
      DESCRIPTION="64-bit Raspberry Pi OS trixie: Debian 13 arm64, Python 3.13, glibc 2.41"
      DEB_ARCH=arm64; MULTIARCH=aarch64-linux-gnu; SUITE=trixie; PYVER=3.13; QEMU=qemu-aarch64-static
      BOARDS="pi5 pi4"; _manylinux aarch64 41
      DEBS=(python3.13 python3.13-venv libstdc++6 base-files dash coreutils)
      EXTRAS="litert,onnx,image"
      INSTALL='python3 -m venv ~/edgedigits && ~/edgedigits/bin/pip install "edgedigits-runtime[litert,image]"';;
    armhf-bookworm)
      DESCRIPTION="32-bit Raspberry Pi OS bookworm: Debian 12 armhf, Python 3.11, glibc 2.36, armv7l"
      DEB_ARCH=armhf; MULTIARCH=arm-linux-gnueabihf; SUITE=bookworm; PYVER=3.11; QEMU=qemu-arm-static
      BOARDS="pi3"; _manylinux armv7l 36
      # PyPI has no armv7l wheel of numpy, Pillow or OpenCV: Debian's builds, seen from a venv made
      # with --system-site-packages. tflite-runtime 2.14.0 is the one interpreter with an armv7l wheel.
      DEBS=(python3.11 python3.11-venv python3-numpy python3-pil python3-opencv base-files dash coreutils)
      EXTRAS="tflite-runtime"; VENV_FLAGS="--system-site-packages"; NO_WHEEL=(numpy pillow opencv-python-headless)
      NO_DEPS=(tflite-runtime)
      INSTALL='sudo apt install -y python3-venv python3-numpy python3-opencv python3-pil && python3 -m venv --system-site-packages ~/edgedigits && ~/edgedigits/bin/pip install "edgedigits-runtime[tflite-runtime]"';;
    *) echo "error: unknown target '$1'; choose one of: $TARGETS" >&2; return 1;;
  esac
}

board_default() { echo "${BOARDS%% *}"; }

board_cpu() {  # board -> qemu -cpu model (a real Pi core: qemu's default "max" advertises SVE/SME)
  case "$1" in pi3) echo cortex-a7;; pi4) echo cortex-a72;; pi5) echo cortex-a76;; *) return 1;; esac
}

board_install() {  # T board: the board's fake /proc/cpuinfo, /sys/devices/system/cpu, device-tree model
  local R="$1/rootfs" C="$1/cpuinfo"
  case " $BOARDS " in *" $2 "*) ;; *) echo "error: board '$2' is not one of $TARGET's: $BOARDS" >&2; return 1;; esac
  mkdir -p "$R/proc/device-tree" "$R/sys/devices/system"
  cp "$C/$2" "$R/proc/cpuinfo"; cp "$C/model-$2" "$R/proc/device-tree/model"
  rm -rf "$R/sys/devices/system/cpu"; cp -r "$C/sys-$2" "$R/sys/devices/system/cpu"
  # The host's loader cache lists x86-64 libraries: an empty one makes the guest's loader search
  # its multiarch folders (what a Pi's ldconfig-made cache would point to).
  : > "$R/etc/ld.so.cache"
}

_PI_EMU="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
HOST_PYTHON3="$(command -v python3)"

guest_qemu() {  # T board: the command line that starts a program of the target on that board
  echo "$HOST_PYTHON3" -I -S "$_PI_EMU/nostatx.py" "$QEMU" -L "$1/rootfs" -cpu "$(board_cpu "$2")"
}

guest_python() {  # T board args...: the target's system python3 (as /usr/bin/python3.X) on that board
  local T="$1" board="$2"; shift 2
  board_install "$T" "$board" || return 1
  $(guest_qemu "$T" "$board") -0 "/usr/bin/python$PYVER" "$T/rootfs/usr/bin/python$PYVER" "$@"
}

guest_venv() {  # T board dir [venv flags]: `python3 -m venv [flags] dir` in the guest, with pip
  local T="$1" board="$2" dir="$3"; shift 3
  rm -rf "$dir" "$T/rootfs$dir"
  guest_python "$T" "$board" -m venv --without-pip "$@" "$dir" || return 1
  # bin/python* are symlinks to /usr/bin/python3.X: from outside qemu that is the host's Python.
  # On the host, replace them with a wrapper that starts qemu on the guest's interpreter with argv[0] =
  # the venv's python (how Python finds its venv), so children and `#!` console scripts run in the guest
  # too (the host kernel execs the wrapper). The guest, which reads paths through the sysroot prefix
  # first, sees the real interpreter at the same path (a hard link under ROOTFS/<dir>/bin): pip reads
  # sys.executable's ELF header to accept armv7l manylinux wheels (hard-float ABI), as on a Pi.
  local f
  mkdir -p "$T/rootfs$dir/bin"
  for f in python python3 "python$PYVER"; do
    ln -f "$T/rootfs/usr/bin/python$PYVER" "$T/rootfs$dir/bin/$f"
    rm -f "$dir/bin/$f"
    printf '#!/bin/sh\nexec %s -0 "$0" %s "$@"\n' "$(guest_qemu "$T" "$board")" "$T/rootfs/usr/bin/python$PYVER" \
      > "$dir/bin/$f"
    chmod +x "$dir/bin/$f"
  done
  "$dir/bin/python" -m ensurepip --upgrade --default-pip >/dev/null
}

# --- what run.sh and serve.sh record and run (they set RUN, LOGS, SUMMARY and FAILED=0 first) -----------
note() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }
check() {  # name command...: run, log to LOGS/name.log, record PASS/FAIL
  local name="$1"; shift
  if "$@" > "$LOGS/$name.log" 2>&1; then note "PASS $name"; else note "FAIL $name (see $LOGS/$name.log)"; FAILED=1; fi
}
# A command in the emulated Pi: a clean environment, the venv's console scripts run through its qemu wrapper.
_pi() { timeout -k 10 "${PI_TIMEOUT:-3600}" env -i HOME="$RUN/home" PATH=/usr/bin:/bin LANG=C.UTF-8 TERM=dumb NO_COLOR=1 ${GUEST_ENV:-} "$@"; }

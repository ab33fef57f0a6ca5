"""Run a command (qemu-user) with the statx system call answering ENOSYS, so qemu translates paths.

qemu-user 7.2 passes a guest's statx straight to the host without its sysroot prefix (-L), so a
32-bit ARM guest (glibc uses statx for every stat there) looks at the host's files instead of the
emulated root file system. When the host's statx answers ENOSYS, qemu falls back to fstatat on the
prefixed path, which is right. A seccomp filter installed here, inherited across exec, does that.

Usage: python3 nostatx.py qemu-arm-static -L ROOTFS ... PROGRAM ARGS...
"""

import ctypes
import os
import platform
import struct
import sys

_STATX = {"x86_64": 332, "aarch64": 291}  # the host's syscall number of statx
_ENOSYS = 38
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    nr = _STATX.get(platform.machine())
    if nr is None:
        sys.exit(f"error: nostatx.py knows statx's number on x86_64 and aarch64 hosts, not {platform.machine()}")
    op = lambda code, k, jt=0, jf=0: struct.pack("HBBI", code, jt, jf, k)
    prog = b"".join([op(0x20, 0),                    # load the syscall number
                     op(0x15, nr, 0, 1),             # == statx ?
                     op(0x06, _RET_ERRNO | _ENOSYS),  # yes: fail with ENOSYS
                     op(0x06, _RET_ALLOW)])           # no: run it
    buf = ctypes.create_string_buffer(prog)
    fprog = _Fprog(len(prog) // 8, ctypes.cast(buf, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) or libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER,
                                                                   ctypes.byref(fprog), 0, 0):
        err = ctypes.get_errno()
        sys.exit(f"error: cannot install the seccomp filter: {os.strerror(err)}")
    os.execvp(sys.argv[1], sys.argv[1:])


if __name__ == "__main__":
    _main()

"""Run a command (qemu-user) with the path syscalls qemu forgets to translate answering "not supported".

qemu-user 7.2 passes a guest's statx straight to the host without its sysroot prefix (-L), so a
32-bit ARM guest (glibc uses statx for every stat there) looks at the host's files instead of the
emulated root file system. When the host's statx answers ENOSYS, qemu falls back to fstatat on the
prefixed path, which is right. The path-based extended-attribute calls (listxattr, getxattr, ...) have
the same gap (Python 3.13's venv copies its scripts with shutil, which lists the source's xattrs):
they answer EOPNOTSUPP, which shutil takes as "no attributes", as on a file system without them.
A seccomp filter installed here, inherited across exec, does both.

Usage: python3 nostatx.py qemu-arm-static -L ROOTFS ... PROGRAM ARGS...
"""

import ctypes
import os
import platform
import struct
import sys

# host syscall numbers -> errno: statx -> ENOSYS; path-based xattr calls -> EOPNOTSUPP
_ENOSYS, _EOPNOTSUPP = 38, 95
_SYSCALLS = {
    "x86_64": {332: _ENOSYS, 188: _EOPNOTSUPP, 189: _EOPNOTSUPP, 191: _EOPNOTSUPP, 192: _EOPNOTSUPP,
               194: _EOPNOTSUPP, 195: _EOPNOTSUPP},
    "aarch64": {291: _ENOSYS, 5: _EOPNOTSUPP, 6: _EOPNOTSUPP, 8: _EOPNOTSUPP, 9: _EOPNOTSUPP,
                11: _EOPNOTSUPP, 12: _EOPNOTSUPP},
}
_PR_SET_NO_NEW_PRIVS, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 38, 22, 2
_RET_ALLOW, _RET_ERRNO = 0x7FFF0000, 0x00050000


class _Fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    table = _SYSCALLS.get(platform.machine())
    if table is None:
        sys.exit(f"error: nostatx.py knows the syscall numbers of x86_64 and aarch64 hosts, not {platform.machine()}")
    op = lambda code, k, jt=0, jf=0: struct.pack("HBBI", code, jt, jf, k)
    prog = [op(0x20, 0)]                                           # load the syscall number
    for nr, errno in table.items():
        prog += [op(0x15, nr, 0, 1), op(0x06, _RET_ERRNO | errno)]  # == nr ? fail with errno
    prog = b"".join(prog + [op(0x06, _RET_ALLOW)])                # anything else: run it
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

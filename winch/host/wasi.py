"""WASI preview1 (`wasi_snapshot_preview1`) and `wasi_unstable` for compiled modules.

Problem: a program built for `wasm32-wasi` imports its system interface from these modules;
`winch run --wasi` must give it arguments, environment, clocks, random bytes, standard
streams and files in preopened directories, and nothing else of the host.

Algorithm: `Wasi(config).imports(store)` makes one host function per known preview1 (and
wasi_unstable) function; after instantiation `bind(store, instance)` points them at the
instance's exported `memory`.  Each function reads its operands from linear memory
(little-endian on every ISA: linear memory is Wasm's, not the machine's), does the work with
Python's `os` calls, writes results back and returns an errno.  Functions this host does
not implement return ENOSYS (52).

Invariants:
- No Python exception leaves a WASI function: `OSError` becomes its errno, anything else
  EIO; only `HostTrap` leaves, for what wasmtime (50, wasmtime-wasi preview1) traps on:
  a pointer or length outside linear memory ("pointer out of bounds", measured: wasmtime
  traps rather than returning EFAULT) and an invalid enum value (a clock id).
- `proc_exit(code)` raises `WasiExit` (a `HostTrap`): the call stops, `exit_code` holds the
  code; callers treat it as a clean exit.
- Sandbox: a path is resolved component by component below the directory fd's host path
  (each directory fd is its own root, as cap-std's); an absolute path, a `..` above the
  root, or a symlink (absolute or climbing out) that would leave it is EPERM (63), as
  wasmtime 50 answers (measured).  Symlinks inside are followed by this resolver itself,
  never by the OS, so the OS only sees paths already known to stay inside (a concurrent
  host process swapping a directory for a symlink between check and use is out of scope).

`wasi_unstable` differs from preview1 in: `fd_seek` whence (0 CUR, 1 END, 2 SET), the
filestat layout (nlink u32 at 20, size at 24: 56 bytes instead of 64), the subscription
layout of `poll_oneoff` (a clock has an `identifier` u64 first: 56 bytes instead of 48),
and it has no `sock_accept`.  Everything else is shared.
"""

from __future__ import annotations

import errno as _errno
import os
import stat as _stat
import struct
import sys
import time

from winch.host.store import HostTrap
from winch.traps import TrapKind
from winch.wasm.types import I32, I64

# -- errno values (preview1 order) ------------------------------------------------------------
_NAMES = ("SUCCESS 2BIG ACCES ADDRINUSE ADDRNOTAVAIL AFNOSUPPORT AGAIN ALREADY BADF BADMSG "
          "BUSY CANCELED CHILD CONNABORTED CONNREFUSED CONNRESET DEADLK DESTADDRREQ DOM DQUOT "
          "EXIST FAULT FBIG HOSTUNREACH IDRM ILSEQ INPROGRESS INTR INVAL IO ISCONN ISDIR LOOP "
          "MFILE MLINK MSGSIZE MULTIHOP NAMETOOLONG NETDOWN NETRESET NETUNREACH NFILE NOBUFS "
          "NODEV NOENT NOEXEC NOLCK NOLINK NOMEM NOMSG NOPROTOOPT NOSPC NOSYS NOTCONN NOTDIR "
          "NOTEMPTY NOTRECOVERABLE NOTSOCK NOTSUP NOTTY NXIO OVERFLOW OWNERDEAD PERM PIPE PROTO "
          "PROTONOSUPPORT PROTOTYPE RANGE ROFS SPIPE SRCH STALE TIMEDOUT TXTBSY XDEV "
          "NOTCAPABLE").split()
E = {n: i for i, n in enumerate(_NAMES)}
ESUCCESS, EBADF, EEXIST, EFAULT, EINVAL, EIO = 0, E["BADF"], E["EXIST"], E["FAULT"], \
    E["INVAL"], E["IO"]
EISDIR, ELOOP, ENOENT, ENOSYS, ENOTDIR, EPERM = E["ISDIR"], E["LOOP"], E["NOENT"], \
    E["NOSYS"], E["NOTDIR"], E["PERM"]
ESPIPE, ENOTSUP = E["SPIPE"], E["NOTSUP"]
# host errno (Linux numbers via the errno module) -> WASI errno
_FROM_OS = {getattr(_errno, "E" + n): i for i, n in enumerate(_NAMES)
            if i and hasattr(_errno, "E" + n)}
_FROM_OS[_errno.EOPNOTSUPP] = ENOTSUP
_FROM_OS[_errno.EWOULDBLOCK] = E["AGAIN"]

# file types, flags, rights
FT_UNKNOWN, FT_BLOCK, FT_CHAR, FT_DIR, FT_FILE, FT_SYMLINK = 0, 1, 2, 3, 4, 7
O_CREAT, O_DIRECTORY, O_EXCL, O_TRUNC = 1, 2, 4, 8
FDFLAG_APPEND = 1
LOOKUP_SYMLINK_FOLLOW = 1
RIGHT_FD_READ, RIGHT_FD_WRITE, RIGHT_FD_READDIR = 1 << 1, 1 << 6, 1 << 14
# rights that make wasmtime open for writing: fd_datasync, fd_write, fd_allocate,
# fd_filestat_set_size
WRITE_RIGHTS = 1 << 0 | 1 << 6 | 1 << 8 | 1 << 22
ALL_RIGHTS = (1 << 30) - 1
# what wasmtime 50 reports (fd_fdstat_get) for directories, base and inheriting
DIR_RIGHTS, DIR_INHERITING = 0x07B7FE00, 0x0FF7FFFF
MAX_SYMLINKS = 40
M64 = 0xFFFF_FFFF_FFFF_FFFF


class WasiExit(HostTrap):
    """`proc_exit`: stops the running code; not a trap for whoever runs the program."""

    def __init__(self, code: int):
        super().__init__(TrapKind.unreachable, f"exit with code {code}")
        self.code = code


class _Errno(Exception):
    def __init__(self, code: int):
        self.code = code


class WasiConfig:
    """What a program sees: argv (args[0] is the program name), environment pairs,
    preopened directories [(host path, guest name)], the standard streams (binary files:
    stdin readable, stdout/stderr writable) and optional clock/random sources (callables,
    for deterministic runs)."""

    def __init__(self, args=(), env=(), preopens=(), stdin=None, stdout=None, stderr=None,
                 clock=None, random=None):
        self.args = [a.encode() if isinstance(a, str) else a for a in args]
        self.env = [(k.encode() if isinstance(k, str) else k,
                     v.encode() if isinstance(v, str) else v) for k, v in env]
        self.preopens = list(preopens)
        self.stdin = stdin
        self.stdout = stdout
        self.stderr = stderr
        self.clock = clock  # clock(id) -> ns, or None for the host's
        self.random = random  # random(n) -> bytes, or None for os.urandom


class _FD:
    __slots__ = ("kind", "os_fd", "path", "stream", "append", "guest", "dirents", "rights")

    def __init__(self, kind, os_fd=-1, path=None, stream=None, append=False, guest=None,
                 rights=ALL_RIGHTS):
        self.kind = kind  # "file", "dir", "stdin", "stdout"
        self.os_fd = os_fd
        self.path = path  # host path (dirs: the root their paths resolve below)
        self.stream = stream
        self.append = append
        self.guest = guest  # preopen name (bytes) or None
        self.dirents = None
        self.rights = rights


_SIGS = {
    "args_get": "ii", "args_sizes_get": "ii", "environ_get": "ii", "environ_sizes_get": "ii",
    "clock_res_get": "ii", "clock_time_get": "iLi", "fd_advise": "iLLi", "fd_allocate": "iLL",
    "fd_close": "i", "fd_datasync": "i", "fd_fdstat_get": "ii", "fd_fdstat_set_flags": "ii",
    "fd_fdstat_set_rights": "iLL", "fd_filestat_get": "ii", "fd_filestat_set_size": "iL",
    "fd_filestat_set_times": "iLLi", "fd_pread": "iiiLi", "fd_prestat_get": "ii",
    "fd_prestat_dir_name": "iii", "fd_pwrite": "iiiLi", "fd_read": "iiii",
    "fd_readdir": "iiiLi", "fd_renumber": "ii", "fd_seek": "iLii", "fd_sync": "i",
    "fd_tell": "ii", "fd_write": "iiii", "path_create_directory": "iii",
    "path_filestat_get": "iiiii", "path_filestat_set_times": "iiiiLLi",
    "path_link": "iiiiiii", "path_open": "iiiiiLLii", "path_readlink": "iiiiii",
    "path_remove_directory": "iii", "path_rename": "iiiiii", "path_symlink": "iiiii",
    "path_unlink_file": "iii", "poll_oneoff": "iiii", "proc_exit": "i", "proc_raise": "i",
    "sched_yield": "", "random_get": "ii", "sock_accept": "iii", "sock_recv": "iiiiii",
    "sock_send": "iiiii", "sock_shutdown": "ii",
}
MODULES = ("wasi_snapshot_preview1", "wasi_unstable")


class Wasi:
    """One program's WASI state: its descriptors, arguments and memory."""

    def __init__(self, config: WasiConfig):
        self.config = config
        self.exit_code = None
        self.store = None
        self.mem = None
        self.fds: dict = {}
        stdin = config.stdin if config.stdin is not None else sys.stdin.buffer
        self.fds[0] = _FD("stdin", stream=stdin)
        self.fds[1] = _FD("stdout", stream=config.stdout if config.stdout is not None
                          else sys.stdout.buffer)
        self.fds[2] = _FD("stdout", stream=config.stderr if config.stderr is not None
                          else sys.stderr.buffer)
        for host, guest in config.preopens:
            host = os.path.realpath(host)
            if not os.path.isdir(host):
                raise ValueError(f"preopened directory {host!r} is not a directory")
            g = guest.encode() if isinstance(guest, str) else guest
            self.fds[len(self.fds)] = _FD("dir", path=host, guest=g)

    # -- linking ---------------------------------------------------------------------------------
    def imports(self, store, bench: bool = True, wanted=None) -> dict:
        """(module, name) -> HostFunc for both WASI modules (and `bench.start`/`bench.end`,
        the no-op markers sightglass's benchmarks import); only the pairs in `wanted` (a
        set) when given: each host function costs a stub and a record."""
        self.store = store
        out = {}
        for module in MODULES:
            unstable = module == "wasi_unstable"
            for name, sig in _SIGS.items():
                if unstable and name == "sock_accept" or \
                        wanted is not None and (module, name) not in wanted:
                    continue
                params = [I64 if c == "L" else I32 for c in sig]
                results = [] if name == "proc_exit" else [I32]
                out[(module, name)] = store.host_func(params, results,
                                                      self._entry(name, unstable))
        if bench:
            out[("bench", "start")] = store.host_func([], [], lambda: [])
            out[("bench", "end")] = store.host_func([], [], lambda: [])
        return out

    def bind(self, store, instance) -> None:
        """Use `instance`'s exported memory (without one, any pointer traps as out of
        bounds, as in wasmtime)."""
        self.store = store
        mem = instance.exports.get("memory")
        self.mem = mem if mem is not None and hasattr(mem, "base") else None

    def close(self) -> None:
        """Close the host files the program left open."""
        for f in self.fds.values():
            if f.os_fd >= 0:
                try:
                    os.close(f.os_fd)
                except OSError:
                    pass
                f.os_fd = -1

    def _calling_memory(self):
        if self.store is None or not self.store.instances_by_vmctx:
            return None
        mem = self.store._vm_instance().exports.get("memory")
        return mem if mem is not None and hasattr(mem, "base") else None

    def _entry(self, name, unstable):
        impl = getattr(self, "_" + name, None)
        if name.startswith("sock_"):  # no descriptor is a socket
            impl = self._not_a_socket
        if impl is None:
            return lambda *a: [ENOSYS]

        def call(*args):
            try:
                if unstable and name in _UNSTABLE:
                    r = _UNSTABLE[name](self, *args)
                else:
                    r = impl(*args)
                return [] if name == "proc_exit" else [r or 0]
            except HostTrap:
                raise
            except _Errno as e:
                return [e.code]
            except OSError as e:
                return [_FROM_OS.get(e.errno, EIO)]
            except Exception:  # a host bug must not crash the emulator: report it as EIO
                return [EIO]
        return call

    # -- memory ------------------------------------------------------------------------------------
    def _check(self, ptr: int, n: int, align: int = 1) -> int:
        """The host address of guest bytes [ptr, ptr + n); traps as wasmtime does for a
        region outside memory or a typed pointer (align > 1) that is misaligned."""
        mem = self.mem
        if mem is None:  # a call from a start function, before `bind`
            mem = self.mem = self._calling_memory()
        if mem is None or ptr + n > mem.byte_size:
            raise HostTrap(TrapKind.memory_out_of_bounds,
                           f"pointer out of bounds: {ptr:#x} + {n}")
        if ptr & (align - 1) and n:
            raise HostTrap(TrapKind.memory_out_of_bounds, f"pointer not aligned: {ptr:#x}")
        return mem.base + ptr

    def read(self, ptr: int, n: int, align: int = 1) -> bytes:
        addr = self._check(ptr, n, align)
        return bytes(self.store.mu.mem_read(addr, n)) if n else b""

    def write(self, ptr: int, data: bytes, align: int = 1) -> None:
        addr = self._check(ptr, len(data), align)
        if data:
            self.store.mu.mem_write(addr, bytes(data))

    def put32(self, ptr, v):
        self.write(ptr, (v & 0xFFFF_FFFF).to_bytes(4, "little"), 4)

    def put64(self, ptr, v):
        self.write(ptr, (v & M64).to_bytes(8, "little"), 8)

    def _iovs(self, iovs, n):
        raw = self.read(iovs, 8 * n, 4)
        return [struct.unpack_from("<II", raw, 8 * k) for k in range(n)]

    def _first_iov(self, iovs, n):
        """wasmtime (preview1 over preview2) reads or writes only the first non-empty
        buffer of a vector per call; the C library loops over short counts."""
        for b, ln in self._iovs(iovs, n):
            if ln:
                return b, ln
        return 0, 0

    def _not_a_socket(self, fd, *_rest):
        self._fd(fd)
        raise _Errno(E["NOTSOCK"])

    def _fd(self, fd, kind=None) -> _FD:
        f = self.fds.get(fd)
        if f is None:
            raise _Errno(EBADF)
        if kind == "dir" and f.kind != "dir":
            raise _Errno(ENOTDIR if f.kind == "file" else EBADF)
        return f

    # -- args, environment, clocks, random ---------------------------------------------------------
    def _strings_get(self, items, ptrs, buf):
        for k, s in enumerate(items):
            self.put32(ptrs + 4 * k, buf)
            self.write(buf, s + b"\0")
            buf += len(s) + 1

    def _args_get(self, argv, buf):
        self._strings_get(self.config.args, argv, buf)

    def _args_sizes_get(self, argc_ptr, size_ptr):
        a = self.config.args
        self.put32(argc_ptr, len(a))
        self.put32(size_ptr, sum(len(s) + 1 for s in a))

    def _environ_items(self):
        return [k + b"=" + v for k, v in self.config.env]

    def _environ_get(self, ptrs, buf):
        self._strings_get(self._environ_items(), ptrs, buf)

    def _environ_sizes_get(self, count_ptr, size_ptr):
        items = self._environ_items()
        self.put32(count_ptr, len(items))
        self.put32(size_ptr, sum(len(s) + 1 for s in items))

    def _clock_ns(self, clock_id) -> int:
        if clock_id > 3:
            raise HostTrap(TrapKind.unreachable, "invalid enum value Clockid")
        if clock_id > 1:  # process/thread CPU time: wasmtime 50 answers EBADF
            raise _Errno(EBADF)
        if self.config.clock is not None:
            return self.config.clock(clock_id)
        return time.time_ns() if clock_id == 0 else time.monotonic_ns()

    def _clock_res_get(self, clock_id, res_ptr):
        self._clock_ns(clock_id)
        self.put64(res_ptr, 1)

    def _clock_time_get(self, clock_id, _precision, time_ptr):
        self.put64(time_ptr, self._clock_ns(clock_id))

    def _random_get(self, buf, n):
        self._check(buf, n)
        src = self.config.random
        self.write(buf, src(n) if src is not None else os.urandom(n))

    def _proc_exit(self, code):
        self.exit_code = code
        raise WasiExit(code)

    def _sched_yield(self):
        return 0

    # -- descriptors ----------------------------------------------------------------------------
    def _fd_write(self, fd, iovs, n, nwritten_ptr):
        f = self._fd(fd)
        data = self.read(*self._first_iov(iovs, n))
        if f.kind == "stdout":
            f.stream.write(data)
            f.stream.flush()
            done = len(data)
        elif f.kind == "file":
            if f.append:
                os.lseek(f.os_fd, 0, os.SEEK_END)
            done = os.write(f.os_fd, data)
        else:
            raise _Errno(EBADF)
        self.put32(nwritten_ptr, done)

    def _fd_pwrite(self, fd, iovs, n, offset, nwritten_ptr):
        f = self._fd(fd)
        if f.kind != "file":
            raise _Errno(ESPIPE if f.kind != "dir" else EISDIR)
        data = self.read(*self._first_iov(iovs, n))
        self.put32(nwritten_ptr, os.pwrite(f.os_fd, data, offset))

    def _fd_read(self, fd, iovs, n, nread_ptr):
        self._readv(fd, iovs, n, nread_ptr, None)

    def _fd_pread(self, fd, iovs, n, offset, nread_ptr):
        self._readv(fd, iovs, n, nread_ptr, offset)

    def _readv(self, fd, iovs, n, nread_ptr, offset):
        f = self._fd(fd)
        buf, total = self._first_iov(iovs, n)
        self._check(buf, total)
        if f.kind == "stdin":
            if offset is not None:
                raise _Errno(ESPIPE)
            data = _read_some(f.stream, total)
        elif f.kind == "file":
            data = os.read(f.os_fd, total) if offset is None else \
                os.pread(f.os_fd, total, offset)
        else:
            raise _Errno(EBADF)
        self.write(buf, data)
        self.put32(nread_ptr, len(data))

    def _fd_close(self, fd):
        f = self._fd(fd)
        if f.os_fd >= 0:
            os.close(f.os_fd)
        del self.fds[fd]

    def _fd_seek(self, fd, offset, whence, newoffset_ptr, unstable=False):
        f = self._fd(fd)
        if whence > 2:
            raise HostTrap(TrapKind.unreachable, "invalid enum value Whence")
        if unstable:
            whence = (os.SEEK_CUR, os.SEEK_END, os.SEEK_SET)[whence]
        else:
            whence = (os.SEEK_SET, os.SEEK_CUR, os.SEEK_END)[whence]
        if f.kind == "dir":
            raise _Errno(EBADF)
        if f.kind != "file":
            raise _Errno(ESPIPE)
        if offset >> 63:
            offset -= 1 << 64
        self.put64(newoffset_ptr, os.lseek(f.os_fd, offset, whence))

    def _fd_tell(self, fd, ptr):
        f = self._fd(fd)
        if f.kind == "dir":
            raise _Errno(EBADF)
        if f.kind != "file":
            raise _Errno(ESPIPE)
        self.put64(ptr, os.lseek(f.os_fd, 0, os.SEEK_CUR))

    def _filetype_of(self, f: _FD) -> int:
        if f.kind == "dir":
            return FT_DIR
        if f.kind == "file":
            return FT_FILE
        try:  # a standard stream: wasmtime says "character device" for a terminal only
            return FT_CHAR if f.stream.isatty() else FT_UNKNOWN
        except (AttributeError, OSError, ValueError):
            return FT_UNKNOWN

    def _fd_fdstat_get(self, fd, ptr):
        f = self._fd(fd)
        flags = FDFLAG_APPEND if f.append else 0
        if f.kind == "dir":
            base, inheriting = DIR_RIGHTS, DIR_INHERITING
        elif f.kind == "stdin":
            base = inheriting = RIGHT_FD_READ
        elif f.kind == "stdout":
            base = inheriting = RIGHT_FD_WRITE
        else:
            base = inheriting = f.rights
        self.write(ptr, struct.pack("<BxHxxxxQQ", self._filetype_of(f), flags, base,
                                    inheriting), 8)

    def _fd_fdstat_set_flags(self, fd, flags):
        f = self._fd(fd)
        if flags & ~FDFLAG_APPEND & 0xFFFF:
            raise _Errno(EINVAL)
        if f.kind == "file":
            f.append = bool(flags & FDFLAG_APPEND)
        elif flags:
            raise _Errno(EINVAL)

    def _fd_filestat_get(self, fd, ptr, unstable=False):
        f = self._fd(fd)
        if f.kind in ("file",):
            st = os.fstat(f.os_fd)
        elif f.kind == "dir":
            st = os.stat(f.path)
        else:
            st = _fstat_stream(f.stream)
        self.write(ptr, _filestat(st, unstable), 8)

    def _fd_filestat_set_size(self, fd, size):
        f = self._fd(fd)
        if f.kind != "file":
            raise _Errno(EINVAL if f.kind != "dir" else EISDIR)
        os.ftruncate(f.os_fd, size)

    def _fd_sync(self, fd):
        f = self._fd(fd)
        if f.kind == "file":
            os.fsync(f.os_fd)

    _fd_datasync = _fd_sync

    def _fd_prestat_get(self, fd, ptr):
        f = self._fd(fd)
        if f.guest is None:
            raise _Errno(EBADF)
        self.write(ptr, struct.pack("<BxxxI", 0, len(f.guest)), 4)

    def _fd_prestat_dir_name(self, fd, ptr, n):
        f = self._fd(fd)
        if f.guest is None:
            raise _Errno(EBADF)
        if n < len(f.guest):
            raise _Errno(E["NAMETOOLONG"])
        self.write(ptr, f.guest[:n])

    def _fd_readdir(self, fd, buf, buf_len, cookie, used_ptr):
        f = self._fd(fd, "dir")
        self._check(buf, buf_len)
        self._check(used_ptr, 4, 4)
        if cookie == 0 or f.dirents is None:
            names = sorted(os.listdir(f.path))
            ents = []
            for name in [".", ".."] + names:
                host = os.path.join(f.path, name)
                try:
                    st = os.lstat(host)
                    ents.append((name.encode(), st.st_ino, _mode_type(st)))
                except OSError:
                    continue
            f.dirents = ents
        out = bytearray()
        for k in range(cookie, len(f.dirents)):
            name, ino, ft = f.dirents[k]
            out += struct.pack("<QQIBxxx", k + 1, ino & M64, len(name), ft) + name
            if len(out) >= buf_len:
                break
        out = out[:buf_len]
        self.write(buf, bytes(out))
        self.put32(used_ptr, len(out))

    # -- paths ----------------------------------------------------------------------------------
    def _path(self, dirfd, ptr, n, follow_last=True) -> str:
        d = self._fd(dirfd, "dir")
        raw = self.read(ptr, n)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _Errno(E["ILSEQ"]) from None
        return resolve(d.path, text, follow_last)

    def _path_open(self, dirfd, dirflags, ptr, n, oflags, rights, _inheriting, fdflags,
                   fd_ptr):
        host = self._path(dirfd, ptr, n, bool(dirflags & LOOKUP_SYMLINK_FOLLOW))
        self._check(fd_ptr, 4, 4)
        want_dir = bool(oflags & O_DIRECTORY)
        is_dir = os.path.isdir(host) and not os.path.islink(host)
        if want_dir and (oflags & O_CREAT):
            raise _Errno(EINVAL)
        if is_dir and not (oflags & (O_CREAT | O_TRUNC)):
            if rights & WRITE_RIGHTS:
                raise _Errno(EISDIR)
            fd = self._new_fd(_FD("dir", path=host))
            self.put32(fd_ptr, fd)
            return
        if want_dir:
            if os.path.lexists(host):
                raise _Errno(ENOTDIR)
            raise _Errno(ENOENT)
        read = bool(rights & (RIGHT_FD_READ | RIGHT_FD_READDIR))
        write = bool(rights & WRITE_RIGHTS)
        flags = os.O_RDWR if read and write else os.O_WRONLY if write else os.O_RDONLY
        if oflags & O_CREAT:
            flags |= os.O_CREAT
        if oflags & O_EXCL:
            flags |= os.O_EXCL
        if oflags & O_TRUNC:
            flags |= os.O_TRUNC
        flags |= os.O_NOFOLLOW  # the resolver followed what should be followed
        os_fd = os.open(host, flags, 0o644)
        f = _FD("file", os_fd=os_fd, path=host, append=bool(fdflags & FDFLAG_APPEND),
                rights=ALL_RIGHTS & ~(0 if write else RIGHT_FD_WRITE)
                & ~(0 if read else RIGHT_FD_READ))
        self.put32(fd_ptr, self._new_fd(f))

    def _new_fd(self, f: _FD) -> int:
        fd = 3
        while fd in self.fds:
            fd += 1
        self.fds[fd] = f
        return fd

    def _path_filestat_get(self, dirfd, flags, ptr, n, buf, unstable=False):
        host = self._path(dirfd, ptr, n, bool(flags & LOOKUP_SYMLINK_FOLLOW))
        self.write(buf, _filestat(os.lstat(host), unstable), 8)

    def _path_unlink_file(self, dirfd, ptr, n):
        host = self._path(dirfd, ptr, n, False)
        if os.path.isdir(host) and not os.path.islink(host):
            raise _Errno(EISDIR)
        os.unlink(host)

    def _path_create_directory(self, dirfd, ptr, n):
        os.mkdir(self._path(dirfd, ptr, n, False))

    def _path_remove_directory(self, dirfd, ptr, n):
        os.rmdir(self._path(dirfd, ptr, n, False))

    def _path_rename(self, dirfd, ptr, n, newdirfd, newptr, newn):
        old = self._path(dirfd, ptr, n, False)
        new = self._path(newdirfd, newptr, newn, False)
        os.rename(old, new)

    # -- poll -----------------------------------------------------------------------------------
    def _poll_oneoff(self, in_ptr, out_ptr, nsubs, nevents_ptr, unstable=False):
        if nsubs == 0:
            raise _Errno(EINVAL)
        size = 56 if unstable else 48
        raw = self.read(in_ptr, size * nsubs, 8)
        self._check(out_ptr, 32 * nsubs, 8)
        self._check(nevents_ptr, 4, 4)
        events, clocks = [], []
        now = {}
        for k in range(nsubs):
            sub = raw[size * k:size * (k + 1)]
            userdata, tag = struct.unpack_from("<QB", sub, 0)
            if tag == 0:
                if unstable:
                    clock_id, timeout, _prec, flags = struct.unpack_from("<IxxxxQQH", sub, 24)
                else:
                    clock_id, timeout, _prec, flags = struct.unpack_from("<IxxxxQQH", sub, 16)
                if clock_id not in now:
                    now[clock_id] = self._clock_ns(clock_id)
                deadline = timeout if flags & 1 else now[clock_id] + timeout
                clocks.append((deadline - now[clock_id], userdata))
            elif tag in (1, 2):
                fd = struct.unpack_from("<I", sub, 16)[0]
                err = 0 if fd in self.fds else EBADF
                events.append(struct.pack("<QHBxxxxxQHxxxxxx", userdata, err, tag, 0, 0))
            else:
                raise HostTrap(TrapKind.unreachable, "invalid enum value Eventtype")
        if not events and clocks:
            wait = min(c[0] for c in clocks)
            if wait > 0 and self.config.clock is None:
                time.sleep(wait / 1e9)
            for left, userdata in clocks:
                if left <= wait:
                    events.append(struct.pack("<QHBxxxxxQHxxxxxx", userdata, 0, 0, 0, 0))
        self.write(out_ptr, b"".join(events), 8)
        self.put32(nevents_ptr, len(events))


def _unstable(name):
    return lambda self, *a: getattr(self, "_" + name)(*a, unstable=True)


_UNSTABLE = {n: _unstable(n) for n in ("fd_seek", "fd_filestat_get", "path_filestat_get",
                                        "poll_oneoff")}


def resolve(root: str, path: str, follow_last: bool = True) -> str:
    """The host path of guest `path` below directory `root`, following symlinks itself;
    `_Errno(EPERM)` for anything that would leave `root`, ELOOP for too many links."""
    if "\0" in path:
        raise _Errno(EINVAL)
    if path == "":
        raise _Errno(ENOENT)
    if path.startswith("/"):
        raise _Errno(EPERM)
    todo = path.split("/")
    trailing = path.endswith("/")
    done: list = []
    links = 0
    while todo:
        part = todo.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not done:
                raise _Errno(EPERM)
            done.pop()
            continue
        host = os.path.join(root, *done, part)
        last = not any(p not in ("", ".") for p in todo)
        if os.path.islink(host) and (not last or follow_last or trailing):
            links += 1
            if links > MAX_SYMLINKS:
                raise _Errno(ELOOP)
            target = os.readlink(host)
            if target.startswith("/"):
                raise _Errno(EPERM)
            todo = target.split("/") + todo
            continue
        done.append(part)
    out = os.path.join(root, *done)
    if trailing and os.path.lexists(out) and not os.path.isdir(out):
        raise _Errno(ENOTDIR)
    return out


def _mode_type(st) -> int:
    if st is None:
        return FT_CHAR
    m = st.st_mode
    if _stat.S_ISDIR(m):
        return FT_DIR
    if _stat.S_ISREG(m):
        return FT_FILE
    if _stat.S_ISLNK(m):
        return FT_SYMLINK
    if _stat.S_ISCHR(m):
        return FT_CHAR
    if _stat.S_ISBLK(m):
        return FT_BLOCK
    if _stat.S_ISSOCK(m):
        return 6
    return FT_UNKNOWN


def _fstat_stream(stream):
    try:
        return os.fstat(stream.fileno())
    except (AttributeError, OSError, ValueError):
        return None


def _filestat(st, unstable: bool) -> bytes:
    if st is None:
        dev = ino = size = atim = mtim = ctim = 0
        nlink, ft = 1, FT_CHAR
    else:
        dev, ino, nlink, size = st.st_dev, st.st_ino, st.st_nlink, st.st_size
        atim, mtim, ctim = st.st_atime_ns, st.st_mtime_ns, st.st_ctime_ns
        ft = _mode_type(st)
    if unstable:
        return struct.pack("<QQBxxxIQQQQ", dev & M64, ino & M64, ft, nlink, size, atim, mtim,
                           ctim)
    return struct.pack("<QQBxxxxxxxQQQQQ", dev & M64, ino & M64, ft, nlink, size, atim, mtim,
                       ctim)


def _read_some(stream, n: int) -> bytes:
    if n == 0:
        return b""
    r = getattr(stream, "read1", None)
    return (r(n) if r is not None else stream.read(n)) or b""


def run_wasi(compiled, config: WasiConfig, store=None):
    """Instantiate `compiled` with WASI and run its `_start`.  Returns (exit code or None,
    outcome): exit code 0 when `_start` returns, the code of `proc_exit`; None with the
    Trapped/Exhausted/SandboxViolation outcome otherwise.  Raises LinkError for imports
    that are neither WASI nor bench, and ValueError for a module without `_start`."""
    from winch.host import instance as winst
    from winch.host.store import Returned, Store

    if store is None:
        store = Store(compiled.isa, timeout=3600.0)
    wasi = Wasi(config)
    wanted = {(imp.module, imp.name) for imp in compiled.module.imports}
    try:
        try:
            inst = winst.instantiate(store, compiled, wasi.imports(store, wanted=wanted))
        except winst.InstantiationTrap as t:  # the start function exited (or trapped)
            if wasi.exit_code is not None:
                return wasi.exit_code, t.outcome
            raise
        wasi.bind(store, inst)
        start = inst.exports.get("_start")
        if start is None:
            raise ValueError("no exported function _start")
        out = winst.call(store, start, [])
    finally:
        wasi.close()
    if wasi.exit_code is not None:
        return wasi.exit_code, out
    if isinstance(out, Returned):
        return 0, out
    return None, out

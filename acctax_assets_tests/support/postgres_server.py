"""A throwaway PostgreSQL server for tests: Debian's binaries, loopback only, a password required.

Postgres refuses to run as root, so under root every server command runs as the `postgres` system user in a
folder that user owns. The password reaches initdb through a 0600 file that is deleted as soon as initdb has
read it; tests hand it to Dagster only through the environment.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg2
from psycopg2.extensions import connection as Connection

BIN_GLOB = "/usr/lib/postgresql/*/bin/initdb"
SERVER_USER = "postgres"
SUPERUSER = "acctax"
START_TIMEOUT_S = 30


class PostgresUnavailable(Exception):
    """No PostgreSQL binaries (or no user to run them as) on this machine: the caller skips."""


@dataclass(frozen=True)
class PostgresServer:
    """Where the running server listens and how to log in."""

    port: int
    username: str
    password: str
    hostname: str = "127.0.0.1"

    def connect(self, db_name: str = "postgres", password: str | None = None) -> Connection:
        """A psycopg2 connection over TCP; `password=None` uses the real one."""
        return psycopg2.connect(
            host=self.hostname,
            port=self.port,
            user=self.username,
            password=self.password if password is None else password,
            dbname=db_name,
            connect_timeout=5,
        )


def find_bin_dir() -> Path:
    """The newest installed Debian PostgreSQL bin folder."""
    candidates = sorted(
        (Path(p).parent for p in Path("/").glob(BIN_GLOB.lstrip("/"))),
        key=lambda path: [int(n) for n in re.findall(r"\d+", path.parent.name)],
    )
    if not candidates:
        raise PostgresUnavailable(f"no PostgreSQL server binaries match {BIN_GLOB} (apt-get install postgresql)")
    return candidates[-1]


def _server_account() -> pwd.struct_passwd | None:
    """The account to run the server as: `postgres` under root (Postgres refuses root), else ourselves."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise PostgresUnavailable(
            f"running as root and there is no {SERVER_USER!r} user to run PostgreSQL as"
        ) from None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _chown_tree(root: Path, account: pwd.struct_passwd) -> None:
    for path in [root, *root.rglob("*")]:
        os.chown(path, account.pw_uid, account.pw_gid)


def _run(command: list[str], account: pwd.struct_passwd | None, cwd: Path) -> None:
    """Run a server command (as the server account), raising with its output when it fails."""
    as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []} if account else {}
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=START_TIMEOUT_S * 2, **as_user)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def _server_processes(data_dir: Path) -> list[psutil.Process]:
    """The postmaster named in `postmaster.pid` and all its children (none if the server is not up)."""
    try:
        postmaster = psutil.Process(int((data_dir / "postmaster.pid").read_text().splitlines()[0]))
        return [postmaster, *postmaster.children(recursive=True)]
    except (FileNotFoundError, IndexError, ValueError, psutil.NoSuchProcess):
        return []


def _stop(bin_dir: Path, data_dir: Path, account: pwd.struct_passwd | None, cwd: Path) -> list[psutil.Process]:
    """`pg_ctl stop -m fast` (an immediate shutdown of this postmaster if that fails); returns what is still alive."""
    processes = _server_processes(data_dir)
    if not processes:
        return []
    try:
        _run(
            [str(bin_dir / "pg_ctl"), "stop", "-D", str(data_dir), "-m", "fast", "-w", "-t", str(START_TIMEOUT_S)],
            account,
            cwd,
        )
    except (RuntimeError, subprocess.TimeoutExpired):
        if processes[0].is_running():
            os.kill(processes[0].pid, signal.SIGQUIT)
    _, alive = psutil.wait_procs(processes, timeout=START_TIMEOUT_S)
    return alive


@contextmanager
def running_postgres(db_name: str = "dagster") -> Iterator[PostgresServer]:
    """A fresh cluster with scram-sha-256 everywhere, listening on 127.0.0.1 only, with `db_name` created.

    On exit the server is stopped and its folder removed; an AssertionError names any process left behind.
    """
    bin_dir = find_bin_dir()
    account = _server_account()
    root = Path(tempfile.mkdtemp(prefix="acctax-pg-"))
    data_dir, socket_dir = root / "data", root / "sockets"
    socket_dir.mkdir()
    password = secrets.token_urlsafe(24)
    pwfile = root / "pwfile"
    pwfile.touch(mode=0o600)
    pwfile.write_text(password + "\n")
    if account:
        _chown_tree(root, account)
    try:
        try:
            _run(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data_dir),
                    f"--username={SUPERUSER}",
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                    "--no-instructions",
                ],
                account,
                root,
            )
        finally:
            pwfile.unlink()
        port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -p {port} -k {socket_dir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        server_log = root / "server.log"
        try:
            _run(
                [
                    str(bin_dir / "pg_ctl"),
                    "start",
                    "-D",
                    str(data_dir),
                    "-l",
                    str(server_log),
                    "-w",
                    "-t",
                    str(START_TIMEOUT_S),
                    "-o",
                    options,
                ],
                account,
                root,
            )
        except RuntimeError as exc:
            log = server_log.read_text(errors="replace") if server_log.exists() else "(no server log)"
            raise RuntimeError(f"{exc}\nserver log:\n{log[-4000:]}") from None
        server = PostgresServer(port=port, username=SUPERUSER, password=password)
        connection = server.connect()
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(f'CREATE DATABASE "{db_name}"')
        finally:
            connection.close()
        yield server
    finally:
        leftovers = _stop(bin_dir, data_dir, account, root)
        shutil.rmtree(root, ignore_errors=True)
        assert not leftovers, f"PostgreSQL processes left after stopping the test server: {leftovers}"

"""A throwaway PostgreSQL server for the tests that share a sweep's study through one (Debian's
`postgresql` package; .ci/run installs it): a cluster in a temp folder, listening on a Unix socket in that
folder only, password-protected, stopped and removed at the end. As root it runs as the `postgres` user
(initdb refuses root)."""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

USER, DATABASE = "sweeper", "studies"


def server_bin() -> Path | None:
    """The newest installed server's bin folder, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def why_not() -> str:
    """Why no server can be started here ("" when one can)."""
    if server_bin() is None:
        return "PostgreSQL's server is not installed (apt-get install postgresql; .ci/run does)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            return "running as root and there is no postgres user to run the server as"
        if shutil.which("runuser") is None:
            return "running as root without runuser to start the server as postgres"
    try:
        import psycopg  # noqa: F401  (the driver SQLAlchemy and Optuna use for postgresql:// URLs)
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    return ""


class Server:
    """One cluster: start(), stop(), url(password=...); the password is the right one unless told."""

    def __init__(self) -> None:
        bin_dir = server_bin()
        assert bin_dir is not None
        self.bin = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="gan-studio-pg-"))  # in /tmp: the postgres user can reach it
        self.data, self.log = self.folder / "data", self.folder / "server.log"
        self.password = secrets.token_hex(12)
        with socket.socket() as s:  # the port names the socket file; a free one keeps clear of other clusters
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        (self.folder / "pw").write_text(self.password)
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            for path in (self.folder, self.folder / "pw"):
                os.chown(path, owner.pw_uid, owner.pw_gid)
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=scram-sha-256",
                  f"--pwfile={self.folder / 'pw'}", "-E", "UTF8", "--no-sync")
        self.start()
        self._sql("postgres", f"CREATE ROLE {USER} LOGIN PASSWORD '{self.password}'",
                  f"CREATE DATABASE {DATABASE} OWNER {USER}")

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{program}: {done.stdout[-2000:]}{done.stderr[-2000:]}"

    def _sql(self, user: str, *statements: str) -> None:
        import psycopg

        conn = psycopg.connect(host=str(self.folder), port=self.port, user=user, password=self.password,
                               dbname="postgres", autocommit=True)
        try:
            with conn.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
        finally:
            conn.close()

    def start(self) -> None:
        options = f"-c listen_addresses='' -c unix_socket_directories={self.folder} -p {self.port} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, password: str | None = None) -> str:
        return (f"postgresql://{USER}:{self.password if password is None else password}@/{DATABASE}"
                f"?host={self.folder}&port={self.port}")

    def close(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        except AssertionError:
            pass  # stopped already
        shutil.rmtree(self.folder, ignore_errors=True)

"""A throwaway PostgreSQL cluster for tests: `initdb` + `pg_ctl` in a temporary folder, on a free port.

As root the cluster runs as an unprivileged user (`postgres` where Debian's package made one,
else `nobody`), because initdb refuses to run as root. The caller stops it with `stop()`.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def pg_bin_dir() -> Path | None:
    """The newest installed PostgreSQL server's bin folder (Debian layout, or initdb on PATH), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """A running cluster: its folder, port, superuser and a URL for a database."""

    root: Path
    port: int
    bin: Path
    run_as: str | None

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, schema: str, dbname: str = "postgres") -> str:
        """A sandwich store URL for `schema` in database `dbname`."""
        return f"postgresql://sandwich@127.0.0.1:{self.port}/{dbname}?schema={schema}"

    def _cmd(self, *args: str) -> list[str]:
        return (["runuser", "-u", self.run_as, "--"] if self.run_as else []) + list(args)

    def pg_ctl(self, *args: str, timeout: float = 60) -> None:
        """Run pg_ctl on this cluster (start, stop, restart …)."""
        subprocess.run(
            self._cmd(str(self.bin / "pg_ctl"), "-D", str(self.data), "-w", *args),
            check=True,
            capture_output=True,
            timeout=timeout,
        )

    def start(self) -> None:
        """Start the server (TCP on 127.0.0.1:port, its socket in the cluster folder)."""
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        self.pg_ctl("-o", opts, "-l", str(self.root / "server.log"), "start")

    def stop(self) -> None:
        """Stop the server fast and delete the cluster's folder."""
        try:
            self.pg_ctl("-m", "immediate", "stop")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pass
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> Cluster:
    """initdb a new cluster (trust auth, C locale, superuser `sandwich`) and start it. Raises RuntimeError."""
    bindir = pg_bin_dir()
    if bindir is None:
        raise RuntimeError("PostgreSQL server binaries not found (install Debian's `postgresql`: make system-deps)")
    root = Path(tempfile.mkdtemp(prefix="sbpg-"))  # short: a Unix socket path must stay under 108 bytes
    run_as = None
    if os.geteuid() == 0:
        run_as = "postgres" if _has_user("postgres") else "nobody"
        entry = pwd.getpwnam(run_as)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    cluster = Cluster(root, _free_port(), bindir, run_as)
    try:
        subprocess.run(
            cluster._cmd(
                str(bindir / "initdb"),
                "-D",
                str(cluster.data),
                "-U",
                "sandwich",
                "--auth=trust",
                "--locale=C",
                "-E",
                "UTF8",
                "--no-sync",
            ),
            check=True,
            capture_output=True,
            timeout=120,
        )
        cluster.start()
    except subprocess.CalledProcessError as e:
        shutil.rmtree(root, ignore_errors=True)
        raise RuntimeError(f"could not start a test PostgreSQL cluster: {e.stderr.decode(errors='replace')}") from e
    return cluster


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True

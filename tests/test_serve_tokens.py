"""c24: tokens stay out of the process table and out of logs; `sandwich status --server` while serving.

The real CLI in subprocesses against a real `sandwich serve`.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from case_support import create_case

from sandwich.server.harness import ServerProcess

pytestmark = pytest.mark.timeout(300)
CASE = "c24-token-in-process-list"
TOKEN = re.compile(r"sw_[0-9a-f]+\.\S+")


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k not in ("SANDWICH_TOKEN", "SANDWICH_LEAD_TOKEN")}
    full.update({"COLUMNS": "200", **(env or {})})
    return subprocess.run(
        [sys.executable, "-m", "sandwich", *args], capture_output=True, text=True, env=full, timeout=120, check=False
    )


def owner_only(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


def test_tokens_go_to_owner_only_files_and_the_command_line_warns(tmp_path: Path) -> None:
    _, db = create_case(CASE, tmp_path)
    out = cli("tokens", "issue", str(db), "--overseer", "ana", "--out", str(tmp_path / "ana.token"))
    assert out.returncode == 0, out.stderr
    assert not TOKEN.search(out.stdout + out.stderr)  # written, not printed
    token_file = tmp_path / "ana.token"
    assert owner_only(token_file) and TOKEN.fullmatch(token_file.read_text().strip())
    again = cli("tokens", "issue", str(db), "--overseer", "ana", "--out", str(token_file))
    assert again.returncode == 2 and "already exists" in again.stderr  # never overwrites a token file

    server = ServerProcess(db)
    server.start()
    try:
        log = server.log.read_text()
        lead_file = db.with_name(db.stem + ".lead-token")
        assert not TOKEN.search(log), "the lead token reached the server's output"
        assert str(lead_file) in log and owner_only(lead_file)
        lead = lead_file.read_text().strip()
        ana = token_file.read_text().strip()
        assert (
            httpx.get(server.url + "/v1/whoami", headers={"Authorization": f"Bearer {ana}"}).json()["subject"] == "ana"
        )

        # `status` while serving: the local file is refused with a pointer to --server; --server works
        local = cli("status", str(db))
        assert local.returncode == 2 and "--server" in local.stderr
        for how, env in ((["--lead-token-file", str(lead_file)], {}), ([], {"SANDWICH_LEAD_TOKEN": lead})):
            r = cli("status", "--server", server.url, *how, env=env)
            assert r.returncode == 0, r.stderr
            assert "token-argv" in r.stdout and "ana" in r.stdout and "warning" not in r.stderr
        argv = cli("status", "--server", server.url, "--lead-token", lead)
        assert argv.returncode == 0 and "can be read by every local user" in argv.stderr
        none = cli("status", "--server", server.url)
        assert none.returncode == 2 and "SANDWICH_LEAD_TOKEN" in none.stderr
        # a token file others can read gets a warning
        token_file.chmod(0o644)
        loose = cli("tokens", "list", str(db), "--server", server.url, "--lead-token-file", str(token_file))
        assert "chmod 600" in loose.stderr
    finally:
        server.stop()


def test_label_reads_the_token_from_the_environment_or_a_file_and_warns_on_argv(tmp_path: Path) -> None:
    # no server listens: each way gets as far as connecting, which shows which token source was used
    url = "http://127.0.0.1:9"
    argv = cli("label", "--server", url, "--token", "sw_abc.def")
    assert "can be read by every local user" in argv.stderr and "SANDWICH_TOKEN" in argv.stderr
    env = cli("label", "--server", url, env={"SANDWICH_TOKEN": "sw_abc.def"})
    assert "warning" not in env.stderr and "Cannot reach" in env.stderr
    missing = cli("label", "--server", url)
    assert missing.returncode == 2 and "SANDWICH_TOKEN" in missing.stderr

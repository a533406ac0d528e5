"""A real Dovecot 2.3 IMAP server for tests and benchmarks: rootless config, a free loopback port, a
throw-away mail folder, and users created on demand (the passwd-file is re-read when it changes).

Started in the foreground (`dovecot -F`) so the fixture owns the process. As root, Dovecot's login
processes run as the packaged `dovenull` user and mail belongs to `nobody` (Dovecot refuses uid 0).
Config from ../shared/docs/domain.md section 6 (verified on Debian 12, dovecot-imapd 2.3.19).
"""

from __future__ import annotations

import contextlib
import grp
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from pipeline.settings import ImapMailbox
from tests.conftest import missing_server
from tests.serving import free_port

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
PASSWORD = "testpass"
USERS = 200
CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = {d}/run
state_dir = {d}/state
instance_name = intake-test-{port}
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
mail_location = maildir:{d}/mail/%u
mail_uid = {mail_user}
mail_gid = {mail_group}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={d}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  unix_listener stats-reader {{
    user = {internal_user}
    group = {internal_group}
    mode = 0660
  }}
  unix_listener stats-writer {{
    user = {internal_user}
    group = {internal_group}
    mode = 0660
  }}
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
"""


def _accounts() -> dict[str, str]:
    if os.getuid() == 0:
        return dict(login_user="dovenull", internal_user="dovecot", internal_group="dovecot",
                    mail_user="nobody", mail_group="nogroup")
    me, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    return dict(login_user=me, internal_user=me, internal_group=group, mail_user=me, mail_group=group)


class Dovecot:
    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.accounts = _accounts()
        self.proc: subprocess.Popen[bytes] | None = None
        self._users = itertools.count(1)
        for sub in ("run", "state", "mail"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        self._own(folder / "mail")
        # all users up front: Dovecot re-reads a changed passwd-file only when its mtime moves on a second
        names = ["probe", *(f"user{i}" for i in range(1, USERS + 1))]
        (folder / "users").write_text("".join(f"{n}:{{PLAIN}}{PASSWORD}::::::\n" for n in names), encoding="utf-8")
        self.conf = folder / "dovecot.conf"
        self.conf.write_text(CONFIG.format(d=folder, port=self.port, **self.accounts), encoding="utf-8")

    def _own(self, path: Path) -> None:
        if os.getuid() == 0:
            shutil.chown(path, self.accounts["mail_user"], self.accounts["mail_group"])

    # --- the process -------------------------------------------------------------------------------

    def start(self, timeout_s: float = 20) -> Dovecot:
        deadline = time.monotonic() + timeout_s
        while True:  # the port may still be held by the processes of the previous run for a moment
            # a process group of its own: the master does not end the imap processes of open sessions
            # when it stops, so stop() signals the whole group
            self.proc = subprocess.Popen([DOVECOT, "-F", "-c", str(self.conf)], stdout=subprocess.DEVNULL,
                                         stderr=(self.folder / "master.err").open("ab"), start_new_session=True)
            if self._ready(deadline):
                return self
            if time.monotonic() > deadline:
                raise RuntimeError(f"dovecot did not start: {self.log()[-2000:]}")
            self.proc.wait(5)

    def _ready(self, deadline: float) -> bool:
        """True once a login works; False when the process exited (e.g. address still in use)."""
        user = "probe"
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                time.sleep(0.2)
                return False
            with contextlib.suppress(OSError, IMAPClient.Error, IMAPClient.AbortError):
                client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=5)
                client.login(user, PASSWORD)
                client.logout()
                return True
            time.sleep(0.1)
        return False

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server and every process it started, dropping each session as a restart does."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)
        self.proc.wait(15)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)  # anyone of the group still there?
            except ProcessLookupError:
                break
            time.sleep(0.02)
        else:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- users and mail ----------------------------------------------------------------------------

    def add_user(self) -> str:
        """A user with an empty mailbox (password PASSWORD), not used by any other test."""
        number = next(self._users)
        assert number <= USERS, "raise tests.channels.dovecot.USERS"
        return f"user{number}"

    def maildir(self, user: str) -> Path:
        return self.folder / "mail" / user

    def client(self, user: str) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=30)
        client.login(user, PASSWORD)
        return client

    def append(self, user: str, raw: bytes, folder: str = "INBOX", **kwargs: Any) -> int:
        """APPEND with a real client; the new UID (UIDPLUS)."""
        with self.client(user) as client:
            reply = client.append(folder, raw, **kwargs)
        return int(reply.split(b"]")[0].split()[-1])

    def append_many(self, user: str, raws: list[bytes], folder: str = "INBOX") -> None:
        """One MULTIAPPEND over one connection: quick seeding of many messages."""
        with self.client(user) as client:
            client.multiappend(folder, raws)

    def mailbox(self, user: str, **overrides: Any) -> ImapMailbox:
        """The [[imap]] table intake would have for this user."""
        values: dict[str, Any] = dict(name=user, host="127.0.0.1", port=self.port, tls="none", user=user,
                                      password=PASSWORD, timeout_s=10.0)
        values.update(overrides)
        return ImapMailbox(**values)

    def set_uidvalidity(self, user: str, value: int, folder: str = "INBOX") -> None:
        subprocess.run([DOVEADM, "-c", str(self.conf), "mailbox", "update", "-u", user, "--uid-validity",
                        str(value), folder], check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def running(port: int | None = None) -> Iterator[Dovecot]:
    """A started Dovecot in a fresh folder, stopped and removed afterwards; skips (fails in CI) when
    Dovecot is not installed."""
    if not Path(DOVECOT).exists():
        missing_server(f"{DOVECOT} is missing (Debian package dovecot-imapd; scripts/system-deps installs it)")
    # not under pytest's tmp folders: they are mode 0700 and the mail user (nobody) must get in
    folder = Path(tempfile.mkdtemp(prefix="intake-dovecot-"))
    folder.chmod(0o755)
    server = Dovecot(folder, port)
    try:
        yield server.start()
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    """One Dovecot per test module; each test takes a user of its own (`dovecot.add_user()`)."""
    with running() as server:
        yield server

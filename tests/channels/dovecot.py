"""A real Dovecot 2.3 IMAP server for tests and benchmarks: rootless config, a free loopback port, a
throw-away mail folder, and users created on demand (the passwd-file is re-read when it changes).

Plaintext by default. With `tls` (a throw-away CA and server certificate from `make_tls`) it requires TLS:
IMAPS on `tls_port`, STARTTLS on `port`. With `oauth2_url` it also takes XOAUTH2 and OAUTHBEARER, checking
each bearer token at that introspection URL (`passdb oauth2`).

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
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient

from pipeline.settings import ImapMailbox
from tests.conftest import missing_server
from tests.serving import free_port

DOVECOT = "/usr/sbin/dovecot"
DOVEADM = "/usr/bin/doveadm"
OPENSSL = "openssl"
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
{ssl}
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
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
{oauth2_passdb}userdb {{
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
    address = 127.0.0.1
    port = {imaps_port}
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
PLAINTEXT = "ssl = no"
TLS_REQUIRED = """\
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}"""
# tried after the passwd-file, which fails bearer tokens (their "password" never matches) and so passes them on
OAUTH2_PASSDB = """\
passdb {{
  driver = oauth2
  args = {d}/oauth2.conf.ext
}}
"""
# introspection_mode = post: Dovecot POSTs token=<token> and wants {"active": true, "username": <user>} back
OAUTH2_CONF = """\
introspection_url = {url}
introspection_mode = post
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 5000
"""
SERVER_EXTENSIONS = """\
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
"""


@dataclass(frozen=True)
class Tls:
    """PEM files: a server certificate for 127.0.0.1 and localhost, its key, and the CA that signed it."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def make_tls(folder: Path, name: str = "intake test CA") -> Tls:
    """A new CA (valid two days) and a server certificate it signed, made with the openssl command."""
    if shutil.which(OPENSSL) is None:
        missing_server("the openssl command is missing (Debian package openssl)")
    folder.mkdir(parents=True, exist_ok=True)
    tls = Tls(folder / "ca.pem", folder / "server.pem", folder / "server.key")
    ca_key, request, extensions = folder / "ca.key", folder / "server.csr", folder / "server.ext"
    extensions.write_text(SERVER_EXTENSIONS, encoding="utf-8")
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    _openssl("req", "-x509", *key, "-keyout", ca_key, "-out", tls.ca_file, "-days", "2", "-subj", f"/CN={name}",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    _openssl("req", *key, "-keyout", tls.key_file, "-out", request, "-subj", "/CN=localhost")
    _openssl("x509", "-req", "-in", request, "-CA", tls.ca_file, "-CAkey", ca_key, "-set_serial",
             str(int.from_bytes(os.urandom(8), "big")), "-days", "2", "-extfile", extensions, "-out", tls.cert_file)
    return tls


def _openssl(*args: str | Path) -> None:
    subprocess.run([OPENSSL, *map(str, args)], check=True, capture_output=True, timeout=60)


def _accounts() -> dict[str, str]:
    if os.getuid() == 0:
        return dict(login_user="dovenull", internal_user="dovecot", internal_group="dovecot",
                    mail_user="nobody", mail_group="nogroup")
    me, group = pwd.getpwuid(os.getuid()).pw_name, grp.getgrgid(os.getgid()).gr_name
    return dict(login_user=me, internal_user=me, internal_group=group, mail_user=me, mail_group=group)


class Dovecot:
    def __init__(self, folder: Path, port: int | None = None, tls: Tls | None = None,
                 oauth2_url: str | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.tls = tls
        self.tls_port = free_port() if tls else 0  # IMAPS; 0: no such listener
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
        self.conf.write_text(self._config(oauth2_url), encoding="utf-8")

    def _config(self, oauth2_url: str | None) -> str:
        d = self.folder
        ssl_settings = TLS_REQUIRED.format(cert=self.tls.cert_file, key=self.tls.key_file) if self.tls else PLAINTEXT
        mechanisms, oauth2_passdb = "plain login", ""
        if oauth2_url:
            (d / "oauth2.conf.ext").write_text(OAUTH2_CONF.format(url=oauth2_url), encoding="utf-8")
            mechanisms, oauth2_passdb = "plain login xoauth2 oauthbearer", OAUTH2_PASSDB.format(d=d)
        return CONFIG.format(d=d, port=self.port, imaps_port=self.tls_port, ssl=ssl_settings, mechanisms=mechanisms,
                             oauth2_passdb=oauth2_passdb, **self.accounts)

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
                client = self._connect(timeout_s=5)
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

    def _connect(self, timeout_s: float) -> IMAPClient:
        """Plaintext, or IMAPS verified against the test CA when the server requires TLS."""
        if self.tls is None:
            return IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=timeout_s)
        context = ssl.create_default_context(cafile=str(self.tls.ca_file))
        return IMAPClient("127.0.0.1", port=self.tls_port, ssl=True, ssl_context=context, timeout=timeout_s)

    def client(self, user: str) -> IMAPClient:
        client = self._connect(timeout_s=30)
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
        if self.tls:  # implicit TLS; pass tls="starttls", port=dovecot.port for STARTTLS
            values.update(port=self.tls_port, tls="ssl", ca_file=self.tls.ca_file)
        values.update(overrides)
        return ImapMailbox(**values)

    def set_uidvalidity(self, user: str, value: int, folder: str = "INBOX") -> None:
        subprocess.run([DOVEADM, "-c", str(self.conf), "mailbox", "update", "-u", user, "--uid-validity",
                        str(value), folder], check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def running(port: int | None = None, tls: Tls | None = None, oauth2_url: str | None = None) -> Iterator[Dovecot]:
    """A started Dovecot in a fresh folder, stopped and removed afterwards; skips (fails in CI) when
    Dovecot is not installed."""
    if not Path(DOVECOT).exists():
        missing_server(f"{DOVECOT} is missing (Debian package dovecot-imapd; scripts/system-deps installs it)")
    # not under pytest's tmp folders: they are mode 0700 and the mail user (nobody) must get in
    folder = Path(tempfile.mkdtemp(prefix="intake-dovecot-"))
    folder.chmod(0o755)
    server = Dovecot(folder, port, tls=tls, oauth2_url=oauth2_url)
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

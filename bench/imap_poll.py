#!/usr/bin/env python3
"""IMAP poll cost against a real Dovecot: does an idle poll grow with the mailbox, and how fast is a first sync?

For each size a fresh user's Maildir is written directly (no APPENDs), Dovecot indexes it on the first
SELECT, and a child process (so its peak memory is its own) runs intake's poller against it:
  first sync   Poller.once() on an empty SQLite store: fetch, store, flag, parse, triage, ticket, ack job
  idle poll    Poller.sync() on the open session with nothing new (cursor read + UID SEARCH + status write)
  IMAP only    the UID SEARCH round trip alone
  poll-once    connect + login + SELECT + sync + logout (what a cron `intake imap poll-once` costs)
Target: idle poll time independent of size (ratio ~1), first-sync peak RSS < 200 MB.

    .venv/bin/python bench/imap_poll.py [--sizes 1000,50000] [--polls 200]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pipeline.channels.imap_poller import Poller
from pipeline.channels.imap_session import MailboxSession
from pipeline.runtime import Runtime
from pipeline.settings import ImapMailbox, load_settings
from tests.channels import dovecot as dovecot_module
from tests.mailmaker import make_mail

BODY = ("Hello,\n\nController {n} at the east plant logs alarm 0x{n:04x} every few minutes since the firmware "
        "upgrade; the fans run at full speed. Please advise.\n\nRegards,\nOps team {team}\n") * 3


def seed(server: dovecot_module.Dovecot, user: str, size: int) -> float:
    """Write `size` messages straight into the user's Maildir; seconds taken."""
    began = time.perf_counter()
    inbox = server.maildir(user)
    for sub in ("cur", "new", "tmp"):
        (inbox / sub).mkdir(parents=True, exist_ok=True)
    base = int(time.time()) - size
    for n in range(size):
        raw = make_mail(f"Alarm 0x{n:04x} on controller {n}", BODY.format(n=n, team=n % 97),
                        f"ops{n % 500}@customer{n % 80}.example.cn", message_id=f"bench-{size}-{n}@example.cn")
        path = inbox / "cur" / f"{base + n}.P{os.getpid()}Q{n}.bench,S={len(raw)}:2,"
        path.write_bytes(raw)
        os.utime(path, (base + n, base + n))  # Maildir INTERNALDATE is the file's mtime
    if os.getuid() == 0:
        for root, dirs, files in os.walk(server.maildir(user)):
            for name in [*dirs, *files]:
                shutil.chown(os.path.join(root, name), "nobody", "nogroup")
        shutil.chown(server.maildir(user), "nobody", "nogroup")
    return time.perf_counter() - began


def index(server: dovecot_module.Dovecot, user: str) -> float:
    began = time.perf_counter()
    with server.client(user) as client:
        client.select_folder("INBOX", readonly=True)
    return time.perf_counter() - began


def child(port: int, user: str, folder: str, polls: int) -> None:
    box = ImapMailbox(name=user, host="127.0.0.1", port=port, tls="none", user=user,
                      password=dovecot_module.PASSWORD, timeout_s=120.0)
    settings = load_settings({"INTAKE_DATABASE_URL": f"sqlite:///{folder}/intake.db",
                              "INTAKE_SERVICE_ADDRESSES": "service@support.example"}, imap=[box])
    rt = Runtime.open(settings)
    poller = Poller(rt, box)
    before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    began = time.perf_counter()
    fetched, error = poller.once()
    sync_s = time.perf_counter() - began
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if error:
        raise SystemExit(f"first sync failed: {error}")

    assert poller.take()
    session = MailboxSession(box)
    session.open()
    idle, imap_only = [], []
    for _ in range(polls):
        began = time.perf_counter()
        assert poller.sync(session) == 0
        idle.append(time.perf_counter() - began)
        began = time.perf_counter()
        session.new_uids(fetched)
        imap_only.append(time.perf_counter() - began)
    session.close()
    poller.let_go()
    once = []
    for _ in range(max(5, polls // 20)):
        began = time.perf_counter()
        poller.once()
        once.append(time.perf_counter() - began)
    rt.close()
    print(json.dumps({"fetched": fetched, "sync_s": sync_s, "rss_before_mb": before_mb, "peak_mb": peak_mb,
                      "idle_ms": statistics.median(idle) * 1000,
                      "idle_p95_ms": sorted(idle)[int(len(idle) * .95)] * 1000,
                      "imap_ms": statistics.median(imap_only) * 1000,
                      "once_ms": statistics.median(once) * 1000}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,50000")
    parser.add_argument("--polls", type=int, default=200)
    parser.add_argument("--child", nargs=3, metavar=("PORT", "USER", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(int(args.child[0]), args.child[1], args.child[2], args.polls)
        return
    results = {}
    with dovecot_module.running() as server:
        for size in (int(s) for s in args.sizes.split(",")):
            user = server.add_user()
            seeded = seed(server, user, size)
            indexed = index(server, user)
            with tempfile.TemporaryDirectory() as folder:
                out = subprocess.run([sys.executable, __file__, "--polls", str(args.polls), "--child",
                                      str(server.port), user, folder], check=True, capture_output=True, text=True)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result.update(seeded_s=seeded, indexed_s=indexed)
            results[size] = result
            rate = result["fetched"] / result["sync_s"]
            print(f"{size:>7} msgs: seeded {seeded:.1f} s, Dovecot indexed {indexed:.2f} s; first sync "
                  f"{result['fetched']} in {result['sync_s']:.1f} s = {rate:.0f} msgs/s, "
                  f"peak RSS {result['peak_mb']:.0f} MB (at start {result['rss_before_mb']:.0f} MB); idle poll "
                  f"{result['idle_ms']:.2f} ms (p95 {result['idle_p95_ms']:.2f}), IMAP UID SEARCH "
                  f"{result['imap_ms']:.2f} ms, poll-once {result['once_ms']:.1f} ms", flush=True)
    sizes = sorted(results)
    if len(sizes) > 1:
        small, large = results[sizes[0]], results[sizes[-1]]
        print(f"ratio {sizes[-1]}/{sizes[0]}: idle poll {large['idle_ms'] / small['idle_ms']:.2f}, "
              f"UID SEARCH {large['imap_ms'] / small['imap_ms']:.2f}, "
              f"poll-once {large['once_ms'] / small['once_ms']:.2f}  (target ~1); "
              f"peak RSS max {max(r['peak_mb'] for r in results.values()):.0f} MB (target < 200)")
    print(f"cpus {os.cpu_count()}")


if __name__ == "__main__":
    main()

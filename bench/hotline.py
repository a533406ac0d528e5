"""Sustained, signed Twilio webhook load against a running `intake serve`, on SQLite and on PostgreSQL.

    .venv/bin/python bench/hotline.py                       # SQLite, 200 requests/s for 30 s
    .venv/bin/python bench/hotline.py --postgres postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python bench/hotline.py --rate 100 --seconds 10 --backend sqlite

Starts the service in a scratch folder (on PostgreSQL: in a throw-away database it drops afterwards) and
plays calls as Twilio would: the voice request, the engineer's leg (ringing, answered or not), the <Dial>
action, a voicemail and its recording callback for a missed call, the caller's "completed". Each call is
a new caller, a few are repeat callers. Requests go out open-loop at a fixed rate (a slow answer does not
slow the load down), signed exactly as Twilio signs them. Prints p50/p90/p99/max latency per kind of
request, errors, and checks afterwards that every request was stored once. Twilio waits at most 15 s;
the target is p99 < 50 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from twilio.request_validator import RequestValidator

TOKEN = "bench-auth-token"
PUBLIC = "https://intake.example.cn"
OURS, ENGINEER = "+864001234567", "+8613900139000"
ACCOUNT = "AC" + "b" * 32
TARGET_S = 0.050


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Request:
    kind: str
    path: str
    params: dict[str, str]
    signature: str


def call_requests(number: int, rng: random.Random, validator: RequestValidator) -> list[Request]:
    """One call as Twilio reports it; about a third are missed and leave a voicemail."""
    sid, leg = f"CA{number:032x}", f"CL{number:032x}"
    caller = f"+86138{rng.randrange(10**8):08d}" if rng.random() > 0.1 else "+8613800138000"  # some repeat
    base = {"AccountSid": ACCOUNT, "ApiVersion": "2010-04-01", "CallSid": sid, "From": caller, "Caller": caller,
            "To": OURS, "Called": OURS, "Direction": "inbound", "FromCountry": "CN", "CallerCountry": "CN"}
    leg_base = {**base, "CallSid": leg, "ParentCallSid": sid, "To": ENGINEER, "Called": ENGINEER,
                "Direction": "outbound-dial", "CallbackSource": "call-progress-events"}
    missed = rng.random() < 0.33
    steps: list[tuple[str, str, dict[str, str]]] = [
        ("voice", "/hotline/voice", {**base, "CallStatus": "ringing"}),
        ("status", "/hotline/status", {**leg_base, "CallStatus": "ringing", "SequenceNumber": "1"}),
    ]
    if missed:
        recording = f"RE{number:032x}"
        steps += [
            ("status", "/hotline/status", {**leg_base, "CallStatus": "no-answer", "SequenceNumber": "2"}),
            ("dial", "/hotline/voice?step=dialed",
             {**base, "CallStatus": "in-progress", "DialCallStatus": "no-answer"}),
            ("record", "/hotline/voice?step=recorded",
             {**base, "CallStatus": "completed", "RecordingSid": recording, "RecordingDuration": "12",
              "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{recording}"}),
            ("recording", "/hotline/recording",
             {"AccountSid": ACCOUNT, "CallSid": sid, "RecordingSid": recording, "RecordingStatus": "completed",
              "RecordingDuration": "12", "RecordingChannels": "1", "RecordingSource": "RecordVerb",
              "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Recordings/{recording}"}),
        ]
    else:
        steps += [
            ("status", "/hotline/status", {**leg_base, "CallStatus": "in-progress", "SequenceNumber": "2"}),
            ("status", "/hotline/status", {**leg_base, "CallStatus": "completed", "SequenceNumber": "3",
                                           "CallDuration": "60"}),
            ("dial", "/hotline/voice?step=dialed", {**base, "CallStatus": "in-progress", "DialCallStatus": "completed",
                                                    "DialCallSid": leg, "DialCallDuration": "60"}),
        ]
    steps.append(("status", "/hotline/status", {**base, "CallStatus": "completed", "CallDuration": "70",
                                                "SequenceNumber": "4"}))
    return [Request(kind, path, params, validator.compute_signature(PUBLIC + path, params))
            for kind, path, params in steps]


def schedule(total: int, rng: random.Random) -> list[Request]:
    """`total` requests, calls interleaved (about 12 in flight), each call's requests in order."""
    validator = RequestValidator(TOKEN)
    active: list[list[Request]] = []
    out: list[Request] = []
    calls = 0
    while len(out) < total:
        while len(active) < 12:
            active.append(call_requests(calls, rng, validator))
            calls += 1
        pick = rng.randrange(len(active))
        out.append(active[pick].pop(0))
        if not active[pick]:
            active.pop(pick)
    return out


def encode(request: Request, host: str) -> bytes:
    body = urlencode(request.params).encode()
    head = (f"POST {request.path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\nX-Twilio-Signature: {request.signature}\r\n\r\n")
    return head.encode() + body


async def load(host: str, port: int, requests: list[Request], rate: float,
               connections: int = 64) -> tuple[dict[str, list[float]], list[str], float]:
    """Open loop: each request is due at its time and goes out on the first free keep-alive connection
    (a small HTTP/1.1 client of our own: httpx's pool costs more CPU than the server under test). The
    latency counts from when the request was due, so time spent waiting for a connection counts too."""
    latencies: dict[str, list[float]] = defaultdict(list)
    errors: list[str] = []
    lag: list[float] = []
    slow: dict[int, int] = defaultdict(int)  # second of the run -> requests over the target then
    work: asyncio.Queue[tuple[Request, bytes, float] | None] = asyncio.Queue()

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        while (item := await work.get()) is not None:
            request, raw, due = item
            lag.append(time.perf_counter() - due)
            try:
                writer.write(raw)
                status = (await reader.readline()).split(b" ", 2)
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                body = await reader.readexactly(length)
                if status[1:2] != [b"200"]:
                    errors.append(f"{request.kind}: HTTP {b' '.join(status[1:]).decode().strip()} {body[:80]!r}")
            except (OSError, asyncio.IncompleteReadError, ValueError, IndexError) as exc:
                errors.append(f"{request.kind}: {type(exc).__name__} {exc}")
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
            latencies[request.kind].append(took := time.perf_counter() - due)
            if took > TARGET_S:
                slow[int(due - start)] += 1
        writer.close()

    workers = [asyncio.create_task(connection()) for _ in range(connections)]
    encoded = [encode(request, f"{host}:{port}") for request in requests]
    start = time.perf_counter() + 0.5
    for index, (request, raw) in enumerate(zip(requests, encoded, strict=True)):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        work.put_nowait((request, raw, due))
    for _ in workers:
        work.put_nowait(None)
    await asyncio.gather(*workers)
    if slow:
        print("requests over the target, by second of the run:",
              ", ".join(f"{second}s: {count}" for second, count in sorted(slow.items())))
    return latencies, errors, max(lag) if lag else 0.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000


def report(name: str, latencies: dict[str, list[float]], errors: list[str], seconds: float, lag: float) -> dict:
    everything = [v for values in latencies.values() for v in values]
    print(f"\n== {name}: {len(everything)} requests in {seconds:.1f} s ({len(everything) / seconds:.0f}/s), "
          f"{len(errors)} errors, longest wait for a free connection {lag * 1000:.1f} ms")
    print(f"{'kind':<10} {'count':>6} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    rows = {}
    for kind in [*sorted(latencies), "all"]:
        values = everything if kind == "all" else latencies[kind]
        row = {"count": len(values), "p50": percentile(values, 0.5), "p90": percentile(values, 0.9),
               "p99": percentile(values, 0.99), "max": max(values) * 1000, "mean": statistics.fmean(values) * 1000}
        rows[kind] = row
        print(f"{kind:<10} {row['count']:>6} {row['p50']:>8.1f} {row['p90']:>8.1f} {row['p99']:>8.1f} "
              f"{row['max']:>8.1f}")
    for line in errors[:10]:
        print("  error:", line)
    verdict = "meets" if rows["all"]["p99"] < TARGET_S * 1000 and not errors else "MISSES"
    print(f"p99 {rows['all']['p99']:.1f} ms: {verdict} the 50 ms target")
    return {"backend": name, "errors": len(errors), "kinds": rows}


def serve(folder: Path, database_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTAKE_")}
    env.update(
        INTAKE_DATABASE_URL=database_url, INTAKE_HTTP_LISTEN=f"127.0.0.1:{port}",
        INTAKE_SMTP_LISTEN=f"127.0.0.1:{free_port()}", INTAKE_OUTBOX_DIR=str(folder / "outbox"),
        INTAKE_PUBLIC_URL=PUBLIC, INTAKE_TWILIO_AUTH_TOKEN=TOKEN, INTAKE_TWILIO_ACCOUNT_SID=ACCOUNT,
        INTAKE_SERVICE_ADDRESSES="service@support.example",
        INTAKE_HOTLINE=json.dumps({"on_call": [ENGINEER], "after_hours_tiers": ["24x7", "8x5"],
                                   "callback_notify": ["oncall@support.example"]}),
    )
    env.update({k.removeprefix("BENCH_"): v for k, v in os.environ.items() if k.startswith("BENCH_INTAKE_")})
    log = (folder / "serve.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", "serve"], cwd=folder, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"intake serve exited: {(folder / 'serve.log').read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1)
            return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("intake serve did not start")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stored(database_url: str) -> tuple[int, int, int]:
    engine = create_engine(database_url)
    with engine.connect() as connection:
        counts = tuple(connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()
                       for table in ("call_events", "calls", "tickets"))
    engine.dispose()
    return counts  # type: ignore[return-value]


def run(name: str, database_url: str, rate: float, seconds: float, seed: int) -> dict:
    folder = Path(tempfile.mkdtemp(prefix=f"intake-bench-{name}-"))
    proc, base = serve(folder, database_url)
    try:
        requests = schedule(int(rate * seconds), random.Random(seed))
        began, cpu_before = time.perf_counter(), cpu_seconds(proc.pid)
        host, _, port = base.removeprefix("http://").partition(":")
        latencies, errors, lag = asyncio.run(load(host, int(port), requests, rate))
        result = report(name, latencies, errors, time.perf_counter() - began, lag)
        result["server_cpu_s"] = cpu = cpu_seconds(proc.pid) - cpu_before
        print(f"server CPU: {cpu:.1f} s, {cpu * 1000 / len(requests):.2f} ms per request")
        events, calls, tickets = stored(database_url)
        distinct = len({(r.path, r.params["CallSid"], json.dumps(r.params, sort_keys=True)) for r in requests})
        print(f"stored: {events} call events for {distinct} distinct requests, {calls} calls, {tickets} tickets")
        result["stored_events"], result["requests"] = events, distinct
        return result
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200, help="requests per second (default 200)")
    parser.add_argument("--seconds", type=float, default=30, help="how long (default 30)")
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default=None)
    parser.add_argument("--postgres", default=os.environ.get("INTAKE_TEST_POSTGRES_URL"),
                        help="a PostgreSQL URL whose server may get a throw-away database")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON at the end")
    args = parser.parse_args()
    backend = args.backend or ("both" if args.postgres else "sqlite")
    results = []
    if backend in ("sqlite", "both"):
        folder = Path(tempfile.mkdtemp(prefix="intake-bench-db-"))
        results.append(run("sqlite", f"sqlite:///{folder}/intake.db", args.rate, args.seconds, args.seed))
    if backend in ("postgresql", "both"):
        if not args.postgres:
            raise SystemExit("--postgres URL (or INTAKE_TEST_POSTGRES_URL) is needed for PostgreSQL")
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        name = f"intake_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
            results.append(run("postgresql", url, args.rate, args.seconds, args.seed))
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    if args.json:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

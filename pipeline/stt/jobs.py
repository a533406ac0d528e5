"""The background job that transcribes a voicemail: download the recording, run the backend, record.

Scheduled by pipeline.calls.followups when a recording completes and hotline.stt_backend is set. The
download goes through the Twilio REST client's session and base URL (recordings need the account's
credentials); a recording Twilio has not finished yet (404) is retried with the worker's backoff.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

from pipeline import durable, stt
from pipeline.calls import followups, rows, service
from pipeline.calls.context import Context
from pipeline.errors import ConfigError
from pipeline.jobs import twilio_api, worker
from pipeline.jobs.mailer import PermanentFailure
from pipeline.runtime import Runtime
from pipeline.store import db, models
from pipeline.stt import audio

MEDIA_SUFFIXES = (".wav", ".mp3")


def recording_file(folder: Path, recording_sid: str) -> Path:
    return folder / f"{re.sub(r'[^A-Za-z0-9_-]', '_', recording_sid)[:64]}.wav"


def fetch(rt: Runtime, url: str, target: Path) -> Path:
    """The recording as WAV on disk (written atomically); kept, so a retry does not download it again."""
    if target.is_file():
        return target
    data = twilio_api.download(rt.settings, url if url.endswith(MEDIA_SUFFIXES) else f"{url}.wav")
    return durable.write_atomically(target, data)


@worker.handles(followups.TRANSCRIBE)
def transcribe(rt: Runtime, job: models.Job, now: datetime) -> str | None:
    payload = job.payload or {}
    call_sid, recording_sid, url = payload.get("call_sid"), payload.get("recording_sid"), payload.get("recording_url")
    if not (call_sid and recording_sid and url):
        raise PermanentFailure("the transcribe job lacks call_sid, recording_sid or recording_url")
    options = rt.settings.hotline
    try:
        backend = stt.load(payload.get("backend") or options.stt_backend, options.stt_model_dir)
    except ConfigError as exc:
        raise PermanentFailure(str(exc)) from exc
    path = fetch(rt, url, recording_file(options.recordings_dir, recording_sid))
    try:
        text = backend.transcribe(path, job.language)
    except audio.NotAudio as exc:
        raise PermanentFailure(f"cannot transcribe {path}: {exc}") from exc
    ctx = Context.from_runtime(rt)
    with db.transaction(rt.sessions) as session:
        call, original = rows.load(session, call_sid, now)
        call.recording_path = str(path)
        if text:
            service.record_transcript(session, ctx, call, text, backend.name, now)
        rows.save(session, call, original)
    return f"{backend.name}: {len(text)} characters from {path.name}"

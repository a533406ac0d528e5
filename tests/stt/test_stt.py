"""Voicemail speech-to-text: a recording espeak-ng makes is fetched from a loopback Twilio API by the
background job, transcribed (pocketsphinx; faster-whisper where a model folder is configured), recorded on
the call and graded on its ticket."""

from __future__ import annotations

import array
import math
import os
import shutil
import subprocess
import sys
import wave
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from pipeline import stt
from pipeline.jobs import worker
from pipeline.runtime import Runtime
from pipeline.store import models, queries
from pipeline.stt import audio
from tests.conftest import make_settings, missing_server
from tests.twilio_fake import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    OUR_NUMBER,
    PUBLIC_URL,
    AppServer,
    FakeTwilioApi,
    Twilio,
    basic_auth,
    fake_api,
    sample,
)

NOW = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)
SID, RECORDING = "CA" + "e" * 32, "RE" + "e" * 32
SPOKEN = "hello this is an emergency"
WHISPER_DIR = os.environ.get("INTAKE_TEST_WHISPER_MODEL_DIR")


@pytest.fixture(scope="module")
def voicemail(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A short English voicemail spoken by espeak-ng (22.05 kHz mono WAV)."""
    if shutil.which("espeak-ng") is None:
        missing_server("espeak-ng is not installed (apt-get install espeak-ng; scripts/system-deps)")
    path = tmp_path_factory.mktemp("voice") / "voicemail.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(path), SPOKEN], check=True, timeout=30)
    return path.read_bytes()


@pytest.fixture
def api() -> Iterator[FakeTwilioApi]:
    yield from fake_api()


def open_runtime(tmp_path: Path, api: FakeTwilioApi, backend: str) -> Runtime:
    rt = Runtime.open(make_settings(
        tmp_path, public_url=PUBLIC_URL, twilio_auth_token=AUTH_TOKEN, twilio_account_sid=ACCOUNT_SID,
        twilio_number=OUR_NUMBER, twilio_api_base=api.base,
        hotline={"stt_backend": backend, "recordings_dir": str(tmp_path / "recordings"), "default_language": "en"}))
    rt.clock = lambda: NOW
    return rt


def leave_voicemail(rt: Runtime, recording_url: str) -> None:
    """A caller nobody could take (no one on call) leaves a voicemail; Twilio reports the recording."""
    with AppServer(rt) as app:
        twilio = Twilio(app.base)
        voice = {**sample("voice-inbound-uk-twilio_erlang"), "CallSid": SID}
        assert "<Record" in twilio.post("/hotline/voice", voice).text
        recording = {**sample("recording-completed-footing"), "CallSid": SID, "RecordingSid": RECORDING,
                     "RecordingUrl": recording_url}
        assert twilio.post("/hotline/recording", recording).status_code == 200
        twilio.close()


def call_row(rt: Runtime) -> models.Call:
    with rt.sessions() as session:
        call = queries.call_by_sid(session, SID)
        assert call is not None
        return call


def test_pocketsphinx_transcribes_the_voicemail_end_to_end(tmp_path: Path, api: FakeTwilioApi,
                                                           voicemail: bytes) -> None:
    pytest.importorskip("pocketsphinx", reason="pocketsphinx is an extra: pip install 'intake[stt-sphinx]'")
    rt = open_runtime(tmp_path, api, "pocketsphinx")
    leave_voicemail(rt, api.add_recording(RECORDING, voicemail))
    outcomes = [o for o in worker.run_due(rt, NOW) if o.kind == "transcribe"]
    assert [o.status for o in outcomes] == ["sent"], outcomes
    (download,) = [r for r in api.requests if r.method == "GET"]
    assert download.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{RECORDING}.wav"
    assert basic_auth(download.auth) == (ACCOUNT_SID, AUTH_TOKEN)
    call = call_row(rt)
    assert "emergency" in (call.transcription_text or "")
    assert call.transcription_source == "pocketsphinx"
    assert Path(call.recording_path or "").read_bytes() == voicemail
    with rt.sessions() as session:
        ticket = session.get(models.Ticket, call.ticket_id)
        assert ticket is not None and ticket.severity == 1  # "emergency": the same rules as mail
        texts = [m.text for m in queries.ticket_messages(session, ticket.id)]
        assert any(t.startswith("Voicemail transcript (pocketsphinx): ") for t in texts)
    rt.close()


def test_a_recording_not_ready_yet_is_retried(tmp_path: Path, api: FakeTwilioApi) -> None:
    pytest.importorskip("pocketsphinx", reason="pocketsphinx is an extra: pip install 'intake[stt-sphinx]'")
    rt = open_runtime(tmp_path, api, "pocketsphinx")
    leave_voicemail(rt, f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{RECORDING}")
    (outcome,) = [o for o in worker.run_due(rt, NOW) if o.kind == "transcribe"]
    assert outcome.status == "retry" and "404" in (outcome.detail or "")
    rt.close()


def test_without_a_backend_the_ticket_shows_the_recording_link(tmp_path: Path, api: FakeTwilioApi) -> None:
    rt = open_runtime(tmp_path, api, "none")
    url = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{RECORDING}"
    leave_voicemail(rt, url)
    with rt.sessions() as session:
        assert session.scalars(select(models.Job.kind)).all() == ["callback_notice"]  # the SMS; nothing to transcribe
        ticket = queries.tickets(session)[0]
        texts = [m.text for m in queries.ticket_messages(session, ticket.id)]
    assert f"Voicemail (21 s): {url}" in texts
    rt.close()


def test_a_missing_backend_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    stt.load.cache_clear()
    monkeypatch.setitem(sys.modules, "faster_whisper", None)  # as if it were not installed
    with pytest.raises(stt.BackendMissing, match="intake\\[stt-whisper\\]"):
        stt.load("faster-whisper", Path("/nowhere"))
    with pytest.raises(stt.ConfigError, match="unknown backend"):
        stt.load("vosk")
    stt.load.cache_clear()


@pytest.mark.skipif(not WHISPER_DIR, reason="no faster-whisper model folder configured "
                                            "(set INTAKE_TEST_WHISPER_MODEL_DIR to a CTranslate2 model folder)")
def test_faster_whisper_transcribes_from_its_local_model_folder(tmp_path: Path, voicemail: bytes) -> None:
    pytest.importorskip("faster_whisper", reason="faster-whisper is an extra: pip install 'intake[stt-whisper]'")
    path = tmp_path / "voicemail.wav"
    path.write_bytes(voicemail)
    text = stt.load("faster-whisper", Path(WHISPER_DIR or "")).transcribe(path, "en")
    assert "emergency" in text.lower()


def write_tone(path: Path, rate: int, seconds: float, channels: int = 1) -> None:
    samples = array.array("h", (int(8000 * math.sin(2 * math.pi * 440 * i / rate))
                                for i in range(int(rate * seconds)) for _ in range(channels)))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(channels)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(samples.tobytes())


@pytest.mark.parametrize(("rate", "channels"), [(8000, 1), (22050, 1), (16000, 2), (44100, 2)])
def test_audio_is_brought_to_16_khz_mono(tmp_path: Path, rate: int, channels: int) -> None:
    path = tmp_path / "tone.wav"
    write_tone(path, rate, 0.5, channels)
    pcm = audio.pcm16(path, 16000)
    assert len(pcm) == 2 * 8000
    assert max(abs(v) for v in array.array("h", pcm)) in range(7000, 8001)


def test_not_a_wav_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(b"ID3 mp3 data")
    with pytest.raises(audio.NotAudio):
        audio.read_pcm(path)

"""Speech to text for voicemails, behind one small interface; every backend is an optional extra.

    backend = stt.load("pocketsphinx", model_dir=None)   # or "faster-whisper" with a model folder
    text = backend.transcribe(Path("RE123.wav"), language="zh-Hans")

Twilio's own transcription does not cover Mandarin, so a recording can be transcribed here instead, in a
background job (pipeline.stt.jobs). faster-whisper (pip install 'intake[stt-whisper]') knows Mandarin
and English and reads its model from a local folder only; pocketsphinx (pip install 'intake[stt-sphinx]')
ships an English model in its wheel. Without a backend the ticket shows the recording's link.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Protocol

from pipeline.errors import ConfigError

BACKENDS = ("pocketsphinx", "faster-whisper")


class BackendMissing(ConfigError):
    """The speech-to-text backend is not installed: pip install 'intake[stt-sphinx]' or 'intake[stt-whisper]'."""


class Transcriber(Protocol):
    name: str

    def transcribe(self, audio: Path, language: str | None = None) -> str:
        """The words spoken in a WAV file; `language` is ours (zh-Hans, zh-Hant, en) or None."""
        ...


@lru_cache(maxsize=4)
def load(name: str, model_dir: Path | None = None) -> Transcriber:
    """The backend by name, loaded once per process (models take a second or more to load)."""
    if name == "pocketsphinx":
        from pipeline.stt import sphinx

        return sphinx.Sphinx()
    if name == "faster-whisper":
        from pipeline.stt import whisper

        if model_dir is None:
            raise ConfigError("hotline.stt_model_dir: faster-whisper needs a local model folder")
        return whisper.Whisper(model_dir)
    raise ConfigError(f"hotline.stt_backend: unknown backend {name!r} (one of {', '.join(BACKENDS)})")

"""The pocketsphinx backend: English only (its wheel ships the en-us model), offline and small.

Rough on telephone audio: the en-us model is wideband, so Twilio's 8 kHz recordings are upsampled to
16 kHz first. Good enough to catch words like "emergency" or "down" for the severity rules.
"""

from __future__ import annotations

import threading
from pathlib import Path

from pipeline.stt import BackendMissing, audio

RATE = 16000


class Sphinx:
    name = "pocketsphinx"

    def __init__(self) -> None:
        try:
            from pocketsphinx import Decoder
        except ImportError as exc:
            raise BackendMissing("pocketsphinx is not installed: pip install 'intake[stt-sphinx]'") from exc
        self.decoder = Decoder(samprate=RATE, loglevel="FATAL")
        self.lock = threading.Lock()  # one decoder, one utterance at a time

    def transcribe(self, audio_path: Path, language: str | None = None) -> str:
        pcm = audio.pcm16(audio_path, RATE)
        with self.lock:
            self.decoder.start_utt()
            self.decoder.process_raw(pcm, full_utt=True)
            self.decoder.end_utt()
            hypothesis = self.decoder.hyp()
        return hypothesis.hypstr.strip() if hypothesis else ""

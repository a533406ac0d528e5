"""The faster-whisper backend: Mandarin and English, from a CTranslate2 model folder on disk.

The folder (hotline.stt_model_dir, e.g. a converted "small" model with model.bin, config.json,
tokenizer.json, vocabulary.*) is read locally; nothing is ever downloaded at run time. Whisper often
writes Mandarin in traditional characters, so a zh-Hans caller's transcript is converted with zhconv.
"""

from __future__ import annotations

import threading
from pathlib import Path

import zhconv

from pipeline.errors import ConfigError
from pipeline.stt import BackendMissing

WHISPER_LANGUAGES = {"zh-Hans": "zh", "zh-Hant": "zh", "en": "en"}
SCRIPTS = {"zh-Hans": "zh-cn", "zh-Hant": "zh-tw"}


class Whisper:
    name = "faster-whisper"

    def __init__(self, model_dir: Path, compute_type: str = "int8") -> None:
        try:
            from faster_whisper import WhisperModel
        except ImportError as exc:
            raise BackendMissing("faster-whisper is not installed: pip install 'intake[stt-whisper]'") from exc
        if not (Path(model_dir) / "model.bin").is_file():
            raise ConfigError(f"hotline.stt_model_dir: no model.bin in {model_dir} (a faster-whisper model folder)")
        self.model = WhisperModel(str(model_dir), device="cpu", compute_type=compute_type, local_files_only=True)
        self.lock = threading.Lock()

    def transcribe(self, audio_path: Path, language: str | None = None) -> str:
        with self.lock:
            segments, _info = self.model.transcribe(str(audio_path), language=WHISPER_LANGUAGES.get(language or ""),
                                                    beam_size=1, vad_filter=False)
            text = "".join(segment.text for segment in segments).strip()
        script = SCRIPTS.get(language or "")
        return zhconv.convert(text, script) if script else text

"""WAV files as speech recognisers want them: mono, 16-bit samples, at the recogniser's rate.

Twilio's recordings are 8 kHz mono PCM WAV; espeak-ng writes 22.05 kHz. Pure stdlib (wave, array): the
resampling is linear interpolation, which is plenty for speech recognition.
"""

from __future__ import annotations

import array
import sys
import wave
from pathlib import Path


class NotAudio(ValueError):
    """Not a PCM WAV file we can read."""


def read_pcm(path: Path) -> tuple[array.array, int]:
    """(16-bit mono samples, sample rate) of a PCM WAV file."""
    try:
        with wave.open(str(path), "rb") as reader:
            channels, width, rate = reader.getnchannels(), reader.getsampwidth(), reader.getframerate()
            frames = reader.readframes(reader.getnframes())
    except (wave.Error, EOFError) as exc:
        raise NotAudio(f"{path.name}: {exc}") from exc
    if width == 1:  # unsigned 8-bit
        samples = array.array("h", ((byte - 128) << 8 for byte in frames))
    elif width == 2:
        samples = array.array("h", frames)
        if sys.byteorder == "big":
            samples.byteswap()
    else:
        raise NotAudio(f"{path.name}: {8 * width}-bit samples are not supported")
    if channels > 1:
        samples = array.array("h", (sum(samples[i:i + channels]) // channels
                                    for i in range(0, len(samples), channels)))
    return samples, rate


def resample(samples: array.array, source_rate: int, target_rate: int) -> array.array:
    if source_rate == target_rate or not samples:
        return samples
    count = int(len(samples) * target_rate / source_rate)
    step, last = source_rate / target_rate, len(samples) - 1
    out = array.array("h", bytes(2 * count))
    for i in range(count):
        x = i * step
        j = int(x)
        a = samples[j]
        b = samples[j + 1] if j < last else a
        out[i] = int(a + (b - a) * (x - j))
    return out


def pcm16(path: Path, rate: int) -> bytes:
    """Little-endian 16-bit mono samples at `rate`, as recognisers read raw audio."""
    samples, source_rate = read_pcm(path)
    converted = resample(samples, source_rate, rate)
    if sys.byteorder == "big":
        converted.byteswap()
    return converted.tobytes()

"""Audio input and output: decoding, channel matching and resampling; playback on the sound card."""

import threading
from collections import deque
from collections.abc import Callable
from math import gcd
from pathlib import Path

import numpy as np
import soundfile
from scipy.signal import resample_poly


def load_audio(path: str | Path, sample_rate: int, channels: int = 1) -> np.ndarray:
    """Read an audio file as float32 samples of shape (n, channels) at `sample_rate`.

    Any format libsndfile reads (wav, flac, ogg, mp3, ...). A multi-channel file is
    averaged to mono when `channels` is 1; a mono file is repeated to fill `channels`.

    Raises:
        ValueError: the file cannot be read, or its channels cannot be matched.
    """
    try:
        samples, file_rate = soundfile.read(str(path), dtype='float32', always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, OSError) as error:
        raise ValueError(f'cannot read audio file {path}: {error}') from error
    samples = match_channels(samples, channels, path)
    if file_rate != sample_rate:
        common = gcd(int(file_rate), int(sample_rate))
        samples = resample_poly(samples, sample_rate // common, file_rate // common, axis=0)
    return np.ascontiguousarray(samples, dtype=np.float32)


def match_channels(samples: np.ndarray, channels: int, path: str | Path = '') -> np.ndarray:
    """Down-mix to mono or repeat a mono signal so that samples has `channels` columns."""
    have = samples.shape[1]
    if have == channels:
        return samples
    if channels == 1:
        return samples.mean(axis=1, keepdims=True)
    if have == 1:
        return np.repeat(samples, channels, axis=1)
    raise ValueError(f'{path}: cannot map {have} channels to {channels}; use channels=1 or {have}')


WARM_UP = 0.2  # [s] of output callbacks with silence before the device's latency report is trusted
RESYNC = 0.01  # [s] a position this far from the device's report is moved to it


class Playback:
    """Plays `samples` (n, channels) on a PortAudio output so that sample k is heard at anchor + k / rate.

    The anchor [ns of `clock`] is set by `play_from`; until then, and outside the file, the output is
    silence. Once the anchor is set and the stream has run `WARM_UP` seconds, the next callback
    maps its buffer to the clock: the buffer's first sample is heard at the callback's clock time plus
    PortAudio's report of it (outputBufferDacTime - currentTime: the device's output latency), which
    fixes the sample position; from then on the position advances by the frames written, and moves
    to the device's report only when they differ by more than `RESYNC` (after an underflow).
    """

    def __init__(self, samples: np.ndarray, rate: int, device, clock: Callable[[], int], loop: bool = False) -> None:
        import sounddevice  # PortAudio: OSError when the library is missing

        self.samples, self.rate, self.clock, self.loop = samples, rate, clock, loop
        self.anchor: int | None = None
        self.position: int | None = None  # of the next sample written
        self.written = 0  # frames written since the stream started
        self.latency = float('nan')  # [s] the device's report at the mapping
        self.errors: list[str] = []  # PortAudio status flags seen (underruns)
        self.drift_ms = 0.0  # [ms] the largest difference seen between the position and the device's report
        self.resyncs = 0
        self.lock = threading.Lock()
        self.stream = sounddevice.OutputStream(
            samplerate=rate, channels=samples.shape[1], device=device, dtype='float32', callback=self._write
        )
        self.stream.start()

    def play_from(self, anchor: int) -> None:
        """Hear sample 0 at clock time `anchor` [ns] (sample k at anchor + k / rate)."""
        with self.lock:
            self.anchor, self.position = anchor, None

    def _write(self, out: np.ndarray, frames: int, time_info, status) -> None:
        if status:
            self.errors.append(str(status))
        out.fill(0.0)
        self.written += frames
        with self.lock:
            if self.anchor is None:
                return
            ahead = time_info.outputBufferDacTime - time_info.currentTime  # [s] until this buffer is heard
            heard = self.clock() + round(1e9 * ahead)  # clock time of this buffer's first sample
            expected = round((heard - self.anchor) * self.rate / 1e9)
            if self.position is None:
                if self.written < WARM_UP * self.rate or ahead <= 0:
                    return
                self.position, self.latency = expected, ahead
            drift = self.position - expected
            self.drift_ms = max(self.drift_ms, abs(1e3 * drift / self.rate))
            if abs(drift) > RESYNC * self.rate:  # the device lost time (an underflow): skip to the schedule
                self.position, self.resyncs = expected, self.resyncs + 1
            index = self.position + np.arange(frames)
            self.position += frames
        if self.loop:
            index = np.where(index >= 0, index % len(self.samples), -1)
        inside = (index >= 0) & (index < len(self.samples))
        out[inside] = self.samples[index[inside]]

    def close(self) -> None:
        self.stream.close()


class CaptureClock:
    """Stamps of captured blocks: the clock time each block's first sample reached the microphone.

    A block handed over at clock time `now` ends there: its first sample is a block older, and the
    device's input latency (PortAudio's report: converter, driver and sound-server buffers) older still.
    (PortAudio's per-block inputBufferAdcTime is not used: through the ALSA pulse plugin it is only the
    block's length.) Callbacks come late by scheduling jitter and in bursts, never early, so the stamps
    run on the sample count from the least delayed block of the last `window` seconds (the lower
    envelope): consecutive blocks are exactly a block apart, and the clock is followed within `window`.
    """

    def __init__(self, rate: int, latency: float, window: float = 2.0) -> None:
        self.rate, self.latency, self.window = rate, latency, window
        self.position = 0  # samples captured before this block
        self.origins: deque[tuple[int, int]] = deque()  # (position, clock time of sample 0 by that block)

    def stamp(self, now: int, frames: int) -> int:
        """The stamp [ns] of a block of `frames` samples handed over at clock time `now` [ns]."""
        origin = now - round(1e9 * (self.latency + (self.position + frames) / self.rate))
        self.origins.append((self.position, origin))
        while self.origins[0][0] < self.position - self.window * self.rate:
            self.origins.popleft()
        stamp = min(o for _, o in self.origins) + round(1e9 * self.position / self.rate)
        self.position += frames
        return stamp

    def restart(self) -> None:
        """Samples were lost (an input overflow): the sample count no longer tells the time."""
        self.origins.clear()

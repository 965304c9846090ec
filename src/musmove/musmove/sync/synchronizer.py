"""Multimodal frames on the audio clock: every stream resampled to each audio frame's time.

The audio frames are the reference clock. A frame waits until every live stream has a sample
at or after its time (so it is interpolated, not extrapolated), at most `max_delay`; streams
that are late past that are held and marked, streams silent past `stale_after` are STALE.
No sample is dropped to make a match: high-rate streams pass through their low-pass filter
(anti-aliasing) and are interpolated at the frame times.
"""

from dataclasses import dataclass

import numpy as np

from musmove.sync.offsets import estimate_lag, motion_envelope
from musmove.sync.streams import OK, Stream


@dataclass
class Frame:
    """One synchronized frame: the audio features and every stream's values at time `stamp` [ns]."""

    stamp: int
    features: np.ndarray
    audio_state: int
    values: dict[str, np.ndarray]
    states: dict[str, tuple[int, int]]  # stream -> (state, age [ns])


class Synchronizer:
    """Resample `streams` at the times of the audio frames added with `add_frame`."""

    def __init__(self, streams: list[Stream], max_delay: int, stale_after: int) -> None:
        self.streams = {stream.name: stream for stream in streams}
        self.max_delay, self.stale_after = max_delay, stale_after
        self.pending: list[tuple[int, np.ndarray, int]] = []
        self.audio_envelope: list[tuple[int, float]] = []  # (time, onset strength) for offsets
        self.last_emitted: int | None = None

    def add_frame(self, time: int, features: np.ndarray, state: int = OK, onset: float | None = None) -> None:
        """Queue an audio frame at `time` [ns, latency-corrected]; `onset` feeds offset estimation."""
        if self.last_emitted is not None and time <= self.last_emitted:
            self.pending.clear()  # the audio clock went back: start again
        self.pending.append((time, features, state))
        if onset is not None:
            self.audio_envelope.append((time, onset))
            history = max((s.settings.history for s in self.streams.values()), default=0)
            while self.audio_envelope and self.audio_envelope[0][0] < time - history:
                self.audio_envelope.pop(0)

    def ready(self, now: int) -> list[Frame]:
        """Frames whose streams are all in, or that waited `max_delay`, given the clock `now` [ns]."""
        frames = []
        while self.pending:
            time, features, audio_state = self.pending[0]
            if now - time < self.max_delay and not all(self._covers(s, time, now) for s in self.streams.values()):
                break
            self.pending.pop(0)
            frames.append(self._frame(time, features, audio_state))
        return frames

    def _covers(self, stream: Stream, time: int, now: int) -> bool:
        """Whether `stream` lets the frame at `time` go: it reached that time, or is silent for `stale_after` by
        then, or by `now` for a frame still ahead of the clock (known music), which waits for it."""
        newest = stream.newest()  # a stream never heard from is not waited for
        return newest is None or newest >= time or min(time, now) - newest > self.stale_after

    def _frame(self, time: int, features: np.ndarray, audio_state: int) -> Frame:
        values, states = {}, {}
        for name, stream in self.streams.items():
            sample, state, age = stream.sample(time)
            values[name], states[name] = sample, (state, age)
            stream.forget_before(time)
        self.last_emitted = time
        return Frame(time, features, audio_state, values, states)

    def estimate_offsets(self, reference: str, max_lag: float) -> dict[str, tuple[float, float]]:
        """Residual offset [s] and correlation of each stream against `reference` ('audio' or a stream).

        Positive: the stream's events come later than the reference's, so its latency setting
        should grow by that much. A skeleton is compared joint by joint and its best-correlated
        joint counts (an IMU is worn on one of them).
        """
        envelopes = {name: self._envelopes(stream) for name, stream in self.streams.items()}
        if len(self.audio_envelope) > 8:
            times, onsets = np.array(self.audio_envelope, dtype=np.float64).T
            envelopes['audio'] = [(times / 1e9, onsets)]
        if not envelopes.get(reference):
            return {}
        estimates = {}
        for name, candidates in envelopes.items():
            if name == reference or not candidates:
                continue
            pairs = [estimate_lag(r, c, max_lag) for r in envelopes[reference] for c in candidates]
            estimates[name] = max(pairs, key=lambda pair: pair[1])
        return estimates

    @staticmethod
    def _envelopes(stream: Stream) -> list[tuple[np.ndarray, np.ndarray]]:
        """Event envelopes of a stream: one for an IMU, one per joint for a skeleton."""
        if len(stream.raw) < 8:
            return []
        times = np.array([t for t, _ in stream.raw], dtype=np.float64) / 1e9
        values = np.array([v for _, v in stream.raw])
        if stream.layout.motion == 'acceleration':
            return [motion_envelope(times, values[:, :3], 'acceleration')]
        return [motion_envelope(times, values[:, j : j + 3], 'position') for j in range(0, values.shape[1], 3)]

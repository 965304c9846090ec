"""Where the performed notes of a beat sound, and how far a tracker's beats lie from them.

The annotations of Groove MIDI are the metronome the drummer heard; the drummer's notes come a little before or
after it, and fluidsynth sounds each note a few milliseconds after its note-on. The *performed* beat is the onset
of the note nearest the annotated beat, plus that render delay; `bias` gives a tracker's beats minus it.
`heard_beats` is that beat of a Groove performance as its render sounds, the reference people hear.
"""

import tempfile
from functools import cache
from pathlib import Path

import mido
import numpy as np

from musmove.sources.audio import load_audio
from musmove.sources.data import render_midi
from musmove.training.beat_data import metronome

TOLERANCE = 0.07  # s: a beat and the note it is compared with lie within this of the annotated beat


def note_onsets(midi: str | Path) -> np.ndarray:
    """Sorted note-on times (s, velocity > 0) of every note in a MIDI file, tempo changes applied."""
    time, onsets = 0.0, []
    for message in mido.MidiFile(midi):
        time += message.time
        if message.type == 'note_on' and message.velocity > 0:
            onsets.append(time)
    return np.unique(np.array(onsets, dtype=np.float64))


def click_midi(path: Path, times: np.ndarray, note: int = 37) -> Path:
    """A General MIDI drum track (channel 10) with one short note `note` (37: side stick) at each of `times` (s)."""
    ticks_per_beat, tempo = 960, 500_000  # 120 BPM: a tick is 1/1920 s
    track = mido.MidiTrack([mido.MetaMessage('set_tempo', tempo=tempo, time=0)])
    now = 0
    for tick in np.round(np.asarray(times) * 1e6 * ticks_per_beat / tempo).astype(int):
        track.append(mido.Message('note_on', channel=9, note=note, velocity=100, time=int(tick) - now))
        track.append(mido.Message('note_off', channel=9, note=note, velocity=0, time=48))
        now = int(tick) + 48
    midi = mido.MidiFile(ticks_per_beat=ticks_per_beat)
    midi.tracks.append(track)
    midi.save(path)
    return path


@cache
def render_delay(sample_rate: int = 22050, count: int = 32) -> float:
    """Mean delay (s) from a drum note-on to its first sound in fluidsynth's render at `sample_rate`.

    Renders `count` side-stick notes 0.5 s apart, each a further 1/`count` of a 64-sample block later
    (fluidsynth starts notes on block boundaries, so the delay depends on where the note-on falls), and takes
    the first sample above 1 % of each note's peak.
    """
    times = 0.5 + 0.5 * np.arange(count) + (64 / sample_rate) * np.arange(count) / count
    with tempfile.TemporaryDirectory() as folder:
        midi = click_midi(Path(folder) / 'clicks.mid', times)
        times = note_onsets(midi)  # as the MIDI file holds them (whole ticks)
        audio = np.abs(load_audio(render_midi(midi, sample_rate), sample_rate)[:, 0])
    delays = []
    for onset in times:
        start = int(np.floor(onset * sample_rate))
        window = audio[start : start + round(0.1 * sample_rate)]
        delays.append((start + int(np.argmax(window >= 0.01 * window.max()))) / sample_rate - onset)
    return float(np.mean(delays))


def _nearest(values: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The element of sorted, non-empty `values` nearest each of `targets`."""
    index = np.clip(np.searchsorted(values, targets), 1, max(values.size - 1, 1))
    before, after = values[index - 1], values[np.minimum(index, values.size - 1)]
    return np.where(np.abs(before - targets) <= np.abs(after - targets), before, after)


def performed_beats(
    reference: np.ndarray, onsets: np.ndarray, delay: float, tolerance: float = TOLERANCE
) -> np.ndarray:
    """Per reference beat, the nearest note onset within ±`tolerance` plus `delay` (s); NaN where no note is."""
    reference, onsets = np.asarray(reference, dtype=np.float64), np.asarray(onsets, dtype=np.float64)
    if not onsets.size:
        return np.full(reference.shape, np.nan)
    nearest = _nearest(onsets, reference)
    return np.where(np.abs(nearest - reference) <= tolerance, nearest + delay, np.nan)


def heard_beats(midi: str | Path, sample_rate: int = 22050) -> tuple[np.ndarray, np.ndarray]:
    """(performed beats, metronome beats) in s of a Groove MIDI file rendered by `render_midi` at `sample_rate`.

    Per metronome beat, the nearest drum onset within min(60 ms, 1/8 beat) (the rule of the training labels,
    `musmove.training.rendering.performed`) plus the measured `render_delay`; NaN where the drummer played none.
    """
    clicks = metronome(Path(midi))[0]
    tolerance = min(0.06, float(np.median(np.diff(clicks))) / 8) if clicks.size > 1 else 0.06
    return performed_beats(clicks, note_onsets(midi), render_delay(sample_rate), tolerance), clicks


def bias(reference: np.ndarray, estimated: np.ndarray, performed: np.ndarray, start: float = 5.0) -> np.ndarray:
    """Estimated minus performed beat (ms) for each reference beat after `start` (s) that has a performed note
    and an estimated beat within ±TOLERANCE of it (the nearest estimated beat)."""
    reference, estimated = np.asarray(reference, dtype=np.float64), np.asarray(estimated, dtype=np.float64)
    keep = (reference >= start) & ~np.isnan(performed)
    if estimated.size < 2 or not keep.any():
        return np.zeros(0)
    nearest = _nearest(estimated, reference[keep])
    hit = np.abs(nearest - reference[keep]) <= TOLERANCE
    return 1000 * (nearest[hit] - performed[keep][hit])

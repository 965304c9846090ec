"""MIDI as a list of channel events in seconds: read through the tempo map, edit, write back at a fixed grid.

Written files have one track at 120 BPM and `TICKS_PER_BEAT` ticks per quarter note (62.5 us a tick), so an
event keeps its time to within 31 us; the tempo map of the source is folded into the times.
"""

import os
from dataclasses import dataclass, replace
from pathlib import Path

import mido
import numpy as np

TICKS_PER_BEAT = 8000  # at 120 BPM: 16000 ticks a second
_TEMPO = 500000
_CHANNEL_TYPES = ('note_on', 'note_off', 'control_change', 'program_change', 'pitchwheel')


@dataclass(frozen=True)
class Event:
    """One channel message at `time` s, from track `track` of its source file."""

    time: float
    track: int
    message: mido.Message

    def at(self, time: float) -> 'Event':
        return replace(self, time=time)


def read(path: Path) -> list[Event]:
    """The channel events of a MIDI file, in seconds through its tempo map (all tracks), sorted by time."""
    midi = mido.MidiFile(path)
    tempos: list[tuple[int, int]] = []
    raw: list[tuple[int, int, mido.Message]] = []
    for index, track in enumerate(midi.tracks):
        tick = 0
        for message in track:
            tick += message.time
            if message.type == 'set_tempo':
                tempos.append((tick, message.tempo))
            elif message.type in _CHANNEL_TYPES:
                raw.append((tick, index, message))  # its delta time is ignored
    tempos = sorted(tempos) or [(0, _TEMPO)]
    if tempos[0][0] != 0:
        tempos.insert(0, (0, _TEMPO))
    ticks = np.array([t for t, _ in tempos])
    per_tick = np.array([tempo for _, tempo in tempos]) / (midi.ticks_per_beat * 1e6)
    starts = np.concatenate([[0.0], np.cumsum(np.diff(ticks) * per_tick[:-1])])
    events = []
    for tick, index, message in raw:
        k = int(np.searchsorted(ticks, tick, side='right') - 1)
        events.append(Event(float(starts[k] + (tick - ticks[k]) * per_tick[k]), index, message))
    return sorted(events, key=lambda e: e.time)


def is_onset(message: mido.Message) -> bool:
    return message.type == 'note_on' and message.velocity > 0


def onsets(events: list[Event]) -> np.ndarray:
    """Sorted note-on times (s)."""
    return np.array(sorted(e.time for e in events if is_onset(e.message)))


def window(events: list[Event], start: float, end: float) -> list[Event]:
    """The events in [start, end), shifted to start at 0; notes sounding at `end` are ended there."""
    kept = [e.at(e.time - start) for e in events if start <= e.time < end]
    sounding: dict[tuple[int, int], Event] = {}
    for event in kept:
        message = event.message
        if message.type in ('note_on', 'note_off'):
            key = (message.channel, message.note)
            if is_onset(message):
                sounding[key] = event
            else:
                sounding.pop(key, None)
    closing = [
        Event(end - start, e.track, mido.Message('note_off', channel=e.message.channel, note=e.message.note))
        for e in sounding.values()
    ]
    # note-offs whose note-on came before the window are dropped: they would end nothing
    return _drop_orphans(kept) + closing


def _drop_orphans(events: list[Event]) -> list[Event]:
    open_notes: set[tuple[int, int]] = set()
    result = []
    for event in events:
        message = event.message
        if message.type in ('note_on', 'note_off'):
            key = (message.channel, message.note)
            if is_onset(message):
                open_notes.add(key)
            elif key in open_notes:
                open_notes.discard(key)
            else:
                continue
        result.append(event)
    return result


def write(events: list[Event], path: Path, programs: dict[int, int] | None = None) -> Path:
    """Write `events` as a one-track MIDI file; `programs` (channel -> GM program) are set at time 0 and replace
    the events' own program changes on those channels."""
    programs = programs or {}
    midi = mido.MidiFile(ticks_per_beat=TICKS_PER_BEAT)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    track.append(mido.MetaMessage('set_tempo', tempo=_TEMPO, time=0))
    for channel, program in sorted(programs.items()):
        track.append(mido.Message('program_change', channel=channel, program=program, time=0))
    last = 0
    per_second = TICKS_PER_BEAT * 1e6 / _TEMPO
    for event in sorted(events, key=lambda e: (e.time, e.message.type != 'note_off')):
        message = event.message
        if message.type == 'program_change' and message.channel in programs:
            continue
        tick = max(round(event.time * per_second), last)
        track.append(message.copy(time=tick - last))
        last = tick
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f'{path.name}.{os.getpid()}.partial')  # another worker may read `path` meanwhile
    midi.save(partial)
    partial.replace(path)
    return path

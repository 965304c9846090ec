"""POP909 arrangements as beat-tracking examples: the metrical level of each song and General MIDI instruments.

Metrical level (`felt_beats`). `beat_midi.txt` has one line per quarter note of the MIDI file (its times are
the MIDI tempo map's); `beat_audio.txt` has the beats an automatic tracker found in the original recording.
Let r = median MIDI beat interval / median audio beat interval:

- 1.7 < r < 2.3 (199 of 889 songs, MIDI tempi 42-94 BPM): the MIDI is notated at half the felt tempo; the
  felt beats are the MIDI beats and the midpoints between them, the downbeats the MIDI's strong beats
  (column 2: every second MIDI beat, a bar of 4 felt beats);
- 0.9 < r < 1.1 (656 songs) or 0.4 < r < 0.6 (13 songs at 118-197 MIDI BPM, where the audio tracker took
  half the tempo): the felt beats are the MIDI beats, the downbeats column 3;
- otherwise (21 songs, r near 1.5 or 3: compound or ambiguous feel) the song is left out.

The note onsets cannot decide it on their own (checked on 10 songs: the sixteenth-note positions carry 0.39-0.71
of the midpoints' onsets in the r = 2 songs and 0.05-0.67 in the r = 1 songs), so the rule rests on the tempo of
the original recording; `test/test_prepare.py` checks it on six real songs.

Instruments (`programs`): every track is GM program 0 in the files. Per song (seeded by its id) MELODY and
BRIDGE get a program drawn from a random family of `MELODY_FAMILIES`, PIANO one of `ACCOMPANIMENT_FAMILIES`,
and the PIANO track's notes below `BASS_SPLIT` are moved to a fourth channel with a bass program (32-39).
"""

import csv
import zlib
from pathlib import Path

import numpy as np

from musmove.training.beat_data import Example, _check, _frozen, _table
from musmove.training.midi import Event, read

# General MIDI families: (first program, last program)
PIANO, CHROMATIC, ORGAN, GUITAR, BASS, STRINGS, ENSEMBLE, BRASS, REED, PIPE, LEAD, PAD = (
    (8 * k, 8 * k + 7) for k in range(12)
)
MELODY_FAMILIES = (PIANO, CHROMATIC, ORGAN, GUITAR, STRINGS, BRASS, REED, PIPE, LEAD)
ACCOMPANIMENT_FAMILIES = (PIANO, PIANO, ORGAN, GUITAR, STRINGS, ENSEMBLE, PAD)
BASS_SPLIT = 48  # C3: accompaniment notes below it go to the bass
BASS_CHANNEL = 3
TRACKS = {'MELODY': 0, 'BRIDGE': 1, 'PIANO': 2}  # the files' channel of each track
DOUBLED, SINGLE, HALVED = (1.7, 2.3), (0.9, 1.1), (0.4, 0.6)


def seed_of(*parts: str | int) -> int:
    """A stable 32-bit seed from names (the same on every machine and Python run)."""
    return zlib.crc32(':'.join(map(str, parts)).encode())


def metrical_ratio(folder: Path) -> float:
    """Median MIDI beat interval over median audio beat interval."""
    midi = np.loadtxt(folder / 'beat_midi.txt', ndmin=2)[:, 0]
    audio = np.loadtxt(folder / 'beat_audio.txt', ndmin=2)[:, 0]
    return float(np.median(np.diff(midi)) / np.median(np.diff(audio)))


def felt_beats(folder: Path) -> tuple[np.ndarray, np.ndarray, int] | None:
    """Felt beats, downbeats (s of the MIDI) and the level (2: MIDI beats halved, 1: as notated), or None when
    the song's level is ambiguous (see the module docstring)."""
    table = np.loadtxt(folder / 'beat_midi.txt', ndmin=2)
    times, strong, downbeat = table[:, 0], table[:, 1] > 0.5, table[:, 2] > 0.5
    ratio = metrical_ratio(folder)
    if DOUBLED[0] < ratio < DOUBLED[1]:
        middles = (times[:-1] + times[1:]) / 2
        return np.sort(np.concatenate([times, middles])), times[strong], 2
    if SINGLE[0] < ratio < SINGLE[1] or HALVED[0] < ratio < HALVED[1]:
        return times, times[downbeat], 1
    return None


def examples(root: Path, split: str) -> list[Example]:
    """POP909 songs of `split` (splits.csv) whose metrical level is decided, with felt beats and downbeats."""
    _check(split)
    folder = Path(root) / 'pop909'
    result = []
    for row in _table(folder / 'splits.csv'):
        if row['split'] != split:
            continue
        song = folder / 'POP909' / row['song_id']
        decided = felt_beats(song)
        if decided is None:
            continue
        beats, downbeats, level = decided
        result.append(
            Example(
                name=f'pop909-{row["song_id"]}',
                dataset='pop909',
                split=split,
                midi=song / f'{row["song_id"]}.mid',
                beats=_frozen(list(beats)),
                downbeats=_frozen(list(downbeats)),
                time_signature=f'level {level}',
            )
        )
    return result


def index(root: Path) -> dict[str, dict[str, str]]:
    """index.csv by song id."""
    with (Path(root) / 'pop909' / 'POP909' / 'index.csv').open(newline='') as file:
        return {row['song_id']: row for row in csv.DictReader(file)}


def programs(song: str, seed: int = 0) -> dict[int, int]:
    """GM program per channel of a song's arrangement (MELODY 0, BRIDGE 1, PIANO 2, bass 3), seeded by its id."""
    rng = np.random.default_rng(seed_of('pop909-programs', song, seed))
    chosen = {}
    for channel, families in ((0, MELODY_FAMILIES), (1, MELODY_FAMILIES), (2, ACCOMPANIMENT_FAMILIES)):
        first, last = families[rng.integers(len(families))]
        chosen[channel] = int(rng.integers(first, last + 1))
    chosen[BASS_CHANNEL] = int(rng.integers(BASS[0], BASS[1] + 1))
    return chosen


def arranged(midi: Path) -> list[Event]:
    """The song's events with the accompaniment's low notes moved to the bass channel."""
    events = []
    for event in read(midi):
        message = event.message
        low = message.type in ('note_on', 'note_off') and message.note < BASS_SPLIT
        if message.channel == TRACKS['PIANO'] and low:
            event = Event(event.time, event.track, message.copy(channel=BASS_CHANNEL))
        events.append(event)
    return events

"""Beat-tracking examples from the shared music data sets: MIDI performance, beat and downbeat times, by split.

Groove MIDI (drums played to a metronome): the ground truth is the metronome grid written in each file, a
beat every quarter note of the tempo map from the first bar line (tick of the time signature) up to the last
note end, and a downbeat every bar. ASAP (expressive piano): the hand-made beat annotations of each
performance. Audio comes from `render`; the timings are in seconds of the MIDI file, which is also the
audio's time (see `render`).
"""

import csv
from dataclasses import dataclass, field
from pathlib import Path

import mido
import numpy as np

from musmove.sources.data import render_midi, shared_data

SPLITS = ('train', 'validation', 'test')
DATASETS = ('groove', 'asap')
BEAT_TYPES = ('beat', 'fill', 'all')
_ASAP_BEAT_LABELS = ('b', 'db', 'bR')  # bR: a beat ASAP could place only approximately (rubato, odd measures)


@dataclass(frozen=True, eq=False)
class Example:
    """One performance: its MIDI file and beat/downbeat times (s, strictly increasing, downbeats among beats)."""

    name: str
    dataset: str
    split: str
    midi: Path
    beats: np.ndarray = field(repr=False)
    downbeats: np.ndarray = field(repr=False)
    time_signature: str = ''  # 'n/d': Groove's only one; ASAP's first annotated
    bpm: float | None = None  # Groove: the metronome tempo from info.csv
    style: str = ''  # Groove, e.g. 'funk/groove1'
    drummer: str = ''  # Groove
    session: str = ''  # Groove, e.g. 'drummer1/session2'
    beat_type: str = ''  # Groove: 'beat' or 'fill'
    composer: str = ''  # ASAP
    piece: str = ''  # ASAP: 'composer/title', ASAP's identity of a piece
    folder: str = ''  # ASAP: the score folder, the unit of splits.csv


def _check(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f'unknown split {split!r}; expected one of {", ".join(SPLITS)}')


def _table(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise FileNotFoundError(f'{path} is missing: the data set is not in the shared data folder')
    with path.open(newline='') as file:
        return list(csv.DictReader(file))


def _frozen(values: list[float]) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    array.flags.writeable = False
    return array


def metronome(path: Path) -> tuple[np.ndarray, np.ndarray, float, str]:
    """Beat and downbeat times (s), tempo (BPM) and time signature from a MIDI file's tempo and meter events.

    Beats: every quarter note from the first time signature event up to the last note end. Downbeats: every
    bar, when a bar is a whole number of quarter notes (not in 5/8, where they are left empty).
    """
    midi = mido.MidiFile(path)
    tempos: dict[int, int] = {}
    meters: dict[int, tuple[int, int]] = {}
    end = 0
    for track in midi.tracks:
        tick = 0
        for message in track:
            tick += message.time
            if message.type == 'set_tempo':
                tempos[tick] = message.tempo
            elif message.type == 'time_signature':
                meters[tick] = (message.numerator, message.denominator)
            elif message.type in ('note_on', 'note_off'):
                end = max(end, tick)
    if len(set(meters.values())) > 1:
        raise ValueError(f'{path} changes time signature; only one is supported')
    start, (numerator, denominator) = min(meters.items()) if meters else (0, (4, 4))
    changes = sorted(tempos.items()) if tempos else [(0, 500000)]
    if changes[0][0] != 0:
        changes.insert(0, (0, 500000))  # the MIDI default tempo, 120 BPM
    change_ticks = np.array([tick for tick, _ in changes])
    per_tick = np.array([tempo for _, tempo in changes]) / (midi.ticks_per_beat * 1e6)
    change_times = np.concatenate([[0.0], np.cumsum(np.diff(change_ticks) * per_tick[:-1])])
    ticks = np.arange(start, end + 1, midi.ticks_per_beat)
    index = np.searchsorted(change_ticks, ticks, side='right') - 1
    beats = change_times[index] + (ticks - change_ticks[index]) * per_tick[index]
    bar = 4 * numerator / denominator  # quarter notes per bar
    downbeats = beats[:: int(bar)] if bar == int(bar) else beats[:0]
    return _frozen(beats), _frozen(downbeats), mido.tempo2bpm(changes[0][1]), f'{numerator}/{denominator}'


def groove_examples(root: Path, split: str, beat_type: str = 'beat') -> list[Example]:
    """Groove MIDI performances of the official `split` ('beat' grooves by default; 'fill' or 'all')."""
    _check(split)
    if beat_type not in BEAT_TYPES:
        raise ValueError(f'unknown beat_type {beat_type!r}; expected one of {", ".join(BEAT_TYPES)}')
    folder = Path(root) / 'groove-midi'
    examples = []
    for row in _table(folder / 'info.csv'):
        if row['split'] != split or beat_type not in ('all', row['beat_type']):
            continue
        midi = folder / row['midi_filename']
        beats, downbeats, _, meter = metronome(midi)
        examples.append(
            Example(
                name=row['id'],
                dataset='groove',
                split=split,
                midi=midi,
                beats=beats,
                downbeats=downbeats,
                time_signature=meter,
                bpm=float(row['bpm']),
                style=row['style'],
                drummer=row['drummer'],
                session=row['session'],
                beat_type=row['beat_type'],
            )
        )
    return examples


def asap_annotations(path: Path) -> tuple[np.ndarray, np.ndarray, str]:
    """Beat and downbeat times (s) and first time signature ('' if none) of an ASAP annotation file."""
    beats, downbeats, meter = [], [], ''
    for line in path.read_text().splitlines():
        if not line.strip():
            continue
        time, _, label = line.split('\t')[:3]
        kind, *rest = label.split(',')
        if kind not in _ASAP_BEAT_LABELS:
            raise ValueError(f'{path}: unknown annotation label {label!r}')
        beats.append(float(time))
        if kind == 'db':
            downbeats.append(float(time))
            meter = meter or (rest[0] if rest else '')
    return _frozen(beats), _frozen(downbeats), meter


def asap_examples(root: Path, split: str) -> list[Example]:
    """ASAP performances of our `split` (splits.csv: by score folder) with their annotated beats."""
    _check(split)
    folder = Path(root) / 'asap'
    splits = {row['folder']: row['split'] for row in _table(folder / 'splits.csv')}
    examples = []
    for row in _table(folder / 'metadata.csv'):
        if splits.get(row['folder']) != split:
            continue
        beats, downbeats, meter = asap_annotations(folder / row['performance_annotations'])
        examples.append(
            Example(
                name=row['midi_performance'].removesuffix('.mid'),
                dataset='asap',
                split=split,
                midi=folder / row['midi_performance'],
                beats=beats,
                downbeats=downbeats,
                time_signature=meter,
                composer=row['composer'],
                piece=f'{row["composer"]}/{row["title"]}',
                folder=row['folder'],
            )
        )
    return examples


def examples(root: Path | None = None, dataset: str = 'groove', split: str = 'train') -> list[Example]:
    """The examples of `dataset` ('groove' or 'asap') and `split`; `root` defaults to the shared data sets."""
    if dataset not in DATASETS:
        raise ValueError(f'unknown dataset {dataset!r}; expected one of {", ".join(DATASETS)}')
    root = shared_data() if root is None else Path(root)
    return groove_examples(root, split) if dataset == 'groove' else asap_examples(root, split)


def one_per_folder(items: list[Example]) -> list[Example]:
    """The first performance of each ASAP score folder (other examples kept): a piece's many performances
    would otherwise outweigh the rest."""
    first: dict[str, Example] = {}
    for example in items:
        first.setdefault(example.folder or example.name, example)
    return list(first.values())


def render(example: Example, sample_rate: int = 22050) -> Path:
    """The example rendered to a wav with fluidsynth (cached in `musmove.sources.data.cache_dir()`).

    Sample 0 is MIDI time 0, so the annotations need no shift. fluidsynth starts each note 1-2 of its 64-sample
    blocks late: a drum note's first sound comes 3.5-8.5 ms (mean 6) after its note-on at 22050 Hz, 2-5.5 ms at
    44100 Hz; this is left uncompensated. The file ends after the last note's release tail (up to a few seconds
    of ringing cymbals past the MIDI end).
    """
    return render_midi(example.midi, sample_rate=sample_rate)

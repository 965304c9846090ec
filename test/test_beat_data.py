"""Beat-tracking examples from the real Groove MIDI and ASAP data sets (in the shared data folder)."""

import csv
from collections import defaultdict
from pathlib import Path

import mido
import numpy as np
import pytest
import soundfile

from musmove.sources.data import shared_data
from musmove.training.beat_data import (
    SPLITS,
    Example,
    asap_annotations,
    asap_examples,
    examples,
    groove_examples,
    metronome,
    render,
)

# Performances per split: Groove's 'beat' rows of info.csv; ASAP as in the data README.
GROOVE_BEAT_SIZES = {'train': 378, 'validation': 48, 'test': 77}
ASAP_SIZES = {'train': 669, 'validation': 197, 'test': 201}
# ASAP names a piece by (composer, title). Our splits.csv splits by score folder, and these six pieces have two
# score folders (with and without repeats) that landed in different splits: a known overlap, kept visible here.
ASAP_PIECES_IN_TWO_SPLITS = {
    'Beethoven/Piano_Sonatas_24-1',
    'Chopin/Sonata_2_3rd',
    'Haydn/Keyboard_Sonatas_32-1',
    'Liszt/Gran_Etudes_de_Paganini_6_Theme_and_Variations',
    'Schubert/Impromptu_op.90_D.899_4',
    'Schubert/Piano_Sonatas_894-2',
}


def shared_set(name: str) -> Path:
    """The shared data sets' root, if `name` is among them; else the test is skipped, naming what is missing."""
    try:
        root = shared_data()
    except FileNotFoundError as error:
        pytest.skip(f'the shared data sets are missing: {error}')
    if not (root / name).is_dir():
        pytest.skip(f'the data set folder {root / name} is missing')
    return root


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline='') as file:
        return list(csv.DictReader(file))


@pytest.fixture(scope='module')
def groove() -> dict[str, list[Example]]:
    root = shared_set('groove-midi')
    return {split: groove_examples(root, split) for split in SPLITS}


@pytest.fixture(scope='module')
def asap() -> dict[str, list[Example]]:
    root = shared_set('asap')
    return {split: asap_examples(root, split) for split in SPLITS}


def _note_span(path: Path) -> tuple[float, float]:
    """First note-on and last note end (s), timed by mido's own tempo handling."""
    time, first, last = 0.0, None, 0.0
    for message in mido.MidiFile(path):
        time += message.time
        if message.type in ('note_on', 'note_off'):
            last = time
            if first is None and message.type == 'note_on' and message.velocity > 0:
                first = time
    return first, last


def test_split_sizes(groove, asap):
    assert {split: len(found) for split, found in groove.items()} == GROOVE_BEAT_SIZES
    assert {split: len(found) for split, found in asap.items()} == ASAP_SIZES
    assert [example.name for example in examples(dataset='asap', split='test')] == [ex.name for ex in asap['test']]
    info = _rows(shared_data() / 'groove-midi' / 'info.csv')
    assert {split: sum(row['split'] == split for row in info) for split in SPLITS} == {
        'train': 897,
        'validation': 124,
        'test': 129,
    }
    assert all(example.beat_type == 'beat' for found in groove.values() for example in found)


def _bpm(example: Example) -> float:
    return 60 / np.median(np.diff(example.beats))


def test_every_example_has_a_plausible_beat_sequence(groove, asap):
    for found in (*groove.values(), *asap.values()):
        for example in found:
            assert len(example.beats) >= 2, example.name
            assert np.all(np.diff(example.beats) > 0), example.name
            assert np.isin(example.downbeats, example.beats).all(), example.name
            assert example.midi.is_file()
    assert sum(len(example.downbeats) == 0 for found in groove.values() for example in found) == 1  # the 5/8
    assert all(30 <= _bpm(example) <= 300 for found in groove.values() for example in found)
    # ASAP annotates the notated beat: slow movements go down to 13.6 BPM (Waldstein sonata, ii, in 6/8), fast
    # one-in-a-bar pieces up to 353 BPM (Liszt's Mephisto Waltz in 3/8); 42 of 1,067 are outside 30-300.
    tempi = np.array([_bpm(example) for found in asap.values() for example in found])
    assert np.all((tempi >= 13) & (tempi <= 360))
    assert np.sum((tempi < 30) | (tempi > 300)) == 42


def test_groove_grid_is_the_metronome_of_info_csv(groove):
    info = {row['id']: row for row in _rows(shared_data() / 'groove-midi' / 'info.csv')}
    for found in groove.values():
        for example in found:
            row = info[example.name]
            np.testing.assert_allclose(np.diff(example.beats), 60 / float(row['bpm']), rtol=1e-5)
            assert example.time_signature == row['time_signature'].replace('-', '/')
            assert example.beats[0] == 0 and example.beats[-1] <= float(row['duration'])
            if example.time_signature in ('4/4', '3/4', '5/4'):
                assert len(example.downbeats) == -(-len(example.beats) // int(example.time_signature[0]))
    for example in groove['test']:  # the grid reaches the last note end (mido's own clock)
        _, end = _note_span(example.midi)
        assert example.beats[-1] <= end + 1e-6 < example.beats[-1] + 60 / example.bpm


def test_groove_sessions_as_the_data_has_them(groove):
    # The official split is by performance, not by drummer: every drummer of validation/test is also in train.
    drummers = {split: {example.drummer for example in found} for split, found in groove.items()}
    assert drummers['validation'] | drummers['test'] <= drummers['train']
    # The evaluation sessions are test-only.
    eval_splits = {ex.split for found in groove.values() for ex in found if ex.session.endswith('eval_session')}
    assert eval_splits == {'test'}


def test_asap_splits_are_disjoint_by_score_folder(asap):
    folders = {split: {example.folder for example in found} for split, found in asap.items()}
    assert not folders['train'] & folders['validation']
    assert not folders['train'] & folders['test']
    assert not folders['validation'] & folders['test']
    splits_of_piece = defaultdict(set)
    for split, found in asap.items():
        for example in found:
            splits_of_piece[example.piece].add(split)
    assert {piece for piece, found in splits_of_piece.items() if len(found) > 1} == ASAP_PIECES_IN_TWO_SPLITS


def test_asap_annotation_labels(tmp_path):
    path = tmp_path / 'x_annotations.txt'
    lines = ['0.5\t0.5\tdb,3/4,-2', '1.0\t1.0\tb', '1.5\t1.5\tbR', '2.0\t2.0\tdb,,0', '2.5\t2.5\tb,,1', '']
    path.write_text('\n'.join(lines))
    beats, downbeats, meter = asap_annotations(path)
    assert beats.tolist() == [0.5, 1.0, 1.5, 2.0, 2.5]
    assert downbeats.tolist() == [0.5, 2.0]
    assert meter == '3/4'
    path.write_text('0.5\t0.5\tx\n')
    with pytest.raises(ValueError, match='unknown annotation label'):
        asap_annotations(path)


def _midi(path: Path, meter: tuple[int, int], tempos: list[tuple[int, int]], end: int) -> Path:
    midi = mido.MidiFile(ticks_per_beat=480)
    track = mido.MidiTrack()
    midi.tracks.append(track)
    events = [(0, mido.MetaMessage('time_signature', numerator=meter[0], denominator=meter[1]))]
    events += [(tick, mido.MetaMessage('set_tempo', tempo=tempo)) for tick, tempo in tempos]
    events += [(0, mido.Message('note_on', channel=9, note=36, velocity=90))]
    events += [(end, mido.Message('note_off', channel=9, note=36))]
    previous = 0
    for tick, message in sorted(events, key=lambda event: event[0]):
        track.append(message.copy(time=tick - previous))
        previous = tick
    midi.save(path)
    return path


def test_metronome_follows_the_tempo_map_and_meter(tmp_path):
    # 120 BPM for two beats, then 60 BPM; notes until beat 5.
    path = _midi(tmp_path / 'a.mid', (3, 4), [(0, 500000), (960, 1000000)], end=5 * 480)
    beats, downbeats, bpm, meter = metronome(path)
    assert beats.tolist() == pytest.approx([0, 0.5, 1, 2, 3, 4])
    assert downbeats.tolist() == pytest.approx([0, 2])
    assert (bpm, meter) == (pytest.approx(120), '3/4')
    beats, downbeats, _, meter = metronome(_midi(tmp_path / 'b.mid', (6, 8), [(0, 500000)], end=7 * 480))
    assert len(beats) == 8 and downbeats.tolist() == pytest.approx([0, 1.5, 3]) and meter == '6/8'
    _, downbeats, _, _ = metronome(_midi(tmp_path / 'c.mid', (5, 8), [(0, 500000)], end=7 * 480))
    assert len(downbeats) == 0  # a 5/8 bar is not a whole number of quarter-note beats


def test_unknown_names_and_missing_data(tmp_path):
    with pytest.raises(ValueError, match='unknown split'):
        groove_examples(tmp_path, 'dev')
    with pytest.raises(ValueError, match='unknown split'):
        asap_examples(tmp_path, 'training')
    with pytest.raises(ValueError, match='unknown beat_type'):
        groove_examples(tmp_path, 'test', beat_type='grooves')
    with pytest.raises(ValueError, match='unknown dataset'):
        examples(tmp_path, 'maestro', 'test')
    with pytest.raises(FileNotFoundError, match=str(tmp_path / 'groove-midi' / 'info.csv')):
        examples(tmp_path, 'groove', 'test')
    with pytest.raises(FileNotFoundError, match=str(tmp_path / 'asap' / 'splits.csv')):
        examples(tmp_path, 'asap', 'test')


def test_render_starts_at_midi_time_zero(groove):
    example = min(groove['test'], key=lambda example: example.beats[-1])  # the shortest: about 2 s
    first, end = _note_span(example.midi)
    audio, rate = soundfile.read(render(example, sample_rate=22050), always_2d=True)
    level = np.abs(audio).max(axis=1)
    # the render lasts the performance plus the release tail of its last notes
    assert end <= len(audio) / rate <= end + 8
    # nothing sounds before the first note; its attack starts within 10 ms (fluidsynth's 64-sample blocks)
    attack = level[: int((first + 0.1) * rate)]
    onset = np.argmax(attack > 0.1 * attack.max()) / rate
    assert level[: int(first * rate)].max() < 1e-3
    assert 0 <= onset - first <= 0.010

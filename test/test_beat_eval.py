"""Beat tracking evaluation: offline decoding, the scores, the prediction error and `musmove eval-beats`."""

import csv
import os
import subprocess

import mir_eval
import numpy as np
import pytest

from musmove.beat.tracking import decode_offline
from musmove.evaluation.beat_report import table
from musmove.evaluation.beats import (
    METHODS,
    PREDICTING,
    RATE,
    Result,
    activation,
    causal_beats,
    error_summary,
    offline_beats,
    prediction_errors,
    scores,
)
from musmove.sources.audio import load_audio
from musmove.sources.data import bundled
from musmove.training.beat_data import examples, metronome

DEMO_MIDI = 'groove_drummer3_rock_120.mid'
STATUS = 'not installed: madmom (the evaluation extra: tools/bootstrap.sh --evaluation; ModuleNotFoundError)'


@pytest.fixture(scope='module')
def performance(groove_wav) -> tuple[np.ndarray, np.ndarray]:
    """The bundled performance's click (beat times, s: 120 BPM up to its last note) and offline beats (s)."""
    reference = metronome(bundled(DEMO_MIDI))[0]
    return reference, offline_beats(activation(load_audio(groove_wav, RATE)[:, 0])[:, 0])


def click(fps: float, period: int, seconds: float) -> np.ndarray:
    """A perfectly periodic activation: 1 every `period` frames from frame 0, 0 elsewhere."""
    signal = np.zeros(round(fps * seconds))
    signal[::period] = 1.0
    return signal


def test_offline_decoding_of_a_real_performance(performance):
    reference, beats = performance
    assert mir_eval.beat.f_measure(mir_eval.beat.trim_beats(reference), mir_eval.beat.trim_beats(beats)) > 0.9
    assert beats[-1] < reference[-1] + 0.25, 'no beats in the ringing tail after the last note'


def test_offline_decoding_finds_a_click_exactly():
    signal = click(40.0, 20, 30)
    assert np.array_equal(decode_offline(signal, 40.0), np.flatnonzero(signal))
    assert decode_offline(np.zeros(400), 40.0).size == 0, 'no beats without music'


def test_offline_decoding_of_weak_activations_keeps_the_whole_music():
    """A model whose peaks reach only 0.4 (as on real recordings) still gets every beat, and none in the silence
    before and after the music."""
    rng = np.random.default_rng(0)
    music = 0.4 * click(40.0, 20, 30) + rng.uniform(0, 0.05, 1200)
    signal = np.concatenate([np.zeros(200), music, np.zeros(200)])
    beats = decode_offline(signal, 40.0)
    np.testing.assert_array_equal(beats, 200 + np.flatnonzero(music >= 0.4))


def test_scores_agree_with_mir_eval(performance):
    reference, beats = performance
    shifted = beats + 0.05  # within the 70 ms window but off the beat: the scores differ from a perfect 1
    for estimated in (beats, shifted, beats[::2]):
        direct = mir_eval.beat.evaluate(reference, estimated)  # trims the first 5 s itself
        ours = scores(reference, estimated)
        assert ours['f_measure'] == pytest.approx(direct['F-measure'])
        assert ours['cmlt'] == pytest.approx(direct['Correct Metric Level Total'])
        assert ours['amlt'] == pytest.approx(direct['Any Metric Level Total'])
        assert ours['p_score'] == pytest.approx(direct['P-score'])


def test_prediction_error_follows_its_definition():
    reference = np.array([4.5, 5.0, 5.5, 6.0, 6.5])  # beats before 5 s are not scored; half an interval: 0.25 s
    made = np.array([4.85, 4.95, 5.2, 5.3, 5.6])
    predicted = np.array([5.03, 5.001, 5.45, 5.8, 6.01])
    # 5.0: made by 4.9 s -> 5.03. 5.5: 5.8 is too far, the one before -> 5.45. 6.0: the latest -> 6.01. 6.5: none.
    errors = prediction_errors(reference, made, predicted, horizon=0.1)
    np.testing.assert_allclose(errors, [30, -50, 10, np.nan])
    assert error_summary(errors) == pytest.approx(
        {'median_abs_error_ms': 30, 'mean_error_ms': -10 / 3, 'coverage': 0.75}
    )
    assert prediction_errors(reference, made, predicted, horizon=0.0)[0] == pytest.approx(1), 'made by 5.0 s'


def test_a_periodic_click_is_predicted_exactly():
    fps = 40.0  # 20 frames = 0.5 s: the beats fall on frames, so a settled tracker predicts them exactly
    activations = np.stack([click(fps, 20, 30), click(fps, 80, 30)], axis=1)  # downbeats: every 4th beat
    beats, downbeats, made, predicted = causal_beats(activations, fps)
    reference = np.arange(0, 30, 0.5)
    np.testing.assert_allclose(beats, reference[: len(beats)], atol=1e-6)
    summary = error_summary(prediction_errors(reference, made, predicted))
    assert summary['coverage'] == 1 and summary['median_abs_error_ms'] < 1e-6 and abs(summary['mean_error_ms']) < 1e-6
    assert np.all(predicted > made), 'a prediction lies after the audio it came from'
    assert len(downbeats) > 5 and set(np.round(downbeats / 2, 6) % 1) == {0.0}, 'every 2 s, from 0'


def musmove(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ['musmove', 'eval-beats', *args], capture_output=True, text=True, timeout=280, env=env or os.environ
    )


def groove_test_split():
    try:
        return examples(dataset='groove', split='test')
    except FileNotFoundError as error:
        pytest.skip(f'the shared data sets are missing: {error}')


def test_eval_beats_writes_the_report(tmp_path):
    first = groove_test_split()[0]
    result = musmove('--dataset', 'groove', '--limit', '1', '--seconds', '20', '--out', str(tmp_path))
    assert result.returncode == 0, result.stderr
    markdown = (tmp_path / 'beat_eval.md').read_text()
    assert result.stdout.endswith(markdown)
    rows = [line.split(' | ')[:3] for line in markdown.splitlines() if line.startswith('| groove')]
    assert rows == [['| groove', method, '1'] for method in METHODS]
    with (tmp_path / 'beat_eval.csv').open(newline='') as file:
        table = list(csv.DictReader(file))
    assert [(row['example'], row['method']) for row in table] == [(first.name, method) for method in METHODS]
    for row in table:
        assert int(row['n_reference']) == np.sum(first.beats < 20), 'the reference cut at 20 s too'
        if row['status']:  # a peer without the evaluation extra
            assert row['status'].startswith('not installed') and row['f_measure'] == ''
            continue
        assert 0 <= float(row['f_measure']) <= 1 and float(row['lock_any_s']) >= 0
        assert (row['coverage'] != '') == (row['method'] in PREDICTING)
    for name in ('beat_eval_f_measure.png', 'beat_eval_prediction_error.png'):
        assert (tmp_path / name).read_bytes().startswith(b'\x89PNG')


def test_eval_beats_scores_a_pop909_test_render_against_its_performed_beats(tmp_path):
    from musmove.training.prepare import evaluation_audio, rendered

    try:
        (name, examples_), *_ = evaluation_audio('pop909', 'test', 1)
    except FileNotFoundError as error:
        pytest.skip(f'the shared data sets are missing: {error}')
    args = ('--dataset', 'pop909', '--limit', '1', '--seconds', '15', '--methods', 'causal', 'offline')
    result = musmove(*args, '--out', str(tmp_path))
    assert result.returncode == 0, result.stderr
    with (tmp_path / 'beat_eval.csv').open(newline='') as file:
        table = list(csv.DictReader(file))
    labelled = rendered('pop909', name, examples_)  # the same render again: seeded by its name
    assert [(row['example'], row['method']) for row in table] == [(name, 'causal'), (name, 'offline')]
    assert all(int(row['n_reference']) == np.sum(labelled.beats < 15) for row in table)
    assert all(0 <= float(row['f_measure']) <= 1 for row in table)


@pytest.mark.parametrize(
    ('args', 'no_data', 'message'),
    [
        (['--model', '/no/such/model.onnx'], False, 'no beat model at /no/such/model.onnx'),
        (['--dataset', 'nottingham'], False, 'unknown data set nottingham'),
        (['--split', 'dev'], False, "unknown split 'dev'"),
        (['--dataset', 'mix', '--split', 'validation'], False, 'pop909 and mix are evaluated on the test split only'),
        ([], True, 'groove-midi/info.csv is missing'),
    ],
)
def test_eval_beats_errors_are_one_line(tmp_path, args, no_data, message):
    env = {**os.environ, 'MUSMOVE_DATA': str(tmp_path)} if no_data else None  # an empty shared data folder
    result = musmove('--dataset', 'groove', *args, '--out', str(tmp_path / 'out'), env=env)
    assert result.returncode == 1
    assert result.stderr.startswith('musmove: error: ') and result.stderr.count('\n') == 1
    assert message in result.stderr
    assert not (tmp_path / 'out').exists()


def test_a_peer_that_is_not_installed_gets_a_row_saying_so():
    common = {'dataset': 'groove', 'example': 'x', 'duration': 30.0, 'n_reference': 60}
    reference = np.arange(60) * 0.5
    ran = Result(**common, method='causal', seconds=1.0, n_estimated=60, scores=scores(reference, reference))
    ran.scores.update(lock_annotated_s=0.0, lock_any_s=0.0, octave_error=0.0, bias_ms=1.0)
    missing = Result(**common, method='madmom-online', seconds=np.nan, n_estimated=0, scores={}, status=STATUS)
    rows = {line.split(' | ')[1]: line for line in table([ran, missing]) if line.startswith('| groove')}
    assert rows['madmom-online'].startswith('| groove | madmom-online | 1 | not installed: madmom |')
    scored = '100.0 | 100.0 | 100.0 | 100.0 | 0.0 | 0.0 | 100.0 | 0.0'  # F, CMLt, AMLt, P, locks, locked, octave
    assert rows['causal'].startswith(f'| groove | causal | 1 | {scored} |')

"""The shipped ONNX beat model: checked against its card, run causally on real audio with onnxruntime."""

import json
import shutil

import mir_eval
import numpy as np
import pytest

from musmove.beat.model import BeatEnsemble, OnnxBeatModel, activations, load, open_model
from musmove.beat.tracking import BarTracker, BeatTracker
from musmove.models import ModelError, card_path, load_card, resolve, sha256
from musmove.sources.audio import load_audio
from musmove.sources.data import bundled
from musmove.training import STUDY
from musmove.training.beat_data import metronome

MODEL = 'beat_crnn2.onnx'
RATE, HOP = 22050, 512


@pytest.fixture
def copy(tmp_path):
    """The shipped model and its card, copied where a test may break them."""
    source = resolve(MODEL)
    for path in (source, card_path(source)):
        shutil.copy(path, tmp_path / path.name)
    return tmp_path / MODEL


@pytest.fixture(scope='module')
def performance(groove_wav):
    """Activations of the bundled Groove performance, and its metronome beats and downbeats."""
    audio = load_audio(groove_wav, RATE)[:, 0]
    beats, downbeats, _, _ = metronome(bundled('groove_drummer3_rock_120.mid'))
    return activations(load(MODEL, RATE, HOP), audio), beats, downbeats


def test_the_card_describes_the_shipped_model():
    card = load_card(MODEL, 'beat')
    assert card['sha256'] == sha256(resolve(MODEL))
    assert card['features']['sample_rate'] == RATE and card['features']['hop'] == HOP
    assert card['frame_rate'] == pytest.approx(RATE / HOP)
    assert card['classes'] == ['beat', 'downbeat']
    assert card['parity']['max_abs_difference'] < 1e-4
    assert 'test' not in card['training']['split'].split('(')[0], 'trained on the train split only'
    assert 0 < card['metrics']['validation_causal_f_measure'] <= 1


def test_the_model_tracks_a_real_performance(performance):
    activation, beats, downbeats = performance
    assert activation.shape[1] == 2 and np.all((activation >= 0) & (activation <= 1))
    tracker, bars = BeatTracker(RATE / HOP), BarTracker()
    estimates = [tracker.step(a) for a in activation[:, 0]]
    observed = [e.observed for e in estimates if e.observed is not None]
    times = np.array(observed) / (RATE / HOP)
    trim = mir_eval.beat.trim_beats
    assert mir_eval.beat.f_measure(trim(beats), trim(times)) > 0.85  # the drummer plays ~25 ms behind the click
    positions = [bars.observe(activation[round(frame) - 1 : round(frame) + 2, 1].max()) for frame in observed]
    at_downbeats = [p for p, t in zip(positions, times, strict=True) if np.min(np.abs(downbeats - t)) < 0.07]
    known = [p for p in at_downbeats if p]  # the meter is claimed after two bars of beats (position 0 until then)
    assert len(known) >= 9 and known[-10:] == [1] * len(known[-10:]), 'the bars start where the metronome bars start'


def test_a_missing_model_or_card_is_named(tmp_path, copy):
    with pytest.raises(ModelError, match='model card not found'):
        load_card(tmp_path / 'nothing.onnx')
    copy.unlink()
    with pytest.raises(ModelError, match='model file not found'):
        load_card(copy)


def test_a_corrupt_model_is_refused(copy):
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelError, match=r'sha256 .* differs from its card'):
        OnnxBeatModel(copy)


def test_a_mismatched_model_is_refused(copy):
    with pytest.raises(ModelError, match='frames of 512 samples at 22050 Hz'):
        OnnxBeatModel(copy).check(44100, 512)
    card = json.loads(card_path(copy).read_text())
    with pytest.raises(ModelError, match="a 'beat' model, not a 'gesture' model"):
        load_card(copy, 'gesture')
    card['outputs']['logits']['name'] = 'beat_logits'
    card_path(copy).write_text(json.dumps(card))
    with pytest.raises(ModelError, match="no logits tensor 'beat_logits'"):
        OnnxBeatModel(copy)


@pytest.mark.parametrize('arch', STUDY)
def test_every_study_model_runs_as_the_node_runs_it(arch, groove_wav):
    """The five architectures of the study load, pass their card's checks and track the bundled performance."""
    model = load(f'beat_{arch}.onnx', RATE, HOP)  # what beat_tracker calls, with the audio's format checked
    assert isinstance(model, OnnxBeatModel) and model.model.card['architecture'] == arch
    audio = load_audio(groove_wav, RATE)[:, 0]
    activation = activations(model, audio)
    assert activation.shape[1] == 2 and np.all((activation >= 0) & (activation <= 1))
    tracker = BeatTracker(RATE / HOP)
    observed = [e.observed for e in (tracker.step(a) for a in activation[:, 0]) if e.observed is not None]
    beats = metronome(bundled('groove_drummer3_rock_120.mid'))[0]
    trim = mir_eval.beat.trim_beats
    f_measure = mir_eval.beat.f_measure(trim(beats), trim(np.array(observed) / (RATE / HOP)))
    assert f_measure > 0.5, f_measure  # the Transformer, trained one epoch: 0.64


def test_an_ensemble_is_the_mean_of_its_models(groove_wav, copy):
    audio = load_audio(groove_wav, RATE)[: 10 * RATE, 0]
    names = 'beat_crnn2.onnx', 'beat_crnn.onnx'
    mean = activations(load(','.join(names), RATE, HOP), audio)
    each = [activations(load(name, RATE, HOP), audio) for name in names]
    np.testing.assert_allclose(mean, np.mean(each, axis=0), atol=1e-6)
    with pytest.raises(ModelError, match='an empty model name'):
        open_model('beat_crnn.onnx,')
    card = json.loads(card_path(copy).read_text())
    card['features']['sample_rate'] = 44100
    card_path(copy).write_text(json.dumps(card))
    with pytest.raises(ModelError, match='take different audio frames'):
        BeatEnsemble([OnnxBeatModel(names[0]), OnnxBeatModel(copy)])

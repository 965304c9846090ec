"""Training on real data really lowers the loss; every architecture's exported ONNX step graph matches torch."""

import json

import numpy as np
import pytest

torch = pytest.importorskip(
    'torch', reason='the training extra is not installed: pip install -r requirements/training.txt'
)

from musmove.beat.model import OnnxBeatModel, activations  # noqa: E402
from musmove.gesture.features import PHASES, SIZE  # noqa: E402
from musmove.gesture.features import features as gesture_features  # noqa: E402
from musmove.models import ModelError, StreamingModel  # noqa: E402
from musmove.training import ARCHITECTURE_NAMES, beats  # noqa: E402
from musmove.training.architectures import ARCHITECTURES  # noqa: E402
from musmove.training.export import export  # noqa: E402
from musmove.training.fit import Settings, fit, seed_everything  # noqa: E402


@pytest.fixture(scope='module')
def tracks():
    """Three real Groove MIDI training performances, rendered, with their metronome beats."""
    return beats.tracks('train', ('groove',), limit=3)


def test_targets_mark_beats_and_their_neighbours():
    target = beats.targets(np.array([1.0]), 100)
    frame = round(beats.fps())
    assert target[frame] == 1.0 and target[frame - 1] == target[frame + 1] == 0.5
    assert target.sum() == 2.0
    stretched = beats.targets(np.array([1.0]), 100, stretch=2.0)  # frames twice as long: the beat at half the index
    assert stretched[round(beats.fps() / 2)] == 1.0


def test_chunks_follow_the_beats_through_augmentation(tracks):
    rng = np.random.default_rng(0)
    x, y = beats.batch(tracks, 16, 400, rng)
    assert x.shape == (16, 400, 64) and y.shape == (16, 400, 2) and x.dtype == np.float32
    assert np.all(x >= beats.SILENCE_DB)
    beat_frames = y[:, :, 0] == 1
    onset = np.diff(x.mean(axis=2), axis=1, prepend=x[:, :1].mean(axis=2))  # loudness rise per frame
    assert onset[beat_frames].mean() > onset[~beat_frames].mean(), 'drum hits sit on the (stretched) beat targets'


@pytest.mark.timeout(600)
def test_a_short_training_lowers_the_loss_and_exports_in_parity(tracks, tmp_path):
    seed_everything(0)
    mean, std = beats.statistics(tracks)
    model = ARCHITECTURES['crnn'](64, 2, mean, std, beats.SILENCE_DB)
    rng = np.random.default_rng(0)
    fixed = [tuple(map(torch.as_tensor, beats.batch(tracks, 8, 200, rng, augment=False))) for _ in range(2)]

    def loss(logits, targets):
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, targets)

    def held_out(model):
        return float(np.mean([loss(model(x), y).item() for x, y in fixed]))

    model.eval()
    with torch.no_grad():
        before = held_out(model)
    settings = Settings(epochs=3, steps_per_epoch=15, learning_rate=3e-3, max_minutes=5)
    history = fit(
        model, lambda: tuple(map(torch.as_tensor, beats.batch(tracks, 8, 200, rng))), held_out, loss, settings
    )
    assert min(history.validation_loss) < 0.8 * before

    path = tmp_path / 'beat_crnn.onnx'
    card = export(
        model,
        path,
        {
            'name': 'test',
            'task': 'beat',
            'classes': list(beats.CLASSES),
            'features': {'kind': 'log_mel', **beats.LOG_MEL},
        },
        tracks[0].features[:500],
        'sigmoid',
    )
    assert card['parity']['max_abs_difference'] < 1e-4
    assert json.loads(path.with_suffix('.json').read_text()) == json.loads(json.dumps(card))

    # The exported model on audio, frame by frame, equals torch on the offline features of the same audio.
    audio = np.random.default_rng(1).standard_normal(22050).astype(np.float32) * 0.1
    streamed = activations(OnnxBeatModel(path), audio)
    from musmove.beat.features import offline_log_mel

    _, log_mel = offline_log_mel(audio, **beats.LOG_MEL)
    with torch.no_grad():
        expected = torch.sigmoid(model(torch.as_tensor(log_mel[None], dtype=torch.float32)))[0].numpy()
    np.testing.assert_allclose(streamed, expected, atol=1e-4)

    card['inputs']['features']['shape'][1] += 1  # a card that does not describe its graph
    path.with_suffix('.json').write_text(json.dumps(card))
    with pytest.raises(ModelError, match='shape'):
        StreamingModel(path)


@pytest.mark.parametrize('arch', ARCHITECTURE_NAMES)
def test_every_architecture_exports_a_step_graph_equal_to_the_sequence_model(arch, tmp_path):
    """Causal: the whole sequence in torch equals onnxruntime frame by frame (start padding, state, window)."""
    size = 64 if arch == 'crnn' else SIZE
    features = np.random.default_rng(2).standard_normal((300, size)).astype(np.float32)
    seed_everything(0)
    model = ARCHITECTURES[arch](size, len(PHASES), features.mean(0), features.std(0), 0.0)
    for parameter in model.parameters():  # batch norm and biases away from their initial values
        parameter.data += 0.05 * torch.randn_like(parameter)
    card = {'name': arch, 'task': 'gesture', 'classes': list(PHASES), 'features': {'kind': 'test'}}
    exported = export(model, tmp_path / f'{arch}.onnx', card, features, 'softmax')
    assert exported['parity']['max_abs_difference'] < 1e-4
    later = torch.as_tensor(features[None, :200])
    with torch.no_grad():
        prefix = model(later)[0, :150]
        changed = later.clone()
        changed[0, 150:] += 5.0  # the future changes ...
        assert torch.allclose(model(changed)[0, :150], prefix, atol=1e-5)  # ... the past outputs do not


@pytest.mark.timeout(600)
def test_a_short_gesture_training_lowers_the_loss():
    from musmove.training import gestures
    from musmove.training.gesture_training import BATCH, CHUNK_FRAMES

    train, validation, _ = gestures.split(gestures.load_all(), 'C')
    everything = np.concatenate([gesture_features(r.positions) for r in train])
    seed_everything(0)
    model = ARCHITECTURES['lstm'](SIZE, len(PHASES), everything.mean(0), everything.std(0), 0.0, hidden=32)
    rng = np.random.default_rng(0)
    held = [tuple(map(torch.as_tensor, gestures.batch(validation, 8, CHUNK_FRAMES, rng, False))) for _ in range(3)]

    def loss(logits, labels):
        return torch.nn.functional.cross_entropy(logits.reshape(-1, len(PHASES)), labels.reshape(-1))

    def held_out(model):
        return float(np.mean([loss(model(x), y).item() for x, y in held]))

    model.eval()
    with torch.no_grad():
        before = held_out(model)
    settings = Settings(epochs=4, steps_per_epoch=15, max_minutes=5)
    history = fit(
        model, lambda: tuple(map(torch.as_tensor, gestures.batch(train, BATCH, CHUNK_FRAMES, rng))), held_out, loss,
        settings, quiet=True,
    )  # fmt: skip
    assert min(history.validation_loss) < 0.85 * before


def test_the_transformer_runs_a_long_recording_in_blocks_equal_to_the_whole():
    seed_everything(0)
    model = ARCHITECTURES['transformer'](SIZE, len(PHASES), np.zeros(SIZE), np.ones(SIZE), 0.0).eval()
    features = torch.randn(1, 700, SIZE)
    with torch.no_grad():
        whole, blocks = model(features, block=10_000), model(features, block=64)
    assert blocks.shape == (1, 700, len(PHASES)) and torch.allclose(whole, blocks, atol=1e-5)

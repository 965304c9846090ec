"""Gesture-phase features, the UCI loaders on the real files, training, export and the shipped models."""

import numpy as np
import pytest
from test_recordings import uci

from musmove.gesture.features import GROUPS, JOINTS, PHASES, RATE, SIZE, GestureFeatures, columns, features
from musmove.models import StreamingModel, load_card
from musmove.training import STUDY


@pytest.fixture(scope='module')
def recordings():
    uci('a1')  # skips, naming the folder, where the shared data set is missing
    from musmove.training import gestures

    return gestures.load_all()


def test_streaming_features_equal_the_offline_features(recordings):
    positions = recordings[3].positions[:500]
    offline = features(positions)
    streaming = GestureFeatures()
    online = np.array([streaming(frame) for frame in positions])
    assert offline.shape == (500, SIZE)
    np.testing.assert_allclose(online, offline, rtol=1e-5, atol=1e-5)
    assert np.ptp(offline[:, slice(*GROUPS['velocity'])], axis=0).min() > 0  # every moving joint moves


def test_features_do_not_depend_on_place_size_or_units(recordings):
    positions = recordings[0].positions[:300]
    moved = 2.5 * positions + np.array([1.0, -3.0, 0.5])  # elsewhere, larger, other units
    np.testing.assert_allclose(features(moved), features(positions), rtol=1e-4, atol=1e-4)


def test_stale_joints_give_nan_and_restart_the_differences(recordings):
    streaming = GestureFeatures()
    positions = recordings[0].positions
    streaming(positions[0])
    assert np.isnan(streaming(np.full((len(JOINTS), 3), np.nan))).all()
    restarted = streaming(positions[1])
    assert np.all(restarted[slice(*GROUPS['velocity'])] == 0)  # no velocity across the gap


def test_uci_recordings_load_at_the_model_rate_with_their_labels(recordings):
    from musmove.training import gestures

    assert [r.name for r in recordings] == ['a1', 'a2', 'a3', 'b1', 'b3', 'c1', 'c3']
    for recording in recordings:
        assert recording.positions.shape == (len(recording.labels), len(JOINTS), 3)
        assert set(np.unique(recording.labels)) == set(range(len(PHASES)))  # every phase in every recording
    b1 = next(r for r in recordings if r.name == 'b1')
    assert np.mean(b1.labels == PHASES.index('preparation')) > 0.3  # its labels say 'Preparação'
    seconds = sum(len(r.labels) for r in recordings) / RATE
    assert 300 < seconds < 400  # 9,873 Kinect frames at about 30 fps, with dropped frames
    train, validation, test = gestures.split(recordings, 'B')
    assert {r.subject for r in test} == {'B'} and {r.subject for r in train + validation} == {'A', 'C'}
    assert sum(len(r.labels) for r in validation) == pytest.approx(0.25 * sum(len(r.labels) for r in train), rel=0.01)


def test_mirroring_swaps_the_hands(recordings):
    from musmove.training import gestures

    positions = recordings[0].positions[:50]
    left, right, spine = (JOINTS.index(name) for name in ('left_hand', 'right_hand', 'spine'))
    relative = positions - positions[:, [spine]]
    flips = []
    for seed in range(10):
        flips.append(np.random.default_rng(seed).random() < 0.5)  # augment's first draw
        augmented = gestures.augment(positions, np.random.default_rng(seed))
        moved = augmented - augmented[:, [spine]]
        as_mirror = np.abs(moved[:, right] - relative[:, left] * [-1, 1, 1]).mean()
        as_is = np.abs(moved[:, right] - relative[:, right]).mean()
        assert (as_mirror < as_is) == flips[-1]  # the right hand is the left one, seen in a mirror
    assert any(flips) and not all(flips)


def test_feature_groups_select_columns():
    assert columns(['speed']).tolist() == list(range(36, 40))
    assert len(columns(list(GROUPS))) == SIZE
    with pytest.raises(ValueError, match='unknown feature groups'):
        columns(['colour'])


@pytest.mark.parametrize('arch', STUDY)
def test_shipped_gesture_models_run_and_carry_cross_validated_figures(arch, recordings):
    card = load_card(f'models/gesture_{arch}.onnx', task='gesture')  # sha256 checked
    validated = card['metrics']['cross_validation']
    assert [fold['test_subject'] for fold in validated['folds']] == ['A', 'B', 'C']
    assert card['parity']['max_abs_difference'] < 1e-4
    model = StreamingModel(f'models/gesture_{arch}.onnx', task='gesture')
    chosen = np.array(card['features']['columns'])
    probabilities = np.array([model(row[chosen]) for row in features(recordings[5].positions[:200])])
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert validated['macro_f1_mean'] > 1 / len(PHASES)  # better than guessing

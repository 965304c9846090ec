"""The synchronizer's core without ROS: resampling, filters, bad input, waiting and stale streams."""

import numpy as np
import pytest
from scipy.signal import sosfilt, sosfilt_zi
from scipy.spatial.transform import Rotation, Slerp

from musmove.beat.features import AudioFeatures
from musmove.sync.filters import LowPass, PlausibilityGate, RunningNormalizer
from musmove.sync.streams import EXTRAPOLATED, GAP, IMU, OK, OUTLIER, STALE, Settings, Stream, pose_layout, slerp
from musmove.sync.synchronizer import Synchronizer

MS = 1_000_000


def imu_sample(acceleration: float = 0.0) -> np.ndarray:
    return np.array([acceleration, 0, 9.81, 0, 0, 0, 0, 0, 0, 1.0])


def test_slerp_matches_scipy():
    rotations = Rotation.from_euler('xyz', [[0.1, 0.2, 0.3], [1.0, -0.5, 2.0]])
    reference = Slerp([0, 1], rotations)
    q0, q1 = rotations.as_quat()
    for u in np.linspace(0, 1, 7):
        ours = slerp(q0, q1, u)
        assert Rotation.from_quat(ours).approx_equal(reference([u])[0], atol=1e-9)


def test_lowpass_streaming_equals_offline():
    rng = np.random.default_rng(0)
    signal = rng.standard_normal((500, 3))
    lowpass = LowPass(20.0, 1000.0, 3)
    streamed = np.array([lowpass(row) for row in signal])
    offline, _ = sosfilt(lowpass.sos, signal, axis=0, zi=sosfilt_zi(lowpass.sos)[:, :, None] * signal[0])
    np.testing.assert_allclose(streamed, offline, atol=1e-12)
    assert 0.005 < lowpass.delay < 0.03  # a 2nd-order 20 Hz Butterworth delays about 11 ms


def test_filtered_stream_is_back_on_time():
    """A 1 kHz IMU low-passed at 20 Hz and compensated for the filter delay reads a 1 Hz sine on time."""
    stream = Stream('imu', IMU, Settings(cutoff=20.0))
    times = np.arange(0, 3000) * MS
    for t in times:
        values = imu_sample(np.sin(2 * np.pi * t / 1e9))
        assert stream.add(int(t), values) is None
    for t in np.arange(1000, 2900, 23) * MS:
        value, state, _ = stream.sample(int(t))
        assert state == OK
        assert value[0] == pytest.approx(np.sin(2 * np.pi * t / 1e9), abs=0.01)


def test_pose_interpolation_slerps_orientation():
    stream = Stream('mocap', pose_layout(1), Settings())
    q0, q1 = Rotation.from_euler('z', [[0], [90]], degrees=True).as_quat()
    stream.add(0, np.r_[0, 0, 0, q0])
    stream.add(40 * MS, np.r_[0.4, 0, 0, q1])
    value, state, age = stream.sample(10 * MS)
    assert state == OK and age == -30 * MS
    assert value[0] == pytest.approx(0.1)
    assert Rotation.from_quat(value[3:]).as_euler('xyz', degrees=True)[2] == pytest.approx(22.5)


@pytest.mark.parametrize(
    ('second', 'cause'),
    [(10, 'duplicate stamp'), (5, 'out-of-order stamp')],
)
def test_bad_stamps_are_rejected_and_counted(second, cause):
    stream = Stream('imu', IMU, Settings())
    assert stream.add(10 * MS, imu_sample()) is None
    assert stream.add(second * MS, imu_sample()) == cause
    assert stream.counters.rejected == {cause: 1}


def test_non_finite_values_are_rejected():
    stream = Stream('imu', IMU, Settings())
    assert stream.add(0, imu_sample(np.nan)) == 'non-finite values'
    assert stream.add(MS, imu_sample(np.inf)) == 'non-finite values'
    assert stream.newest() is None


def test_clock_jump_back_restarts_the_stream():
    stream = Stream('imu', IMU, Settings(clock_jump=1000 * MS))
    for t in range(0, 3000, 10):
        stream.add(t * MS, imu_sample(1.0))
    note = stream.add(500 * MS, imu_sample(2.0))
    assert note.startswith('clock jumped back 2.490 s')
    assert stream.times == [500 * MS]
    assert stream.sample(500 * MS)[0][0] == 2.0


def test_dropout_goes_stale_then_recovers():
    settings = Settings(max_gap=50 * MS, stale_after=500 * MS)
    stream = Stream('imu', IMU, settings)
    for t in range(0, 1000, 10):
        stream.add(t * MS, imu_sample(1.0))
    assert stream.sample(1020 * MS)[1] == EXTRAPOLATED
    assert stream.sample(1200 * MS)[1] == GAP
    values, state, age = stream.sample(5000 * MS)
    assert state == STALE and np.isnan(values).all() and age == 4010 * MS
    assert stream.add(11_000 * MS, imu_sample(3.0)).startswith('resumed after 10.010 s')
    stream.add(11_010 * MS, imu_sample(3.0))
    assert stream.sample(11_005 * MS)[1] == OK
    assert stream.sample(6000 * MS)[1] == GAP  # between the last sample before and the first after


def test_spike_is_an_outlier_and_filled():
    stream = Stream('imu', IMU, Settings(limit=160.0))
    for t in range(0, 100, 10):
        spike = t == 50
        assert stream.add(t * MS, imu_sample(1000.0 if spike else 1.0)) == ('outlier' if spike else None)
    value, state, _ = stream.sample(50 * MS)
    assert state == OUTLIER and value[0] == pytest.approx(1.0)
    assert stream.sample(25 * MS)[1] == OK


def test_gate_reacquires_after_a_real_jump():
    gate = PlausibilityGate(max_speed=10.0, reacquire=3)
    assert gate.accept(0, np.zeros(3))
    moved = np.full(3, 5.0)  # 5 m in 10 ms: not a person
    assert [gate.accept(k * 10 * MS, moved) for k in range(1, 6)] == [False, False, False, True, True]


def test_frames_wait_for_late_streams_at_most_max_delay():
    imu = Stream('imu', IMU, Settings())
    sync = Synchronizer([imu], max_delay=100 * MS, stale_after=500 * MS)
    imu.add(0, imu_sample(0.0))
    sync.add_frame(20 * MS, np.zeros(2))
    assert sync.ready(now=30 * MS) == []  # waits for an IMU sample at or after 20 ms
    imu.add(40 * MS, imu_sample(4.0))
    (frame,) = sync.ready(now=45 * MS)
    assert frame.stamp == 20 * MS
    assert frame.values['imu'][0] == pytest.approx(2.0) and frame.states['imu'] == (OK, -20 * MS)
    sync.add_frame(60 * MS, np.zeros(2))
    assert sync.ready(now=150 * MS) == []
    (late,) = sync.ready(now=160 * MS)  # waited max_delay: held and marked
    assert late.states['imu'] == (EXTRAPOLATED, 20 * MS)


def test_a_frame_ahead_of_the_clock_waits_for_the_streams_to_reach_it():
    """Known music: audio frames arrive 750 ms before their time, further ahead than stale_after (500 ms) of the
    newest IMU sample; the stream is judged on the clock, so the frame waits and goes out interpolated, not STALE."""
    imu = Stream('imu', IMU, Settings())
    sync = Synchronizer([imu], max_delay=850 * MS, stale_after=500 * MS)
    imu.add(0, imu_sample(0.0))
    sync.add_frame(750 * MS, np.zeros(2))
    assert sync.ready(now=10 * MS) == []
    for k in range(1, 9):
        imu.add(k * 100 * MS, imu_sample(float(k)))
    (frame,) = sync.ready(now=800 * MS)
    assert frame.states['imu'][0] == OK and frame.values['imu'][0] == pytest.approx(7.5)


def test_audio_features_are_causal_and_see_onsets():
    hop = 512
    features = AudioFeatures(hop)
    silence, hit = np.zeros(hop, np.float32), np.zeros(hop, np.float32)
    hit[100:140] = np.hanning(40)
    rms, onset = zip(*(features(frame) for frame in [silence, silence, hit, silence]), strict=True)
    assert rms[2] > 0 and rms[0] == rms[1] == rms[3] == 0
    assert onset[2] > 1.0 and onset[0] == onset[1] == 0.0 and onset[3] == 0.0


def test_running_normalizer_is_a_causal_z_score():
    rng = np.random.default_rng(1)
    normalize = RunningNormalizer(time_constant=200)
    values = rng.normal(5.0, 2.0, size=(4000, 2))
    out = np.array([normalize(row) for row in values])
    assert out[0] == pytest.approx([0.0, 0.0])  # nothing known yet
    settled = out[1000:]
    assert np.abs(settled.mean(axis=0)).max() < 0.15 and np.abs(settled.std(axis=0) - 1).max() < 0.15

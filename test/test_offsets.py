"""Offsets injected into real recordings are recovered by cross-correlating event envelopes.

The UCI gesture-phase recordings (Kinect) are the motion capture; the IMU is the virtual IMU of
the right wrist of the same recording (its second derivative plus gravity), as the data set's
README suggests. A known offset is added to the IMU's stamps; the estimate must find it within
one audio hop (512 samples at 22050 Hz = 23.2 ms).
"""

import numpy as np
import pytest
from test_recordings import uci

from musmove.sources.recordings import read_mocap, virtual_imu
from musmove.sync.offsets import estimate_lag, motion_envelope
from musmove.sync.streams import IMU, Settings, Stream, pose_layout
from musmove.sync.synchronizer import Synchronizer

HOP = 512 / 22050
RECORDINGS = ['a1', 'a2', 'a3', 'b1', 'b3', 'c1', 'c3']


@pytest.mark.parametrize('name', RECORDINGS)
@pytest.mark.parametrize('offset', [-0.2, 0.08, 0.3])
def test_injected_offset_is_recovered_within_one_hop(name, offset):
    mocap = read_mocap(uci(name))
    imu = virtual_imu(mocap, 'right_wrist')
    window = mocap.times < 20.0
    times = mocap.times[window]
    wrist = mocap.positions[window, mocap.joint_names.index('right_wrist')]
    reference = motion_envelope(times, wrist, 'position')
    shifted = motion_envelope(imu.times[window] + offset, imu.linear_acceleration[window], 'acceleration')
    lag, correlation = estimate_lag(reference, shifted, max_lag=0.5)
    assert abs(lag - offset) < HOP, f'{name}: estimated {lag * 1000:.1f} ms for {offset * 1000:.0f} ms'
    assert correlation > 0.3


def test_synchronizer_estimates_the_offset_through_its_streams():
    """Samples go through the streams (latency correction, history) and the best joint is found."""
    mocap = read_mocap(uci('b3'))
    imu = virtual_imu(mocap, 'right_wrist')
    settings = Settings(latency=round(0.05e9))  # 50 ms configured, 130 ms real: 80 ms residual
    imu_stream, pose_stream = Stream('imu', IMU, settings), Stream('mocap', pose_layout(6), Settings())
    for t, acceleration in zip(imu.times, imu.linear_acceleration, strict=True):
        imu_stream.add(round((t + 0.13) * 1e9), np.r_[acceleration, 0, 0, 0, 0, 0, 0, 1])
    for t, joints in zip(mocap.times, mocap.positions, strict=True):
        pose_stream.add(round(t * 1e9), np.column_stack([joints, np.tile([0, 0, 0, 1.0], (6, 1))]).ravel())
    sync = Synchronizer([imu_stream, pose_stream], max_delay=10**8, stale_after=5 * 10**8)
    lag, correlation = sync.estimate_offsets('mocap', max_lag=0.5)['imu']
    assert abs(lag - 0.08) < HOP and correlation > 0.5
    assert sync.estimate_offsets('audio', max_lag=0.5) == {}  # no audio yet: nothing to compare with


def test_streams_that_do_not_overlap_give_no_estimate():
    times = np.linspace(0, 1, 100)
    lag, correlation = estimate_lag((times, np.sin(times)), (times + 5, np.sin(times)), max_lag=0.5)
    assert np.isnan(lag) and correlation == 0.0

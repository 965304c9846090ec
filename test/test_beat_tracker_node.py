"""beat_tracker over DDS: a real drum performance played by audio_source, beats observed and predicted live."""

import time

import mir_eval
import numpy as np
from ros_helpers import wait_for

from musmove_msgs.msg import Beat

NS = 10**9
SECONDS = 14.0


def seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec / NS


def test_beats_are_observed_and_predicted_live(ros_node, node_process, groove_wav):
    start = time.time() + 10.0  # a known clock time for the file's first sample, once both processes are up
    beats: list[Beat] = []
    subscription = ros_node.create_subscription(Beat, 'beats', beats.append, 200)
    tracker = node_process('beat_tracker')
    node_process(
        'audio_source', '-p', f'file:={groove_wav}', '-p', f'start_time:={start}', '-p', 'wait_for_subscribers:=1'
    )
    try:
        wait_for(lambda: time.time() > start + SECONDS, ros_node, timeout=SECONDS + 20)
    finally:
        ros_node.destroy_subscription(subscription)
    assert tracker.popen.poll() is None and 'Traceback' not in tracker.stderr
    observed = [b for b in beats if b.kind == Beat.OBSERVED]
    predicted = [b for b in beats if b.kind == Beat.PREDICTED]
    assert len(observed) > 0.8 * SECONDS / 0.5 and predicted

    times = np.array([seconds(b.header.stamp) for b in observed]) - start
    reference = np.arange(0.0, times[-1] + 0.25, 0.5)  # the 120 BPM click of the recording, from its start
    assert mir_eval.beat.f_measure(mir_eval.beat.trim_beats(reference), mir_eval.beat.trim_beats(times)) > 0.7
    assert [b.index for b in observed] == list(range(len(observed)))
    for beat in observed:  # reported once the look-ahead (4 frames) after it was heard; its time refined by <= 1
        assert (
            seconds(beat.estimated_at) - seconds(beat.header.stamp) >= 3 * 512 / 22050 - 1e-6
        )  # 4 frames, refined <= 1

    ahead = [b for b in predicted if seconds(b.header.stamp) > seconds(b.estimated_at)]
    assert len(ahead) == len(predicted), 'a predicted beat lies in the future of the audio it came from'
    late = [b for b in predicted if seconds(b.estimated_at) - start > 5.0]  # after the tracker settled
    by_index = {b.index: seconds(b.header.stamp) for b in observed}
    errors = [seconds(b.header.stamp) - by_index[b.index] for b in late if b.index in by_index]
    assert len(errors) > 20
    assert np.median(np.abs(errors)) < 0.06  # the beat came within 60 ms of where it was predicted
    assert all(b.time_std >= 0 and 0 <= b.confidence <= 1 for b in late)
    # The onset activation also pulses on the hi-hat eighths: the tempo may start near max_bpm
    # off, but settles on the 120 BPM click within the first seconds.
    tempi = np.array([b.tempo for b in late if seconds(b.estimated_at) - start > 9.0])
    assert np.mean((tempi > 110) & (tempi < 130)) > 0.9, np.unique(np.round(tempi))


def test_known_music_predictions_carry_the_observed_beat_before_it_is_heard(ros_node, node_process, groove_wav):
    """audio_source 0.3 s ahead: each beat is observed before it is heard and leads the predictions until then."""
    start = time.time() + 10.0
    beats: list[tuple[float, Beat]] = []  # (arrival, beat)
    subscription = ros_node.create_subscription(Beat, 'beats', lambda b: beats.append((time.time(), b)), 200)
    node_process('beat_tracker')
    node_process(
        'audio_source',
        *('-p', f'file:={groove_wav}', '-p', f'start_time:={start}', '-p', 'wait_for_subscribers:=1'),
        *('-p', 'lookahead:=0.3'),
    )
    try:
        wait_for(lambda: time.time() > start + 10.0, ros_node, timeout=30)
    finally:
        ros_node.destroy_subscription(subscription)
    observed = {b.index: seconds(b.header.stamp) for _, b in beats if b.kind == Beat.OBSERVED}
    early = [arrival - seconds(b.header.stamp) for arrival, b in beats if b.kind == Beat.OBSERVED]
    assert len(observed) > 12 and np.median(early) < -0.1  # reported over 0.1 s before it is heard
    known = [(arrival, b) for arrival, b in beats if b.kind == Beat.PREDICTED and b.time_std == 0.0]
    assert len(known) > len(observed)  # several predictions carry each observed beat
    for arrival, beat in known:  # the observed beat itself, while it is still ahead
        assert abs(seconds(beat.header.stamp) - observed[beat.index]) < 1e-6 and arrival < seconds(beat.header.stamp)


def test_a_missing_model_stops_the_node_with_the_reason(node_process, tmp_path):
    tracker = node_process('beat_tracker', '-p', f'model:={tmp_path / "beat_missing.onnx"}')
    assert tracker.popen.wait(timeout=30) == 2
    assert 'model card not found' in tracker.stderr and str(tmp_path) in tracker.stderr

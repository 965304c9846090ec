"""The partner's beat from movement: the tracker on a known cycle and on real dancers, and the node over DDS."""

import csv
import math
from pathlib import Path

import numpy as np
import pytest
from geometry_msgs.msg import Pose
from ros_helpers import wait

from musmove.beat.movement import MovementTracker
from musmove.evaluation.beats import error_summary, prediction_errors
from musmove.evaluation.partner import circular_mean, movement_track, prepare, signal, track
from musmove.sources.dance import BEATS_PER_BAR, FPS, dance_root, sequence
from musmove_msgs.msg import Beat, SyncFrame

OFFSETS = Path(__file__).resolve().parent.parent / 'docs' / 'dance' / 'offsets.csv'


def test_the_tracker_finds_the_cycle_its_phase_and_the_beats_within_it():
    fps, cycle = 25.0, 29.0 / 60  # a waltz bar: 87 BPM, three beats a cycle
    t = np.arange(round(40 * fps)) / fps
    rng = np.random.default_rng(0)
    height = -0.04 * np.cos(2 * np.pi * cycle * (t - 0.3)) + 0.01 * np.cos(6 * np.pi * cycle * t)  # lowest at 0.3 + k/f
    values = height + 0.005 * rng.standard_normal(len(t))  # the tracker takes the negated height: peak = lowest
    tracker = MovementTracker(fps, beats_per_cycle=3, event_phase=0.25)
    estimates = [e for e in (tracker.step(-v) for v in values) if e is not None]
    assert estimates[0].frame == tracker.length - 1  # nothing before a full window
    assert np.median([e.cycle_tempo for e in estimates]) == pytest.approx(29.0, rel=0.02)
    assert np.median([e.tempo for e in estimates]) == pytest.approx(87.0, rel=0.02)
    assert min(e.confidence for e in estimates) > 0.5
    last = estimates[-1]
    expected = ((last.frame / fps - 0.3) * cycle) % 1.0  # cycles since the last lowest point
    assert abs((last.cycle_phase - expected + 0.5) % 1.0 - 0.5) < 0.03
    beats = np.array([e.observed for e in estimates if e.observed is not None]) / fps
    true = 0.3 + (np.arange(-1, 60) - 0.25) / (3 * cycle)  # a quarter beat before each third of the cycle
    errors = np.abs(beats[:, None] - true[None, :]).min(axis=1)
    assert len(beats) == pytest.approx((t[-1] - t[tracker.length - 1]) * 3 * cycle, abs=2)
    assert np.percentile(errors, 90) < 0.04  # s


def test_the_tracker_refuses_an_empty_tempo_range():
    with pytest.raises(ValueError, match='min_bpm'):
        MovementTracker(25.0, min_bpm=60.0, max_bpm=30.0)


def trusted_waltzes() -> list[dict[str, str]]:
    with OFFSETS.open(newline='') as file:
        return [row for row in csv.DictReader(file) if row['trusted'] == 'True' and row['dance'] == 'waltz']


def test_a_real_waltz_dancer_keeps_a_bar_cycle_the_tracker_follows():
    try:
        dance_root()
    except FileNotFoundError as error:
        pytest.skip(f'needs the dance-melody data set: {error}')
    for row in trusted_waltzes():  # reference: the tempo of the song's beats in docs/dance/offsets.csv
        tempi, beats = track(signal(row['sequence']), BEATS_PER_BAR['waltz'])
        bar = float(row['tempo']) / 3 * float(row['scale_a'])  # on the motion's clock
        near = np.abs(tempi[np.isfinite(tempi)] / bar - 1) <= 0.04
        assert near.mean() > 0.5, f'{row["sequence"]}: the bar cycle in {near.mean():.0%} of the frames'
        tracked = np.isfinite(tempi).sum() / FPS  # s after the first window
        assert 60 * len(beats) / tracked == pytest.approx(3 * bar, rel=0.25)  # 13-21 % of the beats missed today


def test_the_movement_predicts_a_real_waltz_dancers_coming_beats():
    """The predictions partner_beat would publish, scored as a robot acting 100 ms ahead would use them."""
    try:
        dance_root()
    except FileNotFoundError as error:
        pytest.skip(f'needs the dance-melody data set: {error}')
    pytest.importorskip('madmom', reason='the reference beats need madmom (tools/bootstrap.sh --evaluation)')
    row = trusted_waltzes()[0]
    run = prepare(sequence(row['sequence']), row)
    moved, _, _ = movement_track(run, BEATS_PER_BAR['waltz'], circular_mean(run.phases)[0] % 1.0)
    assert np.all(np.diff(moved.made) >= 0) and np.all(moved.predicted > moved.made)  # each a beat still to come
    reference = run.music.beats[(run.music.beats > moved.made[0]) & (run.music.beats < moved.made[-1])]
    summary = error_summary(prediction_errors(reference, moved.made, moved.predicted, periods=moved.periods))
    assert summary['coverage'] > 0.5, summary
    assert summary['median_abs_error_ms'] < 0.25 * 1000 * run.music.period, summary  # well inside a beat


def spine_frame(t: float, height: float, joints: int = 6) -> SyncFrame:
    frame = SyncFrame(joints=[Pose() for _ in range(joints)])
    frame.header.stamp.sec, frame.header.stamp.nanosec = divmod(round(t * 1e9), 10**9)
    for j, pose in enumerate(frame.joints):
        pose.position.x, pose.position.y = 0.1 * j, 1.0 + height
    return frame


def test_the_node_follows_a_bouncing_partner_and_survives_bad_frames(rogue, node_process):
    received = rogue.record(Beat, 'partner_beats')
    publisher = rogue.node.create_publisher(SyncFrame, 'sync_frame', 20)
    node = node_process('partner_beat', '-p', 'beats_per_cycle:=2', '-p', 'window:=4.0')
    hostile = {'on': False}

    def publish() -> None:  # the synchronized partner at 43 Hz: the spine lowest at t = 0.5 s modulo 1 s
        t = rogue.now()
        publisher.publish(spine_frame(t, -0.05 * math.cos(2 * math.pi * (t - 0.5))))
        if hostile['on']:
            publisher.publish(spine_frame(t + 0.001, 1e6))  # beyond 10 km
            publisher.publish(spine_frame(t + 3600, 0.0))  # an hour ahead
            publisher.publish(spine_frame(t + 0.002, 0.0, joints=2))  # too few joints for joint_names

    rogue.node.create_timer(1 / 43, publish)
    observed = lambda after=0.0: [m for t, m in received if m.kind == Beat.OBSERVED and t > after]  # noqa: E731
    assert wait(lambda: len(observed()) >= 6, 60), node.stderr
    predicted = [m.tempo for _, m in received if m.kind == Beat.PREDICTED][-10:]
    assert np.median(predicted) == pytest.approx(120.0, rel=0.03)  # one cycle a second, two beats a cycle
    times = np.array([m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in observed()[-4:]])
    assert np.abs((times + 0.25) % 0.5 - 0.25).max() < 0.03  # on the lowest points and half way between
    hostile['on'] = True
    since = rogue.now()
    assert wait(lambda: all(w in node.stderr for w in ('beyond 10 km', 'ahead', 'joints')), 20), node.stderr
    assert wait(lambda: len(observed(since)) >= 4, 30), 'the bad frames stopped the partner beats'
    assert node.popen.poll() is None and 'Traceback' not in node.stderr


def test_a_partners_tempo_decides_the_metrical_level_of_the_audio_tracker():
    from musmove.beat.tracking import BeatTracker

    fps = 43.07
    t = np.arange(round(30 * fps)) / fps
    phase = (t * 174 / 60) % 1.0  # equal onsets at 174 BPM: eighth notes of a 87 BPM waltz
    activation = np.exp(-0.5 * (np.minimum(phase, 1 - phase) * 60 / 174 / 0.015) ** 2)

    def tempo(evidence: float | None) -> float:
        tracker = BeatTracker(fps)
        tracker.tempo_evidence(evidence)
        beats = [e.observed for e in (tracker.step(a) for a in activation) if e.observed is not None]
        return 60 * fps / float(np.median(np.diff(beats[-10:])))

    assert tempo(None) == pytest.approx(174, rel=0.03)  # the music alone: the faster level
    assert tempo(87.0) == pytest.approx(87, rel=0.03)  # the dancer's bar cycle times three: the beat
    assert tempo(float('nan')) == pytest.approx(174, rel=0.03)  # no evidence: as without


def test_beat_tracker_takes_the_metrical_level_from_the_partner(rogue, node_process, tmp_path):
    import soundfile

    from musmove.beat.tracking import BeatTracker
    from musmove.evaluation.beats import FPS, RATE, activation

    audio = np.zeros(40 * RATE, dtype=np.float32)
    burst = np.random.default_rng(0).normal(0, 0.5, round(0.01 * RATE)).astype(np.float32)
    for k, start in enumerate(np.arange(0, 39.5, 0.5)):  # a click every half second, every other one 26 dB down
        audio[round(start * RATE) : round(start * RATE) + len(burst)] += burst * (1.0 if k % 2 == 0 else 0.05)
    wav = tmp_path / 'clicks.wav'
    soundfile.write(wav, audio, RATE)
    alone = BeatTracker(FPS)  # the music alone, offline: the clicks, 120 BPM
    beats = [e.observed for e in (alone.step(a) for a in activation(audio)[:, 0]) if e.observed is not None]
    assert 60 * FPS / np.median(np.diff(beats[-8:])) == pytest.approx(120, rel=0.04)

    received = rogue.record(Beat, 'beats')
    partner = rogue.node.create_publisher(Beat, 'partner_beats', 50)

    def dancer() -> None:  # a partner moving at half the clicks' rate: one beat a second
        beat = Beat(kind=Beat.PREDICTED, tempo=60.0, confidence=0.8, phase=0.0)
        beat.header.stamp = beat.estimated_at = rogue.node.get_clock().now().to_msg()
        partner.publish(beat)

    rogue.node.create_timer(0.1, dancer)
    node_process('beat_tracker', '-p', 'partner_tempo:=true')
    assert wait(lambda: partner.get_subscription_count() >= 1, 60)
    node_process('audio_source', '-p', f'file:={wav}', '-p', 'wait_for_subscribers:=1')
    observed = lambda: [m for _, m in received if m.kind == Beat.OBSERVED]  # noqa: E731
    assert wait(lambda: len(observed()) >= 20, 60)
    times = np.array([m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for m in observed()[-8:]])
    assert 60 / np.median(np.diff(times)) == pytest.approx(60, rel=0.04)  # with the dancer: the strong clicks

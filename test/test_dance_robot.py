"""The offline robot of `musmove dance-robot`: its controller loop lands on steady beats, and on the partner's."""

import numpy as np

from musmove.evaluation.dance_robot import dance
from musmove.robot.asynchrony import asynchrony
from musmove.robot.beat_sources import MUSIC, PARTNER

BEATS = 1.0 + 0.5 * np.arange(70)  # 120 BPM


def stream(source: str, beats: np.ndarray, until: float = 35.0, count: int = 4) -> list[tuple]:
    """Every 100 ms the next `count` beats PREDICTED, and the beats just passed OBSERVED, as the trackers send."""
    events = []
    for t in np.arange(0.5, until, 0.1):
        events.append((t, 1, source, None, (beats[beats > t][:count], 120.0, 0.01, 0.9)))
        events += [(t, 0, source, float(b), None) for b in beats[(beats > t - 0.1) & (beats <= t)]]
    return events


def test_the_offline_robot_lands_on_steady_beats():
    events = dance(sorted(stream(MUSIC, BEATS), key=lambda e: e[:2]), 0.0, 35.0, partner=False)
    result = asynchrony(events, BEATS[(BEATS > 8.0) & (BEATS < 34.0)])
    assert result.missed == 0 and abs(result.mean) < 0.01 and result.sd < 0.005  # -4.8 ms: latency fed forward


def test_with_the_music_gone_the_offline_robot_follows_the_partner():
    partner = BEATS + 0.04
    events = stream(MUSIC, BEATS, until=15.0) + stream(PARTNER, partner, count=1)
    robot = dance(sorted(events, key=lambda e: e[:2]), 0.0, 35.0, partner=True)
    result = asynchrony(robot, partner[(partner > 20.0) & (partner < 34.0)])
    assert result.missed == 0 and abs(result.mean) < 0.015
    alone = dance(sorted(stream(MUSIC, BEATS, until=15.0), key=lambda e: e[:2]), 0.0, 35.0, partner=False)
    assert not np.any(alone > 17.5)  # without the partner the robot goes home once the music stops

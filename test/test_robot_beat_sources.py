"""The music's and the partner's beats: the blend by confidence, and the robot dancing on with its partner."""

import numpy as np
import pytest

from musmove.robot.asynchrony import asynchrony, detect_events
from musmove.robot.beat_sources import MUSIC, PARTNER, BeatSources, Prediction
from musmove.robot.controller import DanceController
from musmove.robot.gate import LockGate
from musmove.robot.limits import JointLimits
from musmove.robot.moves import PANDA_HOME, PANDA_MOVES
from musmove.robot.oscillator import Oscillator
from musmove.robot.sim import panda_urdf

BEAT, DT = 0.5, 0.01
NAMES = list(PANDA_HOME)
HOME = np.array(list(PANDA_HOME.values()))
JOINT = NAMES.index('panda_joint6')  # the nod's marking joint


def prediction(t: float, first: float, confidence: float, tempo: float | None = 120.0, period: float = BEAT):
    return Prediction(t, first + period * np.arange(4), tempo, 0.02, confidence, t)


def offset(blend: Prediction) -> float:
    """Where the blend's beats lie, modulo the beat, in (-BEAT/2, BEAT/2]."""
    return -blend.offset(0.0, 1 / BEAT)


@pytest.mark.parametrize(('partner_weight', 'expected'), [(1.0, 0.02), (0.25, 0.008), (0.0, 0.0)])
def test_two_sources_at_one_tempo_blend_by_confidence(partner_weight, expected):
    sources = BeatSources({MUSIC: None, PARTNER: None}, {PARTNER: partner_weight}, timeout=0.5)
    sources.predict(MUSIC, prediction(1.0, 1.5, 0.8))
    sources.predict(PARTNER, prediction(1.0, 1.54, 0.8))  # the dancer 40 ms after the music
    blend, names = sources.steering(1.0)
    assert names == ([MUSIC, PARTNER] if partner_weight else [MUSIC])
    assert offset(blend) == pytest.approx(expected, abs=1e-3)
    assert blend.tempo == pytest.approx(120.0) and blend.confidence == 0.8


def test_the_blend_is_circular_and_another_metrical_level_is_not_blended():
    sources = BeatSources({MUSIC: None, PARTNER: None}, {PARTNER: 1.0}, timeout=0.5)
    sources.predict(MUSIC, prediction(1.0, 1.5, 0.6))
    sources.predict(PARTNER, prediction(1.0, 1.49, 0.6))  # 10 ms before the beat, not 490 ms after
    assert offset(sources.steering(1.0)[0]) == pytest.approx(-0.005, abs=1e-3)
    sources.predict(PARTNER, prediction(1.0, 1.6, 0.9, tempo=60.0, period=1.0))  # the dancer's bar, not its beat
    blend, names = sources.steering(1.0)
    assert names == [PARTNER] and blend.tempo == 60.0  # the heavier source alone


def test_a_source_counts_while_fresh_and_locked():
    gates = {MUSIC: LockGate(), PARTNER: LockGate()}
    sources = BeatSources(gates, {PARTNER: 1.0}, timeout=0.5)
    sources.predict(PARTNER, prediction(1.0, 1.5, 0.9))
    assert sources.counting(1.0) == []  # not locked
    for beat in 1.5 + BEAT * np.arange(4):
        sources.predict(PARTNER, prediction(beat - 0.3, beat, 0.9))
        opened = sources.observe(PARTNER, beat, beat + 0.1)
    assert opened and sources.counting(3.1) == [PARTNER]
    assert sources.counting(3.3) == [] and not sources.close_stale(3.1) and sources.close_stale(3.3)
    assert not gates[PARTNER].open and gates[MUSIC].locked() is False


def dance(partner_weight: float | None, music_until: float, end: float = 16.0):
    """A 120 BPM song whose music stops at `music_until` while the dancer (30 ms after the beat) goes on."""
    limits = JointLimits.from_urdf(panda_urdf(), 10.0, NAMES)
    oscillator = Oscillator(latency=0.0)
    controller = DanceController(
        limits, HOME, PANDA_MOVES, 'nod', DT, HOME, oscillator, gate=LockGate(), partner_weight=partner_weight
    )
    controller.watchdog.start()
    music = 1.0 + BEAT * np.arange(40)
    partner = music + 0.03
    times, commands, gains = np.arange(1, round(end / DT)) * DT, [], []
    for t in times:
        controller.on_joint_state(t)
        if round(t / DT) % 10 == 0:  # predictions every 100 ms, each source's next four beats
            if t < music_until:
                controller.on_beats(t, music[music > t][:4], 120.0, 0.01, 0.9, t)
            if partner_weight is not None:
                controller.on_beats(t, partner[partner > t][:4], 120.0, 0.04, 0.7, t, source=PARTNER)
        for beat in music[(music > t - 0.093 - DT) & (music <= t - 0.093) & (music < music_until)]:
            controller.on_observed(float(beat), t)
        for beat in partner[(partner > t - 0.05 - DT) & (partner <= t - 0.05)] if partner_weight is not None else ():
            controller.on_observed(float(beat), t, source=PARTNER)
        commands.append(controller.step(t)[JOINT])
        gains.append(controller.watchdog.gain)
    events = detect_events(times, np.array(commands), 'min', prominence=0.005)
    return controller, times, np.array(gains), events, music, partner


def test_the_robot_dances_on_with_its_partner_when_the_music_stops():
    controller, times, gains, events, music, partner = dance(partner_weight=1.0, music_until=8.0)
    assert controller.leading == [PARTNER]
    assert gains[times > 4.0].min() == 1.0  # no fade: the partner's beats keep the dance going
    both = asynchrony(events[(events > 5.0) & (events < 8.0)], music[(music > 5.0) & (music < 8.0)])
    assert both.missed == 0 and 0.005 < both.mean < 0.025  # between the music and the dancer (30 ms after it)
    alone = asynchrony(events[events > 11.0], partner[(partner > 11.0) & (partner < times[-1] - BEAT)])
    assert alone.missed == 0 and abs(alone.mean) < 0.003  # on the dancer's beat


def test_without_partner_beats_the_robot_goes_home_when_the_music_stops():
    controller, times, gains, *_ = dance(partner_weight=None, music_until=8.0)
    assert gains[(times > 4.0) & (times < 8.0)].min() == 1.0 and gains[times > 10.0].max() == 0.0
    assert controller.leading == [] and not controller.gate.open

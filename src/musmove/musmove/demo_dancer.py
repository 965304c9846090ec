"""`musmove demo --dancer SEQUENCE`: the loop with a real dancer of dance-melody and the song they danced to.

Recorded: the song (audio_source plays its danced part, from config.json's start_position) and the dancer's
skeleton (mocap_source: the six joints the gesture and partner-beat nodes name; the head is `head_right`).
Derived: the virtual IMU of the right wrist (imu_source), the clock that puts the movement on the song's (the
sequence's measured offset of `musmove dance-offsets`, method (a): `clock_offset` and `time_scale` of both motion
sources), and the beat reference (the song's reference beats, `REFERENCE_METHOD`). The robot follows the music's
beats and the dancer's (partner_beat, `follow_partner_beats`). At the end the session is scored against the
reference beats, and the dancer's own asynchrony to them (the beat phase of the spine's lowest points, one a
cycle, as `musmove partner-beats` measures it) is printed beside the robot's. The data set has no licence to
ship: the demo needs it in ../shared/data, and only sequences whose offset is trusted play.
"""

from pathlib import Path

import numpy as np
import soundfile

from musmove.demo import SAMPLE_RATE, Material, run_modes
from musmove.sources.dance import BEATS_PER_BAR, REFERENCE_METHOD, DanceSequence, sequence, skeleton, song

MOCAP_JOINTS = ['left_hand', 'right_hand', 'head_right', 'spine', 'left_wrist', 'right_wrist']  # the nodes' order
IMU_JOINT = 'right_wrist'


def dancer_material(
    seq: DanceSequence, row: dict[str, str], folder: Path, duration: float | None, event_phase: float = 0.0
) -> Material:
    """The song's danced part and its reference beats written into `folder`; the sources on the song's clock;
    partner_beat told the beat phase at which dancers reach their lowest point (`event_phase`)."""
    from musmove.evaluation.dance_offsets import music

    scale, lag = float(row['scale_a']), float(row['lag_a'])
    last = float(skeleton(seq).times[-1])
    first = last / 2 * (1 - scale) - lag  # song time of skeleton frame 0 after start_time (scaled about the middle)
    length = first + scale * last
    seconds = length if duration is None else min(duration, length)
    audio = song(seq, SAMPLE_RATE)
    begin = round(seq.start_time * SAMPLE_RATE)
    wav = folder / f'{seq.name}.wav'
    soundfile.write(wav, audio[begin : begin + round((length + 1.0) * SAMPLE_RATE)], SAMPLE_RATE)
    beats = music(seq).beats - seq.start_time
    reference = folder / f'{seq.name}_beats.txt'
    np.savetxt(reference, beats[(beats >= 0) & (beats <= length)], fmt='%.4f')
    clock = {'clock_offset': first, 'time_scale': scale}
    parameters = {
        'mocap_source': {'joints': MOCAP_JOINTS, **clock},
        'imu_source': {'joint': IMU_JOINT, 'rate': 200.0, **clock},
        'partner_beat': {'beats_per_cycle': BEATS_PER_BAR[seq.dance], 'event_phase': event_phase},
    }
    return Material(wav, seq.skeletons, reference, None, seconds, parameters, {'partner_beat': 'true'})


def trusted_row(name: str, offsets: Path) -> tuple[DanceSequence, dict[str, str]]:
    """The sequence `name` and its row of `offsets`; ValueError unless its offset was measured and trusted."""
    from musmove.evaluation.dance_offsets import read_offsets

    seq, rows = sequence(name), read_offsets(offsets)
    if name not in rows:
        raise ValueError(f'{name} has no offset in {offsets} (musmove dance-offsets measures them)')
    if rows[name].get('trusted') != 'True':
        trusted = ', '.join(n for n, r in rows.items() if r.get('trusted') == 'True')
        raise ValueError(f'the audio-to-motion offset of {name} is not trusted ({offsets}); trusted: {trusted}')
    return seq, rows[name]


def event_phase(offsets: Path) -> float:
    """The beat phase of the dancers' lowest points, fitted on the trusted train sequences of `offsets`: without
    it partner_beat would put the partner's beats where the dancers reach their lowest point, a tenth of a beat
    after the music's (the robot with DANCE_W_33 came +54 ms late, now +6)."""
    from musmove.evaluation.dance_offsets import read_offsets
    from musmove.evaluation.partner import trusted_runs

    return trusted_runs(read_offsets(offsets), progress=False)[1]


def dancer_asynchrony(seq: DanceSequence, row: dict[str, str]) -> tuple[float, float]:
    """(mean, SD) [ms] of the dancer's lowest points against the reference beats, circular over a beat."""
    from musmove.evaluation.partner import circular_mean, prepare

    run = prepare(seq, row)
    mean, spread = circular_mean(run.phases)
    return 1e3 * mean * run.music.period, 1e3 * spread * run.music.period


def run_dancer(
    name: str, offsets: Path, out: Path, duration: float | None = None, mode: str = 'live', lookahead: float = 0.75
) -> int:
    """The demo with the dancer `name` into `out`; 0 when the graph ran and stopped cleanly in every mode."""
    seq, row = trusted_row(name, offsets)
    out.mkdir(parents=True, exist_ok=True)
    lag, scale = 1e3 * float(row['lag_a']), float(row['scale_a'])
    print(f'musmove demo: dancer {name} ({seq.dance}, {seq.split} split; dance-melody, recorded) and their song; '
          f'offset {lag:+.0f} ms, clock scale {scale:.4f} ({offsets})')  # fmt: skip
    print(f'musmove demo: the beat reference: {REFERENCE_METHOD}')
    phase = event_phase(offsets)
    print(f"musmove demo: partner_beat's event_phase {phase:.3f}: the beat phase of the lowest points of the "
          'trusted train-split dancers (musmove partner-beats fits it the same way)')  # fmt: skip
    material = dancer_material(seq, row, out, duration, phase)
    status, sessions = run_modes(material, out, mode, lookahead)
    if status != 0:
        return status
    dancer_mean, dancer_sd = dancer_asynchrony(seq, row)
    print("musmove demo: the dancer's and the robot's asynchrony to the song's reference beats (ms)")
    print('| who | mean | SD | what |\n| --- | ---: | ---: | --- |')
    print(f"| the dancer | {dancer_mean:+.0f} | {dancer_sd:.0f} | the spine's lowest points, circular over a beat "
          "(the tracker's error included) |")  # fmt: skip
    for label, session in sessions.items():
        robot = session.robot
        if robot is not None and robot.matched:
            print(f'| the robot, {label} | {1e3 * robot.mean:+.0f} | {1e3 * robot.sd:.0f} | its nods from the '
                  f'lock, {robot.matched} of {robot.matched + robot.missed} beats matched |')  # fmt: skip
    return 0

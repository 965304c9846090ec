"""The README's main command, shortened: the whole loop on real recordings, then its bag replayed and scored again."""

import os
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from musmove.evaluation.session import evaluate

SECONDS = 15


@pytest.fixture(scope='module')
def demo(tmp_path_factory):
    """The demo as on a fresh clone with no shared data sets beside it: on the data shipped in the repository alone;
    both modes, live then known music."""
    out = tmp_path_factory.mktemp('demo')
    command = ['musmove', 'demo', '--duration', str(SECONDS), '--out', str(out)]
    nowhere = {**os.environ, 'MUSMOVE_DATA': str(tmp_path_factory.mktemp('no_shared_data'))}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=nowhere)
    assert result.returncode == 0, result.stdout + result.stderr + (out / 'launch.log').read_text()
    assert 'uci_c3_30s_raw.csv' in result.stdout  # the bundled partner
    return result.stdout, out


def summary_lines(stdout: str) -> list[list[str]]:
    return [line.split() for line in stdout.splitlines() if line.startswith('  ') and not line.startswith('  musmove')]


def table_cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip(' |').split(' | ')]


def test_both_modes_are_run_and_shown_side_by_side(demo):
    stdout, out = demo
    both = stdout.split('musmove demo: both modes')[1].splitlines()[1:5]
    header, _, *rows = [table_cells(line) for line in both]
    modes = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert set(modes) == {'live', 'known'}, stdout
    for cells in modes.values():
        robot = [float(v) for v in cells['robot asynchrony mean / SD / mean abs. (ms)'].split(' / ')]
        assert abs(robot[0]) < 120 and robot[2] < 150, stdout  # loose: a loaded machine; the report has the figures
    assert (out / 'known' / 'report' / 'report.md').stat().st_size > 0


def test_the_live_graph_synchronizes_the_streams_and_tracks_the_beat(demo):
    stdout, _ = demo
    summary = summary_lines(stdout)
    frames = next(int(words[2].rstrip(',')) for words in summary if words[:2] == ['synchronized', 'frames'])
    assert frames > 0.8 * SECONDS * 22050 / 512
    shares = {words[0]: dict(zip(words[1::2], words[2::2], strict=True)) for words in summary if words[1] == 'OK'}
    assert set(shares) == {'audio', 'imu', 'mocap'}, stdout
    for stream, states in shares.items():
        assert float(states['OK'].rstrip('%,')) > 80, (stream, states)
    offset = float(stdout.split('offset vs mocap')[1].split()[0])
    assert abs(offset) < 1000 * 512 / 22050  # the virtual IMU and the skeleton come from one recording
    assert float(stdout.split('F-measure')[1].split(',')[0]) > 0.8, stdout  # live beats vs the drummer's click


def test_the_recorded_session_is_evaluated(demo):
    stdout, out = demo
    header, _, row = [table_cells(line) for line in stdout.splitlines() if line.startswith('| ')][:3]  # live mode
    cells = dict(zip(header, row, strict=True))
    assert float(cells['beat F-measure (%)']) > 80, stdout
    assert float(cells['gesture accuracy (%)']) > 40  # the shipped model saw this recording in training
    matched, total = map(int, cells['matched beats'].split(' of '))
    assert matched >= 0.6 * total > 10, stdout  # the robot moved on most beats once faded in
    robot = [float(value) for value in cells['robot asynchrony mean / SD / mean abs. (ms)'].split(' / ')]
    assert abs(robot[0]) < 120 and robot[2] < 150  # a loaded CI machine: loose bounds; the report has the figures
    for name in ('report.md', 'timeline.png', 'asynchrony_latency.png', 'gesture_confusion.png'):
        assert (out / 'report' / name).stat().st_size > 0


def test_the_bag_replays_into_the_same_figures(demo, tmp_path):
    """record -> play -> record again -> evaluate: the replayed session scores exactly as the live one."""
    stdout, out = demo
    again = next(line for line in stdout.splitlines() if line.startswith('  musmove evaluate'))
    arguments = shlex.split(again)[2:]
    references = dict(zip(arguments[1::2], arguments[2::2], strict=True))
    topics = ['/beats', '/gesture_phase', '/joint_states']
    recorder = subprocess.Popen(['musmove', 'record', '-o', str(tmp_path / 'replayed'), '--topics', *topics])
    try:  # the recorder subscribes when the player's topics appear; the player starts once it has
        player = subprocess.run(
            ['musmove', 'play', str(out / 'bag'), '--topics', *topics, '--wait-for-subscribers', '1'],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert player.returncode == 0, player.stderr
        time.sleep(1.0)
    finally:
        recorder.send_signal(2)
        assert recorder.wait(timeout=30) == 0

    def scored(bag):
        beats, gestures = Path(references['--beats']), Path(references['--gestures'])
        return evaluate(bag, beats, gestures, float(references['--start-time']))

    live, replayed = scored(out / 'bag'), scored(tmp_path / 'replayed')
    assert replayed.beat_scores == live.beat_scores and live.beat_scores['f_measure'] > 0.8
    assert replayed.gesture['accuracy'] == live.gesture['accuracy']
    assert replayed.robot.mean == live.robot.mean and replayed.robot.matched == live.robot.matched


DANCER = 'DANCE_W_33'  # a trusted sequence of the test split (docs/dance/offsets.csv)


@pytest.fixture(scope='module')
def dancer_demo(tmp_path_factory):
    """`musmove demo --dancer`, live mode, on the first 25 s of a real dancer and their song."""
    from musmove.evaluation.dance_offsets import music
    from musmove.sources.dance import sequence

    try:
        music(sequence(DANCER))  # the song's reference beats: madmom, or their cache
    except (FileNotFoundError, RuntimeError) as error:
        pytest.skip(f'needs the dance-melody data set and its reference beats: {error}')
    out = tmp_path_factory.mktemp('dancer')
    command = ['musmove', 'demo', '--dancer', DANCER, '--duration', '25', '--mode', 'live', '--out', str(out)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr + (out / 'launch.log').read_text()
    return result.stdout, out


def test_the_demo_dances_with_a_real_dancer_to_their_song(dancer_demo):
    stdout, out = dancer_demo
    shares = {words[0]: words for words in summary_lines(stdout) if len(words) > 2 and words[1] == 'OK'}
    assert set(shares) == {'audio', 'imu', 'mocap'}, stdout  # the song, the wrist's virtual IMU, the skeleton
    assert "vs the song's reference beats" in stdout
    rows = {cells[0]: cells for cells in (table_cells(line) for line in stdout.splitlines()) if len(cells) == 4}
    dancer, robot = rows['the dancer'], rows['the robot, live']
    assert abs(float(dancer[1])) < 500 and 0 < float(dancer[2]) < 250, stdout  # the dancer's own, from the data
    assert abs(float(robot[1])) < 200, stdout  # the robot matched beats of the song, from its lock
    assert (out / 'report' / 'report.md').stat().st_size > 0 and (out / f'{DANCER}_beats.txt').is_file()


def test_an_untrusted_dancer_is_refused_in_one_line(tmp_path):
    try:
        from musmove.sources.dance import dance_root

        dance_root()
    except FileNotFoundError as error:
        pytest.skip(f'needs the dance-melody data set: {error}')
    result = subprocess.run(['musmove', 'demo', '--dancer', 'DANCE_W_1', '--out', str(tmp_path)],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode != 0 and result.stderr.strip().count('\n') == 0, result.stderr
    assert 'offset of DANCE_W_1 is not trusted' in result.stderr

"""The musmove command line."""

import subprocess

import pytest


def musmove(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(['musmove', *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize('verb', [[], ['run'], ['demo']])
def test_help_for_every_verb(verb):
    result = musmove(*verb, '--help')
    assert result.returncode == 0
    assert result.stdout.startswith('usage: musmove')


def test_unknown_node_names_the_known_ones():
    result = musmove('run', 'no_such_node')
    assert result.returncode == 1
    assert "no node 'no_such_node'" in result.stderr and 'audio_source' in result.stderr


def test_run_starts_the_node(tmp_path):
    result = musmove('run', 'audio_source', '--ros-args', '-p', f'file:={tmp_path}/missing.wav')
    assert result.returncode == 2
    assert 'cannot read audio file' in result.stderr


def test_demo_runs_the_graph_and_reports_the_synchronized_streams():
    """The README's main command, shortened: real recordings through five node processes."""
    result = subprocess.run(['musmove', 'demo', '--duration', '10'], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = [line.split() for line in result.stdout.splitlines() if line.startswith('  ')]
    frames = next(int(words[2].rstrip(',')) for words in summary if words[:2] == ['synchronized', 'frames'])
    assert frames > 0.8 * 10 * 22050 / 512
    shares = {words[0]: dict(zip(words[1::2], words[2::2], strict=True)) for words in summary if words[1] == 'OK'}
    assert set(shares) == {'audio', 'imu', 'mocap'}, result.stdout
    for stream, states in shares.items():
        assert float(states['OK'].rstrip('%,')) > 80, (stream, states)
    offset = float(result.stdout.split('offset vs mocap')[1].split()[0])
    assert abs(offset) < 1000 * 512 / 22050  # the virtual IMU and the skeleton come from one recording
    beats = result.stdout.split('F-measure')[1].split(',')[0]
    assert float(beats) > 0.8, result.stdout  # the tracker's live beats against the click the drummer heard

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

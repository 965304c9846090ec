"""The set-up command: idempotent, and one clear line when the machine cannot run musmove."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BOOTSTRAP = ROOT / 'tools' / 'bootstrap.sh'
OLD_PYTHON = Path('/root/.pyenv/versions/3.9.18/bin/python3')


def bootstrap(env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ['bash', str(BOOTSTRAP)], capture_output=True, text=True, timeout=1800, env={**os.environ, **(env or {})}
    )


def test_second_run_changes_nothing():
    first = bootstrap()
    assert first.returncode == 0, first.stderr
    built = (ROOT / 'install' / '.musmove-built').stat().st_mtime_ns
    second = bootstrap()
    assert second.returncode == 0, second.stderr
    assert 'installing' not in second.stdout and 'building' not in second.stdout, second.stdout
    assert second.stdout.strip().splitlines() == [second.stdout.strip().splitlines()[-1]]
    assert 'ready' in second.stdout
    assert (ROOT / 'install' / '.musmove-built').stat().st_mtime_ns == built


@pytest.mark.skipif(not OLD_PYTHON.exists(), reason=f'needs an unsupported Python at {OLD_PYTHON}')
def test_unsupported_python_is_one_clear_line():
    result = bootstrap({'MUSMOVE_PYTHON': str(OLD_PYTHON)})
    assert result.returncode == 1
    assert result.stderr.count('\n') == 1
    assert 'Python 3.9' in result.stderr and 'not supported' in result.stderr


def path_without(tmp_path: Path, hidden: set[str]) -> str:
    """A PATH with every command of the current one except `hidden`."""
    folder = tmp_path / 'bin'
    folder.mkdir()
    for directory in reversed(os.environ['PATH'].split(os.pathsep)):
        for tool in Path(directory).glob('*') if Path(directory).is_dir() else []:
            if tool.name not in hidden and os.access(tool, os.X_OK):
                (folder / tool.name).unlink(missing_ok=True)
                (folder / tool.name).symlink_to(tool)
    return str(folder)


@pytest.mark.parametrize(('hidden', 'package'), [({'cmake'}, 'cmake'), ({'cc', 'c++'}, 'gcc')])
def test_missing_build_tool_is_one_clear_line(tmp_path, hidden, package):
    result = bootstrap({'PATH': path_without(tmp_path, hidden), 'MUSMOVE_APT': '0'})
    assert result.returncode == 1
    assert result.stderr.count('\n') == 1, result.stderr
    assert 'missing system packages' in result.stderr and package in result.stderr
    assert 'apt-get install' in result.stderr

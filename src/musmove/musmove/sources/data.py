"""Where musmove's data lives: bundled excerpts, the shared data sets, the render cache."""

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from ament_index_python.packages import get_package_share_directory

SOUNDFONT = Path('/usr/share/sounds/sf2/FluidR3_GM.sf2')


def bundled(name: str) -> Path:
    """Path of a file shipped in share/musmove/data (see its ATTRIBUTION.md)."""
    path = Path(get_package_share_directory('musmove'), 'data', name)
    if not path.is_file():
        raise FileNotFoundError(f'no bundled data file {name!r} in {path.parent}')
    return path


def shared_data() -> Path:
    """The shared data sets: $MUSMOVE_DATA, else ../shared/data from the working directory or the sources."""
    candidates = [Path.cwd().parent / 'shared' / 'data', Path(__file__).resolve().parents[4].parent / 'shared' / 'data']
    if root := os.environ.get('MUSMOVE_DATA'):
        candidates = [Path(root)]
    for path in candidates:
        if path.is_dir():
            return path
    raise FileNotFoundError(
        f'the shared data sets are not at {" or ".join(map(str, candidates))}; set MUSMOVE_DATA to their folder'
    )


def cache_dir() -> Path:
    """Cache for derived files: $MUSMOVE_CACHE, else $XDG_CACHE_HOME/musmove, else ~/.cache/musmove."""
    if root := os.environ.get('MUSMOVE_CACHE'):
        return Path(root)
    return Path(os.environ.get('XDG_CACHE_HOME', Path.home() / '.cache'), 'musmove')


def render_midi(
    midi: str | Path, sample_rate: int = 22050, soundfont: Path = SOUNDFONT, options: tuple[str, ...] = ()
) -> Path:
    """Render a MIDI file to a mono-or-stereo wav with fluidsynth, cached by content.

    The same MIDI, rate, SoundFont and fluidsynth `options` (e.g. `('-R', '0')`: no reverb) always give the
    same file: fluidsynth renders offline (-F), so no audio device or real time is involved.
    """
    fluidsynth = shutil.which('fluidsynth')
    if fluidsynth is None:
        raise RuntimeError('fluidsynth is not installed; install it with: sudo apt-get install fluidsynth')
    if not soundfont.is_file():
        raise RuntimeError(
            f'SoundFont {soundfont} is missing; install it with: sudo apt-get install fluid-soundfont-gm'
        )
    described = f'{sample_rate}:{soundfont}' + (f':{" ".join(options)}' if options else '')
    key = hashlib.sha256(Path(midi).read_bytes() + described.encode()).hexdigest()[:16]
    target = cache_dir() / 'render' / f'{Path(midi).stem}-{sample_rate}-{key}.wav'
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(f'.{os.getpid()}.partial.wav')  # two workers may render the same file
    command = [
        fluidsynth,
        '-ni',
        '-q',
        '-F',
        str(partial),
        '-T',
        'wav',
        '-r',
        str(sample_rate),
        *options,
        str(soundfont),
        str(midi),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not partial.is_file():
        raise RuntimeError(f'fluidsynth failed on {midi}: {result.stderr.strip() or result.stdout.strip()}')
    partial.replace(target)
    return target

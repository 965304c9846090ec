"""Rendering for the prepared beat data: SoundFonts, the render delay, performed beats, full-band mixtures.

SoundFonts (`SOUNDFONTS`, Debian packages): FluidR3_GM (fluid-soundfont-gm), MuseScore General Lite
(musescore-general-soundfont-small) and TimGM6mb (timgm6mb-soundfont), one per example drawn from its name's
seed with probabilities 0.4 / 0.3 / 0.3. fluidsynth renders dry (`-R 0`: the room is the channel's, see
`musmove.training.channel`).

Render delay (`measured_delays`): fluidsynth starts a note at the next of its 64-sample blocks, and a sample's
sound rises over a few milliseconds. Measured by rendering single notes (a snare, a kick and a piano C4, twelve
of each at times that fall at different places in a block) and taking the first sample above 5 % of each
note's peak: 7.0 ms (FluidR3_GM, MuseScore General Lite) and 6.5 ms (TimGM6mb) at 22050 Hz. Every label is
moved by the delay of its example's SoundFont.

Performed beats (`performed`): for Groove, each metronome beat moves to the nearest drum onset within
`min(60 ms, interval / 8)` of it, else stays on the grid: the label is where the drummer played the beat.

Mixtures (`warp`): a Groove drum performance (4/4) and a POP909 arrangement (4 felt beats a bar) whose felt
beats from a downbeat on are mapped piecewise linearly onto the drummer's performed beats from its first bar
line; the two layers are rendered apart and summed with the band `MIX_LEVELS_DB` (uniform) above the drums'
RMS. An augmentation: no real band played these.
"""

import json
from pathlib import Path

import numpy as np
import soundfile

from musmove.sources.audio import load_audio
from musmove.sources.data import cache_dir, render_midi
from musmove.training.midi import Event, onsets, window, write

SOUNDFONTS = {
    'FluidR3_GM': (Path('/usr/share/sounds/sf2/FluidR3_GM.sf2'), 'fluid-soundfont-gm', 0.4),
    'MuseScore_General_Lite': (
        Path('/usr/share/sounds/sf3/MuseScore_General_Lite.sf3'),
        'musescore-general-soundfont-small',
        0.3,
    ),
    'TimGM6mb': (Path('/usr/share/sounds/sf2/TimGM6mb.sf2'), 'timgm6mb-soundfont', 0.3),
}
FLUIDSYNTH_OPTIONS = ('-R', '0')
MIX_LEVELS_DB = (-12.0, 6.0)
SAMPLE_RATE = 22050
_PROBE_NOTES = ((9, 0, 38), (9, 0, 36), (0, 0, 60))  # (channel, program, pitch): snare, kick, piano C4


def soundfont(name: str) -> Path:
    path, package, _ = SOUNDFONTS[name]
    if not path.is_file():
        raise RuntimeError(f'SoundFont {path} is missing; install it with: sudo apt-get install {package}')
    return path


def choose_soundfont(rng: np.random.Generator) -> str:
    names = list(SOUNDFONTS)
    return names[rng.choice(len(names), p=[SOUNDFONTS[n][2] for n in names])]


def render_events(events: list[Event], font: str, programs: dict[int, int] | None, name: str) -> np.ndarray:
    """Mono render (float64, `SAMPLE_RATE`) of `events` with SoundFont `font`; sample 0 is time 0."""
    midi = write(events, cache_dir() / 'prepared-midi' / f'{name}.mid', programs)
    wav = render_midi(midi, SAMPLE_RATE, soundfont(font), FLUIDSYNTH_OPTIONS)
    return load_audio(wav, SAMPLE_RATE)[:, 0].astype(np.float64)


def _probe(channel: int, program: int, pitch: int) -> tuple[list[Event], np.ndarray]:
    import mido

    times = 1.0 + 0.5123 * np.arange(12)  # 0.5123 s = 176.4 blocks: the onsets fall all over a block
    events = [Event(0.0, 0, mido.Message('program_change', channel=channel, program=program))]
    for time in times:
        events.append(Event(float(time), 0, mido.Message('note_on', channel=channel, note=pitch, velocity=100)))
        events.append(Event(float(time) + 0.2, 0, mido.Message('note_off', channel=channel, note=pitch)))
    return events, times


def measure_delay(font: str) -> float:
    """Mean delay (s) from note-on to the first sample above 5 % of the note's peak, over `_PROBE_NOTES`."""
    delays = []
    for channel, program, pitch in _PROBE_NOTES:
        events, times = _probe(channel, program, pitch)
        audio = np.abs(render_events(events, font, None, f'probe-{font}-{channel}-{pitch}'))
        for time in times:
            start = int(time * SAMPLE_RATE) - 50
            segment = audio[start : start + int(0.05 * SAMPLE_RATE)]
            delays.append((start + int(np.argmax(segment > 0.05 * segment.max()))) / SAMPLE_RATE - time)
    return float(np.mean(delays))


def measured_delays() -> dict[str, float]:
    """The render delay (s) of every SoundFont, measured once and cached."""
    path = cache_dir() / 'prepared-midi' / 'render_delays.json'
    known = json.loads(path.read_text()) if path.is_file() else {}
    if set(known) != set(SOUNDFONTS):
        known = {font: measure_delay(font) for font in SOUNDFONTS}
        path.write_text(json.dumps(known, indent=2))
    return known


def performed(grid: np.ndarray, notes: np.ndarray, tolerance: float = 0.06) -> np.ndarray:
    """Each grid beat moved to the nearest note onset within min(`tolerance`, interval / 8), else kept."""
    if len(notes) == 0 or len(grid) < 2:
        return grid.copy()
    limit = min(tolerance, float(np.median(np.diff(grid))) / 8)
    at = np.clip(np.searchsorted(notes, grid), 1, len(notes) - 1)
    nearest = np.where(np.abs(notes[at - 1] - grid) <= np.abs(notes[at] - grid), notes[at - 1], notes[at])
    return np.where(np.abs(nearest - grid) <= limit, nearest, grid)


def drum_onsets(events: list[Event]) -> np.ndarray:
    return onsets([e for e in events if e.message.channel == 9])


def warp(band: list[Event], band_beats: np.ndarray, first: int, drum_beats: np.ndarray) -> list[Event]:
    """`band` events from its beat `first` on, moved so that its beats fall on `drum_beats` (piecewise linear)."""
    count = min(len(band_beats) - first, len(drum_beats))
    source, target = band_beats[first : first + count], drum_beats[:count]
    kept = window(band, source[0], source[-1])
    return [e.at(float(np.interp(e.time + source[0], source, target))) for e in kept]


def mix(drums: np.ndarray, band: np.ndarray, level_db: float) -> np.ndarray:
    """Drums plus the band at `level_db` above the drums' RMS, as long as the longer."""
    length = max(len(drums), len(band))
    drums, band = np.pad(drums, (0, length - len(drums))), np.pad(band, (0, length - len(band)))
    rms = np.sqrt(np.mean(drums**2)) + 1e-12, np.sqrt(np.mean(band**2)) + 1e-12
    return drums + band * (rms[0] / rms[1]) * 10 ** (level_db / 20)


def save_wav(audio: np.ndarray, path: Path) -> None:
    """Write a float wav (for listening to a prepared example)."""
    soundfile.write(path, audio.astype(np.float32), SAMPLE_RATE, subtype='FLOAT')

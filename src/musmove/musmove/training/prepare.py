"""`musmove prepare-beats`: render the beat training data once, through a realistic channel, cached outside git.

Per split, the examples (all seeded by their names, so the same command gives the same bytes):

- `groove`: every Groove 'beat' performance of the split, labels at the performed beats (see
  `musmove.training.rendering`);
- `asap`: one performance per ASAP score folder, an `EXCERPT_S` excerpt from an annotated beat (seeded);
- `pop909`: `--pop909` songs of the split (a seeded choice among those with a decided metrical level, see
  `musmove.training.pop909`), GM instruments per track, an `EXCERPT_S` excerpt from a felt downbeat;
- `mix`: `--mixtures` full-band mixtures (an augmentation): a 4/4 Groove performance of the split with a POP909
  song of the same split warped onto its performed beats.

Each is rendered with a SoundFont drawn per example, its labels moved by that SoundFont's measured render
delay, sent through `musmove.training.channel.augment` (room, microphone, noise, compression, band, gain,
tempo by resampling with the labels moved) and stored as log-mel features (float16) with its beats and
downbeats in `cache_dir()/prepared/<VERSION>/<split>/`, with `<split>.json` listing what the command made.
"""

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from musmove.beat.features import offline_log_mel
from musmove.progress import Progress
from musmove.sources.data import cache_dir, shared_data
from musmove.training import beats, channel, pop909, rendering
from musmove.training.beat_data import Example, asap_examples, groove_examples, one_per_folder
from musmove.training.midi import read, window

VERSION = 'v1'
EXCERPT_S = 60.0
PREPARED = ('groove', 'asap', 'pop909', 'mix')
DEFAULTS = {
    'train': {'pop909': 300, 'mixtures': 100, 'groove': None, 'asap': None},
    'validation': {'pop909': 40, 'mixtures': 20, 'groove': None, 'asap': None},
}


@dataclass(frozen=True)
class Labelled:
    """Rendered mono audio and its beat and downbeat times (s), before the channel."""

    audio: np.ndarray
    beats: np.ndarray
    downbeats: np.ndarray
    info: dict


def folder(split: str) -> Path:
    return cache_dir() / 'prepared' / VERSION / split


def _groove_beats(example: Example) -> tuple[np.ndarray, np.ndarray]:
    """Performed beats and downbeats of a Groove example (downbeats: the performed beats at the bar lines)."""
    notes = rendering.drum_onsets(read(example.midi))
    played = rendering.performed(np.asarray(example.beats), notes)
    bars = np.searchsorted(example.beats, example.downbeats)
    return played, played[bars]


def groove(example: Example, rng: np.random.Generator) -> Labelled:
    font = rendering.choose_soundfont(rng)
    played, downbeats = _groove_beats(example)
    audio = rendering.render_events(read(example.midi), font, None, example.name.replace('/', '_'))
    delay = rendering.measured_delays()[font]
    return Labelled(audio, played + delay, downbeats + delay, {'soundfont': font, 'delay_s': delay})


def _excerpt(example: Example, events, beat_times: np.ndarray, rng, programs=None) -> Labelled:
    """`EXCERPT_S` from a seeded beat among `beat_times` (a beat at most halfway through the remaining song)."""
    font = rendering.choose_soundfont(rng)
    starts = beat_times[beat_times < max(example.beats[-1] - EXCERPT_S, beat_times[0])]
    start = float(starts[rng.integers(len(starts))]) if len(starts) else float(beat_times[0])
    start = max(start - 0.5, 0.0)  # half a second of lead-in
    end = start + EXCERPT_S
    name = f'{example.name.replace("/", "_")}-{start:.2f}'
    audio = rendering.render_events(window(events, start, end), font, programs, name)
    delay = rendering.measured_delays()[font]

    def inside(times: np.ndarray) -> np.ndarray:
        times = np.asarray(times)
        return times[(times >= start) & (times < end)] - start + delay

    info = {'soundfont': font, 'delay_s': delay, 'start_s': start}
    return Labelled(
        audio[: int((EXCERPT_S + 1) * rendering.SAMPLE_RATE)], inside(example.beats), inside(example.downbeats), info
    )


def asap(example: Example, rng: np.random.Generator) -> Labelled:
    return _excerpt(example, read(example.midi), np.asarray(example.beats), rng)


def pop(example: Example, rng: np.random.Generator) -> Labelled:
    song = example.name.removeprefix('pop909-')
    programs = pop909.programs(song)
    labelled = _excerpt(example, pop909.arranged(example.midi), np.asarray(example.downbeats), rng, programs)
    return Labelled(labelled.audio, labelled.beats, labelled.downbeats, {**labelled.info, 'programs': programs})


def mixture(drums: Example, band: Example, rng: np.random.Generator) -> Labelled:
    font = rendering.choose_soundfont(rng)
    played, downbeats = _groove_beats(drums)
    from_bar = played[np.searchsorted(played, downbeats[0]) :] if len(downbeats) else played
    bars = np.flatnonzero(np.isin(band.beats, band.downbeats))
    first = int(bars[rng.integers(max(len(bars) // 2, 1))])
    song = band.name.removeprefix('pop909-')
    programs = pop909.programs(song)
    warped = rendering.warp(pop909.arranged(band.midi), np.asarray(band.beats), first, from_bar)
    name = f'mix-{drums.name.replace("/", "_")}-{song}'
    drum_audio = rendering.render_events(read(drums.midi), font, None, f'{name}-drums')
    band_audio = rendering.render_events(warped, font, programs, f'{name}-band')
    level = rng.uniform(*rendering.MIX_LEVELS_DB)
    delay = rendering.measured_delays()[font]
    info = {'soundfont': font, 'delay_s': delay, 'band_db': level, 'programs': programs, 'band_from_beat': first}
    return Labelled(rendering.mix(drum_audio, band_audio, level), played + delay, downbeats + delay, info)


def rendered(dataset: str, name: str, examples: tuple[Example, ...]) -> Labelled:
    """One item of `plan` rendered and sent through the channel (labels moved with its tempo change); seeded by
    its name, so the same item gives the same audio."""
    rng = np.random.default_rng(pop909.seed_of(VERSION, dataset, name))
    render = {'groove': groove, 'asap': asap, 'pop909': pop, 'mix': mixture}[dataset]
    labelled = render(*examples, rng)
    audio, applied = channel.augment(labelled.audio, rng)
    scale = 1 / applied.factor
    info = {**labelled.info, 'channel': applied.steps}
    return Labelled(audio, np.asarray(labelled.beats) * scale, np.asarray(labelled.downbeats) * scale, info)


def features(labelled: Labelled) -> dict:
    """What `prepare` stores of a rendered item: log-mel features, labels and what was done."""
    _, log_mel = offline_log_mel(labelled.audio.astype(np.float32), **beats.LOG_MEL)
    stored = {'features': log_mel.astype(np.float16), 'beats': labelled.beats, 'downbeats': labelled.downbeats}
    return stored | {'info': json.dumps(labelled.info)}


def four_four_songs(songs: list[Example]) -> list[Example]:
    """POP909 songs whose bars have 4 felt beats."""

    def bar(song: Example) -> float:
        return float(np.median(np.diff(np.searchsorted(song.beats, song.downbeats))))

    return [song for song in songs if len(song.downbeats) > 2 and bar(song) == 4]


def _some(items: list[Example], count: int | None, split: str) -> list[Example]:
    """All `items`, or a seeded choice of `count` of them in their order (a larger count adds to a smaller one's)."""
    if count is None:
        return items
    rng = np.random.default_rng(pop909.seed_of('some', split, items[0].dataset if items else ''))
    return [items[i] for i in sorted(rng.permutation(len(items))[:count])]


def plan(
    split: str,
    pop_count: int,
    mixtures: int,
    root: Path,
    groove_count: int | None = None,
    asap_count: int | None = None,
) -> list[tuple[str, str, tuple[Example, ...]]]:
    """(dataset, name, examples) of everything `prepare` renders for `split`: a seeded choice of `groove_count`
    Groove and `asap_count` ASAP examples (all if None), of `pop_count` POP909 songs and of `mixtures`."""
    drums = groove_examples(root, split)
    songs = pop909.examples(root, split)
    rng = np.random.default_rng(pop909.seed_of('plan', split))
    chosen_songs = [songs[i] for i in sorted(rng.permutation(len(songs))[:pop_count])]
    pieces = one_per_folder(asap_examples(root, split))
    items = [('groove', e.name, (e,)) for e in _some(drums, groove_count, split)]
    items += [('asap', e.name, (e,)) for e in _some(pieces, asap_count, split)]
    items += [('pop909', e.name, (e,)) for e in chosen_songs]
    in_four = [e for e in drums if e.time_signature == '4/4' and len(e.downbeats) > 4]
    bands = four_four_songs(songs)
    for k in rng.permutation(len(in_four))[:mixtures]:
        band = bands[rng.integers(len(bands))]
        items.append(('mix', f'mix-{in_four[k].name}-{band.name}', (in_four[k], band)))
    return items


def prepare_one(dataset: str, name: str, examples: tuple[Example, ...], out: Path) -> Path:
    path = out / f'{name.replace("/", "_")}.npz'
    if path.is_file():
        return path
    stored = features(rendered(dataset, name, examples))
    out.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f'.{os.getpid()}.partial.npz')
    np.savez(partial, dataset=dataset, **stored)
    partial.replace(path)
    return path


def prepare(split: str, counts: dict[str, int | None], root: Path | None = None, reverse: bool = False) -> Path:
    """Render and store every example of `plan` for `split` and `counts` (pop909, mixtures, groove, asap), in
    reverse order if asked (a second worker on the same plan); returns the split's manifest."""
    root = shared_data() if root is None else Path(root)
    items = plan(split, counts['pop909'], counts['mixtures'], root, counts['groove'], counts['asap'])
    out = folder(split)
    out.mkdir(parents=True, exist_ok=True)
    progress = Progress(f'prepare {split}', len(items))
    names = []
    for done, (dataset, name, examples) in enumerate(items[::-1] if reverse else items, 1):
        names.append({'dataset': dataset, 'file': prepare_one(dataset, name, examples, out).name})
        progress.show(done)
    progress.close()
    manifest = out.parent / f'{split}.json'
    manifest.write_text(json.dumps({'version': VERSION, **counts, 'items': names[::-1] if reverse else names}))
    return manifest


def evaluation_audio(
    dataset: str, split: str, count: int, root: Path | None = None
) -> list[tuple[str, tuple[Example, ...]]]:
    """(name, examples) of `count` POP909 renders or mixtures of `split`, made as the training data is (for
    `musmove eval-beats` and the benches; render each with `rendered`): never stored."""
    root = shared_data() if root is None else Path(root)
    items = plan(split, count if dataset == 'pop909' else 0, count if dataset == 'mix' else 0, root, 0, 0)
    return [(name, examples) for kind, name, examples in items if kind == dataset]


def tracks(split: str, datasets: tuple[str, ...] = PREPARED, limit: int | None = None) -> list[beats.Track]:
    """The prepared tracks of `split` (run `musmove prepare-beats` first), at most `limit` per data set."""
    manifest = folder(split).parent / f'{split}.json'
    if not manifest.is_file():
        raise FileNotFoundError(f'{manifest} is missing: run musmove prepare-beats --split {split} first')
    result, counts = [], dict.fromkeys(datasets, 0)
    for item in json.loads(manifest.read_text())['items']:
        if item['dataset'] not in datasets or (limit is not None and counts[item['dataset']] >= limit):
            continue
        counts[item['dataset']] += 1
        with np.load(folder(split) / item['file']) as stored:
            features = stored['features'].astype(np.float32)
            name = f'{item["dataset"]}/{item["file"]}'
            result.append(beats.Track(name, features, stored['beats'], stored['downbeats']))
    return result


def main(args: argparse.Namespace) -> int:
    for split in args.split:
        given = {'pop909': args.pop909, 'mixtures': args.mixtures, 'groove': args.groove, 'asap': args.asap}
        counts = DEFAULTS[split] | {key: value for key, value in given.items() if value is not None}
        print(f'wrote {prepare(split, counts, reverse=args.reverse)}')
    return 0

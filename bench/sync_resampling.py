"""Benchmark: our resampling synchronizer on IMU, mocap and audio, against the Python ROS greedy matcher.

Streams and arrival times of sync_matching.py (IMU 1 kHz, mocap 240 Hz, audio frames 100 Hz); the values
are known smooth signals (each linear channel and rotation-vector axis a sum of three sines of 0.2-8 Hz,
amplitude ~ 1/frequency). The messages go in arrival order, in one process, to:
- ours: `musmove.sync` Streams (IMU; pose_layout(joints); the node's defaults: low-pass 20 / 10 Hz, outlier
  gates) and a Synchronizer (max_delay 100 ms), `ready(now=arrival)` after every message (the node's ROS
  message conversion and publishing are not included);
- baseline: the greedy matcher of sync_matching.py (queue_size 10, slop 5 and 20 ms), whose output is the
  matched messages' raw values.
Latencies are in simulated stream time; errors compare each output with the true signal at the frame's
audio stamp. The columns are explained in bench/README.md.
"""

import argparse
import cProfile
import pstats
import statistics
import time

import numpy as np
from sync_matching import MS, STREAMS, GreedyBaseline, make_events, percentile, run

from musmove.sync.streams import IMU, Layout, Settings, Stream, pose_layout
from musmove.sync.synchronizer import Synchronizer

FEATURES = np.zeros(8)


def signal(layout: Layout, scale: float, rng: np.random.Generator):
    """A smooth true signal for `layout`: t [ns] (n,) -> values (n, size). Amplitudes ~ 1/frequency."""
    linear, quats = layout.linear, layout.quaternions
    shape = (len(linear) + 3 * len(quats), 3)  # three sines per linear channel and rotation-vector axis
    f, p = rng.uniform(0.2, 8, shape), rng.uniform(0, 2 * np.pi, shape)
    a = rng.uniform(0.2, 1, shape) / f * np.where(np.arange(shape[0]) < len(linear), scale, 0.5)[:, None]

    def truth(stamps: np.ndarray) -> np.ndarray:
        sums = (a * np.sin(2 * np.pi * f * (stamps[:, None, None] / 1e9) + p)).sum(-1)
        out = np.empty((len(stamps), layout.size))
        out[:, linear] = sums[:, : len(linear)]
        r = sums[:, len(linear) :].reshape(len(stamps), -1, 3)
        theta = np.linalg.norm(r, axis=-1, keepdims=True)
        q = np.concatenate([0.5 * np.sinc(theta / (2 * np.pi)) * r, np.cos(theta / 2)], axis=-1)
        for i, start in enumerate(quats):
            out[:, start : start + 4] = q[:, i]
        return out

    return truth


def run_ours(events, values, joints: int):
    """CPU seconds, the frames emitted with the arrival time of their trigger, and the IMU stream."""
    imu = Stream('imu', IMU, Settings(cutoff=20.0, limit=160.0))
    mocap = Stream('mocap', pose_layout(joints), Settings(cutoff=10.0, max_speed=20.0))
    sync = Synchronizer([imu, mocap], max_delay=100 * MS, stale_after=500 * MS)
    add, add_frame, ready, out = (imu.add, mocap.add), sync.add_frame, sync.ready, []
    start = time.process_time()
    for (arrival, topic, stamp), v in zip(events, values, strict=True):
        if topic == 2:
            add_frame(stamp, FEATURES, onset=0.0)  # the node passes the onset strength for offset estimation
        else:
            add[topic](stamp, v)
        for frame in ready(arrival):
            out.append((arrival, frame.stamp, frame.values['imu'], frame.values['mocap']))
    return time.process_time() - start, out, imu


def errors(layout: Layout, truth, stamps: list[int], got: list[np.ndarray]) -> tuple[float, float]:
    """RMS error of linear values (% of the signal's RMS) and of orientations (degrees)."""
    want, got = truth(np.array(stamps, dtype=np.float64)), np.array(got)
    lin = layout.linear
    linear = 100 * np.sqrt(np.mean((got[:, lin] - want[:, lin]) ** 2) / np.mean(want[:, lin] ** 2))
    dots = [np.abs(np.sum(got[:, s : s + 4] * want[:, s : s + 4], axis=1)) for s in layout.quaternions]
    angles = 2 * np.arccos(np.clip(np.concatenate(dots), 0, 1))
    return float(linear), float(np.degrees(np.sqrt(np.mean(angles**2))))


def summarize(cpu: list[float], out: list, imu_used: float, unavoidable, ref) -> dict[str, float]:
    """One row: throughput, frames, latencies [ms], IMU share used [%], errors (ref: truths and layouts)."""
    latency = [(arrival - stamp) / MS for arrival, stamp, _, _ in out]
    excess = [(arrival - unavoidable(stamp)) / MS for arrival, stamp, _, _ in out]
    excess = [e for e in excess if np.isfinite(e)]  # not: a stream ended before a sample after the frame
    row = {'rate': len(ref['events']) / statistics.median(cpu), 'frames': len(out), 'used': 100 * imu_used}
    row |= {'lat50': statistics.median(latency), 'lat99': percentile(latency, 0.99)}
    row |= {'exc50': statistics.median(excess), 'exc99': percentile(excess, 0.99)}
    stamps = [stamp for _, stamp, _, _ in out]
    for k, name in enumerate(('imu', 'mocap')):
        row[name], row[name + '_deg'] = errors(ref['layouts'][k], ref['truths'][k], stamps, [o[2 + k] for o in out])
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=60.0, help='stream time to simulate (default 60)')
    parser.add_argument('--repeat', type=int, default=5, help='timed runs per matcher; the median is shown')
    parser.add_argument('--joints', type=int, default=20, help='mocap joints (default 20)')
    parser.add_argument('--seed', type=int, default=1)
    parser.add_argument('--profile', action='store_true', help='then print a cProfile of one run of ours')
    args = parser.parse_args()
    events, _ = make_events(args.seconds, args.seed)
    rng = np.random.default_rng(args.seed)
    layouts = (IMU, pose_layout(args.joints))
    truths = (signal(IMU, 3.0, rng), signal(layouts[1], 0.1, rng))  # IMU: m/s^2, rad/s; mocap: m
    stamps = [np.array([s for _, t, s in events if t == topic]) for topic in range(len(STREAMS))]
    arrivals = [np.array([a for a, t, _ in events if t == topic], dtype=float) for topic in range(len(STREAMS))]
    tables = [dict(zip(stamps[t].tolist(), truths[t](stamps[t].astype(np.float64)), strict=True)) for t in (0, 1)]
    values = [tables[t][s] if t < 2 else None for _, t, s in events]
    ref = {'events': events, 'layouts': layouts, 'truths': truths}
    stream_rate = len(events) / args.seconds
    print(f'{len(events)} messages over {args.seconds:g} s ({stream_rate:.0f} per s of stream time), ', end='')
    print(f'mocap {args.joints} joints, seed {args.seed}; CPU time of one core')

    def unavoidable(t: int) -> float:
        """Arrival of the first sample at or after t of the stream whose such sample arrives last."""
        ends = [int(np.searchsorted(s, t)) for s in stamps]
        return max(a[i] if i < len(a) else np.inf for a, i in zip(arrivals, ends, strict=True))

    cpu: dict[str, list[float]] = {'ours': [], 'baseline 5ms': [], 'baseline 20ms': []}
    outputs: dict[str, tuple[list, float]] = {}
    for _ in range(args.repeat):
        seconds, out, imu = run_ours(events, values, args.joints)
        cpu['ours'].append(seconds)
        outputs['ours'] = out, 1 - sum(imu.counters.rejected.values()) / len(stamps[0])
        for slop in (5, 20):
            seconds, sets = run(GreedyBaseline(len(STREAMS), 10, slop * MS), events)
            cpu[f'baseline {slop}ms'].append(seconds)
            out = [(a, m[2][0], tables[0][m[0][0]], tables[1][m[1][0]]) for a, m in sets]
            outputs[f'baseline {slop}ms'] = out, len(sets) / len(stamps[0])
    rows = {name: summarize(cpu[name], *outputs[name], unavoidable, ref) for name in cpu}
    columns = (('msg/s', 'rate', 8, 0), ('xRT', 'rt', 6, 1), ('frames', 'frames', 6, 0), ('lat p50', 'lat50', 8, 2))
    columns += (('p99', 'lat99', 6, 2), ('excess p50', 'exc50', 10, 2), ('p99', 'exc99', 6, 2))
    columns += (('IMU used%', 'used', 9, 1), ('IMU err%', 'imu', 8, 2), ('deg', 'imu_deg', 6, 3))
    columns += (('mocap err%', 'mocap', 10, 2), ('deg', 'mocap_deg', 6, 3))
    print(f'{"matcher":<14}' + ''.join(f' {title:>{width}}' for title, _, width, _ in columns))
    for name, row in rows.items():
        row['rt'] = row['rate'] / stream_rate
        print(f'{name:<14}' + ''.join(f' {row[key]:>{width}.{digits}f}' for _, key, width, digits in columns))
    ours = rows['ours']
    for name in ('baseline 5ms', 'baseline 20ms'):
        base = rows[name]
        ratios = ', '.join(f'{key} {ours[key] / base[key]:.2f}x' for key in ('rate', 'used', 'imu', 'imu_deg'))
        print(f'ours/{name}: {ratios}, mocap {ours["mocap"] / base["mocap"]:.2f}x', end='')
        print(
            f', mocap_deg {ours["mocap_deg"] / base["mocap_deg"]:.2f}x; lat p50 {ours["lat50"] - base["lat50"]:+.2f} ms'
        )
    verdict = 'faster' if ours['rt'] >= 1 else 'SLOWER'
    print(f'ours processes {ours["rate"]:.0f} msg per CPU s: {verdict} than real time ({stream_rate:.0f} msg/s)')
    if args.profile or ours['rt'] < 1:
        profile = cProfile.Profile()
        profile.runcall(run_ours, events, values, args.joints)
        pstats.Stats(profile).sort_stats('tottime').print_stats(15)


if __name__ == '__main__':
    main()

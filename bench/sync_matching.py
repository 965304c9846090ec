"""Benchmark: approximate-time matching of IMU, mocap and audio, ours against the Python ROS matcher.

Simulated streams (fixed seed): IMU 1 kHz (stamp jitter SD 0.2 ms), mocap 240 Hz (1 ms), audio frames
100 Hz (exact); jitter is clipped at 2 SD so that each stream's stamps stay in order. Each sensor has a
constant latency (uniform 0-10 ms, drawn once) and each message a transport delay (uniform 0.5-3 ms);
a topic's messages arrive in order, the topics interleaved by arrival time.

Three matchers see the same messages in the same order, in one process:
- baseline: the algorithm of ROS 2 `message_filters.ApproximateTimeSynchronizer.add` (Python): on each
  message, the first combination (closest stamps first) whose spread is below `slop` is emitted at once;
  re-implemented here with integer stamps, without rclpy Time objects, locks or callbacks.
- ours: `musmove.sync.approximate_time.ApproximateTimePolicy` (the C++ policy), max_interval = slop.
- ours+bounds: the same with inter-message lower bounds = nominal period - 4 SD (the smallest gap the
  clipped jitter allows).

Columns: msg/s = messages per CPU second (median of --repeat runs); sets = sets emitted; spread = newest
minus oldest stamp of a set (quality: smaller is better); latency = arrival of the message whose `add`
emitted the set minus arrival of the newest message in it, in simulated time (0 for the baseline, which
emits on the newest message). Each set holds one message per topic, so at most one set per audio frame;
most IMU messages are never matched, as expected. Ratios are ours / baseline; the spread ratio in
parentheses compares the audio frames that all three matched, since the matchers do not emit the same
frames: with a small queue_size the C++ policy loses the sets whose IMU messages were pushed out of the
queue before a late topic arrived (try --queue-size 20). Throughput varies between runs on a shared
machine; only the ratios within one run are meaningful.
"""

import argparse
import random
import statistics
import sys
import time
from itertools import product
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'src' / 'musmove'))
from musmove.sync.approximate_time import ApproximateTimePolicy

MS = 1_000_000  # ns
STREAMS = (('imu', 1000, 0.2 * MS), ('mocap', 240, 1.0 * MS), ('audio', 100, 0.0))  # name, rate [Hz], jitter SD
QUEUE_SIZE = 10
Event = tuple[int, int, int]  # (arrival, topic, stamp) in ns
Set = list[tuple[int, Any]]  # (stamp, payload) per topic


def make_events(seconds: float, seed: int) -> tuple[list[Event], list[float]]:
    """Every message of every stream, in arrival order, and each sensor's latency [ns]."""
    rng = random.Random(seed)
    latencies = [rng.uniform(0, 10 * MS) for _ in STREAMS]  # drawn first: the same for any --seconds
    phases = [rng.randrange(10**9 // rate) for _, rate, _ in STREAMS]
    events = []
    for topic, ((_, rate, sd), latency, phase) in enumerate(zip(STREAMS, latencies, phases, strict=True)):
        last = 0
        for k in range(round(seconds * rate)):
            jitter = max(-2 * sd, min(2 * sd, rng.gauss(0, sd))) if sd else 0
            stamp = phase + k * 10**9 // rate + round(jitter)
            last = max(last, stamp + round(latency + rng.uniform(0.5 * MS, 3 * MS)))  # in order per topic
            events.append((last, topic, stamp))
    events.sort()
    return events, latencies


class GreedyBaseline:
    """The matching of ROS 2 `message_filters.ApproximateTimeSynchronizer` (Python), stamps in int ns."""

    def __init__(self, topics: int, queue_size: int, slop: int) -> None:
        self.queues: list[dict[int, Any]] = [{} for _ in range(topics)]
        self.queue_size, self.slop = queue_size, slop

    def add(self, topic: int, stamp: int, payload: Any = None) -> list[Set]:
        """Add one message; return the set it completes, if any (first fit, closest stamps first)."""
        queue = self.queues[topic]
        queue[stamp] = payload
        while len(queue) > self.queue_size:
            del queue[min(queue)]
        if stamp not in queue:  # dropped as the oldest: no combination can pass the upstream check
            return []
        candidates = []
        for other, other_queue in enumerate(self.queues):
            if other != topic:
                near = sorted((s for s in other_queue if abs(s - stamp) <= self.slop), key=lambda s: abs(s - stamp))
                if not near:
                    return []
                candidates.append(near)
        for combination in product(*candidates):
            stamps = list(combination)
            stamps.insert(topic, stamp)
            if max(stamps) - min(stamps) < self.slop:
                return [[(s, q.pop(s)) for q, s in zip(self.queues, stamps, strict=True)]]
        return []


def run(matcher: Any, events: list[Event]) -> tuple[float, list[tuple[int, Set]]]:
    """CPU seconds to feed all events, and the emitted sets with the arrival time of their trigger."""
    add, emitted = matcher.add, []
    start = time.process_time()
    for arrival, topic, stamp in events:
        for matched in add(topic, stamp, arrival):
            emitted.append((arrival, matched))
    return time.process_time() - start, emitted


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float('nan')


def measure(matchers: dict[str, Any], events: list[Event], repeat: int) -> dict[str, dict[str, Any]]:
    """Run the matchers in turn, `repeat` rounds (so that drifting CPU speed hits all alike); summarize each."""
    times: dict[str, list[float]] = {name: [] for name in matchers}
    emitted: dict[str, list[tuple[int, Set]]] = {}
    for _ in range(repeat):
        for name, make in matchers.items():
            seconds, emitted[name] = run(make(), events)
            times[name].append(seconds)
    return {name: summarize(len(events) / statistics.median(times[name]), emitted[name]) for name in matchers}


def summarize(rate: float, emitted: list[tuple[int, Set]]) -> dict[str, Any]:
    """Throughput and quality figures of one matcher's output."""
    spreads = [(max(s for s, _ in m) - min(s for s, _ in m)) / MS for _, m in emitted]
    latencies = [(arrival - max(a for _, a in m)) / MS for arrival, m in emitted]
    return {
        'rate': rate,
        'sets': len(emitted),
        'spread_mean': statistics.fmean(spreads) if spreads else float('nan'),
        'spread_max': max(spreads, default=float('nan')),
        'lat_median': statistics.median(latencies) if latencies else float('nan'),
        'lat_p99': percentile(latencies, 0.99),
        'by_frame': {m[-1][0]: spread for (_, m), spread in zip(emitted, spreads, strict=True)},  # audio stamp
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=60.0, help='stream time to simulate (default 60)')
    parser.add_argument('--repeat', type=int, default=5, help='timed runs per matcher; the median is shown')
    parser.add_argument('--queue-size', type=int, default=QUEUE_SIZE, help='queue_size of every matcher (default 10)')
    parser.add_argument('--seed', type=int, default=1)
    args = parser.parse_args()
    events, latencies = make_events(args.seconds, args.seed)
    topics, size = len(STREAMS), args.queue_size
    bounds = [max(0, 10**9 // rate - round(4 * sd)) for _, rate, sd in STREAMS]
    print(f'{len(events)} messages over {args.seconds:g} s, queue_size {size}, seed {args.seed}')
    for (name, rate, sd), latency, bound in zip(STREAMS, latencies, bounds, strict=True):
        print(f'  {name:<5} {rate:>4} Hz, jitter SD {sd / MS:.1f} ms, latency {latency / MS:.2f} ms, ', end='')
        print(f'lower bound {bound / MS:.3f} ms')
    columns = ('msg/s', 9), ('sets', 6), ('spread mean', 12), ('max', 6), ('latency p50', 12), ('p99', 6)
    print(f'{"slop":>6} {"matcher":<12}' + ''.join(f' {title:>{width}}' for title, width in columns))
    for slop_ms in (5, 20):
        slop = slop_ms * MS
        matchers = {
            'baseline': lambda s=slop: GreedyBaseline(topics, size, s),
            'ours': lambda s=slop: ApproximateTimePolicy(topics, size, s),
            'ours+bounds': lambda s=slop: ApproximateTimePolicy(topics, size, s, lower_bounds=bounds),
        }
        results = measure(matchers, events, args.repeat)
        for name, r in results.items():
            print(
                f'{slop_ms:>4}ms {name:<12} {r["rate"]:>9.0f} {r["sets"]:>6} {r["spread_mean"]:>12.3f}'
                f' {r["spread_max"]:>6.3f} {r["lat_median"]:>12.3f} {r["lat_p99"]:>6.3f}'
            )
        common = set.intersection(*(set(r['by_frame']) for r in results.values()))
        paired = {
            name: statistics.fmean([r['by_frame'][f] for f in common] or [float('nan')]) for name, r in results.items()
        }
        base = results['baseline']
        for name in ('ours', 'ours+bounds'):
            r = results[name]
            print(
                f'{"":>6} {name + "/baseline":<21} throughput {r["rate"] / base["rate"]:.2f}x,'
                f' mean spread {r["spread_mean"] / base["spread_mean"]:.2f}x'
                f' ({paired[name] / paired["baseline"]:.2f}x on the {len(common)} frames all three matched)'
            )
    print('msg/s: messages per CPU second; spread, latency: ms; ratios: ours / baseline')


if __name__ == '__main__':
    main()

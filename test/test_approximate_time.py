"""The ApproximateTime policy against a brute-force oracle: the minimum-spread set around each pivot."""

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from musmove.sync.approximate_time import FOREVER, ApproximateTimePolicy

SENTINEL = 10**12


def oracle(streams: list[list[int]], max_interval: int = FOREVER) -> list[tuple[int, ...]]:
    """All sets the policy must emit, computed offline by trying every combination.

    Pivot: the topic whose oldest stamp is the newest (last topic on ties). While the oldest
    stamps spread more than max_interval, the oldest one is dropped. The emitted set is the
    combination containing the pivot's oldest stamp with the smallest spread; ties go to the
    earliest start, then to the earliest stamps. It and everything older are then consumed.
    """
    streams = [list(stream) for stream in streams]
    sets = []
    while all(streams):
        fronts = [stream[0] for stream in streams]
        if max(fronts) - min(fronts) > max_interval:
            streams[fronts.index(min(fronts))].pop(0)
            continue
        pivot = max(range(len(fronts)), key=lambda i: (fronts[i], i))
        choices = [[fronts[pivot]] if topic == pivot else stream for topic, stream in enumerate(streams)]
        best = min(itertools.product(*choices), key=lambda combo: (max(combo) - min(combo), min(combo), combo))
        sets.append(best)
        streams = [[stamp for stamp in stream if stamp > chosen] for stream, chosen in zip(streams, best, strict=True)]
    return sets


@st.composite
def streams_and_arrivals(draw):
    """Per-topic increasing stamps (all distinct) and an arrival order that keeps each topic in order."""
    topics = draw(st.integers(2, 4))
    stamps = draw(st.lists(st.integers(0, 10_000), min_size=topics, max_size=7 * topics, unique=True))
    owners = draw(st.lists(st.integers(0, topics - 1), min_size=len(stamps), max_size=len(stamps)))
    streams = [sorted(s for s, owner in zip(stamps, owners, strict=True) if owner == topic) for topic in range(topics)]
    for topic, stream in enumerate(streams):
        stream.append(SENTINEL + topic)  # ends every stream so that the last real sets are emitted
    order = draw(st.permutations([topic for topic, stream in enumerate(streams) for _ in stream]))
    return streams, order


def run_policy(policy: ApproximateTimePolicy, streams: list[list[int]], order: list[int]) -> list[tuple[int, ...]]:
    positions = [0] * len(streams)
    emitted = []
    for topic in order:
        stamp = streams[topic][positions[topic]]
        positions[topic] += 1
        emitted += [tuple(s for s, _ in matched) for matched in policy.add(topic, stamp, f'{topic}@{stamp}')]
    return emitted


def real_sets(sets):
    return [s for s in sets if max(s) < SENTINEL]


@settings(max_examples=3000, deadline=None)
@given(streams_and_arrivals())
def test_matches_the_oracle_for_any_arrival_order(case):
    streams, order = case
    policy = ApproximateTimePolicy(len(streams), queue_size=10**6, age_penalty=0.0)
    emitted = run_policy(policy, streams, order)
    expected = oracle(streams)
    assert emitted == expected[: len(emitted)]
    assert real_sets(emitted) == real_sets(expected)


@settings(max_examples=1500, deadline=None)
@given(streams_and_arrivals(), st.integers(0, 3000))
def test_max_interval_bounds_the_spread(case, max_interval):
    streams, order = case
    policy = ApproximateTimePolicy(len(streams), queue_size=10**6, max_interval=max_interval, age_penalty=0.0)
    emitted = run_policy(policy, streams, order)
    expected = oracle(streams, max_interval)
    assert emitted == expected[: len(emitted)]
    assert real_sets(emitted) == real_sets(expected)
    assert all(max(s) - min(s) <= max_interval for s in emitted)


@settings(max_examples=1000, deadline=None)
@given(streams_and_arrivals(), st.integers(1, 4), st.floats(0, 1))
def test_small_queues_and_age_penalty_keep_sets_valid(case, queue_size, age_penalty):
    streams, order = case
    policy = ApproximateTimePolicy(len(streams), queue_size=queue_size, age_penalty=age_penalty)
    emitted = run_policy(policy, streams, order)
    for topic in range(len(streams)):
        used = [s[topic] for s in emitted]
        assert used == sorted(set(used)), 'each item is used once, in stamp order'
        assert set(used) <= set(streams[topic])
    assert all(max(queue_len) <= queue_size for queue_len in [[len(q) for q in policy.queues]])


def test_lower_bounds_prove_optimality_without_waiting():
    # Topic 1 ticks every 10 ns at the earliest: after its item at 20 nothing can land closer to 21.
    eager = ApproximateTimePolicy(2, queue_size=10, age_penalty=0.0, lower_bounds=[0, 10])
    lazy = ApproximateTimePolicy(2, queue_size=10, age_penalty=0.0)
    for policy in (eager, lazy):
        policy.add(1, 20)
    assert [tuple(s for s, _ in m) for m in eager.add(0, 21)] == [(21, 20)]
    assert lazy.add(0, 21) == []


def test_payloads_travel_with_their_stamps():
    policy = ApproximateTimePolicy(2, queue_size=5)
    assert policy.add(0, 100, 'audio') == []
    assert policy.add(1, 103, 'imu') == []  # an audio item at 101..106 would be closer
    assert policy.add(0, 200, 'audio-2') == [[(100, 'audio'), (103, 'imu')]]

"""The ApproximateTime policy against the upstream C++ policy, deliberately broken copies, and an oracle.

Golden cases (data/approximate_time_golden.json.gz): 5,000 random cases run through the upstream
policy, `message_filters::sync_policies::ApproximateTime` of ros2/message_filters at commit
361e42c78ee08a7b63397a143eae87fda7514d61 (include/message_filters/sync_policies/approximate_time.hpp),
compiled with g++ -std=c++17 outside this repository. The driver instantiated the header for 2, 3
and 4 topics of a message holding a stamp and an arrival index, with minimal stand-ins for what it
includes (rclcpp::Time and rclcpp::Duration with rclcpp's arithmetic: Duration * double in long
double, truncated toward zero, as in duration.cpp of ros2/rclcpp a0a2a067; MessageEvent,
PolicyBase, a Synchronizer that records what the policy signals; a no-op warning macro); it called setAgePenalty,
setMaxIntervalDuration and setInterMessageLowerBound, then add<i>() per arrival, and recorded after
which arrival each set came out. Inputs (seeded, ours): 2,998 cases at the default configuration
(queue 10, age penalty 0.1), the others with queues of 1-20 and age penalties 0-1, 407 of them with
age penalty 0.7 on a lattice of 0, 3, 10, 17 and 27 ticks (where a double product and rclcpp's
differ); 2-4 topics; stamps on coarse grids (ties across and within topics) or periodic with
jitter, a tick being 1 ns, 1 us or 1 ms, some near 1.7e18 ns; inter-message lower bounds in 1,316
cases, max_interval in 926, stamps out of order within a topic in 203; arrival orders that are
random interleavings or per-topic latencies (bursts that fill queues). 133,635 arrivals, 12,302
sets: each case's expected output is exactly what the C++ code emitted, which messages (by
arrival, so equal stamps are told apart) and after which arrival.
"""

import gzip
import itertools
import json
from collections.abc import Callable
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from musmove.sync import approximate_time
from musmove.sync.approximate_time import FOREVER, ApproximateTimePolicy

GOLDEN = Path(__file__).parent / 'data' / 'approximate_time_golden.json.gz'
SENTINEL = 10**12


@cache
def golden_cases() -> list[dict]:
    with gzip.open(GOLDEN, 'rt') as file:
        return json.load(file)['cases']


def is_default(case: dict) -> bool:
    return case['queue'] == 10 and case['age_penalty'] == 0.1


def replay(policy_class: Callable[..., ApproximateTimePolicy], case: dict) -> list[list[int]]:
    """What the policy emits on a golden case, in the golden format."""
    unit, base = case['unit'], case['base']
    max_interval = FOREVER if case['max_interval'] is None else case['max_interval'] * unit
    bounds = [bound * unit for bound in case['lower_bounds']]
    policy = policy_class(case['topics'], case['queue'], max_interval, case['age_penalty'], bounds)
    emitted = []
    for arrival, (topic, tick) in enumerate(zip(case['order'], case['ticks'], strict=True)):
        for matched in policy.add(int(topic), base + tick * unit, arrival):
            emitted.append([arrival, *(payload for _, payload in matched)])
    return emitted


def disagreements(
    policy_class: Callable[..., ApproximateTimePolicy], cases: list[dict], first: bool = False
) -> list[int]:
    """Indices of the cases where the policy does not do what the upstream policy did."""
    found = []
    for index, case in enumerate(cases):
        try:
            same = replay(policy_class, case) == case['emitted']
        except Exception:  # a broken copy may crash: that is a disagreement too
            same = False
        if not same:
            found.append(index)
            if first:
                break
    return found


@pytest.mark.parametrize('default', [True, False], ids=['default-configuration', 'other-configurations'])
def test_agrees_with_upstream_on_every_golden_case(default):
    cases = [case for case in golden_cases() if is_default(case) == default]
    assert len(cases) > 1500
    bad = disagreements(ApproximateTimePolicy, cases)
    assert not bad, f'{len(bad)} golden cases differ, the first: {cases[bad[0]]}'


def test_golden_cases_cover_the_rules_at_the_default_configuration():
    cases = [case for case in golden_cases() if is_default(case)]

    def count(condition) -> int:
        return sum(1 for case in cases if condition(case))

    def stamps(case, topic):
        return [tick for t, tick in zip(case['order'], case['ticks'], strict=True) if t == str(topic)]

    def within(case):
        return any(len(set(s)) < len(s) for s in (stamps(case, t) for t in range(case['topics'])))

    def across(case):
        sets = [set(stamps(case, t)) for t in range(case['topics'])]
        return any(a & b for a, b in itertools.combinations(sets, 2))

    def overflow(case):
        return any(len(stamps(case, t)) > case['queue'] for t in range(case['topics']))

    assert count(within) > 300 and count(across) > 300, 'stamp ties within and across topics'
    assert count(lambda case: any(case['lower_bounds'])) > 300
    assert count(lambda case: case['max_interval'] is not None) > 300
    assert count(overflow) > 100, 'topics with more messages than the queue holds'
    assert {case['topics'] for case in cases} == {2, 3, 4}
    assert count(lambda case: case['emitted']) > 1500


# Deliberately broken copies of the policy: (what is broken, code in approximate_time.py, its
# replacement, whether the default-configuration cases alone must catch it).
MUTANTS = {
    'start tie: last topic': (
        'key=lambda i: (times[i], i))\n        end',
        'key=lambda i: (times[i], -i))\n        end',
        True,
    ),
    'end tie: first topic': (
        'max(range(len(times)), key=lambda i: (times[i], i))',
        'max(range(len(times)), key=lambda i: (times[i], -i))',
        True,
    ),
    'age penalty ignored': ('np.longdouble(1.0 + age_penalty)', 'np.longdouble(1.0)', True),
    'double product, not rclcpp scaling': (
        'int(np.longdouble(end_time - self.candidate_end) * self.scale)',
        '(end_time - self.candidate_end) * (1 + self.age_penalty)',
        False,
    ),
    'equal set taken as better': ('return aged >= other_start', 'return aged > other_start', True),
    'dropped-message rule removed': (' or self.dropped[end]:', ':', True),
    'dropped flags never cleared': ('self.dropped[topic] = False', 'pass', True),
    'queue counts without held messages': (
        'len(queue) + len(self.past[topic]) > self.queue_size',
        'len(queue) > self.queue_size',
        True,
    ),
    'queue one smaller': ('len(self.past[topic]) > self.queue_size', 'len(self.past[topic]) >= self.queue_size', True),
    'queue one larger': (
        'len(self.past[topic]) > self.queue_size',
        'len(self.past[topic]) > self.queue_size + 1',
        True,
    ),
    'lower bound ignored': ('self.past[topic][-1][0] + self.lower_bounds[topic]', 'self.past[topic][-1][0]', True),
    'virtual search skipped': ('elif not self._all_waiting():\n                self._virtual_search()', 'pass', True),
    'virtual moves not undone': ('self.queues[topic].appendleft(self.past[topic].pop())', 'pass', True),
    'pivot: the oldest front': (
        'self.pivot, self.pivot_time = end, end_time',
        'self.pivot, self.pivot_time = start, end_time',
        True,
    ),
    'candidate kept after a drop': (
        'self.candidate, self.pivot = None, None\n                self._process()',
        'pass',
        True,
    ),
    'candidate reset keeps held items': (
        'for past in self.past:\n            past.clear()\n        self.candidate_start',
        'self.candidate_start',
        True,
    ),
    'max_interval inclusive': (
        'end_time - start_time > self.max_interval',
        'end_time - start_time >= self.max_interval',
        True,
    ),
}


def broken_policy(code: str, replacement: str) -> type:
    """A copy of approximate_time.py with one piece of code replaced, compiled as its own module."""
    path = Path(approximate_time.__file__)
    source = path.read_text()
    assert source.count(code) == 1, f'the mutated code is no longer in {path.name} once: update MUTANTS'
    namespace = {'__name__': 'broken_approximate_time'}
    exec(compile(source.replace(code, replacement), str(path), 'exec'), namespace)
    return namespace['ApproximateTimePolicy']


def test_an_unbroken_copy_agrees():  # so that a broken copy fails for what was broken, not for being a copy
    code = 'self.dropped[topic] = False'
    assert not disagreements(broken_policy(code, code), golden_cases())


@pytest.mark.parametrize(('code', 'replacement', 'at_default'), MUTANTS.values(), ids=MUTANTS.keys())
def test_the_golden_cases_catch_a_broken_policy(code, replacement, at_default):
    cases = [case for case in golden_cases() if is_default(case) or not at_default]
    assert disagreements(broken_policy(code, replacement), cases, first=True)


def sets(policy: ApproximateTimePolicy, arrivals: list[tuple[int, int]]) -> list[tuple[int, list[str]]]:
    """(arrival index, payloads) of each set emitted; payloads name topic and arrival, e.g. 'b1'."""
    out = []
    for arrival, (topic, stamp) in enumerate(arrivals):
        out += [(arrival, [p for _, p in m]) for m in policy.add(topic, stamp, f'{"abcd"[topic]}{arrival}')]
    return out


# The expected outputs below are those of the upstream C++ policy on the same input (the driver above).
def test_equal_stamps_across_topics_are_emitted_at_once():
    assert sets(ApproximateTimePolicy(2, 10), [(1, 1), (0, 1)]) == [(1, ['a1', 'b0'])]


def test_equal_stamps_within_a_topic_are_used_in_arrival_order():
    policy = ApproximateTimePolicy(2, 10)
    assert sets(policy, [(0, 5), (0, 5), (1, 5), (1, 5)]) == [(2, ['a0', 'b2']), (3, ['a1', 'b3'])]


def test_on_a_tie_for_the_oldest_stamp_the_first_topic_is_set_aside():
    # a@2 and c@2 tie; a is moved aside first, so the set is proven only when a's next item comes.
    assert sets(ApproximateTimePolicy(3, 10), [(0, 2), (2, 2), (1, 3), (0, 6)]) == [(3, ['a0', 'b2', 'c1'])]


def test_on_a_tie_for_the_newest_stamp_the_last_topic_is_the_pivot():
    # Queue 1: b's first item is dropped, so b may not be the pivot; on the a@0/b@0 tie b is the
    # candidate pivot (last topic), refused, and a@0 is discarded: nothing is emitted.
    assert sets(ApproximateTimePolicy(2, 1), [(1, 0), (1, 0), (0, 0)]) == []


def test_items_held_for_a_candidate_count_against_the_queue():
    # Queue 1: b@1 (held aside for the candidate with a@3) and the new b@1 make two; the older goes.
    assert sets(ApproximateTimePolicy(2, 1), [(1, 1), (0, 3), (1, 1), (1, 6)]) == [(3, ['a1', 'b2'])]


def test_a_lower_bound_proves_a_set_or_not():
    # b ticks at least `bound` apart: after b@1 the next b is at 1 + bound or later.
    proven = ApproximateTimePolicy(2, 10, lower_bounds=[0, 2])  # b@3 or later cannot beat |2 - 1|
    assert sets(proven, [(1, 1), (0, 2)]) == [(1, ['a1', 'b0'])]
    unproven = ApproximateTimePolicy(2, 10, lower_bounds=[0, 1])  # b@2 could still match a@3 better
    assert sets(unproven, [(1, 1), (0, 3)]) == []
    assert sets(ApproximateTimePolicy(2, 10), [(1, 1), (0, 2)]) == []  # no bound: wait for b


def test_the_age_penalty_scales_as_rclcpp_does():
    # A later set must shorten the spread by more than (1 + age penalty) x its gain in age; rclcpp
    # computes 10 ns x 1.7 as 16 ns (long double, truncated), so {a3, b1, c2} beats {a0, b1, c2} by 17.
    arrivals = [(0, 0), (1, 17), (2, 20), (0, 30), (1, 40), (2, 40)]
    assert sets(ApproximateTimePolicy(3, 10, age_penalty=0.7), arrivals) == [(4, ['a3', 'b1', 'c2'])]
    arrivals[3] = (0, 31)  # 11 ns x 1.7 = 18 ns: not better
    assert sets(ApproximateTimePolicy(3, 10, age_penalty=0.7), arrivals) == [(4, ['a0', 'b1', 'c2'])]


# --- the brute-force oracle (age penalty 0, unbounded queues) -------------------------------------


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

"""nblib.data.toposort: exact counts of linear extensions on posets counted by hand and by brute
force, exactly uniform sampling (a chi-square test the naive sampler fails), and the checks."""

import itertools
import math

import numpy as np
import pytest
from scipy.stats import chisquare

from nblib.data.toposort import (
    LinearExtensions,
    count_linear_extensions,
    inversions,
    random_permutation,
    respects,
    sample_topological_sort,
    sample_topological_sorts,
    transitive_closure,
    transitive_reduction,
    violations,
)

CHAIN_4 = [(0, 1), (1, 2), (2, 3)]
DIAMOND = [(0, 1), (0, 2), (1, 3), (2, 3)]  # 0-1-2-3 and 0-2-1-3
N_POSET = [(0, 2), (1, 2), (1, 3)]  # a<c, b<c, b<d: abcd abdc bacd badc bdac
FENCE_5 = [(0, 1), (2, 1), (2, 3), (4, 3)]  # zigzag 0<1>2<3>4: Euler's up/down number 16


def brute_force(n, edges):
    return [list(p) for p in itertools.permutations(range(n)) if respects(p, edges)]


@pytest.mark.parametrize("n, edges, count", [
    (0, [], 1), (1, [], 1), (4, CHAIN_4, 1), (4, DIAMOND, 2), (4, N_POSET, 5), (5, FENCE_5, 16),
    (5, [(0, 1), (2, 3), (3, 4)], math.comb(5, 2)),  # two chains: their interleavings
    (5, [(0, k) for k in range(1, 5)], math.factorial(4)),  # a star: the root first
])
def test_hand_counted_posets(n, edges, count):
    assert count_linear_extensions(n, edges) == count == len(brute_force(n, edges))


@pytest.mark.parametrize("n", [2, 5, 25])
def test_antichain_has_n_factorial_orders_and_chain_one(n):
    assert count_linear_extensions(n, []) == math.factorial(n)
    assert count_linear_extensions(n, [(k, k + 1) for k in range(n - 1)]) == 1
    # a star of 25 is an ordinal sum (root, then an antichain): no 2**24 table
    assert count_linear_extensions(n, [(0, k) for k in range(1, n)]) == math.factorial(n - 1)


def test_counts_and_unranking_match_brute_force_on_random_dags():
    rng = np.random.default_rng(0)
    for _ in range(60):
        n, density = int(rng.integers(1, 7)), rng.random()
        relabel = rng.permutation(n)
        edges = [(int(relabel[a]), int(relabel[b])) for a, b in itertools.combinations(range(n), 2)
                 if rng.random() < density]
        extensions = LinearExtensions(n, edges)
        orders = [extensions.unrank(k) for k in range(extensions.count)]
        assert sorted(orders) == sorted(brute_force(n, edges))  # a bijection onto the sorts


def naive_sort(n, edges, rng):
    """Place a uniformly random available node, repeat: NOT uniform over the extensions."""
    placed, order = set(), []
    while len(order) < n:
        free = [v for v in range(n) if v not in placed
                and all(j in placed for j, i in edges if i == v)]
        v = free[rng.integers(len(free))]
        placed.add(v)
        order.append(v)
    return order


def test_sampler_is_uniform_and_the_naive_one_is_not():
    """N poset + a 2-chain: a prime part, a disjoint union and its interleavings, 75 orders."""
    edges = N_POSET + [(4, 5)]
    extensions = LinearExtensions(6, edges)
    assert extensions.count == 5 * math.comb(6, 2)
    index = {tuple(extensions.unrank(k)): k for k in range(extensions.count)}
    draws = 100 * extensions.count

    def frequencies(sampler, seed):
        rng, counts = np.random.default_rng(seed), np.zeros(extensions.count)
        for _ in range(draws):
            counts[index[tuple(sampler(rng))]] += 1
        return counts

    assert chisquare(frequencies(extensions.sample, 7)).pvalue > 1e-3
    assert chisquare(frequencies(lambda rng: naive_sort(6, edges, rng), 7)).pvalue < 1e-6


def test_samples_respect_the_edges_and_are_reproducible():
    edges = [(0, 3), (3, 7), (1, 7), (2, 5)] + [(10, k) for k in range(11, 20)]
    orders = sample_topological_sorts(25, edges, 20, np.random.default_rng(3))  # count > 2**62
    assert all(respects(o, edges) and sorted(o) == list(range(25)) for o in orders)
    assert len({tuple(o) for o in orders}) == 20
    again = sample_topological_sorts(25, edges, 20, np.random.default_rng(3))
    assert orders == again
    assert sample_topological_sort(4, CHAIN_4, np.random.default_rng(0)) == [0, 1, 2, 3]


def test_random_permutation_is_an_unconstrained_reproducible_baseline():
    order = random_permutation(30, np.random.default_rng(1))
    assert sorted(order) == list(range(30)) and order == random_permutation(30,
                                                                            np.random.default_rng(1))
    assert all(isinstance(v, int) for v in order)


@pytest.mark.parametrize("n, edges, says", [
    (3, [(0, 1), (1, 2), (2, 0)], "cycle"), (3, [(1, 1)], "self-loop"),
    (3, [(0, 3)], "must lie in 0..2"), (-1, [], "int >= 0"),
    (26, [(2 * k, 2 * k + 1) for k in range(13)] + [(2 * k + 2, 2 * k + 1) for k in range(12)],
     "max_nodes=25"),  # a zigzag of 26 is prime: the DP would need its own table
])
def test_bad_dags_are_refused(n, edges, says):
    with pytest.raises(ValueError, match=says):
        count_linear_extensions(n, edges)


def test_too_many_order_ideals_is_refused():
    with pytest.raises(ValueError, match="order ideals"):
        LinearExtensions(5, FENCE_5, max_states=3)
    with pytest.raises(ValueError, match=r"must lie in \[0, 16\)"):
        LinearExtensions(5, FENCE_5).unrank(16)


def test_checks_name_the_broken_edges():
    assert respects([0, 2, 1, 3], DIAMOND) and not respects([1, 0, 2, 3], DIAMOND)
    assert violations([3, 1, 2, 0], DIAMOND) == DIAMOND
    assert inversions([0, 1, 2]) == 0 and inversions([2, 1, 0]) == 3
    with pytest.raises(ValueError, match="not a permutation"):
        respects([0, 0, 1, 2], DIAMOND)


def test_closure_and_reduction():
    assert set(transitive_closure(4, CHAIN_4)) == {(a, b) for a, b in
                                                   itertools.combinations(range(4), 2)}
    assert transitive_reduction(4, CHAIN_4 + [(0, 2), (0, 3)]) == tuple(CHAIN_4)
    assert transitive_reduction(4, DIAMOND + [(0, 3)]) == tuple(DIAMOND)

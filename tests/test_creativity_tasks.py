"""nblib.data.tasks.creativity: the four generators, their coherence checks on hand-made examples,
the vocabulary and the split."""


import itertools

import pytest

from nblib.data.tasks import creativity as ct


def test_sibling_coherence_accepts_siblings_and_rejects_strangers():
    task = ct.Sibling(n_parents=3, n_children=4)  # parent 1 owns b1_4..b1_7 and b2_4..b2_7
    assert task.canonical(["b1_5", "b2_7", "a1"]) == ("a1", "b1_5", "b2_7")
    assert task.canonical(["b1_5", "b2_7", "a0"]) is None  # wrong parent
    assert task.canonical(["b1_5", "b2_1", "a1"]) is None  # b2 belongs to a0
    assert task.canonical(["b2_5", "b1_7", "a1"]) is None  # sets swapped
    assert task.canonical(["b1_5", "b2_7"]) is None  # too short
    assert task.canonical(["b1_99", "b2_7", "a1"]) is None  # no such child
    assert task.n_objects() == 3 * 4 * 4
    objs = {task.object_at(i) for i in range(task.n_objects())}
    assert len(objs) == task.n_objects()
    assert all(task.canonical(task.render(o, None)) == o for o in objs)


def test_triangle_coherence_needs_a_closed_triangle_of_the_graph():
    task = ct.Triangle(n_nodes=12, degree=2, triangles_per_node=1)
    tri = task.triangles()[0]
    u, v, w = sorted(tri)
    assert task.canonical([u, v, ct.SEP, v, w, ct.SEP, w, u]) == tri
    assert task.canonical([u, v, ct.SEP, v, w, ct.SEP, w, v]) is None  # does not close
    assert task.canonical([u, v, ct.SEP, v, w]) is None  # two edges only
    edges = task.edges()
    missing = next((a, b, c) for a, b, c in itertools.combinations(task.entities(), 3)
                   if frozenset((a, c)) not in edges)
    a, b, c = missing
    assert task.canonical([a, b, ct.SEP, b, c, ct.SEP, c, a]) is None  # not a triangle of the graph
    brute = {frozenset(t) for t in itertools.combinations(task.entities(), 3)
             if all(frozenset(p) in edges for p in itertools.combinations(t, 2))}
    assert set(task.triangles()) == brute and len(task.triangles()) == len(brute)
    extra = task.extra_examples()
    assert len(extra) == 2 * len(edges) and all(e.hash == "" and e.query == ct.EDGE for e in extra)


def test_circle_coherence_accepts_shuffled_cycles_only():
    task = ct.Circle(n_entities=6, cycle_len=4)
    # 0-1-2-3-0, shuffled
    cycle = ["n0", "n1", ct.SEP, "n3", "n2", ct.SEP, "n2", "n1", ct.SEP, "n0", "n3"]
    assert task.canonical(cycle) is not None
    same = ["n1", "n2", ct.SEP, "n2", "n3", ct.SEP, "n3", "n0", ct.SEP, "n0", "n1"]
    assert task.canonical(same) == task.canonical(cycle)  # permutations collapse to one object
    two_pieces = ["n0", "n1", ct.SEP, "n1", "n0", ct.SEP, "n2", "n3", ct.SEP, "n3", "n2"]
    assert task.canonical(two_pieces) is None  # repeated edges
    degree3 = ["n0", "n1", ct.SEP, "n0", "n2", ct.SEP, "n0", "n3", ct.SEP, "n1", "n2"]
    assert task.canonical(degree3) is None
    assert task.canonical(cycle[:-3]) is None  # a path is not a cycle
    six = ct.Circle(n_entities=8, cycle_len=6)
    triangles = ["n0", "n1", ct.SEP, "n1", "n2", ct.SEP, "n2", "n0", ct.SEP,
                 "n3", "n4", ct.SEP, "n4", "n5", ct.SEP, "n5", "n3"]
    assert six.canonical(triangles) is None  # degree 2 everywhere, but two cycles
    assert task.canonical(["n0", "n1", "n2", ct.SEP, "n3"]) is None  # malformed pairs


def test_line_coherence_accepts_shuffled_paths_only():
    task = ct.make_task("line", n_entities=6, path_len=4)
    path = ["n2", "n3", ct.SEP, "n0", "n1", ct.SEP, "n1", "n2"]  # 0-1-2-3
    assert task.canonical(path) is not None
    triangle = ["n0", "n1", ct.SEP, "n1", "n2", ct.SEP, "n2", "n0"]
    assert task.canonical(triangle) is None
    two_pieces = ["n0", "n1", ct.SEP, "n2", "n3", ct.SEP, "n3", "n4"]
    assert task.canonical(two_pieces) is None
    five = ct.make_task("line", n_entities=6, path_len=5)
    lasso = ["n0", "n1", ct.SEP, "n2", "n3", ct.SEP, "n3", "n4", ct.SEP, "n4", "n2"]
    assert five.canonical(lasso) is None
    assert task.n_objects() == 6 * 5 * 4 * 3 // 2


@pytest.mark.parametrize("name, sizes", [("sibling", dict(n_parents=2, n_children=5)),
                                         ("triangle", dict(n_nodes=12)),
                                         ("circle", dict(n_entities=6, cycle_len=5)),
                                         ("line", dict(n_entities=6, path_len=5))])
def test_split_renders_coherent_distinct_objects_with_unique_hashes(name, sizes):
    task = ct.make_task(name, **sizes)
    s = ct.split(task, n_train=12, seed=3, hash_lengths=(0, 4), n_heldout=3)
    hashed = s.train[:12]
    assert [task.canonical(e.output) for e in hashed] == s.train_objects
    assert len(set(s.train_objects + s.heldout)) == 15  # distinct; held out never trained on
    assert [len(e.hash) for e in hashed] == [0, 4] * 6
    assert len({e.hash for e in hashed if e.hash}) == 6  # 36^4 >= 2 * 12: unique
    assert ct.split(task, 12, seed=3, hash_lengths=(0, 4), n_heldout=3).train == s.train  # seeded
    ids, mask = ct.encode(s.vocab, s.train)
    assert ids.shape == mask.shape and ids.max() < len(s.vocab)
    row = s.vocab.decode(ids[1][ids[1] != 0])
    assert row[:4] == [f"#{c}" for c in hashed[1].hash] and row[-1] == ct.EOS
    assert mask[1].sum() == len(hashed[1].output) + 1 == ct.output_length(task)  # output + EOS
    assert not mask[1, :5].any()


def test_vocab_round_trip_and_bad_input():
    v = ct.Vocab(["x", "y"])
    assert v.decode(v.encode(["#a", "x", ct.EOS])) == ["#a", "x", ct.EOS]
    assert v.index[ct.PAD] == 0 and len(v.hash_ids) == 36
    with pytest.raises(ValueError, match="task='square'"):
        ct.make_task("square")
    with pytest.raises(ValueError, match="exceeds"):
        ct.split(ct.Sibling(1, 2), n_train=5, seed=0)
    with pytest.raises(ValueError, match="does not fit"):
        ct.encode(v, [ct.Example("ab", ct.QUERY, ("x", "y"))], length=3)


def test_each_task_family_lives_in_its_own_module_and_the_package_re_exports_it():
    from nblib.data.tasks.creativity import circle, datasets, sibling, strings, triangle

    assert ct.Sibling is sibling.Sibling and ct.Triangle is triangle.Triangle
    assert ct.Circle is circle.Circle and ct.Line is circle.Line
    assert ct.split is datasets.split and ct.encode is datasets.encode and ct.Vocab is strings.Vocab
    assert set(ct.__all__) <= set(dir(ct))
    assert strings.join_pairs(strings.pairs_of(["a", "b", ct.SEP, "c", "d"])) == (
        "a", "b", ct.SEP, "c", "d")


@pytest.mark.parametrize("name, sizes", [("circle", dict(n_entities=10, cycle_len=4)),
                                         ("line", dict(n_entities=10, path_len=4)),
                                         ("sibling", dict(n_parents=3, n_children=6)),
                                         ("triangle", dict(n_nodes=12))])
def test_training_strings_do_not_depend_on_string_hashing(name, sizes):
    """The same split in interpreters with different PYTHONHASHSEEDs renders the same strings (a
    cycle's walk once followed a frozenset's iteration order)."""
    import os
    import subprocess
    import sys

    code = ("from nblib.data.tasks import creativity as ct; "
            f"t = ct.make_task({name!r}, **{sizes!r}); "
            "print([e.output for e in ct.split(t, 20, seed=1).train])")
    outs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": str(h)}).stdout for h in (0, 1, 2)}
    assert len(outs) == 1

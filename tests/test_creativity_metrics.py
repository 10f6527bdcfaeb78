"""nblib.eval.creativity: coherence, originality, creativity, diversity and memorization."""

import math

import pytest
import torch

from nblib.data.tasks import creativity as ct
from nblib.eval.creativity import creativity_scores, memorization, to_objects


def test_scores_count_unique_coherent_original_objects():
    objects = ["x", "x", "y", "z", None, None, "w", "w"]  # "z" and "w" were trained on
    s = creativity_scores(objects, train_set={"z", "w"})
    assert s["coherence"] == 6 / 8
    assert s["originality"] == 3 / 6  # x, x, y
    assert s["creativity"] == 2 / 8  # unique {x, y}
    assert s["diversity"] == 4 / 8  # unique {x, y, z, w}
    assert math.isnan(creativity_scores([None], set())["originality"])
    with pytest.raises(ValueError, match="no samples"):
        creativity_scores([], set())


def test_permutations_of_one_cycle_count_once():
    task = ct.Circle(n_entities=5, cycle_len=3)
    v = ct.Vocab(task.entities())
    rows = [["n0", "n1", ct.SEP, "n1", "n2", ct.SEP, "n2", "n0", ct.EOS],
            ["n2", "n1", ct.SEP, "n0", "n2", ct.SEP, "n1", "n0", ct.EOS],  # the same triangle
            ["n0", "n1", ct.SEP, "n1", "n2", ct.SEP, "n2", "n3", ct.EOS],  # not a cycle
            ["n0", "n1", ct.SEP, "n1", "n2", ct.SEP, "n2", "n0", ct.PAD]]  # never stopped
    ids = torch.tensor([v.encode(r) for r in rows])
    objects = to_objects(ids, v.decode, task.canonical, ct.EOS)
    assert objects[0] == objects[1] is not None and objects[2] is None and objects[3] is None
    s = creativity_scores(objects, set())
    assert s["coherence"] == 0.5 and s["creativity"] == s["diversity"] == 0.25


def test_memorization_is_exact_recall_of_the_training_object():
    assert memorization(["a", "b", None], ["a", "c", "d"]) == 1 / 3
    with pytest.raises(ValueError, match="one decoded object per target"):
        memorization(["a"], ["a", "b"])

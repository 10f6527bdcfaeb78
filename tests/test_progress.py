"""nblib.progress: a widget bar when interactive, a plain, rarely refreshed text bar headless."""

from __future__ import annotations

import io

import tqdm.auto
import tqdm.std

from nblib import progress


def test_headless_bar_is_plain_text_and_rare():
    out = io.StringIO()
    bar = progress(range(5), interactive=False, file=out, desc="steps")
    assert type(bar) is tqdm.std.tqdm
    assert bar.mininterval == 30.0 and bar.ascii is True
    assert list(bar) == [0, 1, 2, 3, 4]
    text = out.getvalue()
    assert "steps" in text and "5/5" in text
    assert "\x1b" not in text and "█" not in text  # plain ASCII, no unicode blocks


def test_headless_defaults_can_be_overridden():
    bar = progress(range(3), interactive=False, file=io.StringIO(), mininterval=0.5, ascii=False)
    assert bar.mininterval == 0.5 and bar.ascii is False
    bar.close()


def test_interactive_uses_tqdm_auto():
    bar = progress(total=4, interactive=True, file=io.StringIO())
    assert isinstance(bar, tqdm.auto.tqdm)
    assert bar.mininterval != 30.0  # no headless throttling
    bar.update(4)
    assert bar.n == 4
    bar.close()

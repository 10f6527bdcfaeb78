"""A real browser: Debian's chromium driven by Playwright, against a real JupyterLab and the report
site.

JupyterLab serves a copy of notebook 09 (so autosave never touches the committed one) on 127.0.0.1
with a token. The test types smaller settings into a new cell after the parameters cell (as a
student trying the notebook quickly would), runs every cell, presses the form's button, changes a
value and presses it again, and checks that the output and its figure change. Then it builds the
report site and opens its index from the file system. Screenshots: test-artifacts/browser/.

If the browser cannot start, the test fails and says why; it never skips.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import CLEARED_VARS, REPO

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = REPO / "test-artifacts" / "browser"
NOTEBOOK = "09_mlp_in_context.ipynb"
# what the "student" types below the parameters cell: notebook 09 at a size that runs in seconds
SMALLER = ("seeds = 2; pool_sizes = [1, None]; context_lens = [4, 8]; mlp_width = 32; "
           "mlp_depth = 2; train_flops = 1e9; min_steps = 20; mlp_lrs = [3e-3]; "
           "transformer_d_model = 16; transformer_lrs = [3e-3]; small_mlp_steps = 200; "
           "n_eval = 256; n_evals = 3")
pytestmark = [pytest.mark.notebooks, pytest.mark.browser]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def browser():
    """Chromium through Playwright; a failure to start is a test failure naming the cause."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        pytest.fail("the browser test needs the Python package "
                    f"playwright (pip install -e '.[dev]'): {err}")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} not found: install Debian's "
                    "chromium (apt-get install -y chromium; "
                    ".ci/run does this in CI)")
    with sync_playwright() as p:
        try:
            chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                         timeout=60_000)
        except Exception as err:
            pytest.fail(f"chromium at {CHROMIUM} did not start under Playwright: {err}")
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on 127.0.0.1 with a token, serving a copy of
    notebook 09; runs recorded in a temp folder."""
    work = tmp_path_factory.mktemp("lab")
    (work / "notebooks").mkdir()
    shutil.copy(REPO / "notebooks" / NOTEBOOK, work / "notebooks" / NOTEBOOK)
    settings = work / "config" / "lab" / "user-settings" / "@jupyterlab"
    settings_by_name = {"notebook-extension/tracker": {"windowingMode": "none"},  # every cell
                        "apputils-extension/notification": {"fetchNews": "false"}}
    for name, value in settings_by_name.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / f"{name}.jupyterlab-settings").write_text(json.dumps(value))
    token, port = secrets.token_hex(16), _free_port()
    env = {k: v for k, v in os.environ.items() if k not in CLEARED_VARS}
    env.update(NBLIB_RUNS=str(work / "runs"), NBLIB_THREADS="1",
               JUPYTER_CONFIG_DIR=str(work / "config"),
               JUPYTER_DATA_DIR=str(work / "data"), JUPYTER_RUNTIME_DIR=str(work / "runtime"),
               PYDEVD_DISABLE_FILE_VALIDATION="1")  # no user-level kernelspec or config leaks in
    env.pop("MPLBACKEND", None)  # the kernel's inline backend shows the figures
    log = open(work / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1",
         f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work / 'notebooks'}",
         "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"JupyterLab did not start:\n{(work / 'lab.log').read_text()[-3000:]}")
        time.sleep(0.5)
    yield {"url": url, "token": token, "work": work}
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def _shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def _form_output(form):
    """(text, image src) of the form's output area."""
    out = form.locator(".widget-output")
    images = out.locator("img")
    src = images.last.get_attribute("src") if images.count() else None
    return out.inner_text(), src


@pytest.mark.timeout(600)
def test_notebook_09_form_in_jupyterlab(browser, lab):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(f"{lab['url']}/lab/tree/{NOTEBOOK}?token={lab['token']}")
    cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")
    params = cells.filter(has_text="show the widget form and live progress bars")
    try:
        params.wait_for(timeout=120_000)
        page.locator(".jp-StatusBar-Widget", has_text="| Idle").first.wait_for(timeout=120_000)
    finally:
        _shot(page, "0_opened")

    # a new cell under the parameters cell with smaller settings, typed as a student would
    params.locator(".jp-InputPrompt").click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.insert_text(SMALLER)
    page.keyboard.press("Escape")
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel").get_by_text("Run All Cells", exact=True).click()

    verdict = cells.filter(has_text="verdicts = icl.decide(table, cfg")
    verdict.locator(".jp-OutputArea-output", has_text="headline delta").wait_for(timeout=400_000)
    errors = page.locator(".jp-NotebookPanel "
                          ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']",
                          has_text="Traceback")
    assert errors.count() == 0, errors.first.inner_text()
    verdict.scroll_into_view_if_needed()
    _shot(page, "1_notebook_run")

    # the form: press Train, change a value, press Train again; the output and its figure change
    form = page.locator(".jp-NotebookPanel .widget-vbox").filter(
        has=page.locator("button", has_text="Train")).first
    form.scroll_into_view_if_needed()
    button = form.locator("button", has_text="Train")
    button.click()
    form.locator(".widget-output img").first.wait_for(timeout=120_000)
    page.wait_for_function("b => !b.disabled", arg=button.element_handle())
    text_a, image_a = _form_output(form)
    _shot(page, "2_form_first_run")

    length = form.locator(".widget-inline-hbox", has_text="context_len").locator("input")
    assert length.input_value() == "8"
    length.fill("4")
    length.press("Enter")
    button.click()
    page.wait_for_function(
        "([out, before]) => { const imgs = out.querySelectorAll('img');"
        " return imgs.length && imgs[imgs.length - 1].src !== before; }",
        arg=[form.locator(".widget-output").element_handle(), image_a], timeout=120_000)
    page.wait_for_function("b => !b.disabled", arg=button.element_handle())
    text_b, image_b = _form_output(form)
    page.locator(".jp-StatusBar-Widget", has_text="| Idle").first.wait_for()
    _shot(page, "3_form_changed")
    assert image_a and image_b and image_a != image_b  # a new figure
    assert "not run" not in text_a + text_b and "Error" not in text_a + text_b
    assert form.locator(".widget-output img").count() == 1  # the old figure was replaced

    # an out-of-range value is rejected with the config's one-line message and nothing runs
    length.fill("-5")
    length.press("Enter")
    button.click()
    form.locator(".widget-output", has_text="not run").wait_for(timeout=30_000)
    text_c, image_c = _form_output(form)
    assert "parameter context_len=-5: out of range" in text_c and not image_c
    assert length.input_value() == "-5"  # what was typed stays, never clamped
    # a typed learning rate is used exactly (no slider rounding)
    length.fill("4")
    length.press("Enter")
    lr = form.locator(".widget-inline-hbox", has_text="lr").locator("input")
    lr.fill("0.0021")
    lr.press("Enter")
    button.click()
    form.locator(".widget-output", has_text="lr=0.0021,").wait_for(timeout=120_000)
    page.wait_for_function("b => !b.disabled", arg=button.element_handle())
    assert lr.input_value() == "0.0021"
    assert "peak learning rate" in form.inner_text()  # help text visible under the label
    _shot(page, "4_form_rejected_and_typed")
    page.close()


@pytest.mark.timeout(300)
def test_report_index_in_the_browser(browser, lab):
    """The site over the notebook's interactive run and every committed reference run, from file://."""
    from nblib.site import build_site

    runs = lab["work"] / "runs"
    index = build_site(runs, figures=REPO / "figures")
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.goto(index.as_uri())
    tables = page.locator("table")
    references = tables.nth(0).locator("tbody tr")
    slugs = sorted(p.parent.name for p in (REPO / "figures").glob("*/reference_run.json"))
    assert references.count() == len(slugs)
    for i, slug in enumerate(slugs):
        cells = references.nth(i).locator("td")
        assert cells.nth(0).inner_text() == slug
        assert cells.nth(4).inner_text() in ("SUPPORTED", "NOT SUPPORTED", "INCONCLUSIVE")
        assert cells.nth(8).inner_text() == "reference"
    all_runs = tables.nth(1).locator("tbody tr")
    assert all_runs.count() >= 1
    labels = [all_runs.nth(i).locator("td").nth(4).inner_text() for i in range(all_runs.count())]
    assert any(label in ("SUPPORTED", "NOT SUPPORTED", "INCONCLUSIVE") for label in labels), labels
    _shot(page, "4_report_index")

    # the notebook's page, reached by its link, shows the reference figures (loaded from disk)
    page.locator("a", has_text="09_mlp_in_context").first.click()
    page.wait_for_selector("img.fig")
    loaded = page.eval_on_selector_all("img.fig",
                                       "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)")
    assert loaded and all(loaded)
    _shot(page, "5_notebook_page")
    page.close()


@pytest.mark.timeout(180)
def test_a_smoke_report_opens_with_its_verdict_box_with_the_network_hanging(browser, executed_run):
    """The fixture notebook's smoke report, from file://, with every network request left
    unanswered (a CDN that hangs): the verdict box renders at once, at the top."""
    report = Path(executed_run["dir"]) / "report.html"
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.route(re.compile(r"^https?://"), lambda route: None)  # never answered
    page.goto(report.as_uri(), wait_until="domcontentloaded", timeout=10_000)
    box = page.locator(".nblib-verdict")
    box.wait_for(timeout=10_000)
    text = box.inner_text()
    assert "Fixture notebook" in text and "SUPPORTED" in text and "a exceeds b" in text
    assert "Smoke run: a check that the code runs end to end at tiny size, not a result." in text
    assert f"run {executed_run['run_id']}" in text and "commit" in text
    assert page.title() == "01_fixture · smoke · SUPPORTED"
    assert page.evaluate("document.querySelector('.nblib-verdict').getBoundingClientRect().top"
                         ) < 100  # the first thing a reader sees
    _shot(page, "6_smoke_report")
    page.close()

#!/usr/bin/env python3
"""Runs esmdb's Rust notebooks in JupyterLab in a real browser, as a person does, and checks the page.

Usage: browser.py [--out DIR] [NOTEBOOK.ipynb ...]   (default: every notebook in notebooks/)

For each notebook: `scripts/notebook` starts its own JupyterLab server (a free loopback port, a fresh token,
`ESMDB_NOTEBOOK_DATA` in a fresh temporary directory); headless Chromium (Debian's `chromium` driven through
`chromium-driver` by selenium, both installed by scripts/setup) opens the notebook's page, waits for the
`Rust (esmdb)` kernel, clicks Run → Run All Cells in the menu bar and waits until every code cell shows its
execution count. The notebook then fails when a cell did not run, when an output shows an error, or when the
rendered page lacks the HTML tables (counted by column header), the SVG figures and the model notice that
run_notebooks.py expects of it. A screenshot of the page (scrolled to its last figure) goes to
--out (default: <repo>/target/notebook-browser/), kept whatever the result, with the page's state as read
(<notebook>.json: prompts, outputs, table headers).

JupyterLab's autosave is switched off for the run (a settings directory of its own), so the repository's
notebooks are never written; the test checks that their bytes are unchanged.
Environment: ESMDB_BROWSER_TIMEOUT (seconds per notebook, default 1800).
Exit codes: 0 passed, 1 failed, 3 a prerequisite (kernel, chromium, chromium-driver, selenium) is missing.
"""
import argparse
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from kernel_smoke import free_port, stop  # noqa: E402
from run_notebooks import (  # noqa: E402
    EXPECT, FAILURE_MARKERS, MODEL_NOTICES, NOT_INSTALLED, NOTEBOOKS, ROOT, kernel_problem, run_each,
)

CHROMIUM = os.environ.get("ESMDB_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("ESMDB_CHROMEDRIVER", "/usr/bin/chromedriver")
# JupyterLab settings for the run: no autosave (the checkout stays as it is), no news pop-up over the menu bar.
SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false"},
}

# How evcxr shows a failed cell (a compile error `[E0308] Error: …`, a `?` that failed `Error: …`) once JupyterLab
# has rendered it as stderr text; the notebooks' own stderr lines (the model notice) never start that way.
ERROR_LINE = re.compile(r"(^|\n)\s*(\[E\d{4}\] )?[Ee]rror(\[E\d{4}\])?:")

# The page's state, read in one call: every code cell's prompt, the kernel's status, every output's MIME type
# and text, the column headers of every rendered table and the SVG figures' sources.
PAGE_STATE = """
const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
if (!panel) return null;
const cells = [...panel.querySelectorAll('.jp-Cell.jp-CodeCell')];
const indicator = panel.querySelector('.jp-Notebook-ExecutionIndicator');
return {
  prompts: cells.map(c => (c.querySelector('.jp-InputArea-prompt') || {}).textContent || ''),
  kernel: indicator ? indicator.getAttribute('data-status') : null,
  outputs: [...panel.querySelectorAll('.jp-OutputArea-output')].map(o => ({
    cell: cells.findIndex(c => c.contains(o)),
    mime: o.getAttribute('data-mime-type') || '',
    text: o.textContent || '',
  })),
  tables: [...panel.querySelectorAll('.jp-OutputArea-output table')].map(
    t => [...t.querySelectorAll('th')].map(th => (th.firstChild ? th.firstChild.textContent : '').trim())),
  svgs: [...panel.querySelectorAll('.jp-OutputArea-output[data-mime-type="image/svg+xml"]')].map(o => {
    const img = o.querySelector('img');
    const svg = o.querySelector('svg');
    return img ? img.getAttribute('src') : (svg ? svg.outerHTML : '');
  }),
};
"""


def missing_prerequisite():
    """None when everything the browser run needs is installed, else what is missing."""
    problem = kernel_problem()
    if problem:
        return problem
    for path, package in ((CHROMIUM, "chromium"), (CHROMEDRIVER, "chromium-driver")):
        if not os.access(path, os.X_OK):
            return f"{path} is missing: run scripts/setup (it installs Debian's {package})"
    try:
        import selenium  # noqa: F401
    except ImportError:
        return f"selenium is not installed for {sys.executable}: run scripts/setup"
    return None


def svg_text(src):
    """The SVG markup behind an output's <img src="data:image/svg+xml…"> (or inline markup as it is)."""
    if not src.startswith("data:"):
        return src
    header, _, payload = src.partition(",")
    return base64.b64decode(payload).decode() if header.endswith(";base64") else urllib.parse.unquote(payload)


def check_page(name, state):
    """Problems with the finished page: cells that did not run, errors shown, tables, figures or texts missing."""
    problems = []
    unrun = [i for i, p in enumerate(state["prompts"]) if not p.strip().strip(":").strip("[]").isdigit()]
    if unrun:
        problems.append(f"{len(unrun)} of {len(state['prompts'])} code cells did not run, the first of them cell "
                        f"{unrun[0]} (its prompt is {state['prompts'][unrun[0]].strip()!r})")
    for out in state["outputs"]:
        error = out["mime"] == "application/vnd.jupyter.stderr" and (
            any(m in out["text"] for m in FAILURE_MARKERS) or ERROR_LINE.search(out["text"]))
        if error:
            problems.append(f"code cell {out['cell']} shows an error:\n{out['text'].strip()[:2000]}")
    expect = EXPECT.get(name, {})
    headers = {h for table in state["tables"] for h in table}
    for column in expect.get("columns", []):
        if column not in headers:
            problems.append(f"no table with a `{column}` column is rendered")
    svgs = [svg_text(s) for s in state["svgs"]]
    if expect.get("svg") and not any("<svg" in s for s in svgs):
        problems.append("no SVG figure is rendered")
    shown = "\n".join(o["text"] for o in state["outputs"]) + "\n".join(svgs)
    for text in expect.get("texts", []):
        if text not in shown:
            problems.append(f"`{text}` is not shown")
    if not any(n in shown for n in MODEL_NOTICES):
        problems.append("the page does not say which model ran (pretrained or random weights)")
    return problems


def start_server(token, port, data, settings):
    env = {**os.environ, "ESMDB_NOTEBOOK_DATA": data, "ESMDB_SKIP_BUILD": "1",
           "JUPYTERLAB_SETTINGS_DIR": str(settings / "user-settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(settings / "workspaces")}
    log = open(settings / "server.log", "w")
    server = subprocess.Popen(
        [str(ROOT / "scripts" / "notebook"), "--no-browser", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
         "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    started = time.monotonic()
    while True:
        if server.poll() is not None:
            raise RuntimeError(f"scripts/notebook exited with {server.returncode}; its log: {log.name}")
        try:
            req = urllib.request.Request(f"{base}/api/status", headers={"Authorization": f"token {token}"})
            urllib.request.urlopen(req, timeout=10).read()
            return server, base
        except OSError:
            if time.monotonic() - started > 300:
                stop(server)
                raise RuntimeError(f"the notebook server did not answer on {base} within 300s; its log: {log.name}")
            time.sleep(0.5)


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1200",
                "--disable-gpu", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    # An explicit driver: selenium's own driver manager would try the network.
    return webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)


def wait_for(driver, what, predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate(driver)
        if value:
            return value
        time.sleep(0.5)
    raise TimeoutError(f"{what} within {timeout}s")


def page_kernel_connected(base, token):
    """Whether the server has a kernel that a page is connected to and that is idle.

    The page's execution indicator reads idle before the page's websocket reaches the kernel; Run All Cells
    clicked in that gap makes JupyterLab ask for a kernel (seen in CI) instead of running the cells.
    """
    req = urllib.request.Request(f"{base}/api/kernels", headers={"Authorization": f"token {token}"})
    kernels = json.loads(urllib.request.urlopen(req, timeout=10).read())
    return any(k.get("connections", 0) > 0 and k.get("execution_state") == "idle" for k in kernels)


KERNEL_DIALOG = """
const d = document.querySelector('.jp-Dialog');
return d && (d.querySelector('.jp-Dialog-header') || {}).textContent || null;
"""


def answer_kernel_dialog(driver):
    """Picks the notebook's own kernel in a "Select Kernel" dialog, if one is open; returns whether it was."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    header = driver.execute_script(KERNEL_DIALOG)
    if not header or "Select Kernel" not in header:
        return False
    dialog = driver.find_element(By.CSS_SELECTOR, ".jp-Dialog")
    Select(dialog.find_element(By.CSS_SELECTOR, "select")).select_by_visible_text("Rust (esmdb)")
    next(b for b in dialog.find_elements(By.CSS_SELECTOR, "button") if b.text.strip() == "Select").click()
    return True


def run_all_cells(driver):
    """Run → Run All Cells, clicked in the menu bar."""
    from selenium.webdriver.common.by import By

    run_menu = next(el for el in driver.find_elements(By.CSS_SELECTOR, ".lm-MenuBar-item")
                    if el.text.strip() == "Run")
    run_menu.click()
    item = wait_for(driver, "the Run menu did not open",
                    lambda d: [el for el in d.find_elements(By.CSS_SELECTOR, ".lm-Menu-item")
                               if el.text.strip().startswith("Run All Cells")], 30)[0]
    item.click()


def run(path, out_dir, timeout):
    """Runs one notebook in the browser; returns its problems (empty when it passed)."""
    before = path.read_bytes()
    port, token = free_port(), uuid.uuid4().hex
    work = Path(tempfile.mkdtemp(prefix=f"esmdb-browser-{path.stem}-"))
    data = work / "data"
    for rel, value in SETTINGS.items():
        target = work / "user-settings" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))
    problems, driver, server = [], None, None
    started = time.monotonic()
    timings = ""
    try:
        server, base = start_server(token, port, str(data), work)
        driver = browser()
        driver.get(f"{base}/lab/tree/{urllib.parse.quote(path.name)}?token={token}")
        loaded = time.monotonic()
        state = lambda d: d.execute_script(PAGE_STATE)  # noqa: E731
        wait_for(driver, "the notebook's page did not show its cells with an idle kernel connected to it",
                 lambda d: (s := state(d)) and s["prompts"] and s["kernel"] == "idle"
                 and page_kernel_connected(base, token), 300)
        ready = time.monotonic()
        run_all_cells(driver)
        clicked = time.monotonic()
        settled = 0

        def finished(d):
            nonlocal settled, clicked
            if answer_kernel_dialog(d):
                # Still asked (the connection check above makes this rare): answer as a user would, run again.
                print(f"browser {path.name}: JupyterLab asked for a kernel; chose Rust (esmdb) and ran all again",
                      flush=True)
                time.sleep(2)
                run_all_cells(d)
                clicked, settled = time.monotonic(), 0
                return None
            s = state(d)
            numbered = all(p.strip().strip(":").strip("[]").isdigit() for p in s["prompts"])
            busy = any("*" in p for p in s["prompts"]) or s["kernel"] != "idle"
            # Run All can stop at a failing cell: the kernel then idles with the rest unnumbered (seen for 10 s).
            settled = settled + 1 if (not busy and time.monotonic() - clicked > 5) else 0
            return s if (numbered and not busy) or settled >= 20 else None

        final = wait_for(driver, "the cells did not finish", finished, timeout)
        ran = time.monotonic() - clicked
        (out_dir / f"{path.stem}.json").write_text(json.dumps(final, indent=1))
        problems += check_page(path.name, final)
        timings = (f"page and kernel ready in {ready - loaded:.0f}s, Run All Cells took {ran:.0f}s; "
                   f"{len(final['prompts'])} code cells, {len(final['tables'])} tables, {len(final['svgs'])} figures")
    except Exception as e:  # noqa: BLE001 — every failure is reported with the notebook's name
        problems.append(f"{type(e).__name__}: {e}")
    finally:
        if driver is not None:
            try:
                driver.execute_script(
                    "const o = [...document.querySelectorAll('.jp-OutputArea-output[data-mime-type=\"image/svg+xml\"]')];"
                    "if (o.length) o[o.length - 1].scrollIntoView({block: 'center'});")
                shot = out_dir / f"{path.stem}.png"
                driver.save_screenshot(str(shot))
            except Exception as e:  # noqa: BLE001
                problems.append(f"no screenshot: {e}")
            driver.quit()
        if server is not None:
            stop(server)
    if path.read_bytes() != before:
        problems.append(f"{path} changed on disk during the run (autosave should be off)")
    status = "FAILED" if problems else "passed"
    kept = f"; server log and data kept in {work}" if problems else ""
    if not problems:
        shutil.rmtree(work, ignore_errors=True)
    print(f"browser {path.name}: {status} in {time.monotonic() - started:.0f}s ({timings}); "
          f"screenshot {out_dir / (path.stem + '.png')}{kept}", flush=True)
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "target" / "notebook-browser",
                        help="directory for the screenshots (default: target/notebook-browser)")
    args = parser.parse_args()
    problem = missing_prerequisite()
    if problem:
        print(problem, file=sys.stderr)
        return NOT_INSTALLED
    paths = [p.resolve() for p in args.notebooks] or sorted(NOTEBOOKS.glob("*.ipynb"))
    args.out.mkdir(parents=True, exist_ok=True)
    timeout = int(os.environ.get("ESMDB_BROWSER_TIMEOUT", "1800"))
    return run_each(paths, lambda path: run(path, args.out, timeout))


if __name__ == "__main__":
    sys.exit(main())

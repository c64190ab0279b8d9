#!/usr/bin/env python3
"""Executes esmdb's Rust notebooks headless through the evcxr kernel and checks what they show.

Usage: run_notebooks.py [--check] [--out DIR] [NOTEBOOK.ipynb ...]   (default: every notebook in notebooks/)

Each notebook runs in a fresh kernel (`esmdb-rust`, installed by scripts/setup), one after another,
with its working directory in notebooks/ (so `:dep esmdb-kernel = { path = "../kernel-ext" }`
resolves) and `ESMDB_NOTEBOOK_DATA` pointing at a fresh temporary directory (so a run never touches
notebooks/.esmdb-data). Executed copies are written to --out (default: a new temporary directory);
the repository's notebooks are never modified.

A notebook fails when a cell errors (compile errors, a dead kernel), when a cell prints an error that
evcxr does not count as one (a `?` failure or a caught panic only reach stderr), or when the tables,
figure and model notice the notebook is about are missing from its outputs.

Environment: ESMDB_NOTEBOOK_CELL_TIMEOUT (seconds per cell, default 3600: the first cell of the first
run compiles DataFusion, Lance and the libtorch glue for the kernel).
Exit codes: 0 passed, 1 failed, 3 the kernel is not installed (--check only checks that).
"""
import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = ROOT / "notebooks"
KERNEL = "esmdb-rust"
NOT_INSTALLED = 3

# What each notebook must show: HTML table columns (`<th>name<`), an SVG figure, texts in its HTML or SVG.
EXPECT = {
    "quickstart.ipynb": {
        "columns": ["dataset", "variants", "sequences", "embedding", "cached", "family", "r2_test_mean"],
        "svg": True,
        # The second family's fit next to ESM2's, and its model named in the notice.
        "texts": ["ESM C", "esmc_300m"],
    },
    "paper_protocol.ipynb": {
        "columns": ["dataset", "fold", "r2_test", "rmse_test", "r2_test_mean", "rho_test_mean", "zero_shot_rho"],
        "svg": True,
        # The zero-shot rows next to the regression's, and their figure.
        "texts": ["zero-shot(masked-marginals)", "Zero-shot ρ vs supervised test ρ"],
    },
    "incremental.ipynb": {"columns": ["dataset", "sequences", "cached", "missing", "embedded"], "svg": True},
}
# Every notebook says which model it runs (see esmdb_kernel::ModelChoice::notice).
MODEL_NOTICES = ("RANDOM-WEIGHT", "Using pretrained")
# Text on stderr that means a cell failed although evcxr reported it as executed.
FAILURE_MARKERS = ("esmdb error:", "panicked at", "Child process terminated", "Segmentation fault")


def kernel_problem():
    """None when the esmdb-rust kernel is usable, else why not."""
    try:
        from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel
        import nbclient  # noqa: F401
        import nbformat  # noqa: F401
    except ImportError as e:
        return f"the Jupyter client packages are not installed for {sys.executable} ({e})"
    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        return f"no Jupyter kernel spec `{KERNEL}` for {sys.executable}"
    launcher = Path(spec.argv[0])
    if not launcher.is_file():
        return f"the `{KERNEL}` kernel's launcher {launcher} is missing"
    env_file = launcher.parent / "kernel.env"
    settings = {}
    if env_file.is_file():
        for line in env_file.read_text().splitlines():
            key, _, value = line.partition("=")
            settings[key.strip()] = value.strip().strip('"')
    evcxr = Path(settings.get("EVCXR_JUPYTER", ""))
    if not evcxr.is_file():
        return f"evcxr_jupyter is not installed ({env_file} names {str(evcxr) or 'no binary'})"
    return None


def text_of(value):
    """nbformat keeps multi-line strings either whole or as lists of lines."""
    return "".join(value) if isinstance(value, list) else (value or "")


def ends_in_a_value(source):
    """Whether a Rust cell ends in an expression (so it must show its value, or an error), not a statement or an
    evcxr command such as `:dep`."""
    lines = [l.strip() for l in source.strip().splitlines() if l.strip() and not l.strip().startswith("//")]
    return bool(lines) and not lines[0].startswith(":") and not lines[-1].endswith(";")


def check_outputs(name, nb):
    """Problems with what an executed notebook shows."""
    problems = []
    html, svg, plain = [], [], []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if ends_in_a_value(text_of(cell.source)) and not cell.get("outputs"):
            problems.append(f"cell {index} ends in a value but shows nothing (its result or error was lost)")
        for out in cell.get("outputs", []):
            if out.output_type == "stream":
                text = text_of(out.text)
                plain.append(text)
                if out.name == "stderr" and any(m in text for m in FAILURE_MARKERS):
                    problems.append(f"cell {index} printed an error:\n{text.strip()}")
            elif out.output_type in ("execute_result", "display_data"):
                data = out.get("data", {})
                html.append(text_of(data.get("text/html")))
                svg.append(text_of(data.get("image/svg+xml")))
                plain.append(text_of(data.get("text/plain")))
            elif out.output_type == "error":
                problems.append(f"cell {index}: {out.ename}: {out.evalue}")
    all_html = "\n".join(html)
    expect = EXPECT.get(name, {})
    for column in expect.get("columns", []):
        if f"<th>{column}<" not in all_html:
            problems.append(f"no HTML table with a `{column}` column")
    if expect.get("svg") and not any("<svg" in s for s in svg) and "<svg" not in all_html:
        problems.append("no SVG figure")
    shown = all_html + "\n".join(svg)
    for text in expect.get("texts", []):
        if text not in shown:
            problems.append(f"`{text}` is not shown")
    if not any(n in t for n in MODEL_NOTICES for t in plain + html):
        problems.append("the notebook does not say which model it ran (pretrained or random weights)")
    return problems


def cell_seconds(cell):
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not start or not end:
        return None
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def run(path, out_dir, timeout):
    """Executes one notebook; returns its problems (empty when it passed)."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    data = tempfile.mkdtemp(prefix=f"esmdb-{path.stem}-data-")
    os.environ["ESMDB_NOTEBOOK_DATA"] = data
    client = NotebookClient(
        nb,
        kernel_name=KERNEL,
        timeout=timeout,
        startup_timeout=300,
        allow_errors=False,
        record_timing=True,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    problems = []
    started = time.monotonic()
    try:
        client.execute()
    except CellExecutionError as e:
        problems.append(f"a cell failed:\n{e}")
    except (DeadKernelError, TimeoutError, RuntimeError) as e:
        problems.append(f"the kernel failed: {type(e).__name__}: {e}")
    elapsed = time.monotonic() - started
    executed = out_dir / path.name
    nbformat.write(nb, executed)
    problems += [] if problems else check_outputs(path.name, nb)
    timed = [(cell_seconds(c), i) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    timed = [(s, i) for s, i in timed if s is not None]
    slowest = max(timed) if timed else None
    detail = f", slowest cell {slowest[1]} ({slowest[0]:.1f}s)" if slowest else ""
    if not problems:
        shutil.rmtree(data, ignore_errors=True)  # kept on failure, for a look at the store
    status = "FAILED" if problems else "passed"
    kept = f", data {data}" if problems else ""
    print(f"notebook {path.name}: {status} in {elapsed:.0f}s{detail}; executed copy {executed}{kept}", flush=True)
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    parser.add_argument("--check", action="store_true", help="only check that the kernel is installed")
    parser.add_argument("--out", type=Path, help="directory for the executed copies (default: a temporary one)")
    args = parser.parse_args()

    problem = kernel_problem()
    if problem:
        print(problem, file=sys.stderr)
        return NOT_INSTALLED
    if args.check:
        return 0

    paths = [p.resolve() for p in args.notebooks] or sorted(NOTEBOOKS.glob("*.ipynb"))
    if not paths:
        print(f"no notebooks in {NOTEBOOKS}", file=sys.stderr)
        return 1
    out_dir = args.out or Path(tempfile.mkdtemp(prefix="esmdb-notebooks-"))
    out_dir.mkdir(parents=True, exist_ok=True)
    timeout = int(os.environ.get("ESMDB_NOTEBOOK_CELL_TIMEOUT", "3600"))
    return run_each(paths, lambda path: run(path, out_dir, timeout))


def run_each(paths, run_one):
    """Runs `run_one(path)` (which returns a notebook's problems) on every notebook, quickstart first (on a fresh
    machine its first cell compiles what the others then reuse); prints the problems; returns the exit code."""
    failed = 0
    for path in sorted(paths, key=lambda p: (p.name != "quickstart.ipynb", p.name)):
        problems = run_one(path)
        for p in problems:
            print(f"  {path.name}: {p}", file=sys.stderr)
        failed += bool(problems)
    print(f"{len(paths) - failed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

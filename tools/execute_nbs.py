"""Run notebooks in place and keep their outputs (the figures and tables the docs show), then nbdev_clean them.

    python tools/execute_nbs.py nbs/08_plots.ipynb [nbs/index.ipynb ...]

Each notebook runs top to bottom in-process with execnb, in its own folder, exactly as `nbdev_test` runs it: the
cells `nbdev_test` skips (the `tst_flags` of settings.ini, `slow`, `cuda` and `notest`; `#| eval: false`; the
`nbdev_export()` cell) are skipped here too and keep no output, so a notebook never saves the output of a check
that CI does not run. Outputs are cleared first (execnb only replaces a cell's outputs when it shows something);
PNG figures and text are kept; stderr (warnings, progress bars) and widget state are not. A failing cell stops the notebook and leaves the file as it
was. nbdev_clean then strips what changes from run to run (execution counts, metadata), so a second run changes
a file only where an output changed.
"""
import os, subprocess, sys, time
from configparser import ConfigParser
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from nbdev.process import extract_directives

ROOT = Path(__file__).resolve().parents[1]

def skip_flags() -> set:
    "The cell directives nbdev_test skips, from settings.ini."
    c = ConfigParser(); c.read(ROOT/'settings.ini')
    return set(c['DEFAULT'].get('tst_flags', '').split())

def _skipped(cell, flags:set) -> bool:
    "Whether nbdev_test would skip `cell` (nbdev.test's own rule)."
    if cell.cell_type != 'code' or 'nbdev_export' + '(' in cell.source: return True
    d = extract_directives(cell, remove=False)
    return d.get('eval:', [''])[0].lower() == 'false' or bool(flags & d.keys())

def execute(path:Path, flags:set=None):
    path, flags = Path(path).absolute(), skip_flags() if flags is None else flags
    nb, t0, cwd = read_nb(path), time.time(), os.getcwd()
    for c in nb.cells:
        if c.cell_type == 'code': c.outputs, c.execution_count = [], None
    os.environ['IN_TEST'] = '1'  # as nbdev_test sets it
    try:
        os.chdir(path.parent)
        CaptureShell(path, mpl_format='png').run_all(nb, exc_stop=True, preproc=lambda c: _skipped(c, flags))
    finally: os.chdir(cwd)
    for c in nb.cells:  # warnings and progress bars are noise on a docs page: stderr is not kept
        if c.cell_type == 'code': c.outputs = [o for o in c.outputs if not (o.get('output_type') == 'stream' and o.get('name') == 'stderr')]
    write_nb(nb, path)
    subprocess.run([str(Path(sys.executable).parent/'nbdev_clean'), '--fname', str(path)], check=True)
    outs = sum(len(c.get('outputs', [])) for c in nb.cells if c.cell_type == 'code')
    print(f"{path.relative_to(ROOT)}: {time.time() - t0:.0f}s, {outs} outputs, {path.stat().st_size / 1e3:.0f} kB")

if __name__ == '__main__':
    if len(sys.argv) < 2: sys.exit(__doc__)
    if len(sys.argv) == 2: execute(Path(sys.argv[1]))
    else:  # one process per notebook, so no notebook sees another's state (registered models, threads, imports)
        for p in sys.argv[1:]: subprocess.run([sys.executable, __file__, p], check=True)

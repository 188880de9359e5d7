"""Run notebooks in place and keep their outputs (the figures and tables the docs show), then nbdev_clean them.

    python tools/execute_nbs.py nbs/08_plots.ipynb [nbs/index.ipynb ...]

Each notebook runs top to bottom in a fresh python3 kernel (nbclient), in its own folder, as nbdev_test runs it;
a failing cell stops it and the file is left as it was. No widget state is stored (it is large and the static
site cannot use it); PNG figures and text outputs are kept. nbdev_clean then strips what changes from run to
run (execution counts, cell ids, metadata), so a second run changes a file only where an output changed.
"""
import subprocess, sys, time
from pathlib import Path
import nbformat
from nbclient import NotebookClient

def execute(path:Path, timeout:int=600):
    nb = nbformat.read(path, as_version=4)
    t0 = time.time()
    NotebookClient(nb, timeout=timeout, kernel_name='python3', store_widget_state=False,
                   resources={'metadata': {'path': str(path.parent)}}).execute()
    nbformat.write(nb, path)
    subprocess.run([str(Path(sys.executable).parent/'nbdev_clean'), '--fname', str(path)], check=True)
    outs = [o for c in nb.cells if c.cell_type == 'code' for o in c.get('outputs', [])]
    print(f"{path}: {time.time() - t0:.0f}s, {len(outs)} outputs, {path.stat().st_size / 1e3:.0f} kB")

if __name__ == '__main__':
    if len(sys.argv) < 2: sys.exit(__doc__)
    for p in sys.argv[1:]: execute(Path(p))

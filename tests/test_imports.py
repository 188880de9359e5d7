"""The package's shape: imports flow one way by notebook number, and no notebook exports more than ~600 lines.

The layer of a module is the number of the notebook that exports it, read from the module's
`File to edit: ../nbs/XX_name.ipynb` header: `00_core` < `01_data` < `02_models*` < `02b_runs` < `03_engines`
< `03a_distributed` < `03b_psa` < `04_measure`, `04a_hessian` < `05_run` < `06*_sweep` < `07_analysis` < ...
< `10_cli`. A module may import one of a lower number. Within one number, a letter inserts a notebook
*after* the plain one (`02b_runs` may import `02_models`, not the reverse), and a lettered module may not
import one with a later letter. A plain-numbered module may import the lettered ones of its number: that is
how a number groups an idea split over notebooks (`04_measure` uses `04a_hessian`; `blockopt.sweep` is
exported by `06c_sweep_executors` and gathers `06_sweep`, `06a`, `06b`). Every import counts, also one
inside a function: a lazy import up the stack is still a dependency up the stack.
"""
import ast, json, re
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG, NBS = ROOT/'blockopt', ROOT/'nbs'
MAX_EXPORTED_LINES = 600

def module_name(path:Path) -> str:
    "`blockopt/sweep/__init__.py` -> `blockopt.sweep`; `blockopt/runs.py` -> `blockopt.runs`."
    parts = list(path.relative_to(ROOT).with_suffix('').parts)
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)

def layer(path:Path):
    "(number, letter, notebook) of the notebook exporting `path`, or None for a file no notebook exports."
    m = re.search(r'File to edit: (?:\.\./)+nbs/((\d+)([a-z]?)_[^/\s]*?\.ipynb)', path.read_text()[:1000])
    return (int(m.group(2)), m.group(3), m.group(1)) if m else None

def modules() -> dict:
    "Module name -> (path, layer) of every generated module of the package."
    out = {}
    for p in sorted(PKG.rglob('*.py')):
        if p.name == '_modidx.py': continue
        lay = layer(p)
        if lay: out[module_name(p)] = (p, lay)
    return out

def imported(path:Path, name:str) -> set:
    "The blockopt modules that the module `name` at `path` imports, anywhere in its code (relative imports resolved)."
    pkg = name if path.name == '__init__.py' else name.rsplit('.', 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split('.')[0] == 'blockopt'}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split('.')[:len(pkg.split('.')) - node.level + 1]
                mod = '.'.join(base + ([node.module] if node.module else []))
            else: mod = node.module or ''
            if mod.split('.')[0] != 'blockopt': continue
            out.add(mod)
            out |= {f"{mod}.{a.name}" for a in node.names}  # `from . import hessian` imports a module
    return out

def allowed(a, b) -> bool:
    "Whether a module of layer `a` may import one of layer `b`."
    (na, la, _), (nb, lb, _) = a, b
    return nb < na or (nb == na and (la == '' or lb <= la))

def test_layer_rule():
    assert allowed((4, '', 'x'), (4, 'a', 'y')) and allowed((2, 'b', 'x'), (2, '', 'y')) and allowed((6, 'c', 'x'), (6, 'a', 'y'))
    assert not allowed((2, '', 'x'), (3, '', 'y')) and not allowed((3, 'a', 'x'), (3, 'b', 'y'))
    assert not allowed((6, 'a', 'x'), (6, 'b', 'y'))

def test_headers_are_read():
    mods = modules()
    assert mods['blockopt.core'][1][:2] == (0, '') and mods['blockopt.runs'][1][:2] == (2, 'b')
    assert mods['blockopt.cli'][1][:2] == (10, '') and mods['blockopt.sweep'][1][0] == 6
    assert imported(mods['blockopt.cli'][0], 'blockopt.cli') >= {'blockopt.run', 'blockopt.sweep'}
    assert 'blockopt.run' in imported(mods['blockopt.sweep.tasks'][0], 'blockopt.sweep.tasks')  # an import inside a function
    assert 'blockopt.sweep.spec' in imported(mods['blockopt.sweep'][0], 'blockopt.sweep')  # a relative one
    assert 'blockopt.core' in imported(mods['blockopt.models.blocks'][0], 'blockopt.models.blocks')  # `from ..core import`

def test_no_module_imports_one_above_it():
    mods = modules()
    assert len(mods) >= 15, sorted(mods)
    bad = []
    for name, (path, lay) in mods.items():
        for dep in imported(path, name):
            if dep not in mods or dep == name: continue  # `from blockopt.core import RunConfig` also yields blockopt.core.RunConfig
            if not allowed(lay, mods[dep][1]): bad.append(f"{name} ({lay[2]}) imports {dep} ({mods[dep][1][2]})")
    assert not bad, '\n'.join(bad)

def exported_lines(nb:Path) -> int:
    "Lines of code (neither blank nor comment-only) in the `#| export` cells of a notebook."
    n = 0
    for c in json.loads(nb.read_text())['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'code' and re.match(r'\s*#\|\s*export', src):
            n += sum(1 for l in src.splitlines() if l.strip() and not l.strip().startswith('#'))
    return n

def test_no_notebook_exports_more_than_600_lines():
    sizes = {nb.name: exported_lines(nb) for nb in sorted(NBS.glob('[0-9]*.ipynb'))}
    assert sizes['06_sweep.ipynb'] > 0
    big = {k: v for k, v in sizes.items() if v > MAX_EXPORTED_LINES}
    assert not big, f"notebooks over {MAX_EXPORTED_LINES} exported lines of code (split them by idea): {big}"

"""Every exported symbol of a library notebook is documented on that notebook's page.

What counts as an exported symbol of a notebook `nbs/X.ipynb` (not `nbs/tutorials/`, not `_scratch.ipynb`):

- a name in its module's `__all__` that a top-level `def`, `class` or assignment in one of the notebook's
  `#| export` / `#| exports` cells defines (a cell may export to another module with `#| export other`);
- a method attached with fastcore's `@patch` (`def f(self:Cls, ...)`) in such a cell;
- a public method (`def` in the class body, name not starting with `_`) of an exported class.

What "documented on its page" means, read from nbdev 2.4's own rules (`nbdev/processors.py`, `add_show_docs`,
which `nbdev_proc_nbs` and `nbdev_docs` run): nbdev adds `show_doc(name)` after an exported cell (directive
`export`/`exports`/`exec_doc`, not `hide`, not `include: false`) for each *top-level* `def`/`class` in it whose
name is not private (a leading `_`, dunders excepted) and is not already named in a `show_doc(...)` anywhere
in the notebook; for a `@patch`'d function the added cell is `show_doc(Cls.f)`. So nbdev documents
top-level functions, classes and `@patch`'d methods by itself, and never: methods defined in a class body,
names bound by assignment (`Alias = partial(...)`), or anything in a `#| hide` export cell. Those need an
explicit `show_doc(...)` cell, and it must not be hidden (a `show_doc` in a hidden cell still stops nbdev's
automatic cell, so the symbol would vanish from the page). An explicit `show_doc(Cls.f)` for a `@patch`'d
`f` is reported too: nbdev compares the bare name `f` with `Cls.f`, so the page would show it twice.

Checks, for every symbol that is a function, method or class:

1. it gets a visible `show_doc` on the page (nbdev's automatic one or an explicit cell);
2. it has its own docstring (read from the source, so a dataclass's generated `__doc__` does not count);
3. every parameter has a docments comment or a numpy-style docstring entry, as
   `fastcore.docments.docments` reads them (for a class: its `__init__`, or its fields for a dataclass; for a
   tuple subclass, a NamedTuple or a class built in `__new__`, which docments cannot read, each field named in
   backticks in the class docstring);
   a dataclass field that also carries a `help` in its metadata (`RunConfig`'s, which `--help` prints) must
   have that same text as its comment, so the two cannot drift apart.

Exemptions: private names (leading `_`), so also dunder methods — a class's `__init__` parameters are checked
as the class's own; the parameters `self` and `cls`, and `*args` / `**kwargs`; methods a class inherits (they
are documented where they are defined); names in `__all__` bound to values that are not functions or classes
(constants and tables: `show_doc` cannot render them, prose on the page explains them); a method that overrides one of
a base class (`forward` of an `nn.Module`, `state_dict` of a `Callback`, `measure` of a `Unit`): the protocol
is documented once, where the base class defines it; properties (also `functools.cached_property`) need only
a docstring: nbdev adds no `show_doc` for one in a class body, and its docstring is all one would render.

The same checks, with a report, run outside pytest: `python tests/test_docs_coverage.py [NB ...]`.
"""
import ast, dataclasses, functools, importlib, inspect, re, sys
from pathlib import Path

import nbformat, pytest

from fastcore.docments import docments
from nbdev.process import NBProcessor
from nbdev.processors import add_show_docs, _show_docs, _get_nm
from nbdev.doclinks import patch_name

_EXPORT = {'export', 'exports'}

def library_notebooks(root):
    "The library notebooks: `nbs/*.ipynb` except scratch (`_x.ipynb`), `index.ipynb` and subfolders."
    return sorted(p for p in (Path(root)/'nbs').glob('*.ipynb') if not p.name.startswith('_') and p.name != 'index.ipynb')

def _modname(lib, m):
    "`models.blocks` -> `blockopt.models.blocks`; `sweep.__init__` -> `blockopt.sweep`"
    m = re.sub(r'\.__init__$', '', m)
    return f'{lib}.{m}'

def _visible_show_docs(cells):
    "Names shown by a `show_doc(...)` in cells that are not hidden (after nbdev added its own)."
    names = []
    for c in cells:
        if c.cell_type != 'code' or not c.source: continue
        d = getattr(c, 'directives_', None) or {}
        if 'hide' in d or d.get('include:') == ['false']: continue
        trees = c.parsed_() or []
        names += [_get_nm(t) for t in _show_docs(trees)]
    return names

def _explicit_show_docs(cells):
    "Names in `show_doc(...)` calls written in the notebook, with whether their cell is hidden."
    res = []
    for c in cells:
        if c.cell_type != 'code' or not c.source or getattr(c, 'has_sd', False): continue
        d = getattr(c, 'directives_', None) or {}
        hidden = 'hide' in d or d.get('include:') == ['false']
        res += [(_get_nm(t), hidden) for t in _show_docs(c.parsed_() or [])]
    return res

def _is_patch(node):
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
        (getattr(d, 'id', None) or getattr(getattr(d, 'func', None), 'id', '') or '').startswith('patch') for d in node.decorator_list)

def _decorated_as(node, name):
    return any(getattr(d, 'id', None) == name or getattr(getattr(d, 'func', None), 'id', None) == name for d in node.decorator_list)

def _overrides(klass, name):
    "Whether `klass` overrides `name` from a base class (other than `object`)."
    return any(name in vars(b) for b in klass.__mro__[1:] if b is not object)

def _help_drift(obj):
    "Dataclass fields whose `help` metadata (what `--help` prints) differs from their docments comment."
    if not (inspect.isclass(obj) and dataclasses.is_dataclass(obj)): return []
    dm = docments(obj)
    return [f.name for f in dataclasses.fields(obj) if 'help' in f.metadata and dm.get(f.name) and dm[f.name] != f.metadata['help']]

def _param_gaps(obj):
    "Parameters of `obj` (function, method or class) with neither a docments comment nor a docstring entry."
    try: sig = inspect.signature(obj)
    except (TypeError, ValueError): return []
    try: dm = docments(obj)
    except Exception as e: return [f'<docments failed: {type(e).__name__}: {e}>']
    skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    names = [n for n, p in sig.parameters.items() if n not in ('self', 'cls') and p.kind not in skip]
    if inspect.isclass(obj) and issubclass(obj, tuple):
        # a tuple's fields come through `__new__` (or NamedTuple's generated one), which docments cannot read:
        # each field must be named in backticks in the class docstring instead
        doc = inspect.getdoc(obj) or ''
        return [n for n in names if f'`{n}`' not in doc]
    return [n for n in names if not dm.get(n)]

def audit_notebook(path, lib='blockopt'):
    "(symbols, gaps) of one notebook: symbols are qualified names, gaps are `(name, problem)` pairs."
    proc = NBProcessor(path, procs=[add_show_docs])
    cells = proc.nb.cells
    explicit = _explicit_show_docs(cells)
    default = next((c.directives_['default_exp'][0] for c in cells if c.cell_type == 'code' and 'default_exp' in (c.directives_ or {})), None)
    defs = []  # (module, ast node) for top-level statements of exported cells
    for c in cells:
        d = c.directives_ or {}
        if c.cell_type != 'code' or not (_EXPORT & set(d)): continue
        args = next((d[k] for k in _EXPORT if k in d), [])
        mod = args[0] if args else default
        defs += [(mod, n) for n in (c.parsed_() or [])]
    proc.process()
    shown = set(_visible_show_docs(proc.nb.cells))
    symbols, gaps = [], []
    def check(qual, obj, node, need_show=True, check_params=True):
        symbols.append(qual)
        if need_show and qual not in shown: gaps.append((qual, 'no show_doc on the page'))
        doc = ast.get_docstring(node) if node is not None else inspect.getdoc(obj)
        if not (doc or '').strip(): gaps.append((qual, 'no docstring'))
        if check_params:
            for p in _param_gaps(obj): gaps.append((qual, f'parameter `{p}` has no docments comment'))
            for p in _help_drift(obj): gaps.append((qual, f'field `{p}`: its docments comment is not its `help`'))
    mods = {}
    for mod, node in defs:
        if mod not in mods: mods[mod] = importlib.import_module(_modname(lib, mod))
        m = mods[mod]
        all_ = set(getattr(m, '__all__', []))
        if _is_patch(node):
            if node.name.startswith('_'): continue
            qual = patch_name(node)
            if isinstance(qual, list): gaps.append((node.name, f'@patch on a union {qual}: nbdev writes a broken show_doc')); continue
            cls_nm = qual.rsplit('.', 1)[0]
            klass = getattr(m, cls_nm.split('.')[-1])
            obj = getattr(klass, node.name)
            if _overrides(klass, node.name): continue
            if _decorated_as(node, 'property') or isinstance(inspect.getattr_static(klass, node.name), (property, functools.cached_property)):
                check(qual, obj, node, need_show=False, check_params=False)
            else: check(qual, obj, node)
            continue
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name not in all_: continue
            obj = getattr(m, node.name)
            check(node.name, obj, node)
            if isinstance(node, ast.ClassDef):
                for sub in node.body:
                    if not isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)) or sub.name.startswith('_'): continue
                    qual = f'{node.name}.{sub.name}'
                    if _overrides(obj, sub.name): continue
                    raw = inspect.getattr_static(obj, sub.name)
                    if isinstance(raw, (property, functools.cached_property)): check(qual, raw, sub, need_show=False, check_params=False)
                    else: check(qual, getattr(obj, sub.name), sub)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for nm in [e.id for e in getattr(t, 'elts', [t]) if isinstance(e, ast.Name)]:
                    if nm not in all_: continue
                    obj = getattr(m, nm)
                    if inspect.isfunction(obj) or inspect.isclass(obj) or callable(obj) and hasattr(obj, 'func'):
                        check(nm, obj, None)
    for nm, hidden in explicit:
        if hidden and nm in symbols: gaps.append((nm, 'its show_doc cell is hidden'))
    patched = {q for mod, n in defs if _is_patch(n) for q in [patch_name(n)] if isinstance(q, str)}
    for nm, hidden in explicit:
        if nm in patched: gaps.append((nm, 'explicit show_doc of a @patch method: nbdev shows it twice'))
    return symbols, gaps

ROOT = Path(__file__).resolve().parents[1]

@pytest.mark.parametrize('nb', library_notebooks(ROOT), ids=lambda p: p.stem)
def test_exported_symbols_documented(nb):
    "Each library notebook documents every exported function, class and method on its page."
    symbols, gaps = audit_notebook(nb)
    assert not gaps, f"{nb.name}: {len(gaps)} documentation gaps:\n" + '\n'.join(f'  {q}: {w}' for q, w in gaps)

def test_audit_finds_gaps(tmp_path, monkeypatch):
    "The audit is not vacuous: an undocumented method, parameter and hidden show_doc are each caught."
    pkg = tmp_path/'fakelib'; pkg.mkdir(); (pkg/'__init__.py').write_text('')
    code = [
        'class Good:\n    "A documented class."\n    def __init__(self, a:int): # the a\n        self.a = a\n'
        '    def run(self, n:int, # how many\n           ):\n        "Run `n` times."\n'
        '    def bare(self, n): return n\n',
        '@patch\ndef twice(self:Good, k): "Patched."; return k\n',
        'def hidden_fn(x, # the x\n             ):\n    "Hidden."\n',
    ]
    (pkg/'m.py').write_text('from fastcore.basics import patch\n__all__ = ["Good", "hidden_fn"]\n' + '\n'.join(code))
    cells = [nbformat.v4.new_code_cell('#| default_exp m'),
             nbformat.v4.new_code_cell('#| export\n' + code[0]), nbformat.v4.new_code_cell('show_doc(Good.run)'),
             nbformat.v4.new_code_cell('#| export\n' + code[1]), nbformat.v4.new_code_cell('show_doc(Good.twice)'),
             nbformat.v4.new_code_cell('#| export\n' + code[2]), nbformat.v4.new_code_cell('#| hide\nshow_doc(hidden_fn)')]
    nb = nbformat.v4.new_notebook(cells=cells, metadata={'kernelspec': {'language': 'python', 'name': 'python3', 'display_name': 'Python 3'}})
    path = tmp_path/'00_m.ipynb'; nbformat.write(nb, path)
    monkeypatch.syspath_prepend(str(tmp_path))
    symbols, gaps = audit_notebook(path, lib='fakelib')
    assert set(symbols) == {'Good', 'Good.run', 'Good.bare', 'Good.twice', 'hidden_fn'}
    assert set(gaps) == {('Good.bare', 'no show_doc on the page'), ('Good.bare', 'no docstring'),
                         ('Good.bare', 'parameter `n` has no docments comment'),
                         ('Good.twice', 'parameter `k` has no docments comment'),
                         ('Good.twice', 'explicit show_doc of a @patch method: nbdev shows it twice'),
                         ('hidden_fn', 'no show_doc on the page'), ('hidden_fn', 'its show_doc cell is hidden')}

if __name__ == '__main__':
    tot = 0
    for nb in [Path(a) for a in sys.argv[1:]] or library_notebooks(ROOT):
        syms, gaps = audit_notebook(nb); tot += len(gaps)
        print(f'{nb.name}: {len(syms)} symbols, {len(gaps)} gaps')
        for q, w in gaps: print(f'    {q}: {w}')
    sys.exit(1 if tot else 0)

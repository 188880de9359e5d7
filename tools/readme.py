"""Write README.md from nbs/index.ipynb: run the notebook (execnb), keep its outputs, render it as Markdown.

nbdev_readme needs Quarto, which these machines lack; this does the same job for the README alone.
Hidden cells (`#| hide`) are left out and nbdev's `#|` directives are stripped.
Usage: python tools/readme.py   (`make readme`)
"""
from pathlib import Path
from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell

ROOT = Path(__file__).resolve().parents[1]

def _directives(src): return [l for l in src.splitlines() if l.startswith('#|')]

def _output_text(o):
    if o.get('output_type') == 'stream': return ''.join(o['text'])
    data = o.get('data', {})
    if 'text/markdown' in data: return None
    return ''.join(data.get('text/plain', ''))

def render(nb) -> str:
    "Markdown of a notebook: markdown cells as they are, code cells and their text outputs in fences."
    parts = []
    for c in nb.cells:
        if c.cell_type == 'markdown': parts.append(c.source); continue
        if any('hide' in d for d in _directives(c.source)): continue
        code = '\n'.join(l for l in c.source.splitlines() if not l.startswith('#|')).strip()
        if code: parts.append(f"```python\n{code}\n```")
        outs = [t for t in map(_output_text, c.get('outputs', [])) if t]
        if outs: parts.append("```\n" + ''.join(outs).rstrip() + "\n```")
    return '\n\n'.join(parts) + '\n'

if __name__ == '__main__':
    path = ROOT/'nbs'/'index.ipynb'
    nb = read_nb(path)
    CaptureShell().run_all(nb, exc_stop=True)
    write_nb(nb, path)  # keep the outputs: they are the documentation
    (ROOT/'README.md').write_text(render(nb))
    print(f"wrote {ROOT/'README.md'}")

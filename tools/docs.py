"""The docs site without Quarto (`make docs`), and the papers' pages for either site.

    python tools/docs.py papers   # papers/README.md, papers/*/README.md and their figures -> _proc/papers/*/index.md
    python tools/docs.py build    # proc, papers, tree, then `mkdocs build`: the site in _docs/

nbdev_docs (with Quarto) renders _proc/ and runs `papers` as _quarto.yml's pre-render step. Without Quarto:
1. proc: nbdev's notebook processors (what nbdev_proc_nbs runs: frontmatter, exec_show_docs, doc links, ...)
   from nbs/ into _proc/. nbdev_proc_nbs itself would first try to download Quarto; here the notebooks run
   one after another in one process (torch is imported once) and every failing notebook is named.
2. papers: as above.
3. tree: _proc/ -> _proc/_mkdocs/, what MkDocs reads. Quarto-only syntax is turned into what Jupyter renders:
   the frontmatter becomes the title heading, `#|` directives are applied (include, echo, output: asis) and
   removed, `[x](u){attrs}` becomes an HTML link, nbdev's absolute doc links become relative ones, and each
   notebook takes its Quarto output name (04a_hessian.ipynb -> hessian.ipynb), so both sites have one URL layout.
4. mkdocs build with mkdocs.yml, which loads this file as a hook: the navigation comes from nbs/sidebar.yml,
   and remote scripts (MathJax from a CDN) are dropped so that the site works offline.
The `papers` step uses the standard library alone (Quarto runs it with whichever python is on PATH).
"""
from __future__ import annotations
import configparser, json, os, re, shutil, subprocess, sys, time, warnings
from pathlib import Path, PurePosixPath

ROOT = Path(__file__).resolve().parents[1]
NBS, PROC, SITE = ROOT/'nbs', ROOT/'_proc', ROOT/'_docs'
TREE = PROC/'_mkdocs'
IMAGES = ('.png', '.jpg', '.jpeg', '.svg', '.gif', '.webp')
LINK = re.compile(r'(!?\[[^\]]*\]\()([^)\s]+)(\))')  # markdown links and images: [text](target)

def settings() -> dict:
    cfg = configparser.ConfigParser(); cfg.read(ROOT/'settings.ini')
    return dict(cfg['DEFAULT'])

# ---------------------------------------------------------------- 1. proc
def proc():
    "nbdev's processors over every file of nbs/ that changed since the last run, into _proc/."
    from nbdev.config import get_config
    from nbdev.doclinks import nbglob
    import nbdev.serve, nbdev.serve_drv
    cfg = get_config()
    files = nbglob(NBS, func=Path, file_glob='', file_re='') + [p for p in [NBS/'_quarto.yml'] if p.exists()]
    stale = max(cfg.config_file.stat().st_mtime, Path(nbdev.serve.__file__).stat().st_mtime)
    if PROC.exists() and PROC.stat().st_mtime < stale: shutil.rmtree(PROC)  # as proc_nbs: settings changed
    PROC.mkdir(exist_ok=True)
    since = PROC.stat().st_mtime  # read once: _proc_file's copies move _proc's mtime on (as nbdev.serve.proc_nbs does)
    tasks = [t for f in files if (t := nbdev.serve._proc_file(f, PROC, NBS, mtime=since))]
    failed = []
    for src, dst, filt in tasks:
        t0 = time.time()
        with warnings.catch_warnings(record=True) as ws:
            warnings.simplefilter('always')
            try: nbdev.serve_drv.main((src, dst, filt))
            except Exception as e:
                cause, hint = e.__cause__ or e, ''
                if any('imports and other code' in str(w.message) for w in ws):
                    hint = " (exec_show_docs runs every cell with an import: give the imports a cell of their own)"
                msg = str(e).splitlines() + ['', '']
                failed.append(f"{src.relative_to(ROOT)}: {msg[0].rstrip(' :')} (`{msg[1][:60]}`...): "
                              f"{type(cause).__name__}: {cause}{hint}")
                Path(dst).unlink(missing_ok=True)  # no stale page: the next build processes it again
        print(f"  proc {src.relative_to(NBS)} ({time.time() - t0:.1f}s)", flush=True)
    PROC.touch()
    if failed: sys.exit("nbdev's processors failed on:\n  " + "\n  ".join(failed))

# ---------------------------------------------------------------- 2. papers
def _paper_link(target:str, folder:Path, out_dir:Path, s:dict) -> str:
    "Where a README's link points from the docs tree: its images are copied along, other repo files go to GitHub."
    if re.match(r'^[a-z]+:|^#|^/', target): return target
    path, _, frag = target.partition('#')
    src = (folder/path).resolve()
    if not src.exists():
        print(f"  warning: {folder.relative_to(ROOT)}/README.md links to {target}, which does not exist", file=sys.stderr)
        return target
    if src.suffix.lower() in IMAGES:
        (out_dir/path).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(src, out_dir/path)
        return target
    papers = ROOT/'papers'
    if src.is_dir() and (src/'README.md').exists() and papers in [src, *src.parents]: src = src/'README.md'
    if src.name == 'README.md' and papers in src.parents:
        page = PurePosixPath(os.path.relpath(src.parent/'index.md', folder))
        return str(page) + (f'#{frag}' if frag else '')
    rel = src.relative_to(ROOT).as_posix()
    return f"{s['git_url']}/{'tree' if src.is_dir() else 'blob'}/{s['branch']}/{rel}" + (f'#{frag}' if frag else '')

def papers(dest:Path=None):
    "papers/README.md and papers/*/README.md as `index.md` pages under `dest` (default _proc/papers/), figures included."
    dest, s = Path(dest or PROC/'papers'), settings()
    readmes = [ROOT/'papers'/'README.md', *sorted((ROOT/'papers').glob('*/README.md'))]
    for readme in readmes:
        folder = readme.parent
        out = dest/folder.relative_to(ROOT/'papers')/'index.md'
        out.parent.mkdir(parents=True, exist_ok=True)
        text = LINK.sub(lambda m: m[1] + _paper_link(m[2], folder, out.parent, s) + m[3], readme.read_text())
        text = re.sub(r'(<img[^>]*src=")([^"]+)', lambda m: m[1] + _paper_link(m[2], folder, out.parent, s), text)
        out.write_text(text)
    print(f"  papers: {len(readmes)} pages in {dest}")

# ---------------------------------------------------------------- 3. tree
def _frontmatter(nb) -> dict:
    import yaml
    c = nb['cells'][0] if nb['cells'] else None
    if c and c['cell_type'] == 'raw' and ''.join(c['source']).lstrip().startswith('---'):
        return yaml.safe_load(''.join(c['source']).strip().strip('-')) or {}
    return {}

def out_names() -> dict:
    "Each processed notebook's path in _proc/ -> its page's path (Quarto's `output-file`, as .ipynb)."
    res = {}
    for p in sorted(PROC.rglob('*.ipynb')):
        rel = p.relative_to(PROC)
        if rel.parts[0].startswith(('_', '.')): continue
        of = _frontmatter(json.loads(p.read_text())).get('output-file')
        res[rel.as_posix()] = (rel.parent/Path(of).with_suffix('.ipynb').name).as_posix() if of else rel.as_posix()
    return res

def _directives(src:str):
    "nbdev/Quarto `#|` directives at the top of a cell, and the code without them."
    lines, dirs = src.splitlines(), {}
    while lines and (lines[0].startswith('#|') or not lines[0].strip()):
        l = lines.pop(0)[2:].strip()
        if l: k, _, v = l.partition(':') if ':' in l else (l, '', ''); dirs[k.strip()] = v.strip()
    return dirs, '\n'.join(lines)

def _fix_md(text:str, page:str, names:dict, s:dict) -> str:
    "Pandoc link attributes to HTML, nbdev's absolute doc links and links between notebooks to relative pages."
    # nbdev links names in show_doc's signatures too, where Markdown is not rendered: keep the plain `name`
    text = re.sub(r'```.*?```', lambda m: re.sub(r'\[(`[^`\n]+`)\]\([^)\s]+\)', r'\1', m[0]), text, flags=re.S)
    text = re.sub(r'\[([^\]]+)\]\(([^)\s]+)\)\{([^}]*)\}',
                  lambda m: f'<a href="{m[2]}" {m[3]}>{m[1]}</a>', text)
    base, here = (s['doc_host'] + s['doc_baseurl']).rstrip('/') + '/', PurePosixPath(page).parent
    html = {k[:-len('.ipynb')] + '.html': v[:-len('.ipynb')] + '.html' for k, v in names.items()}
    def fix(url:str) -> str:
        if url.startswith(base): path, _, frag = url[len(base):].partition('#')  # a path from the site's top
        elif re.match(r'^[a-z]+:|^#|^/', url) or '.ipynb' not in url: return url
        else:
            path, _, frag = url.partition('#')
            path = os.path.normpath(str(here/path)).replace(os.sep, '/')
        path = names.get(path, html.get(path, path))
        if path.endswith('.ipynb'): path = path[:-len('.ipynb')] + '.html'
        return os.path.relpath(path, here).replace(os.sep, '/') + (f'#{frag}' if frag else '')
    text = LINK.sub(lambda m: m[1] + fix(m[2]) + m[3], text)
    return re.sub(r'(<a [^>]*href=")([^"]+)', lambda m: m[1] + fix(m[2]), text)

def _anchors(md:str) -> str:
    "show_doc's headings get Pandoc's ids too (`HessianOperator.matvec` -> `hessianoperator.matvec`), which nbdev's doc links use."
    return re.sub(r'^#{1,6} ([\w.]+)\s*$', lambda m: f'<a id="{m[1].lower()}"></a>\n\n{m[0]}', md, flags=re.M)

def _md_cell(src:str) -> dict: return dict(cell_type='markdown', metadata={}, source=src)

def tree_nb(nb:dict, page:str, names:dict, s:dict) -> dict:
    "One processed notebook as Jupyter renders it: what Quarto would show, without Quarto's syntax."
    fm, cells = _frontmatter(nb), []
    if fm: nb['cells'] = nb['cells'][1:]
    if fm.get('title'):
        cells.append(_md_cell(f"# {fm['title']}" + (f"\n\n> {fm['description'].strip()}" if fm.get('description') else '')))
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'raw': continue
        if c['cell_type'] == 'markdown': cells.append(_md_cell(_fix_md(src, page, names, s))); continue
        dirs, code = _directives(src)
        if dirs.get('include') == 'false' or 'hide' in dirs: continue
        outs = [] if dirs.get('output') == 'false' else c.get('outputs', [])
        for o in outs:  # widget views need the widget state and a CDN script: their text stands in for them
            o.get('data', {}).pop('application/vnd.jupyter.widget-view+json', None)
            if 'text/markdown' in o.get('data', {}):
                o['data']['text/markdown'] = _fix_md(''.join(o['data']['text/markdown']), page, names, s)
        if dirs.get('output') == 'asis' or (dirs.get('echo') == 'false' and outs and
                                            all('text/markdown' in o.get('data', {}) for o in outs)):
            cells += [_md_cell(_anchors(o['data']['text/markdown'])) for o in outs]; continue  # raw markdown, as Quarto
        meta = {'tags': ['remove_input']} if dirs.get('echo') == 'false' else {}
        if not code.strip() and not outs: continue
        cells.append(dict(c, source=code, outputs=outs, metadata=meta))
    nb['cells'] = cells
    nb['metadata'].pop('widgets', None)
    return nb

def tree():
    "_proc/ -> _proc/_mkdocs/: the notebooks (renamed, Quarto syntax applied) and the papers' pages and figures."
    s, names = settings(), out_names()
    if TREE.exists(): shutil.rmtree(TREE)
    for rel, page in names.items():
        nb = tree_nb(json.loads((PROC/rel).read_text()), page, names, s)
        (TREE/page).parent.mkdir(parents=True, exist_ok=True)
        (TREE/page).write_text(json.dumps(nb, indent=1))
    for f in PROC.rglob('*'):  # figures and pages that are not notebooks (the papers, images beside notebooks)
        rel = f.relative_to(PROC)
        if f.is_file() and not rel.parts[0].startswith(('_', '.')) and f.suffix in (*IMAGES, '.md'):
            (TREE/rel).parent.mkdir(parents=True, exist_ok=True); shutil.copy2(f, TREE/rel)
    print(f"  tree: {len(names)} notebooks in {TREE}")

# ---------------------------------------------------------------- 4. MkDocs hooks (mkdocs.yml: hooks)
def _expand(entry, names:dict) -> list:
    "A Quarto sidebar entry (a path or a glob; a leading / keeps it to the top folder) -> MkDocs page paths."
    pats = entry if isinstance(entry, list) else [entry]
    res = []
    for pat in pats:
        if isinstance(pat, dict): raise ValueError(f"sidebar.yml: nested entry {pat!r} is not supported here: use paths or globs")
        if any(ch in pat for ch in '*?['):
            hits = sorted(p.relative_to(PROC).as_posix() for p in PROC.glob(pat.lstrip('/')))
            res += [names.get(h, h) for h in hits if not h.startswith(('_', '.'))]
        else: res.append(names.get(pat, pat))
    return res

def nav(sidebar:Path=NBS/'sidebar.yml') -> list:
    "MkDocs' nav from Quarto's sidebar: the same sections, in the same order."
    import yaml
    names, out = out_names(), []
    for e in yaml.safe_load(sidebar.read_text())['website']['sidebar']['contents']:
        if isinstance(e, dict): out.append({e['section']: _expand(e.get('contents', []), names)})
        else: out += _expand(e, names)
    return out

def on_config(config, **kw):
    config['nav'] = nav()
    return config

def on_post_page(output:str, page, config, **kw) -> str:
    "Drop scripts from other hosts (mkdocs-jupyter's MathJax): the site must work offline."
    return re.sub(r'<script[^>]*\bsrc="(?:https?:)?//[^"]*"[^>]*>\s*</script>', '', output)

# ---------------------------------------------------------------- all of it
def build():
    t0 = time.time()
    proc(); t1 = time.time()
    papers(); tree()
    r = subprocess.run([sys.executable, '-m', 'mkdocs', 'build', '--quiet', '-f', str(ROOT/'mkdocs.yml')], cwd=ROOT,
                       env={**os.environ, 'NO_MKDOCS_2_WARNING': '1'})
    if r.returncode: sys.exit(r.returncode)
    print(f"docs: {SITE}/index.html (proc {t1 - t0:.0f}s, site {time.time() - t1:.0f}s)")

if __name__ == '__main__':
    steps = dict(proc=proc, papers=papers, tree=tree, build=build)
    if len(sys.argv) != 2 or sys.argv[1] not in steps:
        sys.exit(f"usage: python tools/docs.py {{{'|'.join(steps)}}}")
    steps[sys.argv[1]]()

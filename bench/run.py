"""Run every benchmark in bench/ and write bench/RESULTS.md: `make bench`, or `.venv/bin/python bench/run.py`.

Each script runs in its own process (the scripts set torch's thread count and patch PyHessian at import), with
`BLOCKOPT_BENCH_RECORD` naming a JSON-lines file; the records they append through `bench/_report.py`, one per
ratio with both sides' figures, become one table per script. The header says where and when it was measured.
`--quick` runs every script at smaller sizes (see `QUICK`). On two shared cores the full run took 5.5 min at load
average ~1 and ~11 min at ~9; `--quick` took 5 min at ~8.

    .venv/bin/python bench/run.py [--quick] [--out bench/RESULTS.md] [script ...]
"""
import argparse, ast, datetime, json, os, platform, subprocess, sys, tempfile, time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
QUICK = {'analysis': ['--runs', '1000'], 'data_loading': ['--n', '20000', '--tensor_epochs', '3'],
         'engines': ['--chunks', '40', '--repeats', '1'], 'hessian': ['--repeats', '3'], 'sweep': ['--run-seconds', '3']}

def scripts() -> dict:
    "The benchmark scripts by name: every bench/*.py but this runner and the private helpers."
    return {p.stem: p for p in sorted(HERE.glob('*.py')) if p.stem != 'run' and not p.stem.startswith('_')}

def run_script(path:Path, args:list, record_file:Path) -> tuple:
    "Run one script, echoing its output as it comes; (exit code, seconds, output)."
    cmd = [sys.executable, '-u', str(path), *args]
    print(f"== {' '.join([Path(sys.executable).name, str(path.relative_to(ROOT)), *args])}", flush=True)
    env = {**os.environ, 'BLOCKOPT_BENCH_RECORD': str(record_file)}
    t0, out = time.perf_counter(), []
    with subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as p:
        for line in p.stdout: print(line, end='', flush=True); out.append(line)
    return p.returncode, time.perf_counter() - t0, ''.join(out)

def cpu_model() -> str:
    try: return next(l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name'))
    except (OSError, StopIteration): return platform.processor() or platform.machine()

def git_commit() -> str:
    try:
        head = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(['git', 'status', '--porcelain', '--untracked-files=no'], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return head + (' (with uncommitted changes)' if dirty else '')
    except (OSError, subprocess.CalledProcessError): return 'unknown'

def machine(load_start:tuple, load_end:tuple) -> list:
    "The header's lines: what the figures were measured on."
    import torch
    gpu = (f"{torch.cuda.get_device_name(0)} (present, unused: every benchmark here runs on the CPU)"
           if torch.cuda.is_available() else 'none (torch.cuda.is_available() is False)')
    return [f"- CPU: {cpu_model()}, {os.cpu_count()} logical CPUs (os.cpu_count())",
            f"- GPU: {gpu}",
            f"- Load average (1 min) {load_start[0]:.1f} at the start, {load_end[0]:.1f} at the end",
            f"- Python {platform.python_version()}, torch {torch.__version__}, {platform.system()} {platform.release()}",
            f"- blockopt commit {git_commit()}"]

def fmt(v:float) -> str: return f"{v:.4g}"

def cell(s:str) -> str: return str(s).replace('|', '\\|').replace('\n', ' ')

def report(results:list, quick:bool, load_start, load_end, started:datetime.datetime, total:float) -> str:
    "RESULTS.md: the header, then per script its reproduce command, a table of its ratios and its printed output."
    cmd = 'make bench' + (' BENCH_ARGS=--quick' if quick else '')
    lines = ['# Benchmark results', '',
             f"Written by `{cmd}` (`bench/run.py{' --quick' if quick else ''}`) on {started.isoformat(timespec='minutes')}; "
             f"all benchmarks took {total / 60:.1f} min{' at the quick sizes' if quick else ''}.", '',
             *machine(load_start, load_end), '',
             'Each row is one ratio, always the first side over the second (A / B), with both sides\' figures. '
             'Both sides are measured side by side in one process and one run (interleaved where the script says so), '
             'so they see the same machine; the ratio is what to read. The absolute figures move with the machine\'s '
             'load: this machine has two cores shared with other work, so expect noise, and compare the load '
             'average above before comparing figures across reports. Targets are the goals the scripts state.', '']
    for name, path, args, secs, rows, output in results:
        doc = (ast.get_docstring(ast.parse(path.read_text())) or name).splitlines()[0]
        lines += [f"## {path.name}: {doc}", '',
                  f"Reproduce: `.venv/bin/python bench/{path.name}{''.join(' ' + a for a in args)}` ({secs:.0f} s here).", '',
                  '| measurement | A | B | ratio A / B | target | notes |', '|---|---|---|---|---|---|']
        for r in rows:
            lines.append('| ' + ' | '.join(cell(c) for c in (
                r['what'], f"{r['a']}: {fmt(r['a_value'])} {r['unit']}", f"{r['b']}: {fmt(r['b_value'])} {r['unit']}",
                f"{r['ratio_name']}: **{r['ratio']:.3g}**", r['target'], r['note'])) + ' |')
        lines += ['', f"<details><summary>output of {path.name}</summary>", '', '```', output.rstrip(), '```', '',
                  '</details>', '']
    return '\n'.join(lines)

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('names', nargs='*', help=f"scripts to run (default: all of {', '.join(scripts())})")
    p.add_argument('--quick', action='store_true', help='smaller sizes: a few minutes in all')
    p.add_argument('--out', default=str(HERE/'RESULTS.md'), help='where to write the report')
    a = p.parse_args()
    available = scripts()
    if bad := [n for n in a.names if n.removesuffix('.py') not in available]:
        p.error(f"script={bad[0]!r} is not a benchmark; allowed: {', '.join(available)}")
    names = [n.removesuffix('.py') for n in a.names] or list(available)
    started, load_start, t0 = datetime.datetime.now().astimezone(), os.getloadavg(), time.perf_counter()
    results = []
    with tempfile.TemporaryDirectory(prefix='bench-records-') as tmp:
        for name in names:
            record_file, args = Path(tmp)/f'{name}.jsonl', QUICK.get(name, []) if a.quick else []
            rc, secs, output = run_script(available[name], args, record_file)
            if rc != 0: sys.exit(f"bench/{name}.py failed (exit {rc}); {a.out} not written")
            rows = [json.loads(l) for l in record_file.read_text().splitlines()] if record_file.exists() else []
            if not rows: sys.exit(f"bench/{name}.py recorded no ratio (bench/_report.py record); {a.out} not written")
            results.append((name, available[name], args, secs, rows, output))
    total = time.perf_counter() - t0
    Path(a.out).write_text(report(results, a.quick, load_start, os.getloadavg(), started, total))
    print(f"\n== {sum(len(r[4]) for r in results)} ratios from {len(results)} scripts in {total:.0f} s -> {a.out}")
    for _, path, _, _, rows, _ in results:
        for r in rows: print(f"{path.stem:>13}  {r['ratio_name']}: {r['ratio']:.3g}  ({r['what']})")

if __name__ == '__main__':
    main()

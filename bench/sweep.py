"""Sweep benchmarks, each a ratio measured side by side in one run (CPU, one thread per run).

1. Function mode: the sweep's overhead per run over the run's own compute, i.e. the sweep's wall time minus
   the same `run_config(cfg)` calls timed in one warm process (target <= 0.5 s), for persistent workers (the
   default) and for a fresh process per run (`worker: fresh`, what `blockopt train` in a subprocess costs).
2. Notebook mode: the same for papermill runs of tests/fixtures/sweep_run.ipynb (target <= 3 s).
3. Two workers vs one on a grid of CPU-bound one-thread runs (target >= 1.8x on 2 cores).

"all-in" divides everything (worker and kernel start-up included) by the number of runs; "steady" counts
only what comes after the first run has finished, i.e. what each further run of a long sweep costs.

Run: `.venv/bin/python bench/sweep.py [--run-seconds 8]` (or `make bench`); `--run-seconds` sets the compute of
each run in part 3 (`make bench BENCH_ARGS=--quick` uses 3).
"""
import argparse, os, shutil, sys, tempfile, time
from pathlib import Path
os.environ['BLOCKOPT_THREADS'] = '1'
import torch
torch.set_num_threads(1)
from blockopt.core import RunConfig
from blockopt.run import run_config
from blockopt.sweep import load_spec, run_sweep, sweep_configs
from _report import record

ROOT = Path(__file__).resolve().parents[1]
TMP = Path(tempfile.mkdtemp(prefix='bench-sweep-'))
TINY = {'model': 'mnist1d_mlp', 'dataset_name': 'mnist1d', 'max_train_samples': 200, 'batch_size': 50, 'rounds': 2,
        'data_root': str(TMP/'data')}

def compute(spec:dict, runs_dir) -> list:
    "Seconds of each run's own `run_config(cfg)` in this (warm) process."
    out = []
    for cfg in sweep_configs(load_spec(spec), runs_dir):
        t0 = time.perf_counter(); run_config(cfg, verbose=False); out.append(time.perf_counter() - t0)
    return out

def sweep(spec:dict, runs_dir, workers=1):
    "Run the sweep; (wall seconds, seconds from the first run's start to the last run's end, each run's end)."
    t0 = time.time()
    df = run_sweep(spec, runs_dir=runs_dir, workers=workers, progress=False, out=None)
    assert (df.state == 'done').all(), df
    ends = [t - df.attrs['started'] for t, _ in df.attrs['completed']]
    first_start = min(t - d for t, d in df.attrs['completed']) - df.attrs['started']
    return time.time() - t0, max(ends) - first_start, ends

def overhead(spec:dict, name:str, target=None, workers=1):
    "All-in and steady per-run overhead of a sweep of `spec` over the same runs' compute in this process."
    own = compute(spec, TMP/f'{name}-inproc')
    wall, _, ends = sweep(spec, TMP/f'{name}-sweep', workers)
    n = len(own)
    all_in = (wall - sum(own)) / n
    steady = ((ends[-1] - ends[0]) - sum(own[1:])) / (n - 1)
    print(f"{name:28s} {n:3d} runs  compute/run {sum(own) / n:6.3f} s  sweep {wall:6.1f} s  "
          f"overhead/run: all-in {all_in:6.3f} s, steady {steady:6.3f} s")
    for kind, a, b, over in (('all-in', wall / n, sum(own) / n, all_in),
                             ('steady', (ends[-1] - ends[0]) / (n - 1), sum(own[1:]) / (n - 1), steady)):
        record(f"{name}, {n} runs, seconds per run {kind}", 'sweep', a, 'run_config in one warm process', b,
               's per run', target=f"overhead (sweep - in-process) <= {target} s" if target else '', note=f"overhead {over:.3f} s per run")
    return all_in, steady

def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--run-seconds', type=float, default=8.0, help="about how many seconds of compute each run of part 3 has")
    args = p.parse_args()
    print(f"== sweep overhead per run over the run's own compute (one worker, {os.cpu_count()} cores)")
    run_config(RunConfig(**TINY, runs_dir=str(TMP/'warm')), verbose=False)  # generate the dataset once, warm this process
    grid = {'base': TINY, 'grid': {'K': [1, 2, 3]}, 'repeats': 4, 'preload': ['blockopt.cli']}
    f_all, f_steady = overhead(grid, 'function (persistent worker)', 0.5)
    fresh = {**grid, 'repeats': 1, 'worker': 'fresh'}
    overhead(fresh, 'function (fresh process/run)')  # for reference: what a subprocess per run costs
    shutil.copy(ROOT/'tests'/'fixtures'/'sweep_run.ipynb', TMP/'run.ipynb')
    nb = {'base': TINY, 'grid': {'K': [1, 2, 3]}, 'repeats': 2, 'mode': 'notebook', 'notebook': str(TMP/'run.ipynb')}
    n_all, n_steady = overhead(nb, 'notebook (warm kernels)', 3)

    print("\n== two workers vs one, CPU-bound one-thread runs")
    probe = {**TINY, 'max_train_samples': None, 'batch_size': 100, 'K': 20, 'rounds': 10}
    t0 = time.perf_counter(); run_config(RunConfig(**probe, runs_dir=str(TMP/'probe')), verbose=False)
    rounds = max(10, int(10 * args.run_seconds / (time.perf_counter() - t0)))  # about 8 s of compute per run by default, so worker start-up (torch import) is a small part
    cpu = {'base': {**probe, 'rounds': rounds}, 'grid': {'seed': list(range(8))}, 'preload': ['blockopt.cli']}
    one, one_runs, _ = sweep(cpu, TMP/'one', workers=1)
    two, two_runs, _ = sweep(cpu, TMP/'two', workers=2)
    print(f"8 runs of {rounds} rounds: 1 worker {one:.1f} s, 2 workers {two:.1f} s: speed-up {one / two:.2f}x all-in "
          f"(worker start-up included), {one_runs / two_runs:.2f}x from the first run's start to the last run's end "
          f"(target >= 1.8)")
    what = f"8 one-thread runs of {rounds} rounds (about {args.run_seconds:g} s each), {os.cpu_count()} cores"
    record(f"{what}, sweep wall time", '1 worker', one, '2 workers', two, 's', target='>= 1.8',
           note='all-in: worker start-up included')
    record(f"{what}, first run's start to last run's end", '1 worker', one_runs, '2 workers', two_runs, 's', target='>= 1.8')
    print(f"\nfunction mode overhead/run {f_steady:.3f} s steady, {f_all:.3f} s all-in (target <= 0.5); "
          f"notebook mode {n_steady:.3f} s steady, {n_all:.3f} s all-in (target <= 3)")
    shutil.rmtree(TMP, ignore_errors=True)

if __name__ == '__main__': main()

"""Reading a runs directory: a plain json + pandas loop against `blockopt.analysis.load_runs`, cold and warm.

Builds N synthetic run directories (real `RunDir` layout: config.json, status.json, metrics.csv, DONE) with R
report rows each in a temporary folder, then times, in one process and one run:
  plain  - for each run: json.load(config.json) + pd.read_csv(metrics.csv), then pd.concat
  cold   - load_runs with no cache (reads everything, writes runs_dir/.cache/)
  warm   - load_runs again with nothing changed (stats the files, reads the cache)
  touch1 - load_runs after one run changed (reads that run only)
and prints the times side by side with the ratios. Usage: python bench/analysis.py [--runs 5000] [--rows 50]
"""
import argparse, json, os, shutil, sys, tempfile, time, warnings
from pathlib import Path
import numpy as np, pandas as pd
from blockopt.core import RunConfig, atomic_write
from blockopt.runs import RunDir
from blockopt.analysis import load_runs
from _report import record

def make_runs(root, n, rows):
    "Write `n` finished runs of `rows` reports each (varying K, step_size and seed), as the run store does."
    base = RunConfig(model='mnist1d_mlp', training_mode='blockwise_sequential').to_dict()
    rng = np.random.default_rng(0)
    for i in range(n):
        cfg = {**base, 'K': [1, 2, 5, 10, 50][i % 5], 'step_size': [1e-1, 1e-2, 1e-3, 5e-4][(i // 5) % 4], 'seed': i // 20}
        rd = RunDir(root, f"{i:016x}"); rd.path.mkdir(parents=True)
        rd.config_path.write_text(json.dumps(cfg, sort_keys=True, indent=1))  # plain writes: fsync per file is slow here
        r = np.arange(1, rows + 1)
        acc = np.minimum(1, r / rows + rng.normal(0, 0.02, rows))
        rows_ = ([dict(round=int(a), step=int(a * 10), samples=int(a * 1280), wall_s=round(0.05 * a, 3),
                               train_loss=1 / a, train_acc=float(b), lr=1e-3, inner_steps=10.0, val_loss=1.1 / a,
                               val_acc=float(b) * 0.98, test_loss=1.2 / a, test_acc=float(b) * 0.97) for a, b in zip(r, acc)])
        rd.metrics_path.write_text(pd.DataFrame(rows_).to_csv(index=False))
        rd.status_path.write_text(json.dumps({'state': 'done', 'run_id': rd.run_id}))
        rd.done_path.write_text('done\n')

def plain_loop(root):
    "The loop a user writes first."
    frames = []
    for d in sorted(os.listdir(root)):
        p = os.path.join(root, d)
        if d.startswith('.') or not os.path.exists(os.path.join(p, 'config.json')): continue
        with open(os.path.join(p, 'config.json')) as f: cfg = json.load(f)
        m = pd.read_csv(os.path.join(p, 'metrics.csv'))
        m.insert(0, 'run_id', d)
        for k in ('K', 'step_size', 'seed'): m[k] = cfg[k]
        frames.append(m)
    return pd.concat(frames, ignore_index=True)

def timed(f, repeat=1):
    best = float('inf')
    for _ in range(repeat):
        t = time.perf_counter(); out = f(); best = min(best, time.perf_counter() - t)
    return best, out

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--runs', type=int, default=5000); ap.add_argument('--rows', type=int, default=50)
    a = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix='bench-analysis-'))
    try:
        t0 = time.perf_counter(); make_runs(root, a.runs, a.rows)
        print(f"wrote {a.runs} runs x {a.rows} rows in {time.perf_counter() - t0:.1f} s under {root}")
        plain_loop(root)  # warm the page cache so that every variant reads from memory
        t_plain, ref = timed(lambda: plain_loop(root))
        shutil.rmtree(root/'.cache', ignore_errors=True)
        t_cold, cold = timed(lambda: load_runs(root, progress=False))
        t_warm, warm = timed(lambda: load_runs(root, progress=False), repeat=3)
        rd = RunDir(root, f"{7:016x}"); rd.write_metrics(rd.metrics().assign(test_acc=0.5).to_dict('records'))
        t_one, one = timed(lambda: load_runs(root, progress=False))
        assert len(cold) == len(ref) == len(warm) == a.runs * a.rows, (len(cold), len(ref), len(warm))
        pd.testing.assert_frame_equal(cold, warm)
        np.testing.assert_allclose(cold.sort_values(['run_id', 'round']).test_acc.to_numpy(),
                                   ref.sort_values(['run_id', 'round']).test_acc.to_numpy())
        assert (one[one.run_id == rd.run_id].test_acc == 0.5).all()
        print(f"{'variant':<34}{'seconds':>9}{'x plain':>9}")
        print(f"{'plain loop (json + read_csv)':<34}{t_plain:>9.3f}{1:>9.1f}")
        print(f"{'load_runs cold (no cache)':<34}{t_cold:>9.3f}{t_plain / t_cold:>9.1f}")
        print(f"{'load_runs warm (nothing changed)':<34}{t_warm:>9.3f}{t_plain / t_warm:>9.1f}")
        print(f"{'load_runs after one run changed':<34}{t_one:>9.3f}{t_plain / t_one:>9.1f}")
        size = f"{a.runs} runs x {a.rows} rows"
        for what, t, target in (('cold (no cache)', t_cold, '>= 4'), ('warm (nothing changed)', t_warm, '>= 20'),
                                ('after one run changed', t_one, '')):
            record(f"read {size}, load_runs {what}", 'plain loop', t_plain, 'load_runs', t, 's', target=target)
        print(f"goals: cold >= 4x: {'met' if t_plain / t_cold >= 4 else 'NOT met'}; warm >= 20x: {'met' if t_plain / t_warm >= 20 else 'NOT met'}")
    finally: shutil.rmtree(root, ignore_errors=True)

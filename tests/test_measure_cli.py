"Measurement units through the command line: `blockopt train --measurements ...` end to end."
import json, os, subprocess, sys
from pathlib import Path
import pandas as pd
import pytest
import torch

TINY = ['--model', 'mnist1d_mlp', '--dataset_name', 'mnist1d', '--training_mode', 'blockwise_sequential',
        '--K', '2', '--rounds', '4', '--max_train_samples', '200', '--batch_size', '50', '--step_size', '0.01',
        '--measurement_sampling_rate', '2', '--threads', '1', '--quiet']


def blockopt(*args, cwd=None) -> subprocess.CompletedProcess:
    "Run the `blockopt` command of this interpreter's environment (the console script, else `blockopt.cli.main`)."
    script = Path(sys.executable).parent/'blockopt'
    cmd = [str(script)] if script.exists() else [sys.executable, '-c', 'import sys; from blockopt.cli import main; sys.exit(main())']
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, timeout=300, cwd=cwd, env=env)


def run_dirs(runs: Path) -> list:
    return sorted(p for p in runs.iterdir() if (p/'config.json').exists()) if runs.exists() else []


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return tmp_path_factory.mktemp('data')


def test_units_write_measurements_and_figures(tmp_path, data_root):
    runs = tmp_path/'runs'
    r = blockopt('train', *TINY, '--measurements', '["memory","hessian_top"]', '--runs_dir', runs, '--data_root', data_root)
    assert r.returncode == 0, r.stderr
    (rd,) = run_dirs(runs)
    assert (rd/'DONE').exists()
    df = pd.read_csv(rd/'measurements.csv')
    assert list(df.columns) == ['round', 'unit', 'block', 'quantity', 'value']
    assert set(df.unit) == {'memory', 'hessian_top'} and sorted(df['round'].unique()) == [2, 4]
    n_blocks = int(df.block.max()) + 1
    assert n_blocks >= 2
    top = df[(df.unit == 'hessian_top') & (df.quantity == 'top_eigenvalue') & (df['round'] == 4)]
    assert len(top) == n_blocks + 1 and top.block.isna().sum() == 1 and (top.value > 0).all()
    mem = df[(df.unit == 'memory') & (df['round'] == 4)].set_index(['block', 'quantity']).value
    # Adam, optimizer_state='reset': per block, state ≈ 2 × parameters; whole model's peak = the largest block's
    for b in range(n_blocks):
        assert mem[(b, 'grad_bytes')] == mem[(b, 'param_bytes')] > 0
        assert abs(mem[(b, 'optimizer_state_bytes')] - 2 * mem[(b, 'param_bytes')]) <= 100
    whole = df[(df.unit == 'memory') & (df['round'] == 4) & df.block.isna()].set_index('quantity').value
    assert whole['optimizer_state_bytes'] == max(mem[(b, 'optimizer_state_bytes')] for b in range(n_blocks))
    assert whole['rss_bytes'] > 10e6
    figures = sorted(p.name for p in (rd/'figures').iterdir())
    assert figures == ['hessian_top_round0002.png', 'hessian_top_round0004.png', 'memory_round0002.png', 'memory_round0004.png']
    assert all((rd/'figures'/f).read_bytes()[:8] == b'\x89PNG\r\n\x1a\n' for f in figures)

    # the same run without measurements trains exactly the same model and metrics
    r = blockopt('train', *TINY, '--runs_dir', runs, '--data_root', data_root)
    assert r.returncode == 0, r.stderr
    plain = next(d for d in run_dirs(runs) if d != rd)
    assert not (plain/'measurements.csv').exists()
    a, b = (torch.load(d/'checkpoint.pt', weights_only=True)['model'] for d in (rd, plain))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    ma, mb = (pd.read_csv(d/'metrics.csv').drop(columns='wall_s') for d in (rd, plain))
    pd.testing.assert_frame_equal(ma, mb)


def test_unknown_unit_fails_in_one_line_before_training(tmp_path, data_root):
    runs = tmp_path/'runs'
    r = blockopt('train', *TINY, '--measurements', '["memory","hessian_tpo"]', '--runs_dir', runs, '--data_root', data_root)
    assert r.returncode != 0
    last = r.stderr.strip().splitlines()[-1]
    assert "unknown measurement unit 'hessian_tpo' (did you mean 'hessian_top'?); valid: " in last, r.stderr
    assert 'grad_norms' in last and 'memory' in last
    assert run_dirs(runs) == []  # nothing started


def test_measuring_does_not_change_training(tmp_path):
    "In-process, both engines, dropout and random block order: identical parameters and metrics with and without units."
    from blockopt.core import RunConfig
    from blockopt.engines import Trainer
    from blockopt.measure import Measurements
    torch.set_num_threads(1)
    for mode in ('entire', 'blockwise_sequential'):
        cfg = RunConfig(dataset_name='mnist1d', model='mlp', config=[32, 32], max_train_samples=200, batch_size=50, rounds=3, K=2,
                        data_root=str(tmp_path/'data'), step_size=1e-2, training_mode=mode, dropout=0.1,
                        block_order='random', optimizer_state='keep')
        plain = Trainer(cfg, verbose=False).fit()
        measured = Trainer(cfg, callbacks=[Measurements(['memory', 'grad_norms', 'hessian_top', 'weight_distance'], every=1)],
                           verbose=False).fit()
        for p, q in zip(plain.model.parameters(), measured.model.parameters()): assert torch.equal(p, q), mode
        strip = lambda h: [{k: v for k, v in r.items() if k != 'wall_s'} for r in h]
        assert strip(plain.history) == strip(measured.history), mode
        assert {r['unit'] for r in measured.measurements} == {'memory', 'grad_norms', 'hessian_top', 'weight_distance'}

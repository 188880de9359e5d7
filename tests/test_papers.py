"""The studies under `papers/` end to end, reduced: each study's `smoke` profile through `blockopt sweep` in notebook
mode (every run is `run.ipynb` executed by papermill and kept in its run directory), then its `figures.ipynb` by
papermill. What a notebook can't show well: the command line, papermill end to end, the hand-over from sweep to figures.
"""
import json, subprocess, sys
from pathlib import Path
import pandas as pd
import pytest
from conftest import ROOT, child_env

PAPERS = ROOT/'papers'

def sweep(study, runs, data_root):
    "Run the study's smoke profile into `runs` with `blockopt sweep`; the finished runs' directories."
    env = {**child_env(), 'BLOCKOPT_DATA': str(data_root)}
    r = subprocess.run([sys.executable, '-m', 'blockopt.cli', 'sweep', str(PAPERS/study/'sweep.yaml'), '--profile', 'smoke',
                        '--runs_dir', str(runs), '--workers', '2', '--quiet'], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    ids = json.loads((runs/'.sweeps'/f'{study}.json').read_text())['run_ids']
    for rid in ids:
        rd = runs/rid
        assert (rd/'DONE').read_text().strip() == 'done', rid
        assert (rd/'run.ipynb').exists() and (rd/'summary.json').exists() and len(pd.read_csv(rd/'metrics.csv'))
    return [runs/rid for rid in ids]

def figures(study, runs, out, **parameters):
    "Execute the study's figures notebook by papermill; the executed notebook."
    import papermill as pm
    out.mkdir(parents=True, exist_ok=True)
    nb = out/'figures.ipynb'
    pm.execute_notebook(str(PAPERS/study/'figures.ipynb'), str(nb), kernel_name='python3', progress_bar=False,
                        parameters={'runs_dir': str(runs), 'out_dir': str(out), **parameters})
    return json.loads(nb.read_text())

def test_bcd_study_end_to_end(tmp_path, data_root):
    runs, out = tmp_path/'runs', tmp_path/'report'
    dirs = sweep('bcd', runs, data_root)
    assert len(dirs) == 4
    summaries = [json.loads((d/'summary.json').read_text()) for d in dirs]
    assert sorted((s['training_mode'], s['seed']) for s in summaries) == [('blockwise_sequential', 0), ('blockwise_sequential', 1), ('entire', 0), ('entire', 1)]
    assert {s['steps'] for s in summaries} == {60}  # equal budgets: K=10 x 3 blocks x 2 rounds = 60 steps
    bcd = [s for s in summaries if s['training_mode'] != 'entire']
    assert all(len(s['hessian_block_coupling']) == 3 and s['memory']['optimizer_state_bytes'] > 0 for s in bcd)
    # sequential BCD holds Adam state for one block at a time, whole-model training for all of them
    state = {s['training_mode']: s['memory']['optimizer_state_bytes'] for s in summaries}
    assert state['blockwise_sequential'] < state['entire']
    figures('bcd', runs, out, targets={'mnist1d_mlp': 0.3})
    table = (out/'rounds_to_convergence_mnist1d_mlp.md').read_text()
    assert '| entire |' in table and '| K=10 |' in table and 'Best' in table, table
    assert (out/'rounds_to_convergence_mnist1d_mlp.tex').read_text().lstrip().startswith('\\begin{table}')
    for name in ('curves', 'convergence_mnist1d_mlp', 'memory_per_block', 'hessian_coupling'):
        assert (out/f'{name}.png').stat().st_size > 1000 and (out/f'{name}.pdf').exists(), name
    # a second sweep re-uses every finished run
    r = subprocess.run([sys.executable, '-m', 'blockopt.cli', 'sweep', str(PAPERS/'bcd'/'sweep.yaml'), '--profile', 'smoke',
                        '--runs_dir', str(runs), '--quiet'], capture_output=True, text=True, env=child_env(), timeout=120)
    assert r.returncode == 0 and '4 finished before, 0 to run' in r.stdout, r.stdout + r.stderr

def test_bcd_reference_profile_is_the_published_setup(data_root):
    "The `reference` profile (run in about 3 minutes, not here) is MNIST-1D's published training: checked without training."
    from blockopt.data import make_data
    from blockopt.sweep.spec import load_spec, sweep_configs
    cfgs = sweep_configs(load_spec(PAPERS/'bcd'/'sweep.yaml', profile='reference'))
    assert sorted((c.model, c.seed) for c in cfgs) == [(m, s) for m in ('mnist1d_cnn', 'mnist1d_mlp') for s in range(3)]
    for c in cfgs:
        assert (c.training_mode, c.optimizer, c.step_size, c.batch_size, c.K * c.rounds) == ('entire', 'adam', 0.01, 100, 6000)
        assert (c.weight_decay, c.lr_schedule, c.warmup_steps, c.val_size) == (0, 'constant', 0, 0)
    # val_size 0: all 4000 training signals train (the default 0.1 left 3600 and cost the CNN about 2 points)
    data = make_data(cfgs[0].replace(data_root=data_root), download=False)
    assert len(data.train.split) == 4000 and len(data.test) == 1000 and len(data.val) == 0

def test_corruption_study_end_to_end(tmp_path, data_root):
    runs, out = tmp_path/'runs', tmp_path/'report'
    dirs = sweep('corruption', runs, data_root)
    acc = {json.loads((d/'summary.json').read_text())['corruption_p']: json.loads((d/'summary.json').read_text())['test_acc'] for d in dirs}
    assert sorted(acc) == [0.0, 0.9, 1.0]
    assert acc[0.0] > 0.85 and acc[0.0] > acc[0.9] > 0.3 and acc[1.0] < 0.2, acc
    nb = figures('corruption', runs, out)
    assert (out/'accuracy_vs_p.png').exists() and (out/'accuracy_vs_p.pdf').exists()
    table = (out/'accuracy_vs_p.md').read_text()
    assert 'nearest class mean' in table and 'mlp relu' in table, table
    # the reference level is blockopt's nearest class mean on the runs' splits, the tables blockopt.analysis.to_markdown's
    from blockopt.data import nearest_class_mean_accuracy
    ncm = nearest_class_mean_accuracy('digits', data_root, val_size=0.0, normalize=False, splits=('train', 'test'))['test']
    assert f'nearest class mean {ncm:.3f}' in table and '| corruption_p | mlp relu |\n|---:|:---|' in table, table
    checks = (out/'checks.md').read_text()
    assert 'mlp | relu' in checks and checks.splitlines()[1] == '|:---|:---|---:|---:|---:|---:|', checks
    # the checks are real: a run whose accuracy rises at p = 1 fails the figures notebook
    import papermill as pm
    by_p = {json.loads((d/'config.json').read_text())['corruption_p']: d for d in dirs}
    m = pd.read_csv(by_p[1.0]/'metrics.csv'); m.loc[m.index[-1], 'test_acc'] = 0.99; m.to_csv(by_p[1.0]/'metrics.csv', index=False)
    with pytest.raises(pm.PapermillExecutionError, match='rises by|above chance'):
        figures('corruption', runs, tmp_path/'report2')

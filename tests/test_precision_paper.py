"""papers/precision end to end: a reduced sweep in notebook mode through `blockopt sweep`, then figures.ipynb by
papermill; and exact checkpoint resume of a ViT run with the study's strong augmentation recipe.

What a notebook can't show well: the command line, papermill end to end, a run interrupted and resumed.
"""
import json, subprocess, sys
from pathlib import Path
import pandas as pd
import pytest
import torch
import yaml
from conftest import ROOT, blockopt_cmd, child_env

PAPER = ROOT/'papers'/'precision'
KEEP = {'BaseFP32': 0, 'AugmBF16': 5, 'FP8': 6}  # experiments of the reduced sweep: their index in the spec's zip

def reduced_spec(path:Path) -> Path:
    "The study's spec with three of its seven experiments and a tiny cpu profile (one layer, 1 epoch of 3 steps)."
    d = yaml.safe_load((PAPER/'sweep.yaml').read_text())
    assert len({len(v) for v in d['zip'].values()}) == 1 and len(d['zip']['precision']) == 7, d['zip']
    d['zip'] = {k: [v[i] for i in KEEP.values()] for k, v in d['zip'].items()}
    d['notebook'] = str(PAPER/'run.ipynb')
    d['profiles']['cpu']['base'].update(rounds=1, K=3, config=[4, 16, 1, 2], max_train_samples=200)
    path.write_text(yaml.safe_dump(d))
    return path

def test_reduced_sweep_then_figures(tmp_path):
    spec, runs, out = reduced_spec(tmp_path/'precision.yaml'), tmp_path/'runs', tmp_path/'figures'
    r = subprocess.run(blockopt_cmd('sweep', spec, '--profile', 'cpu', '--runs_dir', runs, '--workers', '2', '--quiet'),
                       capture_output=True, text=True, env=child_env(), timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    run_dirs = [p for p in runs.iterdir() if (p/'config.json').exists()]
    assert len(run_dirs) == 3
    for p in run_dirs:  # notebook mode: the executed run notebook stays beside the run's files
        assert (p/'DONE').exists() and (p/'run.ipynb').exists(), sorted(x.name for x in p.iterdir())
        assert set(pd.read_csv(p/'measurements.csv').unit) == {'hardware', 'memory'}
    r = subprocess.run([sys.executable, '-m', 'papermill', str(PAPER/'figures.ipynb'), str(tmp_path/'figures.ipynb'),
                        '-p', 'runs_dir', str(runs), '-p', 'out_dir', str(out)],
                       capture_output=True, text=True, env=child_env(), timeout=600, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    table = pd.DataFrame(json.loads((out/'metrics_table.json').read_text()))
    assert table.experiment.tolist() == list(KEEP)  # named by the rule, in the study's order
    impl = dict(zip(table.experiment, table.implementation))
    assert impl == {'BaseFP32': 'fp32', 'AugmBF16': 'bf16', 'FP8': 'fp8-emulated'}  # a CPU has no native FP8
    assert table.set_index('experiment').loc['FP8', 'fp8'] == 'emulated'
    assert (table.epochs == 1).all() and (table.runs == 1).all()
    assert table.best_val_acc.between(0, 1).all() and (table.time_per_epoch_s > 0).all() and (table.peak_memory_MiB > 10).all()
    tex = (out/'metrics_table.tex').read_text()
    assert all(f" & {name} & " in tex for name in KEEP) and 'fp8 emulated' in tex
    for name in ('curves_val_acc', 'curves_train_loss', 'best_val_acc', 'time_per_epoch_s', 'peak_memory_MiB'):
        assert (out/f'{name}.png').stat().st_size > 1000 and (out/f'{name}.pdf').exists()

def test_figures_refuse_an_empty_store(tmp_path):
    (tmp_path/'runs').mkdir()
    r = subprocess.run([sys.executable, '-m', 'papermill', str(PAPER/'figures.ipynb'), str(tmp_path/'f.ipynb'),
                        '-p', 'runs_dir', str(tmp_path/'nowhere'), '-p', 'out_dir', str(tmp_path/'out')],
                       capture_output=True, text=True, env=child_env(), timeout=300)
    assert r.returncode != 0 and 'no such folder' in r.stdout + r.stderr

# %% exact resume of a ViT run with the strong recipe

class _Interrupt(Exception): pass

def _interrupt_after(round_):
    from blockopt.engines import Callback
    class Interrupt(Callback):
        order = 30  # after the run writer: the checkpoint of this round is on disk
        def after_report(self, t):
            if t.round == round_: raise _Interrupt(f"stopped after round {round_}")
    return Interrupt()

@pytest.mark.parametrize('precision', ['fp16', 'fp8'])
def test_vit_resume_is_exact(tmp_path, precision):
    "Two rounds in one go, versus one round, an interruption and a resume: the same parameters, bit for bit."
    from blockopt.core import RunConfig
    from blockopt.engines import train
    spec = yaml.safe_load((PAPER/'sweep.yaml').read_text())
    strong = {k: v[spec['zip']['precision'].index('fp8') if precision == 'fp8' else 3] for k, v in spec['zip'].items()}
    assert strong['augment_policy'] != 'none' and strong['mixup_alpha'] > 0 and strong['precision'] == precision
    base = dict(spec['base'], **strong, dataset_name='digits', config=[4, 16, 1, 2], K=4, rounds=2, batch_size=32,
                max_train_samples=200, step_size=3e-3, warmup_steps=2, measurements=[], threads=1)
    whole = train(RunConfig.from_dict({**base, 'runs_dir': str(tmp_path/'whole')}), verbose=False)
    cfg = RunConfig.from_dict({**base, 'runs_dir': str(tmp_path/'resumed')})
    with pytest.raises(_Interrupt): train(cfg, callbacks=[_interrupt_after(1)], verbose=False)
    first = torch.load(cfg.runs_dir + f'/{cfg.run_id}/checkpoint.pt', weights_only=True)
    assert first['position']['round'] == 1
    resumed = train(cfg, verbose=False)
    assert 'resumed run' in (resumed.path/'events.log').read_text()
    a, b = (torch.load(rd.checkpoint_path, weights_only=True) for rd in (whole, resumed))
    pos = lambda c: {k: v for k, v in c['position'].items() if k != 'wall_s'}
    assert pos(a) == pos(b) and pos(a)['round'] == 2
    assert a['model'].keys() == b['model'].keys()
    for k in a['model']: assert torch.equal(a['model'][k], b['model'][k]), k
    assert any(not torch.equal(first['model'][k], b['model'][k]) for k in b['model'])  # the second round changed the weights
    pd.testing.assert_frame_equal(whole.metrics().drop(columns='wall_s'), resumed.metrics().drop(columns='wall_s'))

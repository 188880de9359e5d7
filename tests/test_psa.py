"""The `psa` study end to end, reduced: the `smoke` profile of `papers/psa/sweep.yaml` (2 architectures x 2 modes x
1 trial x 2 meta-loops on digits) through `blockopt sweep` in notebook mode, then `papers/psa/figures.ipynb` by
papermill on those runs. What a notebook can't show well: the command line, papermill end to end, the hand-over
from the sweep's run directories to the study's tables and figures.
"""
import json, subprocess, sys
import pandas as pd
from conftest import ROOT, child_env

STUDY = ROOT/'papers'/'psa'

def test_psa_study_end_to_end(tmp_path, data_root):
    runs, out = tmp_path/'runs', tmp_path/'report'
    env = {**child_env(), 'BLOCKOPT_DATA': str(data_root)}
    r = subprocess.run([sys.executable, '-m', 'blockopt.cli', 'sweep', str(STUDY/'sweep.yaml'), '--profile', 'smoke',
                        '--runs_dir', str(runs), '--workers', '2', '--quiet'], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    ids = json.loads((runs/'.sweeps'/'psa.json').read_text())['run_ids']
    assert len(ids) == 4
    trials = {}
    for rid in ids:
        rd = runs/rid
        assert (rd/'DONE').read_text().strip() == 'done', rid
        assert (rd/'run.ipynb').exists(), rid  # the executed run notebook stays in its run directory
        cfg, s, m = (json.loads((rd/'config.json').read_text()), json.loads((rd/'summary.json').read_text()),
                     pd.read_csv(rd/'metrics.csv'))
        trials[(cfg['config'][0], cfg['ablation'])] = (s, m)
        assert cfg['training_mode'] == 'psa' and len(m) == 2 and m.step.tolist() == [12, 24]  # one epoch per meta-loop
        assert m.lkg_val_acc.tolist() == m.val_acc.cummax().tolist()  # the LKG: the best candidate so far
        assert m.test_acc.notna().tolist() == [False, True]           # the test set once, at the end
        assert s['peak_val_acc'] == m.lkg_val_acc.max() and s['test_acc'] == m.test_acc.iloc[-1]
        assert m.ablated_neuron.iloc[0] == -1                         # the first meta-loop trains the initial weights
        assert (m.ablated_neuron.iloc[1] >= 0) == (cfg['ablation'] == 'hidden')
    assert sorted(trials) == [('1*32', 'hidden'), ('1*32', 'none'), ('4*8', 'hidden'), ('4*8', 'none')]
    assert trials[('1*32', 'none')][0]['parameters'] == 64 * 32 + 32 + 32 * 10 + 10

    import papermill as pm
    pm.execute_notebook(str(STUDY/'figures.ipynb'), str(tmp_path/'figures.ipynb'), kernel_name='python3', progress_bar=False,
                        parameters={'runs_dir': str(runs), 'out_dir': str(out)})
    table = (out/'trial_accuracy.md').read_text()
    assert '| 1*32 |' in table and '| 4*8 |' in table and 'none' in table and 'hidden' in table, table
    peak = 100 * trials[('1*32', 'none')][0]['peak_val_acc']
    assert f"{peak:.2f} ± 0.00" in table, table                      # one trial: its peak, no spread
    assert (out/'trial_accuracy.tex').read_text().lstrip().startswith('\\begin{table}')
    assert '1*32 & 2,410 & Matched' in (out/'architecture_parameters.tex').read_text()
    assert 'ZeroR' in (out/'class_balance.md').read_text()
    for name in ('design_space', 'heatmap_baseline', 'heatmap_ablation_effect', 'heatmap_instability',
                 'heatmap_winning_strategy', 'heatmap_parameter_matching', 'heatmap_regimes', 'convergence_best_trials'):
        assert (out/f'{name}.png').stat().st_size > 1000 and (out/f'{name}.pdf').exists(), name
    regimes = pd.read_csv(out/'regimes.csv')  # the regime rules need all six modes; the smoke sweep has two
    assert sorted(regimes.arch) == ['1*32', '4*8'] and set(regimes.regime) == {'incomplete'}
    growth, conv = pd.read_csv(out/'lkg_growth.csv'), pd.read_csv(out/'convergence.csv')
    assert len(growth) == len(conv) == 4 and list(growth.columns[-3:]) == ['Meta-Loop 1', 'Meta-Loop 2', 'Final test']
    for (arch, mode), (s, m) in trials.items():  # growth = rise of the LKG per meta-loop, in points
        row = growth[(growth.arch == arch) & (growth.ablation == mode)].iloc[0]
        lkg = 100 * m.lkg_val_acc
        assert abs(row['Meta-Loop 1'] - lkg[0]) < 0.01 and abs(row['Meta-Loop 2'] - (lkg[1] - lkg[0])) < 0.01, (row, lkg)

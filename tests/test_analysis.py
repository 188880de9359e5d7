"The exported `blockopt.analysis` used as a package: cache across processes, legacy import into a runs directory."
import json, subprocess, sys, warnings
from pathlib import Path
import numpy as np, pandas as pd, pytest
from blockopt.analysis import (import_legacy, import_legacy_reports, load_runs, report, rounds_to_convergence,
                               summarize, to_latex, winners, classify_regime)
from blockopt.core import RunConfig, atomic_write
from blockopt.runs import RunDir

FIXTURES = Path(__file__).parent/'fixtures'/'legacy'

def _runs(root, n=6):
    for i in range(n):
        cfg = RunConfig(K=[1, 5][i % 2], step_size=[0.1, 0.01][(i // 2) % 2], seed=i // 4).to_dict()
        rd = RunDir(root, f"{i:016x}"); rd.path.mkdir(parents=True)
        atomic_write(rd.config_path, json.dumps(cfg))
        rd.write_metrics([dict(round=r, step=10 * r, samples=100 * r, test_acc=r / 4 + 0.01 * i, test_loss=1 / r) for r in range(1, 5)])
        rd.finish('done')

def test_cache_is_shared_between_processes(tmp_path):
    _runs(tmp_path)
    code = f"from blockopt.analysis import load_runs; print(len(load_runs({str(tmp_path)!r})))"
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == '24' and (tmp_path/'.cache'/'metrics.arrow').exists()
    mtime = (tmp_path/'.cache'/'metrics.arrow').stat().st_mtime_ns
    pd.testing.assert_frame_equal(load_runs(tmp_path), load_runs(tmp_path, cache=False))
    assert (tmp_path/'.cache'/'metrics.arrow').stat().st_mtime_ns == mtime  # nothing changed: not rewritten

def test_report_rounds_table(tmp_path):
    _runs(tmp_path)
    md = report(tmp_path, 'rounds', acc_threshold=0.5, by='K,step_size')
    assert md.splitlines()[0] == '| K | 0.01 | 0.1 | Best |'
    r = rounds_to_convergence(load_runs(tmp_path), acc_threshold=0.5, axis='step')
    assert r.steps_to_convergence.tolist() == [20.0] * 6
    with pytest.raises(ValueError, match="fmt='xls' is invalid"): report(tmp_path, 'summary', fmt='xls')

def test_import_legacy_roundtrip(tmp_path):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always')
        df, n_bad = import_legacy_reports(FIXTURES/'reports')
        counts = import_legacy(FIXTURES, tmp_path)
    assert n_bad == 4 and any('malformed' in str(x.message) for x in w)
    assert counts == {'runs': 50, 'written': 50, 'malformed': 7}
    back = load_runs(tmp_path)
    assert set(df.run_id) <= set(back.run_id)
    assert report(tmp_path, 'summary', by='K').splitlines()[0].startswith('| K | count | mean')

def test_tables_public_names():
    t = summarize(pd.DataFrame(dict(a=['x', 'x', 'y', 'y'], b=['p', 'q', 'p', 'q'], v=[1.0, 1.005, 2.0, 1.0])), ['a', 'b'], 'v')
    w = winners(t, tol=0.01)
    assert w.loc['x', 'Winner'] == 'Tie: p/q' and w.loc['y', 'Winner'] == 'p'
    tex = to_latex(w, caption='c', label='tab:x')
    assert '\\toprule' in tex and '\\label{tab:x}' in tex and '\\textbf{2.00 $\\pm$ 0.00}' in tex
    assert classify_regime({m: [11.0] for m in ('none', 'decay', 'dropout', 'hidden', 'output', 'full')}) == 'failure'

"`blockopt train` end to end: run directory, already-done detection, --force, and resume after SIGKILL."
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pandas as pd
import pytest
from conftest import blockopt_cmd, child_env

TINY = ['--model', 'mnist1d_mlp', '--dataset_name', 'mnist1d', '--max_train_samples', '300', '--batch_size', '50']

def run(args, **kw):
    return subprocess.run(blockopt_cmd(*args), capture_output=True, text=True, env=child_env(), timeout=300, **kw)

def only_run(runs_dir):
    dirs = [p for p in Path(runs_dir).iterdir() if p.is_dir() and not p.name.startswith('.')]
    assert len(dirs) == 1, dirs
    return dirs[0]

def test_train_writes_run_directory(tmp_path, data_root):
    args = ['train', *TINY, '--training_mode', 'blockwise_sequential', '--K', '2', '--rounds', '3',
            '--runs_dir', tmp_path, '--data_root', data_root]
    r = run(args)
    assert r.returncode == 0, r.stderr
    rd = only_run(tmp_path)
    assert {'config.json', 'status.json', 'metrics.csv', 'events.log', 'checkpoint.pt', 'DONE'} <= {p.name for p in rd.iterdir()}
    assert json.loads((rd/'status.json').read_text())['state'] == 'done'
    metrics = pd.read_csv(rd/'metrics.csv')
    assert list(metrics['round']) == [1, 2, 3]
    assert {'round', 'step', 'samples', 'wall_s', 'train_loss', 'val_acc', 'test_acc'} <= set(metrics.columns)
    # every metric line the console showed is in metrics.csv (and in events.log)
    printed = [l for l in r.stdout.splitlines() if l.startswith('round ')]
    assert len(printed) == len(metrics) and all(l in (rd/'events.log').read_text() for l in printed)
    again = run(args)
    assert again.returncode == 0 and 'already done' in again.stdout
    forced = run(args + ['--force', '--quiet'])
    assert forced.returncode == 0 and 'moved the previous run' in forced.stdout
    assert len(list((tmp_path/'.trash').iterdir())) == 1

def test_bad_flag_is_one_line(tmp_path):
    r = run(['train', '--K', '-1', '--runs_dir', tmp_path])
    assert r.returncode == 2 and r.stderr.strip() == 'blockopt train: RunConfig.K=-1 is invalid: expected a number >= 0'
    r = run(['train', '--modle', 'mlp'])
    assert r.returncode == 2 and '--modle' in r.stderr
    assert not any(tmp_path.iterdir())

@pytest.mark.parametrize('mode', ['entire', 'blockwise_sequential'])
def test_killed_run_resumes_exactly(tmp_path, data_root, mode):
    "SIGKILL a run after a few checkpoints; the restarted run ends with exactly the metrics of an uninterrupted one."
    common = ['train', *TINY, '--training_mode', mode, '--K', '3', '--rounds', '40', '--dropout', '0.1',
              '--model', 'mlp', '--config', '[32, 32]', '--block_order', 'random', '--data_root', data_root, '--quiet']
    straight = run(common + ['--runs_dir', tmp_path/'straight'])
    assert straight.returncode == 0, straight.stderr
    killed_dir = tmp_path/'killed'
    p = subprocess.Popen(blockopt_cmd(*common, '--runs_dir', killed_dir), env=child_env(),
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        ck = list(killed_dir.glob('*/metrics.csv'))
        if ck and len(pd.read_csv(ck[0])) >= 5: break
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL); p.wait()
    rd = only_run(killed_dir)
    assert not (rd/'DONE').exists(), 'the run finished before it could be killed'
    resumed = run(common + ['--runs_dir', killed_dir])
    assert resumed.returncode == 0, resumed.stderr
    assert 'resumed run' in (rd/'events.log').read_text()
    a = pd.read_csv(only_run(tmp_path/'straight')/'metrics.csv').drop(columns='wall_s')
    b = pd.read_csv(rd/'metrics.csv').drop(columns='wall_s')
    pd.testing.assert_frame_equal(a, b)

"""Sweeps end to end: specs, both run modes, failures and retries, SIGKILLed and concurrent sweeps, GPU packing, Ray, SLURM.

What a notebook can't show well: several processes, killed sweeps, the command line, papermill end to end.
The cheap run function `fixtures/sweep_fake_run.py` stands in for training where the test is about the
sweep machinery; the tests about real runs use tiny MNIST-1D runs through `blockopt train`.
"""
import json, os, random, shutil, signal, socket, subprocess, sys, tempfile, time
from collections import Counter
from pathlib import Path
import pandas as pd
import pytest
from conftest import child_env

FIXTURES = Path(__file__).resolve().parent/'fixtures'
FAKE = f"{FIXTURES/'sweep_fake_run.py'}:run"
TINY = "model: mnist1d_mlp, dataset_name: mnist1d, max_train_samples: 200, batch_size: 50"

# `blockopt sweep` / `blockopt status` as a user runs them
CLI = "import sys; from blockopt.cli import main; sys.exit(main())"

def blockopt(*args, env=None, **kw):
    "Run `blockopt <args>` to completion."
    return subprocess.run([sys.executable, '-c', CLI, *map(str, args)], capture_output=True, text=True,
                          env=env or child_env(), timeout=300, **kw)

def main(*args):
    "Run `blockopt <args>` in this process: (exit code, stdout, stderr)."
    import contextlib, io
    from blockopt.cli import main as blockopt_main
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.redirect_stderr(io.StringIO()) as err:
        try: code = blockopt_main([str(x) for x in args])
        except SystemExit as e: code = e.code
    return code, out.getvalue(), err.getvalue()

def spawn(*args, env=None, **kw):
    "Start `blockopt <args>` in the background."
    return subprocess.Popen([sys.executable, '-c', CLI, *map(str, args)], env=env or child_env(), **kw)

def write(path, text):
    Path(path).write_text(text); return Path(path)

def run_dirs(runs):
    return sorted(p for p in Path(runs).iterdir() if p.is_dir() and not p.name.startswith('.'))

def status(runs):
    from blockopt.sweep import sweep_status
    return sweep_status(runs)

def events(log):
    "(event, run_id, pid) triples of the fake run's log."
    return [tuple(l.split()) for l in Path(log).read_text().splitlines()] if Path(log).exists() else []

def assert_whole(runs):
    "No file of any run directory is half-written: JSON and CSV parse, no temporary file is left, no claim."
    for rd in run_dirs(runs):
        names = [p.name for p in rd.iterdir()]
        assert not [n for n in names if n.endswith('.tmp')], (rd, names)
        assert not [n for n in names if n.startswith('claim.')], (rd, names)
        for p in rd.glob('*.json'): json.loads(p.read_text())
        if (rd/'metrics.csv').exists(): pd.read_csv(rd/'metrics.csv')

# %% specs

def test_malformed_specs_fail_before_any_run(tmp_path):
    from blockopt.sweep import SpecError, load_spec, sweep_configs
    cases = {  # spec text, profile -> the end of the one-line message
        "base: {rounds: 1}\ngird: {K: [1]}\n": (None, "unknown key 'gird' (did you mean 'grid'?)"),
        "grid: {K: [1, 2}\n": (None, "invalid YAML (line 1, column 16)"),
        "grid: {K: []}\n": (None, "grid.K=[]: expected a non-empty list of values"),
        "grid: {K: [1]}\nprofiles: {cpu: {}}\n": ('gpu', "unknown profile 'gpu' (did you mean 'cpu'?); valid: cpu"),
        "grid: {K: [1, -1]}\n": (None, "grid.K[1]=-1: RunConfig.K=-1 is invalid: expected a number >= 0"),
        "grid: {K: [1]}\nprofiles: {cpu: {grid: {step_size: [0.1, 0]}}}\n": (
            'cpu', "grid.step_size[1]=0: RunConfig.step_size=0.0 is invalid: expected a number > 0"),
        "grid: {K: [1]}\nslurm: {partiton: gpu, timeout_min: 5}\n": (None, "slurm: unknown option 'partiton' (did you mean 'partition'?); valid: "),
        "grid: {K: [1]}\nslurm: {cluster: debgu}\n": (None, "slurm.cluster='debgu': expected one of slurm, local, debug (did you mean 'debug'?)"),
        "grid: {K: [1]}\nray: {adress: 'auto'}\n": (None, "ray: unknown option 'adress' (did you mean 'address'?); valid: address, max_retries"),
        "grid: {K: [1]}\nprofiles: {hpc: {ray: {max_retries: -2}}}\n": ('hpc', "ray.max_retries=-2: expected an integer >= 0 (-1: retry forever)"),
    }
    for i, (text, (profile, msg)) in enumerate(cases.items()):
        spec = write(tmp_path/f'sweep{i}.yaml', text)
        with pytest.raises(SpecError) as e: sweep_configs(load_spec(spec, profile))
        line = str(e.value)
        assert line.startswith(f"{spec}: ") and msg in line and '\n' not in line, line
    # the command: exit code 2, the same one line, and nothing written
    r = blockopt('sweep', tmp_path/'sweep4.yaml', '--runs_dir', tmp_path/'runs')
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == f"blockopt sweep: {tmp_path/'sweep4.yaml'}: grid.K[1]=-1: RunConfig.K=-1 is invalid: expected a number >= 0"
    assert not (tmp_path/'runs').exists()

# %% what run_sweep returns

def test_run_sweep_attrs_when_nothing_is_left_to_run(tmp_path):
    "The frame says what the call did, also when there was nothing to do: started, to_run and completed."
    from blockopt.sweep import run_sweep
    spec = {'name': 'attrs', 'base': {'rounds': 1}, 'grid': {'K': [1, 2]}, 'function': FAKE, 'preload': []}
    t0 = time.time()
    first = run_sweep(spec, runs_dir=tmp_path/'runs', workers=1, progress=False, out=None)
    assert set(first.attrs) == {'started', 'to_run', 'completed'}
    assert first.attrs['to_run'] == 2 and len(first.attrs['completed']) == 2 and first.attrs['started'] >= t0
    assert all(end >= first.attrs['started'] and secs >= 0 for end, secs in first.attrs['completed'])
    again = run_sweep(spec, runs_dir=tmp_path/'runs', workers=1, progress=False, out=None)
    assert set(again.attrs) == set(first.attrs)
    assert (again.attrs['to_run'], again.attrs['completed']) == (0, []) and again.attrs['started'] > first.attrs['started']
    assert sorted(again.state) == ['done', 'done']

# %% function mode, end to end

def test_function_mode_runs_blockopt_train(tmp_path, data_root):
    spec = write(tmp_path/'bcd.yaml', f"""
base: {{{TINY}, rounds: 2, data_root: {data_root}}}
grid: {{K: [1, 3], step_size: [0.01, 0.003]}}
repeats: 2
profiles: {{cpu: {{grid: {{K: [1]}}}}, full: {{base: {{rounds: 200}}}}}}
""")
    runs = tmp_path/'runs'
    code, out, _ = main('sweep', spec, '--profile', 'cpu', '--runs_dir', runs, '--dry-run')
    assert code == 0 and out.count('pending') == 4 and ' 0.003 ' in out, out
    assert not runs.exists() or not run_dirs(runs)
    r = blockopt('sweep', spec, '--profile', 'cpu', '--runs_dir', runs, '--workers', '2', '--quiet')
    assert r.returncode == 0, r.stdout + r.stderr
    lines = [l for l in r.stdout.splitlines() if l.startswith('[')]
    assert len(lines) == 4 and all(' done ' in l and 'test_acc=' in l for l in lines), r.stdout
    df = status(runs)
    assert list(df.state) == ['done'] * 4 and set(df.sweep) == {'bcd-cpu'}
    for rd in run_dirs(runs):
        assert len(pd.read_csv(rd/'metrics.csv')) == 2 and (rd/'DONE').exists()
    code, out, _ = main('sweep', spec, '--profile', 'cpu', '--runs_dir', runs, '--quiet')
    assert code == 0 and '4 finished before, 0 to run' in out, out
    code, out, _ = main('status', runs)
    assert code == 0 and 'bcd-cpu' in out and 'failures' not in out, out
    # without the profile: 8 runs, of which the 4 of the cpu profile are the same runs, already done
    code, out, _ = main('sweep', spec, '--runs_dir', runs, '--dry-run')
    assert out.count('pending') == 4 and out.count(' done ') == 4, out

# %% notebook mode

def test_notebook_mode_keeps_executed_notebooks(tmp_path, data_root):
    shutil.copy(FIXTURES/'sweep_run.ipynb', tmp_path/'run.ipynb')
    spec = write(tmp_path/'nb.yaml', f"""
base: {{{TINY}, rounds: 2, data_root: {data_root}, training_mode: blockwise_sequential}}
grid: {{prox_lambda: [0.0, [1.0]]}}     # one number is fine; a list of one for a 3-block model fails
mode: notebook
notebook: run.ipynb
""")
    runs = tmp_path/'runs'
    code, out, err = main('sweep', spec, '--runs_dir', runs, '--workers', '1', '--quiet')
    assert code == 1, out + err
    df = status(runs).set_index('state')
    assert sorted(df.index) == ['done', 'failed']
    ok, bad = (runs/df.loc['done', 'run_id'], runs/df.loc['failed', 'run_id'])
    assert (ok/'run.ipynb').exists() and (bad/'run.ipynb').exists()  # executed copies, the failing one too
    assert len(pd.read_csv(ok/'metrics.csv')) == 2
    nb = json.loads((ok/'run.ipynb').read_text())
    injected = next(c for c in nb['cells'] if 'injected-parameters' in c['metadata'].get('tags', []))
    assert 'run_dir' in ''.join(injected['source']) and str(ok) in ''.join(injected['source'])
    st = json.loads((bad/'status.json').read_text())
    assert 'one per block' in st['error'] and 'Traceback' in st['traceback'], st
    assert 'one per block' in out

# %% failures, divergence, a killed run, a timeout; --retry-failed

def test_failures_are_recorded_and_retried(tmp_path, monkeypatch):
    spec = write(tmp_path/'f.yaml', f"""
base: {{rounds: 2}}
grid: {{K: [1, 2, 13, 99, 77], step_size: [0.01, 1.0e6]}}
exclude: [{{K: 13, step_size: 1.0e6}}, {{K: 99, step_size: 1.0e6}}, {{K: 77, step_size: 1.0e6}}, {{K: 2, step_size: 1.0e6}}]
function: {FAKE}
timeout: 4
preload: []
""")
    runs, log = tmp_path/'runs', tmp_path/'events.log'
    monkeypatch.setenv('FAKE_RUN_LOG', str(log))
    code, out, err = main('sweep', spec, '--runs_dir', runs, '--workers', '2', '--quiet')
    assert code == 1, out + err
    df = status(runs).set_index('K')
    assert df.loc[1].state.tolist() == ['done', 'diverged'] and df.loc[2].state == 'done'
    assert df.loc[13].error == 'RuntimeError: unlucky K=13'
    assert df.loc[99].error == 'killed by SIGKILL'
    assert df.loc[77].error == 'timed out after 4 s'
    tb = {k: json.loads((runs/df.loc[k].run_id/'status.json').read_text())['traceback'] for k in (13, 99)}
    assert 'Traceback' in tb[13] and 'unlucky K=13' in tb[13] and 'killed by SIGKILL' in tb[99]
    code, out, _ = main('status', runs)
    assert 'failures (3):' in out and 'RuntimeError: unlucky K=13' in out, out
    failed = set(df[df.state == 'failed'].run_id)
    n_before = len(events(log))
    monkeypatch.setenv('FAKE_RUN_HEALED', '1')
    code, out, err = main('status', runs, '--retry-failed', '--workers', '2', '--quiet')
    assert code == 0, out + err
    rerun = {rid for ev, rid, _ in events(log)[n_before:] if ev == 'start'}
    assert rerun == failed
    assert (status(runs).state != 'failed').all()
    assert_whole(runs)

# %% SIGKILL the sweep itself, several times

def test_sigkilled_sweep_resumes_without_recomputing(tmp_path, data_root):
    "Kill the sweep process at random moments; at the end every run is done exactly once and nothing is torn."
    spec = write(tmp_path/'k.yaml', f"""
base: {{{TINY}, rounds: 3, data_root: {data_root}}}
grid: {{K: [1, 2, 3], step_size: [0.01, 0.003], training_mode: [entire, blockwise_sequential]}}
repeats: 2
""")
    runs, rng = tmp_path/'runs', random.Random(0)
    assert blockopt('sweep', spec, '--runs_dir', runs, '--dry-run').stdout.count('pending') == 24
    done = lambda: {rd.name: ((rd/'DONE').stat().st_ino, (rd/'DONE').stat().st_mtime_ns)
                    for rd in run_dirs(runs) if (rd/'DONE').exists()} if runs.exists() else {}
    # one kill while the workers start, then kills after a random number of finished runs
    # (at most 12 finished before a kill: a tiny run takes ~0.05 s, so a kill aimed later could land after the last run)
    for target in [0, *sorted(rng.sample(range(2, 13), 2))]:
        p = spawn('sweep', spec, '--runs_dir', runs, '--workers', '2', '--quiet',
                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + (rng.uniform(0.5, 2) if target == 0 else 120)
        while time.time() < deadline and len(done()) < target and p.poll() is None: time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.3))
        assert p.poll() is None, 'the sweep finished before it could be killed'
        p.send_signal(signal.SIGKILL); p.wait()
        finished = done()
        assert len(finished) < 24
    final = blockopt('sweep', spec, '--runs_dir', runs, '--workers', '2', '--quiet')
    assert final.returncode == 0, final.stdout + final.stderr
    assert f"{len(finished)} finished before, {24 - len(finished)} to run" in final.stdout, final.stdout
    after = done()
    assert all(after[rid] == marker for rid, marker in finished.items())  # no finished run was run again
    df = status(runs)
    assert len(df) == 24 and (df.state == 'done').all()
    for rd in run_dirs(runs):
        ev = (rd/'events.log').read_text().splitlines()
        ends = [i for i, l in enumerate(ev) if 'done: ' in l]
        assert len(ends) <= 1 and (not ends or ends[0] == len(ev) - 1), ev  # finished once, nothing ran after
        assert len(pd.read_csv(rd/'metrics.csv')) == 3
    assert_whole(runs)

# %% two sweeps on one store

def test_two_sweeps_never_run_a_config_twice(tmp_path):
    spec = write(tmp_path/'two.yaml', f"""
base: {{rounds: 3, communication_delay: 0.2}}
grid: {{K: [1, 2, 3, 4, 5], step_size: [0.1, 0.01]}}
function: {FAKE}
preload: []
""")
    runs, log = tmp_path/'runs', tmp_path/'events.log'
    env = {**child_env(), 'FAKE_RUN_LOG': str(log)}
    ps = [spawn('sweep', spec, '--runs_dir', runs, '--workers', '1', '--quiet', env=env,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in ps]
    assert [p.returncode for p in ps] == [0, 0], outs
    starts = Counter(rid for ev, rid, _ in events(log) if ev == 'start')
    assert len(starts) == 10 and set(starts.values()) == {1}, starts
    assert len({pid for ev, _, pid in events(log)}) == 2  # both sweeps did some of the work
    assert (status(runs).state == 'done').all()
    assert_whole(runs)

# %% thread budgets and GPU packing

def test_workers_get_thread_budget_and_gpu_slots(tmp_path, monkeypatch):
    spec = write(tmp_path/'g.yaml', f"""
base: {{rounds: 1, communication_delay: 0.3}}
grid: {{K: [1, 2, 3, 4, 5, 6, 7, 8]}}
function: {FAKE}
resources: {{cpus: 1, gpus: 0.5}}
preload: []
""")
    runs = tmp_path/'runs'
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', '3,5')  # two (pretend) GPUs, two runs on each
    monkeypatch.setenv('OMP_NUM_THREADS', '2')
    code, out, err = main('sweep', spec, '--runs_dir', runs, '--workers', '4', '--quiet')
    assert code == 0, out + err
    seen = [json.loads((rd/'env.json').read_text()) for rd in run_dirs(runs)]
    assert {s['CUDA_VISIBLE_DEVICES'] for s in seen} == {'3', '5'}
    assert {s['torch_threads'] for s in seen} == {1} and {s['OMP_NUM_THREADS'] for s in seen} == {'1'}
    assert all(json.loads((rd/'config.json').read_text())['cuda_core'] == 0 for rd in run_dirs(runs))
    code, out, err = main('sweep', spec, '--runs_dir', tmp_path/'r2', '--workers', '5')
    assert code == 2 and 'workers=5 is invalid: 2 GPU(s) at 0.5 per run fit 4 worker(s)' in err, err

# %% Ray

@pytest.fixture
def ray_cluster(tmp_path):
    "A real local Ray cluster on loopback: a head node and one worker node, one CPU each."
    import ray  # noqa: a dev requirement (settings.ini), so CI runs this test instead of skipping it
    ray_bin = Path(sys.executable).parent/'ray'
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]
    temp = tempfile.mkdtemp(prefix='ray', dir='/tmp')  # Ray's socket paths must stay under 108 bytes
    env = {**child_env(), 'RAY_USAGE_STATS_ENABLED': '0', 'FAKE_RUN_LOG': str(tmp_path/'events.log')}  # Ray workers' env
    def ray(*args): return subprocess.run([str(ray_bin), *args], env=env, capture_output=True, text=True, timeout=180)
    head = ray('start', '--head', f'--port={port}', '--node-ip-address=127.0.0.1', '--num-cpus=1', '--num-gpus=0',
               '--include-dashboard=false', f'--temp-dir={temp}')
    assert head.returncode == 0, head.stdout + head.stderr
    try:
        worker = ray('start', f'--address=127.0.0.1:{port}', '--node-ip-address=127.0.0.1', '--num-cpus=1', '--num-gpus=0')
        assert worker.returncode == 0, worker.stdout + worker.stderr
        yield f'127.0.0.1:{port}'
    finally:
        ray('stop', '--force'); shutil.rmtree(temp, ignore_errors=True)

def test_ray_executor(tmp_path, ray_cluster):
    spec = write(tmp_path/'ray.yaml', f"""
base: {{rounds: 2}}
grid: {{K: [1, 2, 3, 99]}}
function: {FAKE}
ray: {{max_retries: 1}}
""")
    runs, log = tmp_path/'runs', tmp_path/'events.log'
    code, out, err = main('sweep', spec, '--runs_dir', runs, '--executor', 'ray', '--ray_address', ray_cluster, '--quiet')
    assert code == 1, out + err
    df = status(runs).set_index('K')
    assert (df.loc[[1, 2, 3]].state == 'done').all()
    assert df.loc[99].state == 'failed'  # its worker died twice (a retry), then the failure is recorded
    assert Counter(rid for ev, rid, _ in events(log) if ev == 'start')[df.loc[99].run_id] == 2
    assert_whole(runs)

# %% SLURM through submitit (its local executor)

def test_slurm_executor_with_submitit_local(tmp_path):
    pytest.importorskip('submitit')
    spec = write(tmp_path/'slurm.yaml', f"""
base: {{rounds: 2}}
grid: {{K: [1, 13]}}
function: {FAKE}
slurm: {{cluster: local, timeout_min: 5}}
""")
    runs = tmp_path/'runs'
    code, out, err = main('sweep', spec, '--runs_dir', runs, '--executor', 'slurm', '--workers', '2', '--quiet')
    assert code == 1, out + err
    df = status(runs).set_index('K')
    assert df.loc[1].state == 'done' and df.loc[13].error == 'RuntimeError: unlucky K=13'
    assert_whole(runs)

def test_slurm_debug_cluster_runs_in_this_process(tmp_path, monkeypatch):
    "`slurm.cluster: debug`: submitit's debug executor runs each job inside the sweep's own process."
    pytest.importorskip('submitit')
    spec = write(tmp_path/'debug.yaml', f"""
base: {{rounds: 2}}
grid: {{K: [1, 13]}}
function: {FAKE}
slurm: {{cluster: debug, partition: ignored-by-debug}}
""")
    runs, log = tmp_path/'runs', tmp_path/'events.log'
    monkeypatch.setenv('FAKE_RUN_LOG', str(log))
    code, out, err = main('sweep', spec, '--runs_dir', runs, '--executor', 'slurm', '--quiet')
    assert code == 1, out + err
    df = status(runs).set_index('K')
    assert df.loc[1].state == 'done' and df.loc[13].error == 'RuntimeError: unlucky K=13'
    assert {int(pid) for _, _, pid in events(log)} == {os.getpid()}  # no subprocess
    assert_whole(runs)

def test_slurm_requeue_runs_the_run_again(tmp_path, monkeypatch):
    "A preempted job (SIGUSR2, as SLURM sends) is requeued by submitit and its run is claimed and finished."
    pytest.importorskip('submitit')
    from blockopt.sweep import SlurmExecutor, load_spec, make_task, sweep_configs
    log, runs = tmp_path/'events.log', tmp_path/'runs'
    monkeypatch.setenv('FAKE_RUN_LOG', str(log))
    s = load_spec({'base': {'rounds': 6, 'communication_delay': 0.5}, 'function': FAKE, 'slurm': {'cluster': 'local'}})
    cfg, = sweep_configs(s, runs)
    ex = SlurmExecutor(s, runs)
    ex.submit(make_task(s, cfg)); ex._flush()
    job, = ex.jobs
    deadline = time.time() + 120
    while not events(log) and time.time() < deadline: time.sleep(0.1)
    os.kill(int(events(log)[0][2]), signal.SIGUSR2)  # what SLURM sends the job's process before preempting it
    results = []
    while not results and time.time() < deadline: results = ex.poll(0.2)
    (task, res), = results
    assert res['state'] == 'done', res
    assert [ev for ev, rid, _ in events(log)] == ['start', 'start', 'finish']
    assert_whole(runs)

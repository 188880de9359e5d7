"The `blockwise` engine over real processes: 2 gloo processes equal the 1-process Jacobi simulation, resume, failures, torchrun."
import json, subprocess, sys, textwrap, time
import psutil, pytest, torch
from conftest import ROOT, child_env
import blockopt.distributed as bd
import blockopt.engines as engines
from blockopt.core import RunConfig
from blockopt.engines import Callback, Trainer, load_checkpoint, save_checkpoint

# 4 blocks (3 hidden layers and the head) over 2 workers: worker 0 owns blocks 0 and 2, worker 1 blocks 1 and 3.
# Dropout, kept optimiser state, λ, γ and the inexact stop are all in play.
TINY = dict(dataset_name='mnist1d', model='mlp', config=[16, 16, 16], dropout=0.1, max_train_samples=300, batch_size=50,
            rounds=2, K=3, step_size=1e-2, training_mode='blockwise', optimizer_state='keep', prox_lambda=0.1, gamma=0.8,
            block_accuracy_factor=0.05, threads=1)

def state(t): return [x.detach().clone() for x in (*t.model.parameters(), *t.model.buffers())]
def same(a, b): return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))
def no_wall(h): return [{k: v for k, v in r.items() if k not in ('wall_s', 'train_loss', 'comm_bytes')} for r in h]

@pytest.fixture(scope='module')
def cfg(data_root): return RunConfig(**TINY, data_root=data_root)

@pytest.fixture(scope='module')
def simulation(cfg):
    "The one-process Jacobi simulation of the run (n_workers=1)."
    return Trainer(cfg, verbose=False).fit()

class CheckpointAt(Callback):
    "Save a checkpoint after the report of round `at`, as `RunWriter` does."
    order = 20
    def __init__(self, path, at=1): self.path, self.at = path, at
    def after_report(self, t):
        if t.round == self.at: save_checkpoint(t, self.path)

@pytest.fixture(scope='module')
def two(cfg, tmp_path_factory):
    "The same run over 2 gloo processes, the second started by the engine; checkpointed after round 1."
    path = tmp_path_factory.mktemp('ck')/'round1.pt'
    t = Trainer(cfg.replace(n_workers=2), callbacks=[CheckpointAt(path)], verbose=False).fit()
    t.round1 = path
    return t

def test_two_processes_equal_simulation(simulation, two):
    # Exact equality, not allclose: a block's update depends only on the block (its own batches and dropout
    # seed), each process runs the same kernels with one thread, and gloo's broadcast copies bytes.
    assert same(state(two), state(simulation))
    assert two.engine.owners == [[0, 2], [1, 3]] and two.engine.world == 2
    assert two.block_steps == simulation.block_steps and two.step == simulation.step
    assert no_wall(two.history) == no_wall(simulation.history)
    for a, b in zip(two.history, simulation.history):  # summed over workers in another order: equal up to rounding
        assert a['train_loss'] == pytest.approx(b['train_loss'], rel=1e-12)
    assert not two.engine.children and not any(p.poll() is None for p in bd._children)

def test_bytes_counted(two, simulation, cfg):
    e = two.engine
    model_bytes = sum(x.numel() * x.element_size() for x in (*two.model.parameters(), *two.model.buffers()))
    assert e.bytes_per_round() == model_bytes  # every block trains: a round sends the whole model once
    assert e.comm['blocks'] == cfg.rounds * e.bytes_per_round()
    assert e.comm['model'] == model_bytes  # the initial centre, once
    assert 0 < e.comm['control'] < 1000 * cfg.rounds and e.comm['state'] > 0  # state: for rank 0's checkpoints
    assert two.comm_bytes == e.comm['blocks'] + e.comm['model'] + e.comm['control']  # checkpoint state apart
    assert two.history[-1]['comm_bytes'] == two.comm_bytes - 5 * 8  # the last report, then the 5-number stop
    assert simulation.comm_bytes == 0 and simulation.history[-1]['comm_bytes'] == 0

def test_resume_two_processes(cfg, two):
    "The checkpoint after round 1 in a new trainer (new workers), 1 more round: exactly the 2-round run."
    assert set(torch.load(two.round1, weights_only=True)['engine']['blocks']) == {'0', '1', '2', '3'}  # workers' blocks too
    second = load_checkpoint(Trainer(cfg.replace(n_workers=2), verbose=False), two.round1).fit()
    assert same(state(second), state(two))
    assert no_wall(second.history) == no_wall(two.history)

class KillWorker(Callback):
    def after_round(self, t):
        if t.round == 1: t.engine.children[0].kill(); t.engine.children[0].wait()

def test_dead_worker_fails_rank_0(cfg):
    t = Trainer(cfg.replace(n_workers=2, rounds=5), callbacks=[KillWorker()], verbose=False)
    with pytest.raises(RuntimeError, match='blockwise worker 1 failed'): t.fit()
    assert not t.engine.children and not any(p.poll() is None for p in bd._children)

def test_workers_must_build_the_same_model(cfg):
    "Workers build their model from the config: a Trainer given another model fails cleanly, workers reaped."
    from blockopt.models import build_model
    other = build_model('mlp', (1, 40), 10, config=[8, 8, 8])
    t = Trainer(cfg.replace(n_workers=2), model=other, verbose=False)
    with pytest.raises(ValueError, match='the processes built different models'): t.fit()
    assert not t.engine.children and not any(p.poll() is None for p in bd._children)

def _gone(pid):
    try: return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess: return True

def test_workers_do_not_outlive_a_killed_parent(cfg):
    script = textwrap.dedent(f"""
        import os, sys, blockopt.distributed
        from blockopt.core import RunConfig
        from blockopt.engines import Callback, Trainer
        class Die(Callback):
            def after_round(self, t): print(t.engine.children[0].pid, flush=True); os._exit(1)
        Trainer(RunConfig.from_json({cfg.replace(n_workers=2, rounds=3).to_json()!r}), callbacks=[Die()], verbose=False).fit()
    """)
    r = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, env=child_env(), timeout=120)
    pid = int(r.stdout.split()[0])
    deadline = time.time() + 15
    while not _gone(pid) and time.time() < deadline: time.sleep(0.1)
    assert _gone(pid), f"worker {pid} outlived its parent"

TORCHRUN = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2']

def test_torchrun(cfg, simulation, tmp_path):
    "Under torchrun, rank 0 fits and the other rank serves; the model is the simulation's."
    script = textwrap.dedent(f"""
        import os, torch, blockopt.distributed
        from blockopt.core import RunConfig
        from blockopt.engines import Trainer
        t = Trainer(RunConfig.from_json({cfg.replace(n_workers=2).to_json()!r}), verbose=False)
        if int(os.environ['RANK']) == 0:
            t.fit(); torch.save([x.detach() for x in (*t.model.parameters(), *t.model.buffers())], {str(tmp_path/'out.pt')!r})
        else: t.engine.serve()
    """)
    r = subprocess.run([*TORCHRUN, '--no-python', sys.executable, '-c', script],
                       capture_output=True, text=True, env=child_env(), timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    assert same(torch.load(tmp_path/'out.pt', weights_only=True), state(simulation))

def test_torchrun_cli(cfg, simulation, tmp_path):
    "`torchrun ... -m blockopt.cli train`: one run directory, written by rank 0, with the simulation's model."
    flags = [f'--{k}={json.dumps(v) if not isinstance(v, str) else v}' for k, v in cfg.replace(n_workers=2).to_dict().items()
             if v is not None and k not in ('runs_dir', 'measurements')]
    r = subprocess.run([*TORCHRUN, '-m', 'blockopt.cli', 'train', *flags, '--runs_dir', str(tmp_path/'runs'), '--quiet'],
                       capture_output=True, text=True, env=child_env(), timeout=120, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    (rd,) = [p for p in (tmp_path/'runs').iterdir() if not p.name.startswith('.')]
    assert (rd/'DONE').exists() and 'comm_bytes' in (rd/'metrics.csv').read_text()
    ck = torch.load(rd/'checkpoint.pt', weights_only=True)['model']
    assert same(list(ck.values()), [v for v in simulation.model.state_dict().values()])

# `entire` with DistributedDataParallel: 2 gloo processes at global batch 50 against one process at batch 50.
# No dropout (each process draws its own masks for its share); mixup on, to check the shared mixing generator.
DDP = dict(dataset_name='mnist1d', model='mlp', config=[16, 16], max_train_samples=320, batch_size=50, rounds=3, K=4,
           step_size=1e-2, training_mode='entire', optimizer='adam', mixup_alpha=0.4, threads=1)

def test_entire_ddp_matches_one_process(data_root, tmp_path):
    cfg = RunConfig(**DDP, data_root=data_root)
    one = Trainer(cfg, verbose=False).fit()
    script = textwrap.dedent(f"""
        import os, torch, blockopt.distributed
        from blockopt.core import RunConfig
        from blockopt.engines import Trainer
        t = Trainer(RunConfig.from_json({cfg.to_json()!r}), verbose=False).fit()
        assert type(t.engine).__name__ == 'DataParallelEngine' and t.engine.world == 2
        if int(os.environ['RANK']) == 0:
            torch.save({{'params': [p.detach() for p in t.model.parameters()], 'history': t.history}}, {str(tmp_path/'out.pt')!r})
    """)
    r = subprocess.run([*TORCHRUN, '--no-python', sys.executable, '-c', script],
                       capture_output=True, text=True, env=child_env(), timeout=180, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    two = torch.load(tmp_path/'out.pt', weights_only=True)
    for p, q in zip(two['params'], one.model.parameters()): torch.testing.assert_close(p, q.detach(), rtol=1e-5, atol=1e-6)
    assert len(two['history']) == len(one.history)
    for a, b in zip(two['history'], one.history):
        assert (a['step'], a['samples']) == (b['step'], b['samples'])
        assert a['train_loss'] == pytest.approx(b['train_loss'], rel=1e-5)
        assert a['train_acc'] == b['train_acc'] and a['val_loss'] == pytest.approx(b['val_loss'], rel=1e-5)

def test_entire_ddp_cli_rank0_writes(data_root, tmp_path):
    "`torchrun ... blockopt train --training_mode entire`: one run directory, written by rank 0."
    cfg = RunConfig(**DDP, data_root=data_root)
    flags = [f'--{k}={json.dumps(v) if not isinstance(v, str) else v}' for k, v in cfg.to_dict().items()
             if v is not None and k not in ('runs_dir', 'measurements')]
    r = subprocess.run([*TORCHRUN, '-m', 'blockopt.cli', 'train', *flags, '--runs_dir', str(tmp_path/'runs'), '--quiet'],
                       capture_output=True, text=True, env=child_env(), timeout=180, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    (rd,) = [p for p in (tmp_path/'runs').iterdir() if not p.name.startswith('.')]
    assert (rd/'DONE').exists() and len((rd/'metrics.csv').read_text().splitlines()) == 1 + cfg.rounds
    assert (rd/'events.log').read_text().count('run ') >= 1

def test_entire_needs_distributed_under_torchrun(tmp_path):
    script = ("import os; os.environ.update(WORLD_SIZE='2', RANK='0')\n"
              "from blockopt.core import RunConfig; from blockopt.engines import Trainer\n"
              f"Trainer(RunConfig(dataset_name='mnist1d', max_train_samples=100, data_root={str(tmp_path)!r}), verbose=False)")
    r = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, env=child_env(), timeout=120)
    assert r.returncode != 0 and 'needs blockopt.distributed imported' in r.stderr

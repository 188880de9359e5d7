"""Engine benchmarks, each a ratio measured side by side in one run (CPU).

1. `entire` step time vs a hand-written PyTorch loop, MNIST-1D MLP, batch 100, one thread (target <= 1.05).
2. `blockwise_sequential` mean step time vs `entire`, ResNet-18 on 32x32 inputs, batch 64 (target <= 0.75).
3. Peak optimiser-state + gradient bytes of `blockwise_sequential` (Adam, state reset) vs `entire`, for D
   nearly equal blocks (target: close to 1/D).

Run: `.venv/bin/python bench/engines.py [1 2 3] [--chunks 100] [--repeats 3]` (or `make bench`): the numbers pick
the benchmarks; `--chunks` and `--repeats` set how many measurements 1 and 2 take (`make bench BENCH_ARGS=--quick`
uses 40 and 1).
"""
import argparse, statistics, tempfile, time
from torch.optim.optimizer import register_optimizer_step_post_hook
import torch
import torch.nn.functional as F
from blockopt.core import RunConfig, set_seed
from blockopt.data import make_data
from blockopt.engines import Trainer
from blockopt.models import build_model
from _report import record

DATA_ROOT = tempfile.mkdtemp()

def interleaved(fns, repeats, stat=statistics.median):
    "Run each function `repeats` times, interleaved (alternating which goes first), and return `stat` of each."
    times = [[] for _ in fns]
    for r in range(repeats):
        order = list(enumerate(fns))
        for i, f in (order if r % 2 == 0 else order[::-1]): times[i].append(f())
    return [stat(t) for t in times]

def bench_entire_vs_hand(chunk=50, repeats=100):
    "Alternate chunks of `chunk` steps of each loop, `repeats` times; compare the medians per step."
    torch.set_num_threads(1)
    cfg = RunConfig(model='mnist1d_mlp', dataset_name='mnist1d', batch_size=100, K=chunk, rounds=10**6,
                    optimizer='adam', step_size=1e-2, data_root=DATA_ROOT, val_size=0)
    data = make_data(cfg, torch.device('cpu'))
    data.val = data.test = None  # time training steps only, not evaluation
    t = Trainer(cfg, data=data, verbose=False)

    set_seed(cfg.seed)
    model = build_model(cfg.model, data.info.input_shape, data.info.n_classes)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.step_size)
    def hand():
        t0 = time.perf_counter()
        for _ in range(chunk):
            x, y = data.train.next_batch()
            loss = F.cross_entropy(model(x), y)
            opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
            loss.item()  # as any loop that logs its loss
        return (time.perf_counter() - t0) / chunk
    def engine():
        t0 = time.perf_counter(); t.engine.run_round(); return (time.perf_counter() - t0) / chunk

    hand(); engine()  # warm-up
    # the fastest chunk of each is the least disturbed by the rest of a noisy machine; the median is shown too
    (e, em), (h, hm) = interleaved([engine, hand], repeats, stat=lambda ts: (min(ts), statistics.median(ts)))
    print(f"1. entire vs hand-written loop (MNIST-1D MLP, batch 100, 1 thread): "
          f"{e*1e3:.3f} ms vs {h*1e3:.3f} ms per step (fastest of {repeats} chunks of {chunk}) -> ratio {e/h:.3f} "
          f"(target <= 1.05); medians {em*1e3:.3f} vs {hm*1e3:.3f} ms -> {em/hm:.3f}")
    record(f"step time, MNIST-1D MLP, batch 100, 1 thread (fastest of {repeats} chunks of {chunk} steps)",
           'entire engine', e * 1e3, 'hand-written loop', h * 1e3, 'ms per step', target='<= 1.05',
           note=f"medians {em*1e3:.3f} vs {hm*1e3:.3f} ms: ratio {em/hm:.3f}")

def bench_sequential_vs_entire(repeats=3):
    torch.set_num_threads(2)
    base = dict(model='resnet18', dataset_name='fake', batch_size=64, rounds=1, optimizer='sgd', momentum=0.9,
                step_size=0.01, data_root=DATA_ROOT, val_size=0)
    seq = RunConfig(**base, training_mode='blockwise_sequential', K=1)
    ent = RunConfig(**base, training_mode='entire', K=1)
    data = make_data(seq, torch.device('cpu')); data.val = data.test = None
    trainers = {m: Trainer(c, data=data, verbose=False) for m, c in (('seq', seq), ('ent', ent))}
    n_blocks = trainers['seq'].n_blocks

    def timed(name, steps):
        def f():
            t = trainers[name]
            t0 = time.perf_counter(); t.engine.run_round() if name == 'seq' else [t.engine.run_round() for _ in range(steps)]
            return (time.perf_counter() - t0) / steps
        return f
    timed('seq', n_blocks)(); timed('ent', 1)()  # warm-up
    # as in 1: the fastest round of each is the least disturbed by the rest of a shared machine; medians shown too
    (s, sm), (e, em) = interleaved([timed('seq', n_blocks), timed('ent', n_blocks)], repeats,
                                   stat=lambda ts: (min(ts), statistics.median(ts)))
    print(f"2. blockwise_sequential vs entire step time (ResNet-18, 32x32, batch 64, {n_blocks} blocks): "
          f"{s*1e3:.1f} ms vs {e*1e3:.1f} ms (fastest of {repeats} rounds of {n_blocks} steps) -> ratio {s/e:.3f} "
          f"(target <= 0.75); medians {sm*1e3:.1f} vs {em*1e3:.1f} ms -> {sm/em:.3f}")
    record(f"mean step time, ResNet-18, 32x32, batch 64, {n_blocks} blocks, 2 threads (fastest of {repeats} rounds)",
           'blockwise_sequential', s * 1e3, 'entire', e * 1e3, 'ms per step', target='<= 0.75',
           note=f"medians {sm*1e3:.1f} vs {em*1e3:.1f} ms: ratio {sm/em:.3f}")

def bench_memory(D=4):
    torch.set_num_threads(2)
    peak = {'bytes': 0}
    def hook(opt, args, kwargs):
        grads = sum(p.grad.numel() * p.grad.element_size() for g in opt.param_groups for p in g['params'] if p.grad is not None)
        state = sum(v.numel() * v.element_size() for s in opt.state.values() for v in s.values() if torch.is_tensor(v))
        peak['bytes'] = max(peak['bytes'], grads + state)
    handle = register_optimizer_step_post_hook(hook)
    res = {}
    for mode in ('entire', 'blockwise_sequential'):
        peak['bytes'] = 0
        cfg = RunConfig(model='mlp', config=[256] * 8, dataset_name='mnist1d', n_block_groups=D, training_mode=mode,
                        optimizer='adam', optimizer_state='reset', K=2, rounds=1, batch_size=100, data_root=DATA_ROOT)
        t = Trainer(cfg, verbose=False).fit()
        res[mode] = peak['bytes']
        shares = [sum(p.numel() for p in b.parameters()) for b in t.blocks]
    handle.remove()
    ratio = res['blockwise_sequential'] / res['entire']
    print(f"3. peak optimiser-state + gradient bytes, Adam with state reset, D={D} blocks: "
          f"{res['blockwise_sequential']/2**20:.2f} MiB vs {res['entire']/2**20:.2f} MiB -> ratio {ratio:.3f} "
          f"(1/D = {1/D:.3f}; largest block's share of the parameters = {max(shares)/sum(shares):.3f})")
    record(f"peak optimiser-state + gradient bytes, Adam with state reset, MLP 8x256, D={D} blocks",
           'blockwise_sequential', res['blockwise_sequential'] / 2**20, 'entire', res['entire'] / 2**20, 'MiB',
           quantity='peak bytes', target=f"close to 1/D = {1/D:.3f}",
           note=f"largest block's share of the parameters {max(shares)/sum(shares):.3f}")

if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('which', nargs='*', default=['1', '2', '3'], help='benchmarks to run: 1, 2 and/or 3')
    p.add_argument('--chunks', type=int, default=100, help='chunks of 50 steps of each loop in 1')
    p.add_argument('--repeats', type=int, default=3, help='interleaved measurements of each mode in 2')
    a = p.parse_args()
    which = a.which
    if bad := [w for w in which if w not in ('1', '2', '3')]: p.error(f"which={bad[0]!r}; allowed: 1, 2, 3")
    if '1' in which: bench_entire_vs_hand(repeats=a.chunks)
    if '2' in which: bench_sequential_vs_entire(repeats=a.repeats)
    if '3' in which: bench_memory()

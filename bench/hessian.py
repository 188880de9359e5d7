"""blockopt.hessian against PyHessian: wall time and error of the top eigenvalue and the trace.

Both run side by side in one process on the same float32 model, batch and number of Hessian-vector
products; errors are against the exact Hessian (`torch.func.hessian`, float64). PyHessian's products are
counted by wrapping its `hessian_vector_product`; with `tol=0` both run exactly the products asked for:
PyHessian's power iteration `eigenvalues(maxIter=n, tol=0)` and Hutchinson `trace(maxIter=n, tol=0)`;
blockopt's Lanczos `top_eigenvalues(max_iter=n, tol=0)` (one vector a step, or a block of 4 through one
vectorised product) and Hutch++ `trace(n_products=n)`. The `tol=1e-3` rows let each tool stop by its own
rule (PyHessian: relative change of the eigenvalue; blockopt: relative residual) with at most 100 products.
Times include building each tool's gradient graph and are medians over `--repeats` interleaved runs with
different seeds; errors are root-mean-square relative errors over the same runs; the time ratio is
blockopt / PyHessian.

    .venv/bin/pip install pyhessian        # the benchmark's only extra dependency
    .venv/bin/python bench/hessian.py      # about 30 s on one core

`--trace-study` instead prints, side by side, the median relative error of the trace estimators over 20
seeds at 100 products on two Hessians: the trained MLP above (dominated by a few outliers) and an MLP
12-40-8-5 with tanh at initialisation (893 parameters, indefinite and flat): blockopt's `adaptive`
(the default), `xtrace`, `hutch++` and `hutchinson`, and PyHessian's Hutchinson when it is installed.

    .venv/bin/python bench/hessian.py --trace-study
"""
import argparse, importlib, statistics, sys, time, warnings
import numpy as np
import torch
from torch import nn
from blockopt.hessian import exact_hessian, top_eigenvalues, trace
from _report import record

try:
    _ph = importlib.import_module('pyhessian.hessian')  # the module: `pyhessian.hessian` is shadowed by the class
except ImportError:
    _ph = None
    if '--trace-study' not in sys.argv:
        sys.exit("bench/hessian.py needs PyHessian, which is not installed: .venv/bin/pip install pyhessian")

class MLP(nn.Module):
    "The notebook's test model: 16-40-32-4 with tanh, one block per layer."
    def __init__(self, sizes=(16, 40, 32, 4)):
        super().__init__()
        hidden = [nn.Sequential(nn.Linear(a, b), nn.Tanh()) for a, b in zip(sizes[:-2], sizes[1:-1])]
        self.blocks = nn.ModuleList(hidden + [nn.Linear(sizes[-2], sizes[-1])])
    def forward(self, x):
        for b in self.blocks: x = b(x)
        return x

def trained_model(n=1024, steps=300, seed=0):
    "The MLP trained with Adam on a random teacher's labels (as in nbs/04a_hessian.ipynb)."
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 16, generator=g); w = torch.randn(16, 4, generator=g)
    y = (torch.tanh(x @ w) + 0.3 * torch.randn(n, 4, generator=g)).argmax(1)
    torch.manual_seed(seed); model = MLP()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad(); nn.functional.cross_entropy(model(x), y).backward(); opt.step()
    opt.zero_grad(set_to_none=True)
    return model, (x[:64], y[:64])

_count = [0]
if _ph is not None:
    _hvp = _ph.hessian_vector_product
    def _counted(*args, **kwargs):
        _count[0] += 1
        return _hvp(*args, **kwargs)
    _ph.hessian_vector_product = _counted

warnings.filterwarnings('ignore', message='Using backward.. with create_graph=True')  # PyHessian's own call

def pyhessian_top(model, batch, n, seed, tol=0.):
    torch.manual_seed(seed)
    h = _ph.hessian(model, nn.functional.cross_entropy, data=batch, cuda=False)
    return h.eigenvalues(maxIter=n, tol=tol, top_n=1)[0][0]

def pyhessian_trace(model, batch, n, seed):
    torch.manual_seed(seed)
    h = _ph.hessian(model, nn.functional.cross_entropy, data=batch, cuda=False)
    return float(np.mean(h.trace(maxIter=n, tol=0.)))

def blockopt_top(model, batch, n, seed, tol=0.):
    r = top_eigenvalues(model, nn.functional.cross_entropy, batch, k=1, max_iter=n, tol=tol, seed=seed)
    _count[0] += r.n_products
    return float(r.eigenvalues[0])

def blockopt_block_top(model, batch, n, seed, tol=0.):
    r = top_eigenvalues(model, nn.functional.cross_entropy, batch, k=1, max_iter=n, tol=tol, seed=seed, block_size=4)
    _count[0] += r.n_products
    return float(r.eigenvalues[0])

def blockopt_trace(model, batch, n, seed):
    t = trace(model, nn.functional.cross_entropy, batch, n_products=n, seed=seed)
    _count[0] += t.n_products
    return t.estimate

def run(fn, model, batch, n, exact, seed, **kw):
    "Wall time, relative error and products of one run of `fn`."
    _count[0] = 0
    t = time.perf_counter(); value = fn(model, batch, n, seed, **kw); t = time.perf_counter() - t
    model.zero_grad(set_to_none=True)  # PyHessian leaves gradients with graphs behind
    return t, value / exact - 1, _count[0]

def init_model(sizes=(12, 40, 8, 5), n=64, seed=0):
    "An MLP with tanh at initialisation (893 parameters) and a batch of the teacher task: an indefinite Hessian."
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, sizes[0], generator=g); w = torch.randn(sizes[0], sizes[-1], generator=g)
    y = (torch.tanh(x @ w) + 0.3 * torch.randn(n, sizes[-1], generator=g)).argmax(1)
    torch.manual_seed(seed)
    return MLP(sizes), (x, y)

def trace_study(n=100, seeds=20):
    "Median relative trace error per estimator over `seeds`, on the trained and the initial MLP."
    from blockopt.hessian import HessianOperator
    methods = ['adaptive', 'xtrace', 'hutch++', 'hutchinson']
    print(f"median relative error of the trace, {seeds} seeds, {n} Hessian-vector products (float64 products)")
    print(f"{'Hessian':<44}" + ''.join(f'{m:>12}' for m in methods + (['pyhessian'] if _ph is not None else [])) + f"{'default picks':>24}")
    for name, (model, batch) in (('trained MLP 16-40-32-4 (outliers)', trained_model()), ('tanh MLP 12-40-8-5 at init (indefinite)', init_model())):
        H = exact_hessian(model, nn.functional.cross_entropy, batch)
        exact, n_params = float(H.trace()), sum(q.numel() for q in model.parameters())
        op = HessianOperator(model, nn.functional.cross_entropy, batch, dtype=torch.float64)
        errs = {m: [abs(trace(op, None, None, n, method=m, seed=s).estimate / exact - 1) for s in range(seeds)] for m in methods}
        if _ph is not None: errs['pyhessian'] = [abs(pyhessian_trace(model, batch, n, s) / exact - 1) for s in range(seeds)]
        picks = sorted({trace(op, None, None, n, seed=s).method for s in range(seeds)})
        print(f"{name + f' ({n_params} p.)':<44}" + ''.join(f'{100 * np.median(e):>11.2f}%' for e in errs.values()) + f"{', '.join(picks):>24}")

def main():
    if '--trace-study' in sys.argv:
        torch.set_num_threads(1); return trace_study()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--eig-products', type=int, nargs='+', default=[20, 100], help='products for the top eigenvalue')
    p.add_argument('--trace-products', type=int, default=100, help='products for the trace')
    p.add_argument('--repeats', type=int, default=5, help='interleaved runs per measurement (seeds)')
    p.add_argument('--threads', type=int, default=1, help='torch threads')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model, batch = trained_model()
    H = exact_hessian(model, nn.functional.cross_entropy, batch)
    top, tr = float(torch.linalg.eigvalsh(H)[-1]), float(H.trace())
    n_params = sum(q.numel() for q in model.parameters())
    print(f"MLP 16-40-32-4 tanh, {n_params} parameters, batch 64, float32, {a.threads} thread(s), "
          f"{a.repeats} runs each; exact top eigenvalue {top:.6g}, trace {tr:.6g}")
    print(f"{'quantity':<30}{'tool':<30}{'products':>9}{'time ms':>10}{'rms rel err':>13}{'time ratio':>12}")
    rows = [(f'top eigenvalue, {n} products', pyhessian_top, 'pyhessian power iteration', f, name, n, top, {})
            for n in a.eig_products for f, name in ((blockopt_top, 'blockopt lanczos'), (blockopt_block_top, 'blockopt block lanczos (4)'))]
    rows += [(f'trace, {a.trace_products} products', pyhessian_trace, 'pyhessian hutchinson', blockopt_trace, 'blockopt adaptive (default)',
              a.trace_products, tr, {})]
    rows += [('top eigenvalue, tol=1e-3', pyhessian_top, 'pyhessian (maxIter=100)', f, name, 100, top, {'tol': 1e-3})
             for f, name in ((blockopt_top, 'blockopt lanczos'), (blockopt_block_top, 'blockopt block lanczos (4)'))]
    for name, f_ph, n_ph, f_bo, n_bo, n, exact, kw in rows:
        for f in (f_ph, f_bo): run(f, model, batch, n, exact, 0, **kw)  # warm up
        res = {f_ph: [], f_bo: []}
        for seed in range(a.repeats):  # interleaved, alternating order: both see the same machine load
            for f in ((f_ph, f_bo) if seed % 2 == 0 else (f_bo, f_ph)): res[f].append(run(f, model, batch, n, exact, seed, **kw))
        stats = {f: (statistics.median(t for t, _, _ in r), float(np.sqrt(np.mean([e**2 for _, e, _ in r]))),
                     int(np.median([c for _, _, c in r]))) for f, r in res.items()}
        (t_ph, e_ph, c_ph), (t_bo, e_bo, c_bo) = stats[f_ph], stats[f_bo]
        print(f"{name:<30}{n_ph:<30}{c_ph:>9}{1e3*t_ph:>10.1f}{e_ph:>13.2e}")
        print(f"{'':<30}{n_bo:<30}{c_bo:>9}{1e3*t_bo:>10.1f}{e_bo:>13.2e}{t_bo/t_ph:>12.2f}")
        record(f"{name}, MLP {n_params} parameters, batch 64, {a.threads} thread(s), median of {a.repeats} runs",
               n_bo, 1e3 * t_bo, n_ph, 1e3 * t_ph, 'ms', note=f"rms relative error {e_bo:.2e} vs {e_ph:.2e}; "
               f"Hessian-vector products {c_bo} vs {c_ph}")

if __name__ == '__main__':
    main()

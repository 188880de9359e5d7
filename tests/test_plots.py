"The figure functions' contract: a stable `curves(df, x, y, hue=...)`, `ax=` composition, and `save` closing figures."
import inspect
import matplotlib
matplotlib.use('agg')
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from blockopt import plots
from blockopt.measure import measurements_frame, tidy_rows

def _runs():
    return pd.DataFrame([dict(run_id=f"{m}{s}", seed=s, training_mode=m, round=r, test_acc=0.5 + 0.1 * r + 0.01 * s)
                         for m in ('entire', 'blockwise_sequential') for s in range(2) for r in range(1, 4)])

def test_curves_signature_is_stable():
    ps = list(inspect.signature(plots.curves).parameters.values())
    assert [p.name for p in ps[:4]] == ['df', 'x', 'y', 'hue']
    assert ps[3].default is None and ps[1].default is inspect.Parameter.empty

def _figures(ax):
    "Every figure function called on `ax`, with a small frame of what it needs."
    runs = _runs()
    conv = pd.DataFrame(dict(K=[1, 2, 4] * 2, step_size=[0.1] * 3 + [0.3] * 3, round=[9, 5, np.nan, 8, 4, 3]))
    corr = pd.DataFrame(dict(run_id=list('abcd'), corruption_p=[0, 0, 1, 1], activation='relu', test_acc=[.9, .8, .1, .1]))
    space = pd.DataFrame(dict(depth=[1, 1, 2, 2], width=[8, 16, 8, 16], val_acc=[.9, .8, .7, .6], regime=list('abba')))
    mem = measurements_frame(tidy_rows({(0, 'param_bytes'): 1024, (0, 'grad_bytes'): 0, (0, 'optimizer_state_bytes'): 0,
                                        (1, 'param_bytes'): 2048, (1, 'grad_bytes'): 2048, (1, 'optimizer_state_bytes'): 4096}, 1, 'memory'))
    return {'curves': lambda: plots.curves(runs, 'round', 'test_acc', hue='training_mode', ax=ax),
            'convergence_plot': lambda: plots.convergence_plot(conv, ax=ax),
            'corruption_plot': lambda: plots.corruption_plot(corr, ax=ax),
            'design_space': lambda: plots.design_space(space, ax=ax),
            'heatmap': lambda: plots.heatmap(space, 'val_acc', ax=ax),
            'heatmap_categorical': lambda: plots.heatmap(space, 'regime', ax=ax),
            'interaction_heatmap': lambda: plots.interaction_heatmap(np.array([[1, .2], [.2, 1]]), ax=ax),
            'memory_per_block': lambda: plots.memory_per_block(mem, ax=ax)}

@pytest.mark.parametrize('name', list(_figures(None)))
def test_each_figure_draws_into_the_given_axes(name):
    fig, axs = plt.subplots(1, 2)
    out = _figures(axs[1])[name]()
    assert out is fig  # returns the figure of the panel it drew into
    assert not axs[0].has_data() and axs[1].has_data()
    plt.close('all')

def test_save_writes_png_and_pdf_and_closes(tmp_path):
    before = len(plt.get_fignums())
    for i in range(10):
        paths = plots.save(plots.curves(_runs(), 'round', 'test_acc'), tmp_path/f'c{i}')
    assert len(plt.get_fignums()) == before
    assert [p.suffix for p in paths] == ['.png', '.pdf'] and all(p.stat().st_size > 0 for p in paths)

"""The one record every benchmark script makes for each ratio it measures; `bench/run.py` collects them.

A script calls `record(...)` next to its own print-out, once per ratio, with both sides' names and figures; the
ratio is always the first side over the second (`a / b`), and its row says so. Run alone, a script only prints;
run by `bench/run.py`, the environment variable `BLOCKOPT_BENCH_RECORD` names a JSON-lines file and each record
is appended to it, from which `bench/run.py` writes `bench/RESULTS.md`.
"""
import json, math, os, sys
from pathlib import Path

ENV = 'BLOCKOPT_BENCH_RECORD'

def record(what:str,      # the measurement, with its settings: 'top eigenvalue, 100 products'
           a:str,         # the first side's name (the ratio's numerator)
           a_value:float, # the first side's figure, in `unit`
           b:str,         # the second side's name (the ratio's denominator)
           b_value:float, # the second side's figure, in `unit`
           unit:str,      # what the figures are: 'ms per step', 's', 'MiB'
           quantity:str='time', # what the ratio compares: 'time', 'peak bytes', 'speed'
           target:str='', # the goal, stated on the ratio: '<= 1.05'
           note:str=''):  # anything else worth a reader's eye (medians, errors, product counts)
    "Record `a_value / b_value` for one measurement, and append it to `$BLOCKOPT_BENCH_RECORD` when that is set."
    for name, v in (('a_value', a_value), ('b_value', b_value)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
            raise ValueError(f"record: {name}={v!r} for {what!r}; allowed: a finite positive number")
    row = dict(benchmark=Path(sys.argv[0]).stem, what=what, a=a, a_value=float(a_value), b=b, b_value=float(b_value),
               unit=unit, ratio=a_value / b_value, ratio_name=f"{a} / {b} {quantity}", target=target, note=note)
    if path := os.environ.get(ENV):
        with open(path, 'a') as f: f.write(json.dumps(row) + '\n')
    return row

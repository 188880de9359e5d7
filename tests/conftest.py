import os, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture(scope='session')
def data_root(tmp_path_factory):
    "One dataset cache for the whole test session (MNIST-1D is generated once)."
    return str(tmp_path_factory.mktemp('data'))

def blockopt_cmd(*args):
    "The `blockopt` command run with this interpreter, as a list for subprocess."
    return [sys.executable, '-m', 'blockopt.cli', *map(str, args)]

def child_env(threads=1):
    "Environment for a child process: one thread, unbuffered output."
    return {**os.environ, 'OMP_NUM_THREADS': str(threads), 'MKL_NUM_THREADS': str(threads),
            'BLOCKOPT_THREADS': str(threads), 'PYTHONUNBUFFERED': '1'}

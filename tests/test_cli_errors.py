"""Every `blockopt` sub-command answers bad input and missing data with one line and exit code 2, never a traceback.

Each case runs `blockopt.cli.main` in this process (an exception escaping it fails the test with its
traceback); one case goes through the installed console script in a subprocess, as a user types it.
Missing downloadable data is simulated without a network by a proxy that refuses every connection.
"""
import os, subprocess, sys
from pathlib import Path
import pytest
from conftest import blockopt_cmd, child_env

NO_NETWORK = {k: 'http://127.0.0.1:9' for k in ('http_proxy', 'https_proxy', 'HTTP_PROXY', 'HTTPS_PROXY')}

def _cases(tmp):
    "(argv, the fragment the one line must contain) for each sub-command."
    bad_yaml = tmp/'bad.yaml'; bad_yaml.write_text("grid: {K: [1, 2}\n")
    bad_k = tmp/'k.yaml'; bad_k.write_text("grid: {K: [1, -1]}\n")
    ok = tmp/'ok.yaml'; ok.write_text("grid: {K: [1]}\nprofiles: {cpu: {}}\n")
    partiton = tmp/'slurm.yaml'; partiton.write_text("grid: {K: [1]}\nslurm: {partiton: gpu}\n")
    adress = tmp/'ray.yaml'; adress.write_text("grid: {K: [1]}\nray: {adress: auto}\n")
    not_json = tmp/'c.json'; not_json.write_text('{"K": 1,')
    store = tmp/'store'; store.mkdir()
    runs, empty = tmp/'runs', tmp/'empty'
    train = ['train', '--runs_dir', runs, '--data_root', empty]
    return [
        (['trian'], "argument command: invalid choice: 'trian'"),
        ([*train, '--K', '-1'], "RunConfig.K=-1 is invalid: expected a number >= 0"),
        ([*train, '--modle', 'mlp'], "unknown flag --modle (did you mean '--model'?)"),
        ([*train, '--optimizer', 'adma'], "RunConfig.optimizer='adma' is invalid: expected one of sgd, adam, adamw (did you mean 'adam'?)"),
        ([*train, '--model', 'mlpp'], "'mlpp'"),
        ([*train, '--measurements', '["memroy"]'], "unknown measurement unit 'memroy' (did you mean 'memory'?)"),
        ([*train, '--from_json', tmp/'missing.json'], f"from_json='{tmp/'missing.json'}' is invalid: no such file"),
        ([*train, '--from_json', not_json], "is invalid: not JSON"),
        ([*train, '--dataset_name', 'mnist'], "mnist: download failed"),
        ([*train, '--dataset_name', 'imagenet'], "imagenet: no folder"),
        ([*train, '--dataset_name', 'MNIST'], "RunConfig.dataset_name='MNIST' is invalid: expected one of"),
        ([*train, '--dataset_name', 'MNIST'], "(did you mean 'mnist'?)"),
        (['data'], "the following arguments are required: names"),
        (['data', 'digts'], "'digts'"),
        (['data', 'mnist', '--data_root', empty], "mnist: no MNIST files in"),
        (['sweep', tmp/'missing.yaml'], "no such sweep spec"),
        (['sweep', bad_yaml], "invalid YAML (line 1, column 16)"),
        (['sweep', bad_k, '--runs_dir', runs], "grid.K[1]=-1: RunConfig.K=-1 is invalid: expected a number >= 0"),
        (['sweep', ok, '--profile', 'gpu'], "unknown profile 'gpu' (did you mean 'cpu'?); valid: cpu"),
        (['sweep', ok, '--executor', 'k8s'], "argument --executor: invalid choice: 'k8s' (choose from"),
        (['sweep', ok, '--workers', '0'], "argument --workers: '0' is invalid: expected an integer >= 1"),
        (['sweep', partiton, '--runs_dir', runs, '--executor', 'slurm'],
         f"{partiton}: slurm: unknown option 'partiton' (did you mean 'partition'?); valid: cluster, timeout_min,"),
        (['sweep', adress, '--runs_dir', runs, '--executor', 'ray'],
         f"{adress}: ray: unknown option 'adress' (did you mean 'address'?); valid: address, max_retries"),
        (['status'], "the following arguments are required: runs_dir"),
        (['status', tmp/'nope'], f"argument runs_dir: '{tmp/'nope'}' is invalid: no such folder"),
        (['status', store, '--spec', tmp/'missing.yaml'], "no such sweep spec"),
        (['status', store, '--workers', 'two'], "argument --workers: 'two' is invalid: expected an integer >= 1"),
        (['report'], "RUNS_DIR is missing"),
        (['report', tmp/'nope'], f"RUNS_DIR='{tmp/'nope'}' is invalid: no such folder"),
        (['report', store], "acc_threshold=None is invalid for table='rounds'"),
        (['report', store, '--table', 'summary'], "it holds no run with metrics"),
        (['report', store, '--table', 'round'], "argument --table: invalid choice: 'round' (choose from"),
        (['report', store, '--format', 'docx'], "argument --format: invalid choice: 'docx' (choose from"),
        (['report', store, '--loss_threshold', 'low'], "argument --loss_threshold: 'low' is invalid: expected a number"),
        (['report', store, '--axis', 'epoch'], "argument --axis: invalid choice: 'epoch' (choose from"),
        (['report', store, '--caption', 'A table'], "caption='A table' is invalid with format='md': it applies to --format latex"),
        (['report', store, '--table', 'summary', '--loss_threshold', '0.5'],
         "loss_threshold=0.5 is invalid with table='summary': it applies to --table rounds"),
        (['report', '--import-legacy', tmp/'old'], f"import_legacy='{tmp/'old'}' is invalid: no such file or folder"),
    ]

N_CASES = 38

def test_case_list_is_complete(tmp_path):
    cases = _cases(tmp_path)
    assert len(cases) == N_CASES
    assert {str(a[0]) for a, _ in cases} >= {'train', 'data', 'sweep', 'status', 'report'}

@pytest.mark.parametrize('i', range(N_CASES))
def test_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, i):
    from blockopt.cli import main
    for k, v in NO_NETWORK.items(): monkeypatch.setenv(k, v)
    argv, fragment = _cases(tmp_path)[i]
    try: code = main([str(a) for a in argv])
    except SystemExit as e: code = e.code
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, (argv, code, err)
    assert len(lines) == 1 and 'Traceback' not in err, (argv, err)
    command = 'blockopt' if argv[0] == 'trian' else f'blockopt {argv[0]}'
    assert lines[0].startswith(f"{command}: ") and fragment in lines[0], (argv, lines[0])
    if argv[0] in ('train', 'sweep') and 'download' not in fragment and 'no folder' not in fragment:
        assert not (tmp_path/'runs').exists()  # refused before a run directory or a sweep manifest is written

def test_issue_example_through_the_console_script(tmp_path):
    "`blockopt train --dataset_name mnist` without a network: one line naming the dataset and what to do, exit 2."
    script = Path(sys.executable).parent/'blockopt'
    cmd = [str(script)] if script.exists() else blockopt_cmd()[:3]
    r = subprocess.run([*cmd, 'train', '--dataset_name', 'mnist', '--runs_dir', tmp_path/'runs', '--data_root', tmp_path/'data'],
                       capture_output=True, text=True, timeout=300, env={**child_env(), **NO_NETWORK})
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('blockopt train: mnist: download failed'), r.stderr
    assert 'torchvision.datasets.MNIST' in lines[0]


def test_train_help_prints_each_fields_comment(capsys):
    "`blockopt train --help` shows each RunConfig field's docments comment: the one text the docs table shows too."
    from dataclasses import fields
    from fastcore.docments import docments
    from blockopt.cli import main
    from blockopt.core import RunConfig
    with pytest.raises(SystemExit) as e: main(['train', '--help'])
    assert e.value.code == 0
    out = ''.join(capsys.readouterr().out.split())  # argparse wraps the lines
    comments = docments(RunConfig)
    for f in fields(RunConfig):
        assert comments[f.name] and f.metadata['help'] == comments[f.name], f.name
        assert f"--{f.name}VALUE{''.join(comments[f.name].split())}" in out, f.name

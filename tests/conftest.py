import os
import sys

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# Once every test has run and pytest has printed its summary, leave without the interpreter's teardown: the native
# thread pools of torch and ONNX Runtime, both loaded by the suite, occasionally abort while being destroyed at exit
# ("terminate called without an active exception", seen once on a fresh clone after all tests had passed), which
# would turn a passing run into exit status 134. The exit status is pytest's own.
def pytest_sessionfinish(session, exitstatus):
    session.config._exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    status = getattr(config, "_exit_status", None)
    if status is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)

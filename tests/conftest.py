import importlib.util
import os
from types import ModuleType

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The repository ships the original's data at its paths (models/, corpora/, datasets/), so the
# repository root is a complete data folder; UER_DATA_DIR points the tests at another copy.
DATA_DIR = os.environ.get("UER_DATA_DIR", REPO)


def load_script(relative_path: str) -> ModuleType:
    """A top-level script (``run_classifier.py``, ``inference/run_ner_infer.py``) as a module."""
    name = "script_" + relative_path.replace("/", "_").replace(".py", "")
    spec = importlib.util.spec_from_file_location(name, os.path.join(REPO, relative_path))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def one_thread(monkeypatch):
    """Tiny models gain nothing from a second thread, and OpenMP threads stall on a busy machine; the
    scripts' subprocesses (OMP_NUM_THREADS) and anything that changed the thread count are held to one.
    Modules opt in with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def data_file(*parts: str) -> str:
    """A file of the real data (the repository's copies unless UER_DATA_DIR names another folder).
    A missing file fails the test rather than skipping it: a clone always has them."""
    path = os.path.join(DATA_DIR, *parts)
    if not os.path.exists(path):
        pytest.fail(f"{path} is missing: the repository ships it (or UER_DATA_DIR names a folder without it)")
    return path


def pytest_configure(config):
    # Tiny test models run fastest on one thread, and 2-core CI machines oversubscribe otherwise.
    import torch

    torch.set_num_threads(1)

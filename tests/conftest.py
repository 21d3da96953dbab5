import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.environ.get("UER_DATA_DIR", os.path.join(os.path.dirname(REPO), "shared", "data"))


@pytest.fixture
def data_dir():
    """The real datasets beside the project (../shared/data); tests skip when absent."""
    if not os.path.isdir(DATA_DIR):
        pytest.skip(f"real data not found at {DATA_DIR} (set UER_DATA_DIR)")
    return DATA_DIR


def pytest_configure(config):
    # Tiny test models run fastest on one thread, and 2-core CI machines oversubscribe otherwise.
    import torch

    torch.set_num_threads(1)

import random

import numpy as np
import pytest
import torch

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(autouse=True)
def _same_random_state_for_every_test():
    """Each test starts from the same global random state, whatever ran before it: hypothesis
    tests run a varying number of examples, so without this a later test's unseeded draws (and
    its pass or fail) would depend on the order and on hypothesis's own seed."""
    torch.manual_seed(0)
    np.random.seed(0)
    random.seed(0)


@pytest.fixture(scope="session")
def wasm(tmp_path_factory):
    """kernel.c compiled to WebAssembly once a session (the static playground's engine); skipped
    with the reason where clang, wasm-ld or wasi-libc is missing (.ci/run installs them)."""
    from actlab.play import _kernel

    if _kernel.wasm_compiler() is None:
        pytest.skip(f"no WebAssembly toolchain: {_kernel.WASM_TOOLCHAIN}")
    return _kernel.compile_wasm(tmp_path_factory.mktemp("wasm") / _kernel.WASM_NAME)

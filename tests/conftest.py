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

import pytest
import torch

from astro.device import keep_data_on, resolve_device
from astro.errors import ConfigError


def test_auto_picks_what_torch_sees():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a CUDA GPU")
def test_cuda_without_a_gpu_is_one_line():
    with pytest.raises(ConfigError, match="device=cuda: torch finds no CUDA GPU on this machine"):
        resolve_device("cuda")
    with pytest.raises(ConfigError, match="device=cuda:1"):
        resolve_device("cuda:1")


def test_data_stays_on_the_host_for_a_cpu_run_unless_asked():
    assert not keep_data_on(torch.device("cpu"), "auto") and keep_data_on(torch.device("cpu"), True)
    assert keep_data_on(torch.device("cuda"), "auto") and not keep_data_on(torch.device("cuda"), False)

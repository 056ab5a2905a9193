import itertools

import pytest
import torch

from astro.training.optim import current_lr, one_cycle, plateau, warmup_cosine


def optimizer(lr=1.0):
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def test_warmup_then_cosine_to_min():
    opt = optimizer()
    schedule = warmup_cosine(opt, steps_per_epoch=10, epochs=5, warmup_epochs=1, min_lr_ratio=0.01)
    lrs = []
    for _ in range(50):
        lrs.append(current_lr(opt))
        opt.step()
        schedule.after_batch()
    assert lrs[0] < lrs[5] < lrs[10]  # warming up
    assert max(lrs) == pytest.approx(1.0, abs=0.01)
    assert all(a >= b for a, b in itertools.pairwise(lrs[11:]))  # then decays
    assert lrs[-1] == pytest.approx(0.01, abs=0.01)


def test_one_cycle_steps_per_batch_and_plateau_per_epoch():
    opt = optimizer()
    cycle = one_cycle(opt, steps_per_epoch=4, epochs=2, max_lr=0.5)
    assert cycle.interval == "step"
    opt2 = optimizer(1.0)
    sched = plateau(opt2, 4, 10, patience=0, factor=0.5)
    for score in (0.5, 0.5, 0.5):
        sched.after_epoch({"val/macro_f1": score})
    assert current_lr(opt2) < 1.0

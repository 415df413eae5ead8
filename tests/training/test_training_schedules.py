"""Learning-rate schedules: the formulas by hand and against PyTorch's schedulers, and argument validation."""
import math

import numpy as np
import pytest

from scratchcnn.schedules import CosineDecay, ExponentialDecay, OneCycle, StepDecay


def test_step_decay_drops_by_gamma_every_step_size_epochs():
    schedule = StepDecay(0.1, step_size=3, gamma=0.5)
    assert [schedule(epoch) for epoch in range(8)] == pytest.approx(
        [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025], rel=1e-15)


def test_step_decay_default_gamma_is_a_tenth():
    assert StepDecay(1.0, step_size=2)(4) == pytest.approx(0.01, rel=1e-15)


def test_exponential_decay_multiplies_by_gamma_every_epoch():
    schedule = ExponentialDecay(0.2, gamma=0.9)
    assert [schedule(epoch) for epoch in range(5)] == pytest.approx([0.2 * 0.9 ** e for e in range(5)], rel=1e-15)


def test_cosine_decay_goes_from_initial_to_min_lr_and_stays_there():
    schedule = CosineDecay(1.0, total_epochs=10, min_lr=0.1)
    assert schedule(0) == pytest.approx(1.0, rel=1e-15)
    assert schedule(5) == pytest.approx(0.55, rel=1e-15)  # half way: the mean of the two
    assert schedule(10) == pytest.approx(0.1, rel=1e-15)
    assert schedule(15) == schedule(10)
    assert schedule(2) == pytest.approx(0.1 + 0.9 * (1 + math.cos(math.pi * 0.2)) / 2, rel=1e-15)
    values = [schedule(epoch) for epoch in range(11)]
    assert all(later < earlier for earlier, later in zip(values, values[1:]))


def test_schedules_ignore_the_current_lr():
    for schedule in (StepDecay(0.1, 2), ExponentialDecay(0.1, 0.5), CosineDecay(0.1, 4)):
        assert schedule(3, 123.0) == schedule(3)


def torch_lrs(torch, make_scheduler, initial_lr, epochs):
    """The lr PyTorch's scheduler gives each epoch, starting from initial_lr."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=initial_lr)
    scheduler = make_scheduler(optimizer)
    lrs = []
    for _ in range(epochs):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


@pytest.mark.parametrize("ours, theirs", [
    (StepDecay(0.1, step_size=3, gamma=0.5), lambda torch, o: torch.optim.lr_scheduler.StepLR(o, 3, gamma=0.5)),
    (ExponentialDecay(0.1, gamma=0.8), lambda torch, o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.8)),
    (CosineDecay(0.1, total_epochs=8, min_lr=0.01),
     lambda torch, o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=8, eta_min=0.01)),
])
def test_schedules_match_pytorch(torch, ours, theirs):
    expected = torch_lrs(torch, lambda optimizer: theirs(torch, optimizer), 0.1, 9)
    np.testing.assert_allclose([ours(epoch) for epoch in range(9)], expected, rtol=1e-9)


@pytest.mark.parametrize("make, name", [
    (lambda: StepDecay(0, 2), "initial_lr"),
    (lambda: StepDecay(-0.1, 2), "initial_lr"),
    (lambda: StepDecay(float("nan"), 2), "initial_lr"),
    (lambda: StepDecay("0.1", 2), "initial_lr"),
    (lambda: StepDecay(0.1, 0), "step_size"),
    (lambda: StepDecay(0.1, 1.5), "step_size"),
    (lambda: StepDecay(0.1, 2, gamma=0), "gamma"),
    (lambda: StepDecay(0.1, 2, gamma=1.5), "gamma"),
    (lambda: ExponentialDecay(0.0, 0.9), "initial_lr"),
    (lambda: ExponentialDecay(0.1, -0.9), "gamma"),
    (lambda: ExponentialDecay(0.1, 1.01), "gamma"),
    (lambda: CosineDecay(-1.0, 10), "initial_lr"),
    (lambda: CosineDecay(0.1, 0), "total_epochs"),
    (lambda: CosineDecay(0.1, True), "total_epochs"),
    (lambda: CosineDecay(0.1, 10, min_lr=-0.01), "min_lr"),
    (lambda: CosineDecay(0.1, 10, min_lr=0.2), "min_lr"),
])
def test_schedules_refuse_invalid_arguments_naming_them(make, name):
    with pytest.raises(ValueError, match=rf"invalid value for {name}, expected .* Received: {name}="):
        make()


def test_schedules_accept_boundary_values():
    assert StepDecay(0.1, 1, gamma=1)(5) == 0.1  # gamma=1: a constant lr
    assert ExponentialDecay(np.float32(0.5), 1.0)(3) == 0.5
    assert CosineDecay(0.1, 1, min_lr=0.1)(0) == pytest.approx(0.1)
    assert CosineDecay(0.1, 1, min_lr=0)(1) == pytest.approx(0.0)


def test_linear_warmup_ramps_up_to_the_schedule_it_wraps_then_follows_it():
    from scratchcnn.schedules import LinearWarmup

    schedule = LinearWarmup(CosineDecay(0.8, total_epochs=10), warmup_epochs=4, start_factor=0.25)
    cosine = CosineDecay(0.8, total_epochs=10)
    assert [schedule(epoch) for epoch in range(4)] == pytest.approx(
        [cosine(epoch) * factor for epoch, factor in enumerate([0.25, 0.4375, 0.625, 0.8125])], rel=1e-15)
    assert [schedule(epoch) for epoch in range(4, 11)] == [cosine(epoch) for epoch in range(4, 11)]
    assert [LinearWarmup(0.5, 2)(epoch) for epoch in range(4)] == pytest.approx([0.05, 0.275, 0.5, 0.5], rel=1e-15)


@pytest.mark.parametrize("arguments, name", [((0.1, 0), "warmup_epochs"), ((0.1, 2, 1.5), "start_factor"),
                                             ((-1.0, 2), "after")])
def test_linear_warmup_checks_its_arguments(arguments, name):
    from scratchcnn.schedules import LinearWarmup

    with pytest.raises(ValueError, match=name):
        LinearWarmup(*arguments)


# -- OneCycle ------------------------------------------------------------------------------
def test_one_cycle_warms_up_then_anneals_on_half_cosines():
    schedule = OneCycle(1.0, total_epochs=10, warmup=0.3, div_factor=20, final_div_factor=1000)
    assert schedule(0) == pytest.approx(0.05, rel=1e-15)
    assert schedule(1.5) == pytest.approx(0.05 + 0.95 / 2, rel=1e-15)  # half way up
    assert schedule(3) == pytest.approx(1.0, rel=1e-15)
    assert schedule(6.5) == pytest.approx(0.001 + 0.999 / 2, rel=1e-15)  # half way down
    assert schedule(10) == pytest.approx(0.001, rel=1e-15) and schedule(12) == schedule(10)
    steps = [schedule(epoch / 10) for epoch in range(101)]
    assert all(b > a for a, b in zip(steps[:30], steps[1:31])) and all(b < a for a, b in zip(steps[30:], steps[31:]))


def test_one_cycle_without_warm_up_starts_at_the_peak():
    schedule = OneCycle(0.5, total_epochs=4, warmup=0)
    assert schedule(0) == 0.5 and schedule(2) == pytest.approx((0.5 + 0.5e-4) / 2, rel=1e-12)


@pytest.mark.parametrize("options, name", [({"max_lr": 0}, "max_lr"), ({"total_epochs": 0}, "total_epochs"),
                                           ({"warmup": 1.0}, "warmup"), ({"warmup": -0.1}, "warmup"),
                                           ({"div_factor": 0.5}, "div_factor"),
                                           ({"final_div_factor": math.nan}, "final_div_factor")])
def test_one_cycle_refuses_invalid_arguments(options, name):
    arguments = {"max_lr": 0.1, "total_epochs": 5, **options}
    with pytest.raises(ValueError, match=f"invalid value for {name}"):
        OneCycle(**arguments)


def test_a_scheduler_with_steps_per_epoch_sets_the_lr_before_every_batch():
    """Batch b of each epoch e (of `steps` batches) trains with schedule(e + b / steps)."""
    from training_helpers import blobs, classifier

    from scratchcnn import Callback, LearningRateScheduler

    class LrPerBatch(Callback):
        def __init__(self):
            self.lrs = []

        def on_batch_end(self, batch, logs=None):
            self.lrs.append(self.network.optimizer.lr)

    X, y = blobs()
    schedule, spy = OneCycle(0.1, total_epochs=3), LrPerBatch()
    steps = -(-len(X) // 8)
    classifier().train(X, y, 3, 0.1, "categorical_crossentropy", log_file=None, batch_size=8, verbose=0, seed=0,
                       callbacks=[spy, LearningRateScheduler(schedule, steps_per_epoch=steps)])
    assert spy.lrs == pytest.approx([schedule(epoch + batch / steps) for epoch in range(3) for batch in range(steps)],
                                    rel=1e-15)
    with pytest.raises(ValueError, match="steps_per_epoch"):
        LearningRateScheduler(schedule, steps_per_epoch=0)

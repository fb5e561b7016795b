"""The training loop as software: exact resume, learning-rate and EMA rules, logs, interruption."""

from __future__ import annotations

import json

import pytest
import torch

from ddpm_math.train import checkpoint as ckpt
from ddpm_math.train.config import TrainConfig, preset_for
from ddpm_math.train.data import Dataset
from ddpm_math.train.optim import copy_for_ema, ema_decay_at, ema_update, lr_at
from ddpm_math.train.run import load_trained, run_training


def grid_images(count: int, seed: int = 0) -> torch.Tensor:
    """Random 1×8×8 images on the 8-bit grid k/127.5 - 1."""
    g = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (count, 1, 8, 8), generator=g).float() / 127.5 - 1


@pytest.fixture(scope="module")
def tiny_data():
    images = grid_images(48)
    return Dataset(train=images[:40], heldout=images[40:], name="tiny", kind="image",
                   discrete=True)


def tiny_config(**changes) -> TrainConfig:
    """digits8 (dropout 0.1, so the dropout RNG matters) on 8×8 data, cosine T = 4, batch 4."""
    base = dict(data="tiny", model="digits8", steps=6, batch_size=4, grad_accum=2, lr=1e-3,
                warmup=3, num_steps=4, schedule="cosine", hflip=True, checkpoint_every=100,
                log_every=1)
    base.update(changes)
    return TrainConfig(**base)


def assert_states_equal(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        assert torch.equal(a[key], b[key]), key


@pytest.mark.parametrize("sampler", ["uniform", "loss-second-moment"])
def test_resume_is_bit_identical(tmp_path, tiny_data, sampler):
    """N steps straight equal N/2 steps, a checkpoint, a fresh process state, N/2 steps:
    every parameter, EMA value and optimiser state, and the log lines, exactly."""
    config = tiny_config(timestep_sampler=sampler, var_type="learned_range", loss_type="hybrid")
    straight = run_training(config, tmp_path / "straight", progress=False, dataset=tiny_data)
    half = run_training(config.replace(steps=3), tmp_path / "split", progress=False,
                        dataset=tiny_data)
    assert half.checkpoint.name == "step_00000003"
    torch.manual_seed(12345)  # disturb the global RNG: resume must restore it
    resumed = run_training(config, tmp_path / "split", resume=True, progress=False,
                           dataset=tiny_data)
    assert resumed.state.step == straight.state.step == 6
    assert_states_equal(straight.state.model.state_dict(), resumed.state.model.state_dict())
    assert_states_equal(straight.state.ema.state_dict(), resumed.state.ema.state_dict())
    opt_a, opt_b = (r.state.optimizer.state_dict()["state"] for r in (straight, resumed))
    for index in opt_a:
        assert_states_equal(opt_a[index], opt_b[index])
    log_a = (tmp_path / "straight" / "log.jsonl").read_text().splitlines()
    log_b = (tmp_path / "split" / "log.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in log_a] == [json.loads(line) for line in log_b]
    assert len(log_a) == 6


@pytest.mark.parametrize("mean_type, var_type, loss_type", [
    ("eps", "fixed_small", "simple"), ("x0", "fixed_large", "weighted"),
    ("v", "learned", "vlb"), ("xprev", "learned_range", "hybrid"), ("eps", "fixed_large", "vlb"),
])
def test_every_loss_type_trains(tmp_path, tiny_data, mean_type, var_type, loss_type):
    """Three steps of each loss (and parameterisation) give finite losses that change the
    weights; a learned variance gets a non-zero gradient in its output channels."""
    config = tiny_config(steps=3, mean_type=mean_type, var_type=var_type, loss_type=loss_type)
    result = run_training(config, tmp_path, progress=False, dataset=tiny_data)
    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert all(0 <= line["loss"] < float("inf") for line in lines)
    conv_out = result.state.model.conv_out.weight
    assert conv_out.abs().sum() > 0  # zero at initialisation, trained since
    if var_type.startswith("learned"):
        assert conv_out[1:].abs().sum() > 0  # the variance channel of 1-channel data


def test_resume_without_the_rng_state_would_be_caught(tmp_path, tiny_data, monkeypatch):
    """Control for the test above: a resume that restores weights, optimiser and data order but
    not the RNG states does not reproduce the straight run, so the exact comparison has power."""
    from ddpm_math.train import run as run_module

    config = tiny_config()
    straight = run_training(config, tmp_path / "a", progress=False, dataset=tiny_data)
    run_training(config.replace(steps=3), tmp_path / "b", progress=False, dataset=tiny_data)
    monkeypatch.setattr(run_module.ckpt, "restore_rng_state", lambda *args, **kwargs: None)
    resumed = run_training(config, tmp_path / "b", resume=True, progress=False,
                           dataset=tiny_data)
    params = straight.state.model.state_dict()
    assert any(not torch.equal(params[k], v) for k, v in resumed.state.model.state_dict().items())


def test_log_has_the_loss_per_step_and_quartile(tmp_path, tiny_data):
    run_training(tiny_config(steps=4), tmp_path, progress=False, dataset=tiny_data)
    lines = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [line["step"] for line in lines] == [1, 2, 3, 4]
    for line in lines:
        assert {"loss", "mse", "lr", "grad_norm", "ema_decay", "loss_q0", "loss_q1",
                "loss_q2", "loss_q3"} <= set(line)
        assert line["loss"] >= 0 and line["grad_norm"] >= 0
    # T = 4: quartile q holds exactly t = q, and 8 draws per step leave some empty (None)
    assert all(line[f"loss_q{q}"] is None or line[f"loss_q{q}"] >= 0
               for line in lines for q in range(4))
    assert [line["lr"] for line in lines] == pytest.approx([1e-3 / 3, 2e-3 / 3, 1e-3, 1e-3])


def test_interrupt_saves_a_checkpoint(tmp_path, tiny_data, monkeypatch):
    """Ctrl-C in the middle of a run writes a checkpoint of the last finished step."""
    from ddpm_math.train import run as run_module

    calls = {"n": 0}
    real_step = run_module.train_step

    def interrupting_step(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real_step(*args, **kwargs)

    monkeypatch.setattr(run_module, "train_step", interrupting_step)
    result = run_training(tiny_config(steps=10), tmp_path, progress=False, dataset=tiny_data)
    assert result.interrupted and result.state.step == 2
    assert ckpt.load_checkpoint(tmp_path).step == 2


def test_lr_warmup_is_linear_then_constant():
    assert lr_at(0, 2e-4, 5000) == pytest.approx(2e-4 / 5000)
    assert lr_at(2499, 2e-4, 5000) == pytest.approx(1e-4)
    assert lr_at(4999, 2e-4, 5000) == pytest.approx(2e-4)
    assert lr_at(10**6, 2e-4, 5000) == pytest.approx(2e-4)
    assert lr_at(0, 2e-4, 0) == 2e-4


def test_ema_update_is_the_moving_average():
    model = torch.nn.Linear(3, 2)
    ema = copy_for_ema(model)
    before = {k: v.clone() for k, v in ema.state_dict().items()}
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    ema_update(ema, model, 0.9)
    for key, value in ema.state_dict().items():
        expected = 0.9 * before[key] + 0.1 * model.state_dict()[key]
        torch.testing.assert_close(value, expected, rtol=0, atol=1e-6)
    assert not any(p.requires_grad for p in ema.parameters())


def test_ema_warmup_rule():
    assert ema_decay_at(0, 0.9999, True) == pytest.approx(0.1)
    assert ema_decay_at(80, 0.9999, True) == pytest.approx(0.9)
    assert ema_decay_at(10**7, 0.9999, True) == 0.9999
    assert ema_decay_at(0, 0.9999, False) == 0.9999


@pytest.mark.parametrize("field, value", [("steps", -1), ("batch_size", 0), ("lr", 0.0),
                                          ("ema_decay", 1.5), ("schedule", "quadratic"),
                                          ("var_type", "large"), ("timestep_sampler", "x")])
def test_config_rejects_bad_values_naming_the_field(field, value):
    with pytest.raises(ValueError, match=field):
        TrainConfig(**{field: value})


def test_config_round_trips_through_json():
    config = TrainConfig(steps=7, var_type="learned_range", loss_type="hybrid")
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(ValueError, match="unknown training option"):
        TrainConfig.from_dict({"stepz": 3})


def test_presets():
    assert preset_for("cifar10:/data/cifar")["model"] == "cifar10"
    assert preset_for("cifar10:/data/cifar")["hflip"] is True
    assert preset_for("digits")["hflip"] is False  # a mirrored digit is not a digit
    assert preset_for("unknown") == {}


def test_load_trained_gives_the_ema_network(tmp_path, tiny_data):
    result = run_training(tiny_config(steps=2), tmp_path, progress=False, dataset=tiny_data)
    config, diffusion, network, shape, step = load_trained(tmp_path)
    assert step == 2 and shape == (1, 8, 8) and diffusion.num_steps == 4
    assert not network.training
    assert_states_equal(network.state_dict(), result.state.ema.state_dict())


@pytest.mark.parametrize("size", [16, 32, 64])
def test_build_network_follows_the_image_size(size):
    """small16 on other image sizes keeps attention at the same level (its second)."""
    from ddpm_math.train.run import build_network

    network = build_network(TrainConfig(model="small16"), (3, size, size))
    assert network.config.image_size == size
    assert network.config.attn_resolutions == (size // 2,)
    out = network(torch.zeros(1, 3, size, size), torch.tensor([5]))
    assert out.shape == (1, 3, size, size)


def test_build_network_rejects_a_mismatched_network():
    from ddpm_math.train.run import build_network

    with pytest.raises(ValueError, match="data_dim"):
        build_network(TrainConfig(model="digits8"), (2,))
    with pytest.raises(ValueError, match="square"):
        build_network(TrainConfig(model="small16"), (3, 16, 32))

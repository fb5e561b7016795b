"""Software claims of ddpm_math.train.checkpoint: exact resumption, atomic saves, integrity."""

import ast
import copy
import inspect
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from ddpm_math.train import checkpoint as checkpoint_module
from ddpm_math.train.checkpoint import (
    CheckpointError,
    capture_rng_state,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    restore_rng_state,
    save_checkpoint,
)

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- helpers


class SmallNet(nn.Module):
    """Conv + BatchNorm (an int64 buffer) + Linear: parameters and buffers of several shapes."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.norm = nn.BatchNorm2d(4)
        self.linear = nn.Linear(4 * 4 * 4, 5)

    def forward(self, x):
        return self.linear(self.norm(self.conv(x)).flatten(1))


def train_step(model, optimizer, generator):
    x = torch.randn(2, 3, 4, 4, generator=generator)
    target = torch.randn(2, 5, generator=generator)
    optimizer.zero_grad()
    ((model(x) - target) ** 2).mean().backward()
    optimizer.step()


def ema_update(ema, model, decay=0.9):
    with torch.no_grad():
        for ema_param, param in zip(ema.parameters(), model.parameters(), strict=True):
            ema_param.lerp_(param, 1 - decay)


def bitwise_equal(a, b):
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    flat_a, flat_b = a.detach().reshape(-1), b.detach().reshape(-1)
    return torch.equal(flat_a.view(torch.uint8), flat_b.view(torch.uint8))


def assert_same(actual, expected, where="root"):
    """Exact structural equality: same types (tuple is not list), keys, dtypes and bits."""
    assert type(actual) is type(expected), f"{where}: {type(actual)} != {type(expected)}"
    if isinstance(expected, torch.Tensor):
        assert bitwise_equal(actual, expected), f"{where}: tensors differ"
    elif isinstance(expected, dict):
        assert list(actual) == list(expected), f"{where}: keys {list(actual)} != {list(expected)}"
        for key in expected:
            assert_same(actual[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), f"{where}: lengths differ"
        for index, (item_a, item_e) in enumerate(zip(actual, expected, strict=True)):
            assert_same(item_a, item_e, f"{where}.{index}")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def payload(seed, size=6):
    """Keyword arguments of a small save_checkpoint call, distinct per seed."""
    gen = torch.Generator().manual_seed(seed)
    weights = {"w": torch.randn(size, generator=gen), "b": torch.randn(2, generator=gen)}
    return dict(
        config={"seed": seed},
        model=weights,
        ema={key: value * 0.5 for key, value in weights.items()},
        optimizer={"state": {0: {"step": torch.tensor(float(seed))}}, "param_groups": []},
        extra={"history": torch.arange(seed + 1)},
    )


def step_dir(run_dir, step):
    return Path(run_dir) / "checkpoints" / f"step_{step:08d}"


def entries(run_dir):
    return sorted(p.name for p in (Path(run_dir) / "checkpoints").iterdir())


def assert_one_line_naming(excinfo, path):
    message = str(excinfo.value)
    assert "\n" not in message
    assert str(path) in message


# ----------------------------------------------------------------------------- round trip


@pytest.mark.parametrize(
    "make_optimizer",
    [
        lambda params: torch.optim.Adam(params, lr=1e-2),
        lambda params: torch.optim.AdamW(params, lr=1e-2, weight_decay=0.1, amsgrad=True),
    ],
    ids=["Adam", "AdamW-amsgrad"],
)
def test_round_trip_is_bitwise_and_resumes_exactly(tmp_path, make_optimizer):
    torch.manual_seed(0)
    model = SmallNet()
    ema = copy.deepcopy(model)
    optimizer = make_optimizer(model.parameters())
    data = torch.Generator().manual_seed(1)
    for _ in range(3):
        train_step(model, optimizer, data)
        ema_update(ema, model)
    base = torch.arange(12, dtype=torch.float64).reshape(3, 4)
    extra = {  # shared storage, a non-contiguous view and several dtypes
        "history": base, "history_t": base.t(), "row": base[1],
        "flags": torch.tensor([True, False]), "half": torch.randn(3).to(torch.bfloat16),
        "count": torch.tensor(7, dtype=torch.int64),
    }
    config = {"lr": 1e-2, "channel_mult": [1, 2], "name": "tiny"}
    path = save_checkpoint(tmp_path, step=3, config=config, model=model.state_dict(),
                           ema=ema.state_dict(), optimizer=optimizer.state_dict(), extra=extra,
                           meta={"epoch": 1})

    loaded = load_checkpoint(tmp_path)
    assert path == step_dir(tmp_path, 3) == loaded.path
    assert (loaded.step, loaded.config, loaded.meta) == (3, config, {"epoch": 1})
    assert_same(loaded.model, dict(model.state_dict()), "model")
    assert_same(loaded.ema, dict(ema.state_dict()), "ema")
    assert_same(loaded.extra, extra, "extra")
    assert_same(loaded.optimizer, optimizer.state_dict(), "optimizer")
    step_tensor = loaded.optimizer["state"][0]["step"]
    assert step_tensor.dtype == torch.float32 and step_tensor.dim() == 0

    resumed = SmallNet()
    resumed.load_state_dict(loaded.model)
    resumed_optimizer = make_optimizer(resumed.parameters())
    resumed_optimizer.load_state_dict(loaded.optimizer)
    data_state = data.get_state()
    train_step(model, optimizer, data)  # the uninterrupted run's 4th step
    data.set_state(data_state)
    train_step(resumed, resumed_optimizer, data)
    assert_same(resumed.state_dict(), model.state_dict(), "model after step 4")
    assert_same(resumed_optimizer.state_dict(), optimizer.state_dict(), "optimizer after step 4")


def test_optimizer_state_of_any_shape_round_trips_exactly(tmp_path):
    state = {
        "state": {0: {"step": torch.tensor(3.0), "note": None, "count": 3, "pair": (1, 2.5)},
                  "named": {"buf": torch.ones(2, dtype=torch.float16)}},
        "param_groups": [{"lr": torch.tensor(0.1, dtype=torch.float64), "betas": (0.9, 0.99),
                          "params": [0], "tiny": 5e-324, "big": float("inf")}],
        "looks_like_a_tag": {"__tuple__": [1, 2]},
        "mixed_keys": {"0": "str key", 0: "int key", 1.5: (True, None)},
    }
    save_checkpoint(tmp_path, step=0, config={}, model={}, ema={}, optimizer=state)
    assert_same(load_checkpoint(tmp_path).optimizer, state, "optimizer")


def test_resaving_a_step_replaces_it(tmp_path):
    save_checkpoint(tmp_path, step=5, **payload(1))
    save_checkpoint(tmp_path, step=5, **payload(2))
    assert entries(tmp_path) == ["step_00000005"]
    assert_same(load_checkpoint(tmp_path).model, payload(2)["model"])


# ----------------------------------------------------------------------------- atomicity


def failing_writer(monkeypatch, fail_at):
    """Make the module's file writer write half of the ``fail_at``-th file, then raise."""
    real = checkpoint_module._write_file
    written = []

    def write(path, data):
        written.append(path.name)
        if len(written) == fail_at:
            real(path, data[: len(data) // 2])
            raise OSError("simulated: disk full")
        real(path, data)

    monkeypatch.setattr(checkpoint_module, "_write_file", write)
    return written


def test_a_save_that_fails_halfway_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    first = save_checkpoint(tmp_path, step=1, **payload(1))
    written = failing_writer(monkeypatch, fail_at=2)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(tmp_path, step=2, **payload(2))
    assert written == ["model.safetensors", "ema.safetensors"]  # it did fail mid-save
    assert latest_checkpoint(tmp_path) == first
    loaded = load_checkpoint(tmp_path)
    assert loaded.step == 1
    assert_same(loaded.model, payload(1)["model"])
    assert entries(tmp_path) == ["step_00000001"]


@pytest.mark.parametrize("fail_in", ["write", "rename"])
def test_a_failed_resave_of_the_same_step_keeps_the_old_one(tmp_path, monkeypatch, fail_in):
    save_checkpoint(tmp_path, step=1, **payload(1))
    if fail_in == "write":
        failing_writer(monkeypatch, fail_at=3)
    else:  # the old folder is already moved aside when the new one's rename fails
        real_rename = os.rename

        def rename(src, dst):
            if Path(dst) == step_dir(tmp_path, 1) and "-old-" not in Path(src).name:
                raise OSError("simulated: rename failed")
            real_rename(src, dst)

        monkeypatch.setattr(checkpoint_module.os, "rename", rename)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(tmp_path, step=1, **payload(2))
    monkeypatch.undo()
    assert entries(tmp_path) == ["step_00000001"]
    assert_same(load_checkpoint(step_dir(tmp_path, 1)).model, payload(1)["model"])


CHILD = textwrap.dedent("""
    import sys, time
    import torch
    from ddpm_math.train import checkpoint as ck

    run = sys.argv[1]
    empty_optimizer = {"state": {}, "param_groups": []}
    small = {"w": torch.arange(6.0)}
    ck.save_checkpoint(run, step=1, config={}, model=small, ema=small, optimizer=empty_optimizer)
    real = ck._write_file

    def slow(path, data):
        if path.name == "model.safetensors":  # half the file reaches the disk, then a long stall
            with open(path, "xb") as f:
                f.write(data[: len(data) // 2])
                f.flush()
            time.sleep(60)
        real(path, data)

    ck._write_file = slow
    big = {"w": torch.ones(8 * 2**20)}  # 32 MiB
    ck.save_checkpoint(run, step=2, config={}, model=big, ema=big, optimizer=empty_optimizer)
""")


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_a_process_killed_mid_save_leaves_the_previous_checkpoint(tmp_path):
    python_path = os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])
    env = {**os.environ, "PYTHONPATH": python_path}
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    checkpoints = tmp_path / "checkpoints"
    deadline = time.monotonic() + 30
    try:
        while not list(checkpoints.glob(".tmp-step_00000002-*/model.safetensors")):
            if child.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"child never reached the slow write: {child.communicate()[1]!r}")
            time.sleep(0.02)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.communicate()
    assert child.returncode == -signal.SIGKILL
    assert [p.name.startswith(".tmp-step_00000002-") for p in checkpoints.iterdir()].count(True)

    assert latest_checkpoint(tmp_path) == step_dir(tmp_path, 1)
    loaded = load_checkpoint(tmp_path)
    assert loaded.step == 1
    assert_same(loaded.model, {"w": torch.arange(6.0)})
    save_checkpoint(tmp_path, step=3, **payload(3))
    assert entries(tmp_path) == ["step_00000001", "step_00000003"]  # stale .tmp-* removed


# ----------------------------------------------------------------------------- keep_last


def test_keep_last_keeps_only_the_newest(tmp_path):
    for step in range(1, 6):
        save_checkpoint(tmp_path, step=step, **payload(step), keep_last=2)
    assert list_checkpoints(tmp_path) == [step_dir(tmp_path, 4), step_dir(tmp_path, 5)]
    assert entries(tmp_path) == ["step_00000004", "step_00000005"]
    save_checkpoint(tmp_path, step=6, **payload(6), keep_last=1)
    assert entries(tmp_path) == ["step_00000006"]


# ----------------------------------------------------------------------------- integrity


def flip_a_byte(file):
    data = bytearray(file.read_bytes())
    data[-1] ^= 0x01  # the last byte of the tensor data
    file.write_bytes(bytes(data))


def truncate(file):
    file.write_bytes(file.read_bytes()[:-4])


@pytest.mark.parametrize(
    ("name", "damage", "match"),
    [
        ("model.safetensors", flip_a_byte, "SHA-256"),
        ("optimizer.safetensors", truncate, "truncated"),
        ("ema.safetensors", Path.unlink, "missing"),
        ("state.json", Path.unlink, "missing"),
        ("state.json", lambda file: file.write_text("{not json"), "cannot read"),
    ],
    ids=["flipped-byte", "truncated", "missing-file", "missing-state", "garbled-state"],
)
def test_a_damaged_checkpoint_is_refused_and_skipped(tmp_path, name, damage, match):
    first = save_checkpoint(tmp_path, step=1, **payload(1))
    second = save_checkpoint(tmp_path, step=2, **payload(2))
    damage(second / name)
    with pytest.raises(CheckpointError, match=match) as excinfo:
        load_checkpoint(second)
    assert_one_line_naming(excinfo, second / name)
    assert latest_checkpoint(tmp_path) == first
    assert list_checkpoints(tmp_path) == [first]
    assert load_checkpoint(tmp_path).step == 1


def test_an_unknown_format_version_is_refused(tmp_path):
    path = save_checkpoint(tmp_path, step=1, **payload(1))
    state = json.loads((path / "state.json").read_text())
    state["format_version"] = 2
    (path / "state.json").write_text(json.dumps(state))
    with pytest.raises(CheckpointError, match="format version 2") as excinfo:
        load_checkpoint(path)
    assert_one_line_naming(excinfo, path / "state.json")
    assert latest_checkpoint(tmp_path) is None


def test_loading_never_unpickles(tmp_path, monkeypatch):
    tree = ast.parse(inspect.getsource(checkpoint_module))
    unsafe_modules = {"pickle", "cPickle", "dill", "marshal", "shelve", "joblib"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            assert not {alias.name.split(".")[0] for alias in node.names} & unsafe_modules
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] not in unsafe_modules
        if isinstance(node, ast.Attribute) and node.attr == "load":
            assert ast.unparse(node.value) not in {"torch", "np", "numpy"}, ast.unparse(node)

    path = save_checkpoint(tmp_path, step=1, **payload(1))

    def refuse(*args, **kwargs):
        raise AssertionError("a checkpoint load unpickled")

    for module, name in [(torch, "load"), (pickle, "load"), (pickle, "loads"),
                         (pickle, "Unpickler"), (np, "load")]:
        monkeypatch.setattr(module, name, refuse)
    assert load_checkpoint(path).step == 1


# ----------------------------------------------------------------------------- errors


def test_missing_path_and_empty_run_dir_raise_one_line_errors(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(CheckpointError, match="no checkpoint or run directory") as excinfo:
        load_checkpoint(missing)
    assert_one_line_naming(excinfo, missing)
    with pytest.raises(CheckpointError, match="no complete checkpoint") as excinfo:
        load_checkpoint(tmp_path)
    assert_one_line_naming(excinfo, tmp_path)
    (tmp_path / "checkpoints" / ".tmp-step_00000001-abcd").mkdir(parents=True)
    with pytest.raises(CheckpointError, match="no complete checkpoint"):
        load_checkpoint(tmp_path)
    assert latest_checkpoint(tmp_path) is None
    assert list_checkpoints(tmp_path) == []
    assert latest_checkpoint(missing) is None


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        ({"step": -1}, ValueError, "step must be an int >= 0"),
        ({"step": 1.0}, TypeError, "step must be an int"),
        ({"step": True}, TypeError, "step must be an int"),
        ({"keep_last": 0}, ValueError, "keep_last must be an int >= 1"),
        ({"model": {"w": [1.0, 2.0]}}, TypeError, r"model\['w'\]"),
        ({"extra": {"rng": np.zeros(3)}}, TypeError, r"extra\['rng'\]"),
        ({"config": {"when": object()}}, TypeError, "config must be JSON"),
        ({"optimizer": {"state": {0: {"x": np.zeros(2)}}}}, TypeError, "state.0.x"),
    ],
)
def test_bad_arguments_raise_before_anything_is_written(tmp_path, change, error, match):
    kwargs = {"step": 1, **payload(1), **change}
    with pytest.raises(error, match=match):
        save_checkpoint(tmp_path, **kwargs)
    assert not (tmp_path / "checkpoints").exists()


# ----------------------------------------------------------------------------- RNG state


def draws(generator):
    return (torch.rand(4), torch.rand(4, generator=generator),
            [random.random() for _ in range(3)], random.gauss(0.0, 1.0),
            np.random.rand(3).tolist(), float(np.random.standard_normal()))


def test_rng_state_restores_every_stream_through_a_checkpoint(tmp_path):
    generator = torch.Generator().manual_seed(123)
    random.gauss(0.0, 1.0)  # leave a cached Gaussian in both stdlib and numpy state
    np.random.standard_normal()
    tensors, json_state = capture_rng_state({"data": generator})
    assert {"rng.torch", "rng.gen.data"} <= set(tensors)
    assert all(t.dtype == torch.uint8 for t in tensors.values())
    assert json_state["python"][2] is not None and json_state["numpy"][3] == 1
    save_checkpoint(tmp_path, step=0, config={}, model={}, ema={}, optimizer={},
                    extra=tensors, meta={"rng": json_state})
    first = draws(generator)

    loaded = load_checkpoint(tmp_path)
    restore_rng_state(loaded.extra, loaded.meta["rng"], {"data": generator})
    second = draws(generator)
    for a, b in zip(first, second, strict=True):
        assert_same(b, a)
    assert draws(generator)[1].tolist() != second[1].tolist()  # the streams do move on


def test_restore_without_a_generator_state_raises():
    tensors, json_state = capture_rng_state({})
    with pytest.raises(ValueError, match="rng.gen.data"):
        restore_rng_state(tensors, json_state, {"data": torch.Generator()})


@pytest.mark.gpu
def test_cuda_rng_and_map_location(tmp_path):
    generator = torch.Generator(device="cuda").manual_seed(5)
    tensors, json_state = capture_rng_state({"data": generator})
    assert "rng.cuda.0" in tensors
    save_checkpoint(tmp_path, step=0, config={}, model={"w": torch.ones(3, device="cuda")},
                    ema={}, optimizer={}, extra=tensors, meta={"rng": json_state})
    first = (torch.rand(3, device="cuda"), torch.rand(3, device="cuda", generator=generator))
    loaded = load_checkpoint(tmp_path, map_location="cuda")
    assert loaded.model["w"].device.type == "cuda"
    restore_rng_state(loaded.extra, loaded.meta["rng"], {"data": generator})
    second = (torch.rand(3, device="cuda"), torch.rand(3, device="cuda", generator=generator))
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)

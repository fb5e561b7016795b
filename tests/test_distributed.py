"""Multi-process training on CPU with the gloo backend, started by torchrun as users start it.

One step of 2-process training at batch B must give the parameters of one process at batch 2B
(the same global batch of data, timesteps and noise; DDP averages the two halves' gradients), and
both ranks must hold the same weights and the same EMA afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import load_file

WORKER = textwrap.dedent("""
    import os, sys
    import torch
    from safetensors.torch import save_file
    from ddpm_math.train.config import TrainConfig
    from ddpm_math.train.run import run_training

    torch.set_num_threads(1)
    out, batch, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    config = TrainConfig(data="digits", model="digits8", steps=steps, batch_size=batch,
                         lr=1e-3, warmup=1, dropout=0.0, num_steps=100, hflip=True,
                         timestep_sampler="loss-second-moment")
    result = run_training(config, out, progress=False)
    rank = os.environ.get("RANK", "0")
    state = {"model." + k: v for k, v in result.state.model.state_dict().items()}
    state.update({"ema." + k: v for k, v in result.state.ema.state_dict().items()})
    save_file({k: v.contiguous() for k, v in state.items()}, os.path.join(out, f"rank{rank}.st"))
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_worker(tmp_path, name: str, nproc: int, batch: int, steps: int) -> str:
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = str(tmp_path / name)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    if nproc == 1:
        command = [sys.executable, str(script), out, str(batch), str(steps)]
    else:
        command = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}",
                   "--master_addr=127.0.0.1", f"--master_port={free_port()}", str(script), out,
                   str(batch), str(steps)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return out


@pytest.mark.slow
def test_two_gloo_processes_equal_one_process_on_the_concatenated_batch(tmp_path):
    one = load_file(os.path.join(run_worker(tmp_path, "one", 1, 16, 2), "rank0.st"))
    two = run_worker(tmp_path, "two", 2, 8, 2)
    rank0, rank1 = (load_file(os.path.join(two, f"rank{r}.st")) for r in (0, 1))
    for key in one:
        # the ranks agree exactly: DDP's averaged gradient and the same EMA update on each
        assert torch.equal(rank0[key], rank1[key]), key
        # and match one process up to the order of the gradient summation (float32)
        torch.testing.assert_close(rank0[key], one[key], rtol=1e-5, atol=1e-6, msg=key)
    # a non-trivial check: the two steps moved the weights
    init = load_file(os.path.join(run_worker(tmp_path, "zero", 1, 16, 0), "rank0.st"))
    moved = max((one[k] - init[k]).abs().max().item() for k in one if k.startswith("model."))
    assert moved > 1e-4
    # rank 0 alone wrote the log and the checkpoint
    assert (tmp_path / "two" / "log.jsonl").read_text().count("\n") == 2

#!/usr/bin/env bash
# The GPU checks and figures in one run: `bash benchmarks/gpu_run.sh [SECTION ...]`, from the
# repository root, on a machine with CUDA (sections: tests unet tiny peers throughput bench; all
# by default). One log and a JSON file per figure go to $OUT (default ./gpu_out; at most 8
# files, so that a device tool that returns 8 files gets them all). Each section is bounded by a timeout
# and a failing section does not stop the next one; the exit status is that of the tests.
set -u
cd "$(dirname "$0")/.."
export OUT="${OUT:-$PWD/gpu_out}"
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HYPOTHESIS_PROFILE=ci
if ls .whl/*.whl >/dev/null 2>&1; then  # optional peers carried as wheels (diffusers)
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
sections="${*:-tests unet tiny peers throughput bench}"
status=0
run() {  # run NAME SECONDS COMMAND...: the output appended to $OUT/gpu_run.log
    local name="$1" limit="$2"
    shift 2
    echo "=== $name: $*" | tee -a "$OUT/gpu_run.log"
    timeout "$limit" "$@" 2>&1 | grep -v "^USDT" | tee -a "$OUT/gpu_run.log"
    return "${PIPESTATUS[0]}"
}
want() { [[ " $sections " == *" $1 "* ]]; }

nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm --format=csv
python3 -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"

if want tests; then
    # shellcheck disable=SC2086
    run gpu_tests 240 python3 -m pytest -q -p no:cacheprovider -m gpu ${TEST_PATHS:-tests verification}
    status=$?
fi
if want unet; then  # the headline: the CIFAR-10 U-Net, batch 256, bf16, 100 steps
    run unet 150 python3 -m ddpm_math bench sample --model cifar10 --device cuda --bf16 \
        --steps 100 --no-progress --json "$OUT/unet_b256_bf16.json" --profile
fi
if want tiny; then
    run tiny 90 python3 -m ddpm_math bench sample --model tiny --device cuda --no-progress \
        --json "$OUT/tiny_cuda.json"
fi
if want peers; then
    run peers_tiny 90 python3 -m ddpm_math bench sample --model tiny --device cuda --peers \
        --no-progress --json "$OUT/peers_tiny_cuda.json"
    run peers_ddim 90 python3 -m ddpm_math bench sample --model cifar10 --device cuda --bf16 \
        --sampler ddim --steps 50 --peers --no-progress --json "$OUT/peers_unet_ddim.json"
fi
if want throughput; then  # images/s of 1000-step sampling, CUDA graph, bf16, batch 256
    run throughput 120 python3 - <<'EOF'
import json, os, time, torch
from ddpm_math import GaussianDiffusion, NoiseSchedule
from ddpm_math.bench import loops
bench = loops.unet_model("cifar10", 256, "cuda")
sampler = GaussianDiffusion(NoiseSchedule.linear(1000)).graph_sampler(
    bench.model, bench.shape, autocast_dtype=torch.bfloat16,
    generator=torch.Generator("cuda").manual_seed(0))
times = []
for _ in range(2):  # the first run warms up
    torch.cuda.synchronize(); start = time.perf_counter()
    x = sampler.sample()
    torch.cuda.synchronize(); times.append(time.perf_counter() - start)
report = {"gpu": torch.cuda.get_device_name(), "torch": torch.__version__, "batch": 256,
          "steps": 1000, "seconds": times[-1], "images_per_s": 256 / times[-1],
          "x0_range": [float(x.min()), float(x.max())]}
print(json.dumps(report))
open(os.path.join(os.environ["OUT"], "throughput.json"), "w").write(json.dumps(report))
EOF
fi
if want bench; then
    # shellcheck disable=SC2086
    run bench 240 python3 -m pytest -q -p no:cacheprovider -m gpu ${BENCH_PATHS:-benchmarks} --benchmark-enable \
        --benchmark-min-rounds=3 --benchmark-max-time=0.5 --benchmark-json="$OUT/bench_gpu.json" \
        --benchmark-columns=min,median,ops --benchmark-group-by=group
fi
exit "$status"

#!/usr/bin/env bash
# The project's checks on a CUDA machine, in one call (under 8 minutes on one H100/H200):
#   1. benchmarks.training_speed on the GPU: the training loops in fp32, and the bf16 row;
#   2. the same split trained twice with --deterministic: equal weight hashes;
#   3. data-parallel training with torchrun over the GPUs present (NCCL; one GPU: 1 rank);
#   4. the paper's 2 x 5 x 100 protocol timed on generated full-size SumMe/TVSum-shaped data for each
#      --jobs value, projected from 2 measured epochs per split.
#
#   bash benchmarks/gpu_check.sh            # on the GPU machine
#   bash benchmarks/gpu_check.sh --dry-run  # the same steps on the CPU with tiny sizes (what CI runs)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if [ "${1:-}" = "--dry-run" ]; then
  DEVICE=cpu; STEPS=1; REPEATS=1; LENGTHS="20 30"; RANKS=2; EPOCHS=1; JOBS="1"; SPLITS="1"; SMALL="--small"
else
  DEVICE=cuda; STEPS=20; REPEATS=5; LENGTHS="290 500"; EPOCHS=2; JOBS="1 2 4 8"; SPLITS="1 2 3 4 5"; SMALL=""
  RANKS=$("$PYTHON" -c "import torch; print(max(1, torch.cuda.device_count()))")
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

echo "== machine"
"$PYTHON" - <<'EOF'
import platform, torch
print(f"python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda}")
for i in range(torch.cuda.device_count()):
    print(f"GPU {i}: {torch.cuda.get_device_name(i)}")
print(f"CPU: {platform.processor() or platform.machine()}")
EOF

echo "== 1. benchmarks.training_speed on $DEVICE (fp32 and, on CUDA, bf16)"
"$PYTHON" -m benchmarks.training_speed --device "$DEVICE" --steps "$STEPS" --repeats "$REPEATS" --lengths $LENGTHS \
  --out "$WORK/benchmark.json"

echo "== 2. two --deterministic trainings of the demo's SumMe split 1"
for run in a b; do
  "$PYTHON" train.py --demo --datasets SumMe --splits 1 --epochs "$EPOCHS" --deterministic --device "$DEVICE" \
    --quiet --weights-dir "$WORK/det_$run" --results-dir "$WORK/det_results_$run" > /dev/null
done
"$PYTHON" - "$WORK" <<'EOF'
import hashlib, sys, torch
digests = []
for run in ("a", "b"):
    state = torch.load(f"{sys.argv[1]}/det_{run}/SumMe/split1.pt")
    digest = hashlib.sha256()
    for name in sorted(state):
        digest.update(name.encode()); digest.update(state[name].contiguous().numpy().tobytes())
    digests.append(digest.hexdigest())
print(f"weights sha256: {digests[0][:16]}... and {digests[1][:16]}... -> {'EQUAL' if digests[0] == digests[1] else 'DIFFERENT'}")
sys.exit(0 if digests[0] == digests[1] else 1)
EOF

echo "== 3. torchrun with $RANKS rank(s) on $DEVICE"
"$PYTHON" -m torch.distributed.run --standalone --nproc_per_node "$RANKS" train.py --demo --datasets TVSum \
  --splits 1 --epochs "$EPOCHS" --device "$DEVICE" --quiet --weights-dir "$WORK/ddp" --results-dir "$WORK/ddp_results" \
  | tail -n 6
"$PYTHON" -c "import json,sys; r=json.load(open(sys.argv[1])); print('record:', {k: r[k] for k in ('world_size','backend','device','seconds')})" \
  "$WORK/ddp/TVSum/split1.json"

echo "== 4. the whole protocol, projected"
"$PYTHON" -m benchmarks.protocol --device "$DEVICE" --epochs "$EPOCHS" --jobs $JOBS --splits $SPLITS $SMALL
echo "== done"

#!/usr/bin/env bash
# The checks that need an NVIDIA GPU, as one prepared run (the device tool's machine has torch but
# not streamlit/plotly, so the page tests are left out and conftest is not loaded).
#   bash benchmarks/gpu_check.sh [OUTDIR]
# Writes pytest.log, bench_cuda.log, bench_cpu.log, bench_clf_*.log, bench_deep_*.log and checks.log under OUTDIR (default ./gpu-out).
set -u -o pipefail
out=${1:-gpu-out}; mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH=.
PY=${PYTHON:-python3}
nvidia-smi -L
$PY -c "import torch, sys; print(sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
# Core tests that run without streamlit: CUDA-marked ones included; AppTest/page tests deselected.
timeout 240 $PY -m pytest --noconftest -q -p no:cacheprovider -rs \
  $(ls tests/test_regression.py tests/test_vanishing.py tests/test_classification.py tests/test_deep.py 2>/dev/null) \
  -k "not page and not app_ and not browser and not two_panel" 2>&1 | tee "$out/pytest.log" | tail -25
timeout 120 $PY - <<'PY' 2>&1 | tee "$out/checks.log"
# Device parity beyond the unit tests: the vanishing sweep, the devices chart's timings and the
# exported script on cuda.
import subprocess, sys, tempfile, torch
from nnviz import vanishing as V, regression as R
for act in ("sigmoid", "tanh", "relu"):
    a = V.sweep(act, 30, device="cpu")
    b = V.sweep(act, 30, device="cuda")
    worst = max(abs(x / y - 1) for x, y in zip(a.first_mean, b.first_mean) if x and y)
    print(f"vanishing {act}: depth 30 first-layer grad cpu {a.first_mean[-1]:.4e} cuda {b.first_mean[-1]:.4e}; "
          f"worst relative gap over depths {worst:.2e}")
for t in R.compare_devices(R.RegressionConfig(), ["cpu", "cuda:0"]):
    print("timing", t)
with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
    f.write(R.script(R.RegressionConfig(), "cuda"))
r = subprocess.run([sys.executable, f.name], capture_output=True, text=True, timeout=60)
print("exported script on cuda: rc", r.returncode, r.stdout.strip().splitlines()[-2:], r.stderr[-500:])
try:
    from nnviz import classification as C
except ImportError:
    C = None
if C is not None:
    for hidden in ((), (8,)):
        cfg = C.ClassifierConfig(hidden=hidden)
        a = list(C.train(cfg, "cpu", every=cfg.epochs))[-1]
        b = list(C.train(cfg, "cuda", every=cfg.epochs))[-1]
        print(f"classifier xor hidden={hidden}: cpu test acc {a.test_accuracy:.3f} loss {a.test_loss:.5f} | "
              f"cuda test acc {b.test_accuracy:.3f} loss {b.test_loss:.5f}")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(C.script(C.ClassifierConfig(), "cuda"))
    r = subprocess.run([sys.executable, f.name], capture_output=True, text=True, timeout=60)
    print("classifier script on cuda: rc", r.returncode, r.stdout.strip().splitlines()[-1:], r.stderr[-500:])
try:
    from nnviz import deep as D
except ImportError:
    D = None
if D is not None:  # the deep trainer: every preset (seed 0) on cpu and cuda, and its script on cuda
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    for name, p in D.PRESETS.items():
        a, b = D.run(p.config, "cpu"), D.run(p.config, dev)
        la, lb = a[-1], b[-1]
        gap = max((abs(x / y - 1) for x, y in zip(la.grad_norm, lb.grad_norm) if x and y), default=0.0)
        print(f"deep {name}: cpu loss {la.train_loss:.5g} (fall {D.loss_fall(a):.3f}, claim {D.holds(p, a)}) | "
              f"{dev} loss {lb.train_loss:.5g} (fall {D.loss_fall(b):.3f}, claim {D.holds(p, b)}) | "
              f"diverged {la.diverged}/{lb.diverged} | worst grad-norm gap at the end {gap:.2e}")
    with tempfile.NamedTemporaryFile("w", suffix=".py", delete=False) as f:
        f.write(D.script(D.PRESETS["sigmoid_batchnorm"].config, dev))
    r = subprocess.run([sys.executable, f.name], capture_output=True, text=True, timeout=60)
    print(f"deep script on {dev}: rc", r.returncode, r.stdout.strip().splitlines()[-1:], r.stderr[-500:])
PY
timeout 150 $PY benchmarks/bench_regression.py --device cuda --reps 5 2>&1 | tee "$out/bench_cuda.log"
timeout 60 $PY benchmarks/bench_regression.py --device cpu --reps 5 2>&1 | tee "$out/bench_cpu.log"
if [ -f benchmarks/bench_classification.py ]; then
  timeout 120 $PY benchmarks/bench_classification.py --device cuda --reps 5 2>&1 | tee "$out/bench_clf_cuda.log"
  timeout 90 $PY benchmarks/bench_classification.py --device cpu --reps 5 --threads 1 2>&1 | tee "$out/bench_clf_cpu.log"
fi
if [ -f benchmarks/bench_deep.py ]; then
  timeout 120 $PY benchmarks/bench_deep.py --device cuda --reps 3 --threads 0 2>&1 | tee "$out/bench_deep_cuda.log"
  timeout 120 $PY benchmarks/bench_deep.py --device cpu --reps 3 --threads 1 2>&1 | tee "$out/bench_deep_cpu.log"
fi

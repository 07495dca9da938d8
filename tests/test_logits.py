"""nnviz.logits against references written here: numpy float64 softmax and log(1 + e^z), numpy
float32/float64 arithmetic for the failure points (checked on every representable float near each),
closed forms for the gradients, brute force for the double-softmax floor, and the exported script."""
import math
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from scipy.special import expit

from nnviz import logits as G

NP = {"float32": np.float32, "float64": np.float64}
WINDOW = 100_000  # representable floats checked on each side of a failure point


def np_softmax(z, t=1.0):
    z = np.asarray(z, dtype=np.float64) / t
    e = np.exp(z - z.max())
    return e / e.sum()


def neighbourhood(x: float, dtype: str, k: int = WINDOW) -> np.ndarray:
    """The 2k + 1 consecutive floats of dtype centred on x (all of one sign), ascending."""
    dt = NP[dtype]
    it = np.int32 if dt is np.float32 else np.int64
    bits = np.array([abs(x)], dtype=dt).view(it)[0]
    w = np.arange(bits - k, bits + k + 1, dtype=it).view(dt)
    return w if x > 0 else -w[::-1]


def np_sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z) in z's own dtype (numpy's float32 arithmetic for float32)."""
    dt = z.dtype.type
    with np.errstate(over="ignore"):
        return dt(1) / (dt(1) + np.exp(-z))


def np_small_softmax(z: np.ndarray) -> np.ndarray:
    """The smaller probability of softmax([0, z]) as torch computes it after subtracting the max:
    e^-|z| / (1 + e^-|z|), in z's dtype."""
    dt = z.dtype.type
    e = np.exp(-np.abs(z))
    return e / (dt(1) + e)


EPS = np.float32(1e-12)  # ATen's EPSILON in BCELoss's backward is a C float, also for float64


def np_bce_naive_grad(z: np.ndarray, p: np.ndarray | None = None) -> np.ndarray:
    """torch's BCELoss backward (ATen Loss.cpp: (p - y) / max(p (1 - p), EPSILON)) times sigmoid's
    backward ((1 - p) p), for y = 0, in z's dtype, from p = sigmoid(z) (numpy's unless given)."""
    dt = z.dtype.type
    p = np_sigmoid(z) if p is None else p
    with np.errstate(under="ignore"):
        return (p / np.maximum((dt(1) - p) * p, dt(EPS))) * (dt(1) - p) * p


# --- 1. softmax ------------------------------------------------------------------------------------

@pytest.mark.parametrize("logits,t", [((2.0, 1.0, 0.1), 1.0), ((-50.0, 50.0, 3.0, 0.0, 7.5), 0.05),
                                      ((1.0, 1.0, 1.0), 20.0), ((4.0, -2.0), 0.7)])
def test_softmax_against_numpy(logits, t):
    sm = G.softmax(logits, t)
    np.testing.assert_allclose(sm.probs, np_softmax(logits, t), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(sm.sharper, np_softmax(logits, t / 2), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(sm.flatter, np_softmax(logits, 2 * t), rtol=1e-13, atol=1e-300)
    # invariance to + c: the shifted probabilities are those of the plain logits
    np.testing.assert_allclose(sm.shifted, np_softmax(logits, t), rtol=1e-12, atol=1e-300)
    assert sm.max_shift_change < 1e-13 and sm.shift == G.SHIFT
    assert math.isclose(sum(sm.probs), 1.0, rel_tol=1e-14)
    if len(set(logits)) > 1:  # a lower temperature sharpens: the top class gains, and loses at 2T
        top = int(np.argmax(logits))
        assert sm.sharper[top] >= sm.probs[top] >= sm.flatter[top]
        assert sm.sharper[top] > sm.flatter[top] or sm.flatter[top] == 1.0  # (or already one-hot)
    else:
        np.testing.assert_allclose(sm.probs, 1 / len(logits))


def test_softmax_caption_comes_from_the_numbers():
    sm = G.softmax((2.0, 1.0, 0.1), 1.0)
    assert "class 0" in sm.caption and "0.659" in sm.caption and "0.864" in sm.caption and "0.502" in sm.caption


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_of(dtype):
    for z in (-30.0, -2.0, 0.0, 0.5, 3.0, 15.0):
        assert math.isclose(G.sigmoid_of(z, dtype), expit(z), rel_tol=4 * np.finfo(dtype).eps)
    one = G.failure_points(dtype)["sigmoid_rounds_to_one"]
    below = float(np.nextafter(NP[dtype](one), NP[dtype](0)))
    assert G.sigmoid_of(one, dtype) == 1.0 and G.sigmoid_of(below, dtype) < 1.0


# --- 2. the sweep: logit forms against float64 -----------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_logit_forms_match_float64_reference(dtype):
    """Over [-1000, 1000]. The loss is computed from z, so it is good to a few ulps of max(1, |z|) (on
    the confidently right side the true loss e^z is far below ulp(z), and a logit form may return 0);
    the gradient to a few ulps of max(1, |z|) relative to itself (CrossEntropyLoss's is exp(z - lse), and
    the rounding of z - lse becomes a relative error) wherever the true gradient is a normal number, and
    anywhere in [0, tiny] where it is not (torch's float32 sigmoid flushes to 0 below z = -88.7)."""
    s = G.sweep(1000.0, dtype)
    z = np.array(s.z, dtype=np.float64)
    eps, tiny = np.finfo(dtype).eps, np.finfo(dtype).tiny
    ref_loss, ref_grad = np.logaddexp(0.0, z), expit(z)
    assert 0.0 in s.z and len(s.z) >= G.SWEEP_POINTS
    assert s.z == sorted(s.z) and s.z[0] == -1000.0 and s.z[-1] == 1000.0
    np.testing.assert_allclose(s.curves["reference"].loss, ref_loss, rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(s.curves["reference"].grad, ref_grad, rtol=1e-15, atol=1e-320)
    for key in ("bce_logits", "ce_logits"):
        c = s.curves[key]
        assert None not in c.loss and None not in c.grad, key
        loss, grad = np.array(c.loss), np.array(c.grad)
        assert np.all(np.abs(loss - ref_loss) <= 4 * eps * np.maximum(1.0, np.abs(z))), key
        normal = ref_grad >= tiny
        scale = 4 * eps * np.maximum(1.0, np.abs(z)) * ref_grad  # exp(z - lse): ulps of z become relative error
        assert np.all(np.abs(grad - ref_grad)[normal] <= scale[normal] + np.finfo(dtype).smallest_subnormal), key
        assert np.all(((grad >= 0) & (grad <= tiny))[~normal]), key
        assert s.regions[key] == [], key
        # the two logit forms are the same function here: CE on [0, z] with class 0 is BCE with logits
        np.testing.assert_allclose(c.loss, s.curves["bce_logits"].loss, rtol=0,
                                   atol=4 * eps * max(1.0, 1000.0))
    assert s.curves["bce_logits"].max_loss_error <= 4 * eps * 1000
    assert s.regions["reference"] == []


def test_sweep_grid_is_the_linspace_plus_the_failure_points():
    s = G.sweep(100.0, "float32", n=201)
    base = np.linspace(-100, 100, 201).astype(np.float32)
    assert set(base.tolist()) <= set(s.z)
    fp = G.failure_points("float32")
    for name in ("sigmoid_rounds_to_one", "ce_grad_nonfinite", "bce_grad_clamped_below"):
        assert fp[name] in s.z
    assert fp["softmax_underflows"] not in s.z  # 103.97 is out of range
    assert len(s.z) == len(set(s.z)) and len(s.z) < 201 + 2 * len(fp) + 2
    for c in s.curves.values():
        assert len(c.loss) == len(c.grad) == len(s.z)


# --- 2. the naive forms: failure points asserted ---------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_failure_points_against_numpy_arithmetic(dtype):
    """Each failure point is the first (last) float of dtype where numpy's own arithmetic in dtype
    predicts the failure, on every one of the 200 001 floats around it. numpy's exp is not torch's
    (the float32 sigmoid values differ in the last bit here and there), but the rounding to exactly
    1, the underflow to 0 and the overflow of 1/p happen at the same float: checked here."""
    fp = G.failure_points(dtype)
    dt = NP[dtype]
    expect = {"float32": (16.6355, 103.972, 88.7228), "float64": (36.7368, 745.133, 709.7827)}[dtype]
    assert fp["sigmoid_rounds_to_one"] == pytest.approx(expect[0], abs=1e-4)
    assert fp["softmax_underflows"] == pytest.approx(expect[1], abs=1e-3)
    assert fp["ce_grad_nonfinite"] == pytest.approx(expect[2], abs=1e-4)
    assert fp["bce_clamped"] == fp["bce_grad_zero"] == fp["sigmoid_rounds_to_one"]
    assert fp["ce_inf"] == fp["softmax_underflows"]
    assert fp["ce_grad_nan_below"] == fp["softmax_other_underflows"] == -fp["softmax_underflows"]

    def first(mask, z):  # the float where mask turns true, and mask is monotone around it
        i = int(np.argmax(mask))
        assert mask[i] and not mask[:i].any() and mask[i:].all()
        return float(z[i])

    def last(mask, z):
        i = len(mask) - 1 - int(np.argmax(mask[::-1]))
        assert mask[i] and mask[:i + 1].all() and not mask[i + 1:].any()
        return float(z[i])

    z = neighbourhood(fp["sigmoid_rounds_to_one"], dtype)
    assert first(np_sigmoid(z) == 1, z) == fp["sigmoid_rounds_to_one"]
    z = neighbourhood(fp["softmax_underflows"], dtype)
    assert first(np_small_softmax(z) == 0, z) == fp["softmax_underflows"]
    z = neighbourhood(fp["softmax_other_underflows"], dtype)
    assert last(np_small_softmax(z) == 0, z) == fp["softmax_other_underflows"]
    z = neighbourhood(fp["ce_grad_nonfinite"], dtype)
    with np.errstate(divide="ignore", over="ignore"):
        assert first(~np.isfinite(dt(1) / np_small_softmax(z)), z) == fp["ce_grad_nonfinite"]
    z = neighbourhood(fp["bce_grad_clamped_below"], dtype)
    p = np_sigmoid(z)
    assert last((dt(1) - p) * p < dt(EPS), z) == fp["bce_grad_clamped_below"]
    z = neighbourhood(fp["bce_grad_zero_below"], dtype)
    assert last(np_bce_naive_grad(z) == 0, z) == fp["bce_grad_zero_below"]
    if dtype == "float64":  # float32's 1 - p never gets below 2^-24 > 1e-12 before p rounds to 1
        z = neighbourhood(fp["bce_grad_clamped"], dtype)
        p = np_sigmoid(z)
        assert first((dt(1) - p) * p < dt(EPS), z) == fp["bce_grad_clamped"]
        # about symmetric: near 1 the float64 values of 1 - p are multiples of 2^-53, so not quite
        assert fp["bce_grad_clamped"] == pytest.approx(-fp["bce_grad_clamped_below"], abs=1e-4)
    else:
        assert fp["bce_grad_clamped"] == fp["sigmoid_rounds_to_one"]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_naive_forms_at_and_just_before_their_failure_points(dtype):
    """One z at a time (torch's scalar code path) as well as on the sweep's grid (vectorised)."""
    fp = G.failure_points(dtype)
    dt = NP[dtype]
    one = fp["bce_clamped"]
    before = float(np.nextafter(dt(one), dt(0)))
    c = G.evaluate([before, one, 2 * one], dtype)
    bce = c["bce_naive"]
    assert bce.loss[1] == bce.loss[2] == 100.0 and bce.grad[1] == bce.grad[2] == 0.0
    assert bce.loss[0] < one + 1 and bce.grad[0] > 1e-4  # still working, if barely
    assert c["bce_logits"].grad[1] == pytest.approx(1.0)  # the exact gradient is about 1 there
    under = fp["softmax_underflows"]
    c = G.evaluate([float(np.nextafter(dt(under), dt(0))), under, -under, fp["ce_grad_nonfinite"]], dtype)
    ce = c["ce_naive"]
    assert ce.loss[0] is not None and ce.loss[0] > under - 1 and ce.grad[0] is None  # +inf gradient
    assert ce.loss[1] is None and ce.grad[1] is None  # inf loss, nan gradient
    assert ce.loss[2] == 0.0 and ce.grad[2] is None  # right, but p[1] = 0 makes log's backward 0/0
    assert ce.grad[3] is None and ce.loss[3] is not None
    assert c["ce_logits"].loss[1] == pytest.approx(under) and c["ce_logits"].grad[1] == 1.0
    # the raw torch values behind the None entries
    z = torch.tensor([under, -under, fp["ce_grad_nonfinite"]], dtype=G.DTYPES[dtype], requires_grad=True)
    loss = -torch.log(torch.softmax(torch.stack([torch.zeros_like(z), z], -1), -1))[:, 0]
    loss.sum().backward()
    assert loss[0].item() == math.inf and math.isnan(z.grad[0].item())
    assert math.isnan(z.grad[1].item()) and z.grad[2].item() == math.inf


def _covered(regions, quantity, kind, z):
    mask = np.zeros(len(z), dtype=bool)
    for r in regions:
        if r.quantity == quantity and r.kind == kind:
            mask |= (z >= r.lo) & (z <= r.hi)
    return mask


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_regions_cover_exactly_the_failing_z(dtype):
    """Every region of the sweep, point by point, against numpy's prediction in dtype."""
    s = G.sweep(1000.0, dtype)
    dt = NP[dtype]
    z = np.array(s.z, dtype=dt)
    fp = G.failure_points(dtype)
    p = np_sigmoid(z)
    normal = expit(z.astype(np.float64)) >= np.finfo(dtype).tiny  # the exact gradient is a normal number
    g = np_bce_naive_grad(z)
    small = np_small_softmax(z)
    with np.errstate(divide="ignore", over="ignore"):
        overflow = ~np.isfinite(dt(1) / small)
    expected = {
        ("bce_naive", "loss", "clamped"): p == 1,
        ("bce_naive", "grad", "zero_grad"): normal & (g == 0),
        ("bce_naive", "grad", "clamped"): normal & (g != 0) & ((dt(1) - p) * p < dt(EPS)),
        ("ce_naive", "loss", "inf"): (z > 0) & (small == 0),
        ("ce_naive", "grad", "nan"): small == 0,
        ("ce_naive", "grad", "inf"): (z > 0) & (small > 0) & overflow,
    }
    for (key, quantity, kind), mask in expected.items():
        assert mask.any(), (key, quantity, kind)
        assert np.array_equal(_covered(s.regions[key], quantity, kind, z), mask), (key, quantity, kind)
    # nothing else is marked, and the marks are where the failures start, to the last bit
    assert {(r.curve, r.quantity, r.kind) for rs in s.regions.values() for r in rs} == set(expected)
    starts = {(r.curve, r.quantity, r.kind, r.lo) for r in s.regions["bce_naive"] + s.regions["ce_naive"]}
    assert ("bce_naive", "loss", "clamped", fp["bce_clamped"]) in starts
    assert ("bce_naive", "grad", "zero_grad", fp["bce_grad_zero"]) in starts
    assert ("ce_naive", "loss", "inf", fp["softmax_underflows"]) in starts
    assert ("ce_naive", "grad", "inf", fp["ce_grad_nonfinite"]) in starts
    assert any(r.kind == "nan" and r.hi == fp["ce_grad_nan_below"] for r in s.regions["ce_naive"])
    # the values there: exactly 100 and exactly 0; None exactly where torch gave inf or nan
    bce, ce = s.curves["bce_naive"], s.curves["ce_naive"]
    clamped = expected[("bce_naive", "loss", "clamped")]
    assert all(bce.loss[i] == 100.0 and bce.grad[i] == 0.0 for i in np.nonzero(clamped)[0])
    assert max(v for v, c in zip(bce.loss, clamped) if not c) < fp["bce_clamped"] + 1
    grad_none = np.array([v is None for v in ce.grad])
    assert np.array_equal(grad_none, expected[("ce_naive", "grad", "nan")] | expected[("ce_naive", "grad", "inf")])
    assert np.array_equal(np.array([v is None for v in ce.loss]), expected[("ce_naive", "loss", "inf")])
    assert None not in bce.loss and None not in bce.grad
    for r in s.regions["ce_naive"]:
        assert r.detail == {"inf": "loss = +inf" if r.quantity == "loss" else "dL/dz = +inf",
                            "nan": "dL/dz = nan"}[r.kind]
    # in the clamped-gradient region torch's gradient is the eps-clamped one, far below sigmoid(z)
    cg = expected[("bce_naive", "grad", "clamped")]
    np.testing.assert_allclose(np.array(bce.grad)[cg], g[cg], rtol=8 * np.finfo(dtype).eps)
    assert np.all(np.array(bce.grad)[cg] < expit(z[cg].astype(np.float64)))
    # outside every region the naive BCE gradient is the exact one
    ok = ~(cg | expected[("bce_naive", "grad", "zero_grad")]) & normal
    np.testing.assert_allclose(np.array(bce.grad)[ok], expit(z[ok].astype(np.float64)), rtol=8 * np.finfo(dtype).eps)


def test_default_sweep_tells_the_float32_story():
    """The default screen (float32, ±120): BCE stuck at 100 with gradient 0 from z = 16.64, the naive
    CE gradient +inf from z = 88.72, and from 103.97 its loss +inf and its gradient nan (all on screen)."""
    s = G.sweep()
    assert (s.dtype, s.z_range) == ("float32", 120.0)
    kinds = {(r.curve, r.quantity, r.kind): (r.lo, r.hi) for rs in s.regions.values() for r in rs if r.lo > 0}
    assert kinds[("bce_naive", "loss", "clamped")] == (pytest.approx(16.6355, abs=1e-4), 120.0)
    assert kinds[("bce_naive", "grad", "zero_grad")][0] == pytest.approx(16.6355, abs=1e-4)
    assert kinds[("ce_naive", "grad", "inf")] == (pytest.approx(88.7228, abs=1e-4), pytest.approx(103.972, abs=1e-3))
    assert kinds[("ce_naive", "grad", "nan")] == (pytest.approx(103.972, abs=1e-3), 120.0)  # past the loss's inf
    assert kinds[("ce_naive", "loss", "inf")] == (pytest.approx(103.972, abs=1e-3), 120.0)


# --- 3. the gradient is p - y --------------------------------------------------------------------

@pytest.mark.parametrize("logits,target", [((2.0, 1.0, 0.1), 0), ((2.0, 1.0, 0.1), 2),
                                           ((-50.0, 50.0, 0.0, 3.0, -7.0), 0), ((0.3, -0.3), 1)])
def test_gradient_is_softmax_minus_onehot(logits, target):
    g = G.gradient(logits, target)
    p = np_softmax(logits)
    onehot = np.eye(len(logits))[target]
    np.testing.assert_allclose(g.autograd, p - onehot, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g.closed_form, p - onehot, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(g.probs, p, rtol=1e-12, atol=1e-300)
    assert g.onehot == onehot.tolist() and g.temperature == 1.0
    assert g.loss == pytest.approx(-np.log(p[target]) if p[target] > 0 else 100.0, rel=1e-12)
    assert g.max_abs_diff <= 1e-15 and abs(sum(g.autograd)) < 1e-15


# --- 4. saturation ---------------------------------------------------------------------------------

def test_saturation_closed_forms():
    s = G.saturation()
    z = np.array(s.z)
    sig = expit(z)
    np.testing.assert_allclose(s.mse_grad, 2 * sig**2 * (1 - sig), rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(s.ce_grad, sig, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(s.mse_closed, 2 * sig**2 * (1 - sig), rtol=1e-13)
    np.testing.assert_allclose(s.ratio, 2 * sig * (1 - sig), rtol=1e-12)
    step = z[1] - z[0]
    assert len(z) == G.SATURATION_POINTS and z[0] == -10 and z[-1] == 10
    assert abs(s.peak_z - math.log(2)) <= step / 2  # d/dz sigma^2 (1 - sigma) = 0 at sigma = 2/3
    # 2 sigma (1 - sigma) = 0.01 at sigma = (1 + sqrt(0.98)) / 2
    sig_slow = (1 + math.sqrt(1 - 2 * 0.01)) / 2
    z_slow = math.log(sig_slow / (1 - sig_slow))
    assert z_slow <= s.slow_from_z < z_slow + step
    assert G.saturation(z_max=3.0).slow_from_z is None  # never that slow within ±3


# --- 5. double softmax -----------------------------------------------------------------------------

def np_double_softmax(logits, t):
    q = np_softmax(logits)
    r = np_softmax(q)  # CrossEntropyLoss's own softmax, of the probabilities
    onehot = np.eye(len(logits))[t]
    jac = np.diag(q) - np.outer(q, q)  # d softmax / dz
    return -np.log(r[t]), jac.T @ (r - onehot)


@pytest.mark.parametrize("logits,target", [((2.0, 1.0, 0.1), 0), ((2.0, 1.0, 0.1), 1),
                                           ((10.0, -10.0, 0.0, 3.0, 4.0), 4), ((1.0, -1.0), 0)])
def test_double_softmax_against_numpy(logits, target):
    d = G.double_softmax(logits, target)
    k = len(logits)
    loss, grad = np_double_softmax(logits, target)
    p = np_softmax(logits)
    assert d.correct_loss == pytest.approx(-np.log(p[target]), rel=1e-12)
    np.testing.assert_allclose(d.correct_grad, p - np.eye(k)[target], rtol=1e-12, atol=1e-15)
    assert d.buggy_loss == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(d.buggy_grad, grad, rtol=1e-10, atol=1e-15)
    assert d.buggy_floor == pytest.approx(math.log(1 + (k - 1) / math.e), rel=1e-14)
    assert d.buggy_ceiling == pytest.approx(math.log(math.e + k - 1), rel=1e-14)
    assert d.buggy_ceiling - d.buggy_floor == pytest.approx(1.0)  # the bug's loss lives in a band of width 1
    assert d.buggy_floor <= d.buggy_loss <= d.buggy_ceiling
    assert d.buggy_grad_norm < d.correct_grad_norm


def test_double_softmax_floor_by_brute_force():
    """The floor is what the bug gives at its best, and nothing goes below it."""
    rng = np.random.default_rng(7)
    for k in (2, 3, 4, 5):
        for t in range(k):
            best = [-50.0] * k
            best[t] = 50.0  # as right as the page's logits can be
            d = G.double_softmax(best, t)
            assert d.buggy_loss == pytest.approx(math.log(1 + (k - 1) / math.e), rel=1e-12)
            assert d.correct_loss < 1e-40  # the correct loss goes to 0
            for _ in range(20):
                z = rng.uniform(-50, 50, size=k)
                assert G.double_softmax(z.tolist(), t).buggy_loss >= d.buggy_floor - 1e-15
    # the default lesson: the bug's gradients are much smaller
    d = G.double_softmax(G.LOGITS.default, 0)
    assert d.buggy_grad_norm < 0.6 * d.correct_grad_norm
    wrong = G.double_softmax((10.0, -10.0, 0.0, 3.0, 4.0), 1)  # confidently wrong: 100x smaller
    assert wrong.buggy_grad_norm < wrong.correct_grad_norm / 100


# --- show the code ---------------------------------------------------------------------------------

def _run(code: str, tmp_path) -> dict[str, list[float]]:
    path = tmp_path / "logits_and_losses.py"
    path.write_text(code)
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "nnviz" not in code
    lines = {}
    for line in out.stdout.strip().splitlines():
        m = re.fullmatch(r"(\S+): ?(.*)", line)
        assert m, line
        lines[m.group(1)] = [float(v) for v in m.group(2).split()]
    return lines


def _same(a: float | None, b: float, rel: float) -> bool:
    """None in the module is inf or nan in torch's output."""
    if a is None:
        return not math.isfinite(b)
    return a == b or math.isclose(a, b, rel_tol=rel, abs_tol=1e-300)


@pytest.mark.parametrize("logits,temperature,target,z_range,dtype",
                         [(G.LOGITS.default, 1.0, 0, 100.0, "float32"),
                          ((3.0, -1.0, 0.5, 8.0), 0.3, 2, 1000.0, "float64")])
def test_script_prints_the_module_numbers(tmp_path, logits, temperature, target, z_range, dtype):
    out = _run(G.script(logits, temperature, target, z_range, dtype), tmp_path)
    sm = G.softmax(logits, temperature)
    for key, values in (("softmax", sm.probs), ("softmax_shifted", sm.shifted), ("softmax_sharper", sm.sharper),
                        ("softmax_flatter", sm.flatter)):
        np.testing.assert_allclose(out[key], values, rtol=1e-14, atol=1e-300)
    rel = 4 * np.finfo(dtype).eps
    probes = G.probe_points(z_range)
    curves = G.evaluate(probes, dtype)
    for i, z in enumerate(probes):
        assert out[f"sigmoid@{z}"][0] == G.sigmoid_of(z, dtype)
        for key in ("bce_naive", "bce_logits", "ce_naive", "ce_logits"):
            loss, grad = out[f"{key}@{z}"]
            assert _same(curves[key].loss[i], loss, rel) and _same(curves[key].grad[i], grad, rel), (key, z)
        assert out[f"exact@{z}"] == pytest.approx([curves["reference"].loss[i], curves["reference"].grad[i]],
                                                  rel=1e-15)
    assert out["bce_naive@200.0"] == [100.0, 0.0]  # clamped in both precisions
    g = G.gradient(logits, target)
    assert out["ce_loss"] == pytest.approx([g.loss], rel=1e-14)
    np.testing.assert_allclose(out["grad_autograd"], g.autograd, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(out["grad_closed_form"], g.closed_form, rtol=1e-13, atol=1e-16)
    s = G.saturation()
    assert out["mse_peak_z"] == [s.peak_z] and out["mse_slow_from_z"] == [s.slow_from_z]  # the same grid
    d = G.double_softmax(logits, target)
    assert out["double_softmax_losses"] == pytest.approx([d.correct_loss, d.buggy_loss], rel=1e-13)
    assert out["double_softmax_floor"] == pytest.approx([d.buggy_floor], rel=1e-14)
    np.testing.assert_allclose(out["grad_correct"], d.correct_grad, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(out["grad_buggy"], d.buggy_grad, rtol=1e-12, atol=1e-16)


# --- hygiene ---------------------------------------------------------------------------------------

def test_no_global_random_state_is_touched():
    before = torch.random.get_rng_state()
    G.softmax((1.0, 2.0, 3.0), 2.0)
    G.sweep(50.0, "float64", n=101)
    G.gradient((1.0, 2.0, 3.0), 1)
    G.saturation(5.0, 101)
    G.double_softmax((1.0, 2.0, 3.0), 2)
    G.script((1.0, 2.0, 3.0), 1.0, 0, 50.0, "float32")
    assert torch.equal(before, torch.random.get_rng_state())


@pytest.mark.parametrize("call,message", [
    (lambda: G.softmax([], 1.0), "logits"),
    (lambda: G.softmax((1.0,), 1.0), "logits"),
    (lambda: G.softmax((1.0,) * 6, 1.0), "logits"),
    (lambda: G.softmax((1.0, float("nan")), 1.0), "finite"),
    (lambda: G.softmax((1.0, 2.0), 0.0), "temperature"),
    (lambda: G.softmax(("a", 2.0), 1.0), "numbers"),
    (lambda: G.gradient((), 0), "logits"),
    (lambda: G.gradient((1.0, 2.0, 3.0), 3), "true class must be from 0 to 2"),
    (lambda: G.gradient((1.0, 2.0, 3.0), -1), "true class"),
    (lambda: G.gradient((1.0, 2.0, 3.0), 1.5), "whole number"),
    (lambda: G.double_softmax((1.0, 2.0), 2), "true class"),
    (lambda: G.double_softmax([], 0), "logits"),
    (lambda: G.script((1.0, 2.0, 3.0), 1.0, 5, 100.0, "float32"), "true class"),
    (lambda: G.script((1.0, 2.0, 3.0), 1.0, 0, 100.0, "float16"), "dtype"),
    (lambda: G.sweep(100.0, "bfloat16"), "dtype"),
    (lambda: G.sweep(0.0), "logit range"),
    (lambda: G.sweep(5000.0), "logit range"),
    (lambda: G.sweep(float("inf")), "logit range"),
    (lambda: G.sweep(100.0, n=2), "grid points"),
    (lambda: G.sweep(100.0, n=10**6), "grid points"),
    (lambda: G.sigmoid_of(1.0, "half"), "dtype"),
    (lambda: G.failure_points("int8"), "dtype"),
    (lambda: G.saturation(z_max=-1.0), "range"),
])
def test_bad_inputs_raise_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --- The reveal figures (issue 17): after a guess, the chart that shows the answer ------------------------------
# Each question's Answer.series against numpy written here, and each figure's marks and text against the same
# references: the verdict's number written on the figure, at the place the references put it.

from nnviz import lessons as Ls  # noqa: E402
from nnviz.figures.classification import ANSWER_FIGURES, _log_ticks  # noqa: E402
from nnviz.figures.common import for_projector  # noqa: E402


def _answer(qid: str, **settings):
    a = Ls.QUESTIONS[qid].answer(settings or None)
    return a, ANSWER_FIGURES[qid](a)


def _texts(fig) -> str:
    out = [a.text for a in fig.layout.annotations if a.text]
    out += [str(v) for t in fig.data if getattr(t, "text", None) is not None for v in np.atleast_1d(t.text)]
    return " | ".join(out)


def _vlines(fig) -> list[float]:
    return sorted({s.x0 for s in fig.layout.shapes if s.type == "line" and s.x0 == s.x1})


def _one_panel(fig) -> None:
    assert {(t.xaxis or "x", t.yaxis or "y") for t in fig.data} == {("x", "y")}
    assert fig.layout.showlegend is False or fig.layout.legend.y <= 1  # no legend row above the plot


def np_bce_naive(z: np.ndarray) -> np.ndarray:
    """BCELoss(sigmoid(z), 0) as float32 computes it: -max(log(1 - sigmoid(z)), -100) (torch's clamp)."""
    with np.errstate(divide="ignore"):
        return -np.maximum(np.log(np.float32(1) - np_sigmoid(z)), np.float32(-100))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_bce_reveal_shows_the_clamp_at_50_against_the_exact_loss(dtype):
    a, fig = _answer("logit-bce-at-50", logit_dtype=dtype)
    s = a.series
    z = np.asarray(s["z"], dtype=NP[dtype])
    assert Ls.BCE_Z in s["z"] and s["z"][0] == 0 and s["z"][-1] > Ls.BCE_Z
    np.testing.assert_allclose(s["exact"], np.logaddexp(0, z.astype(np.float64)), rtol=1e-12)
    np.testing.assert_allclose(s["logits"], np.logaddexp(0, z.astype(np.float64)), rtol=1e-6)
    if dtype == "float32":  # the naive curve is numpy's float32 arithmetic, clamp included
        np.testing.assert_allclose(s["naive"], np_bce_naive(z), rtol=2e-6, atol=1e-6)
    # from where sigmoid is 1 in this dtype (53 ln 2 = 36.7 in float64, 24 ln 2 in float32) the loss is 100
    one = (24 if dtype == "float32" else 53) * math.log(2)
    naive = np.asarray(s["naive"])
    assert np.all(naive[z >= one + 1e-3] == 100) and np.all(naive[z < one - 1e-3] < 100)
    _one_panel(fig)
    assert _vlines(fig) == [Ls.BCE_Z]
    text = _texts(fig)
    assert f"BCELoss(sigmoid(50), 0) = {a.shown}" in text and a.shown == "100"
    assert "log 0 clamped at -100: gradient 0" in text  # torch's clamp (its docs) and the naive gradient
    assert "gradient 1;" in text  # the exact gradient sigma(50) = 1 to 4 digits
    assert f"log(1 + e^50): {np.logaddexp(0, 50.0):.4g}" in text
    marks = [t for t in fig.data if t.mode == "markers"][0]
    assert list(marks.x) == [50, 50] and list(marks.y) == pytest.approx([100, np.logaddexp(0, 50.0)])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_reveal_drops_to_zero_at_the_answer_in_steps_of_epsilon(dtype):
    a, fig = _answer("logit-sigmoid-rounds-to-one", logit_dtype=dtype)
    s = a.series
    z = np.asarray(s["z"], dtype=NP[dtype])
    gap = np.asarray(s["gap"])
    # numpy's own sigmoid in the dtype: the gap is 0 exactly where it is 1, and 1 - sigmoid elsewhere
    ref = (NP[dtype](1) - np_sigmoid(z)).astype(np.float64)
    np.testing.assert_array_equal(gap == 0, ref == 0)
    np.testing.assert_allclose(gap, ref, rtol=0, atol=np.finfo(NP[dtype]).eps / 2)
    np.testing.assert_allclose(s["exact_gap"], expit(-z.astype(np.float64)), rtol=1e-12)
    one = (24 if dtype == "float32" else 53) * math.log(2)  # e^-z = 2^-24 (2^-53): half an ulp of 1
    assert a.value == pytest.approx(one, abs=1e-5)
    assert np.all(gap[z >= a.value] == 0) and np.all(gap[z < a.value] > 0)
    assert s["last_nonzero_z"] == float(np.nextafter(NP[dtype](a.value), NP[dtype](0)))
    # sigmoid = 1 / (1 + e^-z) and 1 + e^-z is rounded to the dtype's numbers above 1, eps apart: near the end the
    # gap is a whole number of eps (k eps while (k eps)^2 is under half the spacing eps/2 below 1), down to eps itself
    eps = float(np.finfo(NP[dtype]).eps)
    steps = gap[(gap > 0) & (gap < 500 * eps)]
    assert len(steps) > 5 and steps.min() == eps and np.all(np.round(steps / eps) * eps == steps)
    _one_panel(fig)
    assert fig.layout.yaxis.type == "log" and _vlines(fig) == [pytest.approx(a.value)]
    text = _texts(fig)
    assert f"from z = {a.shown}:" in text and a.shown == f"{one:.6g}"
    assert f"{dtype}: steps of {eps:.3g}" in text
    # the drop: the dtype's line goes from its last non-zero value down to the axis floor at the answer's z
    drop = fig.data[2]
    assert list(drop.x[:3]) == [s["last_nonzero_z"], a.value, a.value]
    assert drop.y[2] == 10 ** fig.layout.yaxis.range[0] < min(s["exact_gap"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_softmax_reveal_marks_where_the_loss_becomes_inf(dtype):
    a, fig = _answer("logit-softmax-underflow", logit_dtype=dtype)
    s = a.series
    z = np.asarray(s["z"], dtype=NP[dtype])
    # e^-z below half the smallest subnormal: 150 ln 2 in float32, 1075 ln 2 in float64
    edge = (150 if dtype == "float32" else 1075) * math.log(2)
    assert a.value == pytest.approx(edge, rel=1e-4)
    inf = np.array([v is None for v in s["naive"]])
    np.testing.assert_array_equal(inf, z >= a.value)
    np.testing.assert_allclose(np.asarray(s["logits"], dtype=float), np.logaddexp(0, z.astype(np.float64)), rtol=1e-6)
    finite = ~inf & (z < 0.8 * edge)  # well before the underflow the naive form is accurate too
    np.testing.assert_allclose(np.asarray(s["naive"], dtype=object)[finite].astype(float),
                               np.logaddexp(0, z[finite].astype(np.float64)), rtol=1e-5, atol=1e-6)
    _one_panel(fig)
    assert _vlines(fig) == [pytest.approx(a.value)]
    text = _texts(fig)
    assert f"from z = {a.shown}:" in text and "−log 0 = inf" in text
    top = fig.data[3]  # the inf, along the top edge: exactly the z where the loss is inf
    assert list(top.x) == list(z[inf].astype(float)) and set(top.y) == {fig.layout.yaxis.range[1]}


@pytest.mark.parametrize("logits,target", [("2, 1, 0.1", "0"), ("0.5, 3, -1, 2", "2"), ("-4, 4, 0", "1")])
def test_ce_gradient_reveal_bars_are_p_minus_onehot(logits, target):
    a, fig = _answer("logit-ce-gradient", logits=logits, target=target)
    z = np.array([float(v) for v in logits.split(",")])
    t = int(target)
    ref = np_softmax(z) - np.eye(len(z))[t]
    bars = fig.data[0]
    np.testing.assert_allclose(bars.y, ref, atol=1e-12)
    assert list(bars.text) == [f"{v:.3g}" for v in ref]  # each bar labelled; the true class's as the verdict prints it
    assert bars.text[t] == a.shown == f"{ref[t]:.3g}"
    assert bars.x[t] == f"class {t} (true)"
    note = [x for x in fig.layout.annotations if "p − 1" in x.text][0]
    assert note.x == bars.x[t] and f"p = {np_softmax(z)[t]:.3g}" in note.text and a.shown in note.text
    _one_panel(fig)


def test_mse_reveal_marks_the_peak_near_ln2():
    a, fig = _answer("logit-mse-sigmoid-peak")
    s = a.series
    z = np.asarray(s["z"])
    sg = expit(z)
    np.testing.assert_allclose(s["mse_grad"], 2 * sg ** 2 * (1 - sg), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(s["ce_grad"], sg, rtol=1e-12)
    # 2 s^2 (1 - s) is largest at s = 2/3, z = ln 2: the grid's peak is the grid point nearest it
    assert abs(s["peak_z"] - math.log(2)) <= (z[1] - z[0]) / 2 + 1e-12
    assert s["peak"] == pytest.approx(8 / 27, rel=1e-4)
    assert s["slow_from_z"] == pytest.approx(z[(z > s["peak_z"]) & (2 * sg * (1 - sg) < 0.01)][0])
    _one_panel(fig)
    assert _vlines(fig) == [pytest.approx(s["peak_z"])]
    text = _texts(fig)
    assert f"z = {a.shown} ({8 / 27:.3g})" in text and a.shown == "0.7"
    assert fig.layout.shapes[0].x0 == s["slow_from_z"]  # the shaded band starts where MSE's is below 1%


@pytest.mark.parametrize("qid", [q.id for q in Ls.for_page("logits")])
def test_reveal_figures_keep_their_text_inside_the_plot_on_a_projector(qid):
    """One panel and no legend row above it (each would cost the short projector figure its plot area); every
    annotation anchored inside the plot (none hangs off an edge a phone would cut)."""
    _, fig = _answer(qid)
    p = for_projector(fig)
    assert p.layout.height <= 520 and p.layout.margin.t <= 12
    for note in p.layout.annotations:
        for ref, v in ((note.xref, note.x), (note.yref, note.y)):
            if ref and ref.endswith("domain"):
                assert 0 <= v <= 1, (qid, note.text)


@pytest.mark.parametrize("lo,hi", [(0.69, 0.74), (0.0123, 0.087), (0.5, 0.52), (0.6931, 0.6935), (1.2, 9.9)])
def test_log_ticks_are_few_round_and_inside(lo, hi):
    ticks = _log_ticks(lo, hi)
    assert 1 <= len(ticks) <= 4 and all(lo <= t <= hi for t in ticks)
    step = np.diff(ticks)
    assert len(ticks) == 1 or np.allclose(step, step[0])
    # a round step: 1, 2 or 5 times a power of ten
    if len(ticks) > 1:
        mant = step[0] / 10 ** math.floor(math.log10(step[0]))
        assert min(abs(mant - m) for m in (1, 2, 5)) < 1e-9

"""Live linear regression: the seed note's training loop, made observable.

Public API (used by the page, the benchmark, notebooks):
    RegressionConfig  frozen dataclass; its defaults are the classic run
    train(config, device="cpu", every=N) -> iterator of Snapshot (epoch, train_loss, test_loss,
                                             weight, bias as floats), every N epochs and the last
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Iterator

import torch
from torch import Tensor, nn
from torch.nn.utils import skip_init

from .controls import ChoiceSpec, FloatSpec, IntSpec

LOSSES = {"l1": "nn.L1Loss()", "mse": "nn.MSELoss()", "huber": "nn.HuberLoss()"}
OPTIMIZERS = {"sgd": "SGD", "momentum": "SGD with momentum 0.9", "adam": "Adam"}

# Controls: one definition of their bounds (widgets, URL check, and the cost cap of one run).
W = FloatSpec("True weight", -2.0, 2.0, 0.7, 0.05)
B = FloatSpec("True bias", -2.0, 2.0, 0.3, 0.05)
NOISE = FloatSpec("Noise (std added to y)", 0.0, 0.5, 0.0, 0.01)
N = IntSpec("Number of points", 10, 500, 50, 10)
SPLIT = FloatSpec("Training fraction", 0.5, 0.95, 0.8, 0.05)
LOSS = ChoiceSpec("Loss", tuple(LOSSES), "l1")
OPT = ChoiceSpec("Optimizer", tuple(OPTIMIZERS), "sgd")
LR = FloatSpec("Learning rate", 0.0001, 10.0, 0.01, 0.0001)
EPOCHS = IntSpec("Epochs", 1, 5000, 1000, 1)
SEED = IntSpec("Seed", 0, 9999, 42)


@dataclass(frozen=True)
class RegressionConfig:
    weight: float = 0.7  # the true line's weight
    bias: float = 0.3  # the true line's bias
    noise: float = 0.0  # std of normal noise added to y (the classic run has none)
    n: int = 50  # points: X = arange(0, 1, 1/n), so 50 gives the classic arange(0, 1, 0.02)
    split: float = 0.8  # the first 80% of the points train, the rest test (no shuffle)
    loss: str = "l1"  # l1 | mse | huber
    optimizer: str = "sgd"  # sgd | momentum | adam
    lr: float = 0.01  # learning rate
    epochs: int = 1000
    seed: int = 42  # initialises nn.Linear(1, 1) as torch.manual_seed(seed); nn.Linear(1, 1) would


@dataclass(frozen=True)
class Snapshot:
    epoch: int  # 0-based epoch just finished
    train_loss: float  # loss of this epoch's forward pass (before its optimizer step)
    test_loss: float  # test loss after this epoch's step, under torch.inference_mode
    weight: float  # after this epoch's step
    bias: float
    diverged: bool = False  # the loss became non-finite or grew far above its start: training stopped


@dataclass(frozen=True)
class Data:
    X_train: Tensor  # (n_train, 1)
    y_train: Tensor
    X_test: Tensor  # (n_test, 1)
    y_test: Tensor


def make_data(cfg: RegressionConfig) -> Data:
    """X = arange(0, 1, 1/n) as a column, y = weight * X + bias (+ noise), split without shuffle."""
    X = torch.arange(0, 1, 1 / cfg.n)[: cfg.n].unsqueeze(1)  # (n, 1)
    y = cfg.weight * X + cfg.bias  # (n, 1)
    if cfg.noise > 0:
        g = torch.Generator().manual_seed(cfg.seed + 1)  # its own stream: init stays the classic one
        y = y + cfg.noise * torch.randn(y.shape, generator=g)
    k = int(round(cfg.split * len(X), 9))  # round first: int(0.7 * 90) would be 62, not 63
    return Data(X[:k], y[:k], X[k:], y[k:])


def make_model(seed: int, device: str | torch.device = "cpu") -> nn.Linear:
    """nn.Linear(1, 1) with exactly the numbers `torch.manual_seed(seed); nn.Linear(1, 1)` gives,
    drawn from a private generator in reset_parameters' order (weight, then bias), so concurrent
    sessions never touch the global random state."""
    g = torch.Generator().manual_seed(seed)
    model = skip_init(nn.Linear, 1, 1)
    with torch.no_grad():
        nn.init.kaiming_uniform_(model.weight, a=math.sqrt(5), generator=g)
        bound = 1 / math.sqrt(model.in_features)
        nn.init.uniform_(model.bias, -bound, bound, generator=g)
    return model.to(device)


def make_loss(name: str) -> nn.Module:
    return {"l1": nn.L1Loss, "mse": nn.MSELoss, "huber": nn.HuberLoss}[name]()


def make_optimizer(name: str, params, lr: float, capturable: bool = False) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, capturable=capturable)
    return torch.optim.SGD(params, lr=lr, momentum=0.9 if name == "momentum" else 0.0)


def _diverged(train_loss: float, first: float) -> bool:
    return not math.isfinite(train_loss) or train_loss > 100 * max(first, 1e-12)


ENGINES = {"eager": "eager (the plain loop)", "cuda_graph": "CUDA graph (the step captured once, replayed)"}


def train(config: RegressionConfig = RegressionConfig(), device: str = "cpu", every: int = 10,
          engine: str = "eager") -> Iterator[Snapshot]:
    """Train on `device`; yield a Snapshot every `every` epochs and at the last. Stops early, with
    diverged=True, when the loss becomes non-finite or grows above 100x its first value.

    engine="cuda_graph" (CUDA only) captures one whole epoch (forward, loss, backward, optimizer
    step, test evaluation) in a CUDA graph and replays it: the same arithmetic without the
    per-kernel launch cost of Python and eager dispatch."""
    epochs = _graph_epochs(config, torch.device(device)) if engine == "cuda_graph" else _eager_epochs(config, device)
    first = None
    for epoch, loss, test_loss, model in epochs:
        if epoch % every == 0 or epoch == config.epochs - 1:
            snap = _snapshot(epoch, loss, test_loss, model)
            first = snap.train_loss if first is None else first
            if _diverged(snap.train_loss, first):
                yield replace(snap, diverged=True)
                return
            yield snap


def _setup(config: RegressionConfig, dev: torch.device, capturable: bool = False):
    """The data on `dev`, the model, the loss module and the optimizer for one run."""
    d = make_data(config)
    data = Data(*(t.to(dev) for t in (d.X_train, d.y_train, d.X_test, d.y_test)))
    model = make_model(config.seed, dev)
    optimizer = make_optimizer(config.optimizer, model.parameters(), config.lr, capturable)
    return data, model, make_loss(config.loss), optimizer


def _eager_epochs(config: RegressionConfig, device: str) -> Iterator[tuple[int, Tensor, Tensor, nn.Linear]]:
    """The seed note's loop; yields (epoch, train loss, test loss, model) after every epoch."""
    data, model, loss_fn, optimizer = _setup(config, torch.device(device))
    Xtr, ytr, Xte, yte = data.X_train, data.y_train, data.X_test, data.y_test
    for epoch in range(config.epochs):
        model.train()
        y_pred = model(Xtr)  # 1. forward pass
        loss = loss_fn(y_pred, ytr)  # 2. loss
        optimizer.zero_grad()  # 3. zero the gradients
        loss.backward()  # 4. backward pass
        optimizer.step()  # 5. optimizer step
        model.eval()
        with torch.inference_mode():
            test_loss = loss_fn(model(Xte), yte)
        yield epoch, loss, test_loss, model


def _snapshot(epoch: int, loss: Tensor, test_loss: Tensor, model: nn.Linear) -> Snapshot:
    values = torch.stack([loss.detach(), test_loss, model.weight.detach().flatten()[0],
                          model.bias.detach()[0]]).tolist()  # one device-to-host copy
    return Snapshot(epoch, *values)


def _graph_epochs(config: RegressionConfig, dev: torch.device) -> Iterator[tuple[int, Tensor, Tensor, nn.Linear]]:
    """One whole epoch captured in a CUDA graph and replayed; yields like _eager_epochs (the loss
    tensors are the graph's static outputs, overwritten by each replay)."""
    if dev.type != "cuda":
        raise ValueError("the CUDA-graph engine needs a CUDA device")
    data, model, loss_fn, optimizer = _setup(config, dev, capturable=True)
    Xtr, ytr, Xte, yte = data.X_train, data.y_train, data.X_test, data.y_test
    # Warm up on a side stream (creates the optimizer's state and the library handles), as the
    # whole-network capture recipe in torch.cuda's documentation does; then put the parameters
    # and optimizer state back to their starting values so replay 1 is the eager loop's epoch 0.
    start = [p.detach().clone() for p in model.parameters()]
    side = torch.cuda.Stream(dev)
    side.wait_stream(torch.cuda.current_stream(dev))
    with torch.cuda.stream(side):
        for _ in range(3):
            optimizer.zero_grad(set_to_none=True)
            loss_fn(model(Xtr), ytr).backward()
            optimizer.step()
    torch.cuda.current_stream(dev).wait_stream(side)
    with torch.no_grad():
        for p, v in zip(model.parameters(), start):
            p.copy_(v)
        for state in optimizer.state.values():
            for value in state.values():
                if torch.is_tensor(value):
                    value.zero_()  # momentum buffers, Adam's moments and step count
    graph = torch.cuda.CUDAGraph()
    optimizer.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        loss = loss_fn(model(Xtr), ytr)
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            test_loss = loss_fn(model(Xte), yte)
    for epoch in range(config.epochs):
        graph.replay()
        yield epoch, loss, test_loss, model


# --- Step mode -------------------------------------------------------------------------------------

LOOP = (
    ("forward", "y_pred = model(X_train)", "1. Forward pass: predictions from the current weight and bias."),
    ("loss", "loss = loss_fn(y_pred, y_train)", "2. Loss: how far the predictions are from the targets."),
    ("zero_grad", "optimizer.zero_grad()", "3. Zero the gradients left from the previous epoch (they would add up)."),
    ("backward", "loss.backward()", "4. Backward pass: autograd fills weight.grad and bias.grad."),
    ("step", "optimizer.step()", "5. Optimizer step: move the parameters against the gradient."),
)


@dataclass
class Stepper:
    """The training loop one line at a time, for a student to watch (one per session)."""
    config: RegressionConfig
    device: str = "cpu"
    epoch: int = 0  # the epoch in progress
    next_line: int = 0  # index into LOOP of the line that runs next
    y_pred: Tensor | None = None
    loss: Tensor | None = None
    test_loss: float | None = None
    before: tuple[float, float] | None = None  # (weight, bias) before the last step
    history: list = field(default_factory=list)  # (epoch, train_loss, test_loss, weight, bias)

    def __post_init__(self) -> None:
        self.data, self.model, self.loss_fn, self.optimizer = _setup(self.config, torch.device(self.device))

    def advance(self) -> None:
        """Run the next line of the loop; after the step, evaluate on the test set (epoch done)."""
        name = LOOP[self.next_line][0]
        if name == "forward":
            self.model.train()
            self.y_pred = self.model(self.data.X_train)
        elif name == "loss":
            self.loss = self.loss_fn(self.y_pred, self.data.y_train)
        elif name == "zero_grad":
            self.optimizer.zero_grad()
        elif name == "backward":
            self.loss.backward()
        else:
            self.before = self.params()
            self.optimizer.step()
            self.model.eval()
            with torch.inference_mode():
                self.test_loss = self.loss_fn(self.model(self.data.X_test), self.data.y_test).item()
            self.history.append((self.epoch, self.loss.item(), self.test_loss, *self.params()))
        self.next_line = (self.next_line + 1) % len(LOOP)
        if self.next_line == 0:
            self.epoch += 1

    def finish_epoch(self) -> None:
        self.advance()
        while self.next_line != 0:
            self.advance()

    def params(self) -> tuple[float, float]:
        return self.model.weight.item(), self.model.bias.item()

    def grads(self) -> tuple[float | None, float | None]:
        w, b = self.model.weight.grad, self.model.bias.grad
        return (None if w is None else w.item(), None if b is None else b.item())

    def predictions(self) -> list[float] | None:
        return None if self.y_pred is None else self.y_pred.detach().flatten().tolist()


# --- Device comparison ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Timing:
    device: str
    engine: str
    seconds_per_epoch: float | None  # None: not available here
    weight: float | None
    bias: float | None
    note: str = ""


def time_run(config: RegressionConfig, device: str, engine: str = "eager") -> Timing:
    """Time the whole run on one device (snapshots only at the end), after one warm-up epoch."""
    list(train(replace(config, epochs=2), device, every=2, engine=engine))  # warm-up: kernels, handles
    _sync(device)
    t0 = time.perf_counter()
    last = None
    for last in train(config, device, every=config.epochs, engine=engine):
        pass
    _sync(device)
    seconds = time.perf_counter() - t0
    return Timing(device, engine, seconds / max(last.epoch + 1, 1), last.weight, last.bias,
                  "diverged" if last.diverged else "")


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
    elif device == "mps":
        torch.mps.synchronize()


def compare_devices(config: RegressionConfig, available: list[str]) -> list[Timing]:
    """The same run timed on every available device (and, on CUDA, both engines); the kinds of
    device this machine lacks are listed as unavailable, never faked."""
    out = []
    for dev in available:
        out.append(time_run(config, dev))
        if dev.startswith("cuda"):
            out.append(time_run(config, dev, "cuda_graph"))
    if not any(d.startswith("cuda") for d in available):
        out.append(Timing("cuda", "eager", None, None, None, "no CUDA GPU on this server"))
    if "mps" not in available:
        out.append(Timing("mps", "eager", None, None, None, "no Apple GPU on this server"))
    return out


# --- What the page draws and exports ---------------------------------------------------------------

def loss_surface(config: RegressionConfig, ws: tuple[float, float], bs: tuple[float, float],
                 n: int = 81) -> tuple[list[float], list[float], list[list[float]]]:
    """The training loss over a (weight, bias) grid: Z[i][j] at bias i, weight j."""
    d = make_data(config)
    w = torch.linspace(*ws, n)  # (n,)
    b = torch.linspace(*bs, n)  # (n,)
    pred = w[None, :, None] * d.X_train.flatten()[None, None, :] + b[:, None, None]  # (n_b, n_w, N)
    loss_fn = make_loss(config.loss)
    loss_fn.reduction = "none"
    Z = loss_fn(pred, d.y_train.flatten().expand_as(pred)).mean(-1)  # (n_b, n_w)
    return w.tolist(), b.tolist(), Z.tolist()


def history_csv(history: list[Snapshot]) -> str:
    rows = ["epoch,train_loss,test_loss,weight,bias"]
    rows += [f"{s.epoch},{s.train_loss!r},{s.test_loss!r},{s.weight!r},{s.bias!r}" for s in history]
    return "\n".join(rows) + "\n"


def state_dict_bytes(config: RegressionConfig, history: list[Snapshot]) -> bytes:
    """The trained nn.Linear(1, 1)'s state_dict (torch.save format) at the last snapshot."""
    import io

    model = skip_init(nn.Linear, 1, 1)  # no draw from the global generator
    with torch.no_grad():
        model.weight.fill_(history[-1].weight)
        model.bias.fill_(history[-1].bias)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.getvalue()


def script(config: RegressionConfig, device: str = "cpu") -> str:
    """The seed note's plain loop for these settings; run on its own it prints the same final
    weight and bias as the page."""
    noise = ""
    if config.noise > 0:
        noise = (f"g_noise = torch.Generator().manual_seed({config.seed + 1})\n"
                 f"y = y + {config.noise!r} * torch.randn(y.shape, generator=g_noise)\n")
    opt = {"sgd": f"torch.optim.SGD(model.parameters(), lr={config.lr!r})",
           "momentum": f"torch.optim.SGD(model.parameters(), lr={config.lr!r}, momentum=0.9)",
           "adam": f"torch.optim.Adam(model.parameters(), lr={config.lr!r})"}[config.optimizer]
    return f"""import torch
from torch import nn

device = "{device}"
weight, bias = {config.weight!r}, {config.bias!r}
X = torch.arange(0, 1, 1 / {config.n})[:{config.n}].unsqueeze(1)
y = weight * X + bias
{noise}split = int(round({config.split!r} * len(X), 9))
X_train, y_train = X[:split].to(device), y[:split].to(device)
X_test, y_test = X[split:].to(device), y[split:].to(device)

torch.manual_seed({config.seed})  # the page draws the same numbers from its own torch.Generator
model = nn.Linear(1, 1).to(device)
loss_fn = {LOSSES[config.loss]}
optimizer = {opt}

for epoch in range({config.epochs}):
    model.train()
    y_pred = model(X_train)  # 1. forward pass
    loss = loss_fn(y_pred, y_train)  # 2. loss
    optimizer.zero_grad()  # 3. zero the gradients
    loss.backward()  # 4. backward pass
    optimizer.step()  # 5. optimizer step

    model.eval()
    with torch.inference_mode():
        test_loss = loss_fn(model(X_test), y_test)
    if epoch % {max(config.epochs // 10, 1)} == 0:
        print(f"Epoch: {{epoch}} | Train loss: {{loss.item():.4f}} | Test loss: {{test_loss.item():.4f}}")

print(f"weight = {{model.weight.item():.4f}}, bias = {{model.bias.item():.4f}}")
"""

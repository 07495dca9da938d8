"""The one training loop of the core: the seed note's loop, generic over model, loss, optimizer and data.

Both live trainers (nnviz.regression, nnviz.classification) run their epochs here, eagerly or as a
replayed CUDA graph, and thin them into snapshots with one cadence and one divergence guard.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Collection, Iterator, NamedTuple, TypeVar

import torch
from torch import Tensor, nn
from torch.nn.utils import skip_init


def default_linear(fan_in: int, fan_out: int, g: torch.Generator) -> nn.Linear:
    """nn.Linear(fan_in, fan_out) with the numbers its reset_parameters would draw (weight, then bias),
    taken from `g` instead of the global random state, so concurrent sessions never touch it: built
    in order from one generator seeded s, a model equals the one built after torch.manual_seed(s)."""
    linear = skip_init(nn.Linear, fan_in, fan_out)
    with torch.no_grad():
        nn.init.kaiming_uniform_(linear.weight, a=math.sqrt(5), generator=g)
        bound = 1 / math.sqrt(fan_in)
        nn.init.uniform_(linear.bias, -bound, bound, generator=g)
    return linear


ENGINES = {"eager": "eager (the plain loop)", "cuda_graph": "CUDA graph (the step captured once, replayed)"}


@dataclass(frozen=True)
class Data:
    X_train: Tensor  # (n_train, features)
    y_train: Tensor  # (n_train, ...) targets as the loss module takes them
    X_test: Tensor  # (n_test, features)
    y_test: Tensor

    def to(self, device: str | torch.device) -> Data:
        return Data(*(t.to(device) for t in (self.X_train, self.y_train, self.X_test, self.y_test)))


class Step(NamedTuple):
    """One finished epoch. A NamedTuple, not a dataclass: one is built every epoch, and it is the
    cheapest record Python has. Under the CUDA-graph engine the tensors are the graph's static
    outputs, overwritten by the next replay: read them before asking for the next epoch."""
    epoch: int  # 0-based
    loss: Tensor  # scalar: this epoch's training loss, from its forward pass (before the step)
    test_loss: Tensor  # scalar: test loss after the step, under inference mode
    out: Tensor  # (n_train, ...) the forward pass's outputs (before the step; still attached to autograd)
    test_out: Tensor  # (n_test, ...) test outputs after the step
    model: nn.Module


def check_engine(engine: str, device: str | torch.device) -> None:
    """ValueError for an unknown engine, or the CUDA-graph engine off a CUDA device."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}: expected one of {', '.join(ENGINES)}")
    if engine == "cuda_graph" and torch.device(device).type != "cuda":
        raise ValueError("the CUDA-graph engine needs a CUDA device")


def epochs(model: nn.Module, loss_fn: nn.Module, optimizer: torch.optim.Optimizer, data: Data, n: int,
           engine: str = "eager", clip: float | None = None,
           before_step: Callable[[int], None] | None = None) -> Iterator[Step]:
    """n epochs of the loop on data's device, one Step after each. For engine="cuda_graph" build the
    optimizer with capturable=True (Adam needs it). `clip` and `before_step` (see eager_epochs) need
    the eager engine: the CUDA-graph engine refuses them with a ValueError."""
    check_engine(engine, data.X_train.device)
    if engine == "cuda_graph":
        if clip is not None or before_step is not None:
            raise ValueError("gradient clipping and before_step need the eager engine, not the CUDA-graph engine")
        return graph_epochs(model, loss_fn, optimizer, data, n)
    return eager_epochs(model, loss_fn, optimizer, data, n, clip, before_step)


def eager_epochs(model: nn.Module, loss_fn: nn.Module, optimizer: torch.optim.Optimizer, data: Data,
                 n: int, clip: float | None = None,
                 before_step: Callable[[int], None] | None = None) -> Iterator[Step]:
    """The seed note's loop, as written there. Between the backward pass and the optimizer step it
    calls before_step(epoch) (if given: the gradients are this epoch's, not yet clipped) and then, if
    `clip` is a number, torch.nn.utils.clip_grad_norm_(model.parameters(), clip): every gradient
    scaled down together so that their global norm is at most `clip`."""
    if clip is not None and not (math.isfinite(clip) and clip > 0):
        raise ValueError(f"the max gradient norm must be a finite number > 0, not {clip!r}")
    Xtr, ytr, Xte, yte = data.X_train, data.y_train, data.X_test, data.y_test
    for epoch in range(n):
        model.train()
        out = model(Xtr)  # 1. forward pass
        loss = loss_fn(out, ytr)  # 2. loss
        optimizer.zero_grad()  # 3. zero the gradients
        loss.backward()  # 4. backward pass
        if before_step is not None:
            before_step(epoch)
        if clip is not None:
            nn.utils.clip_grad_norm_(model.parameters(), clip)  # 4b. clip the global gradient norm
        optimizer.step()  # 5. optimizer step
        model.eval()
        with torch.inference_mode():
            test_out = model(Xte)
            test_loss = loss_fn(test_out, yte)
        yield Step(epoch, loss, test_loss, out, test_out, model)


def graph_epochs(model: nn.Module, loss_fn: nn.Module, optimizer: torch.optim.Optimizer, data: Data,
                 n: int) -> Iterator[Step]:
    """One whole epoch (forward, loss, backward, optimizer step, test evaluation) captured in a CUDA
    graph and replayed: the eager loop's arithmetic without Python's and eager dispatch's cost per
    kernel. Yields like eager_epochs; the Step's tensors are the graph's static outputs."""
    dev = data.X_train.device
    check_engine("cuda_graph", dev)
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
        model.train()
        out = model(Xtr)
        loss = loss_fn(out, ytr)
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            test_out = model(Xte)
            test_loss = loss_fn(test_out, yte)
    for epoch in range(n):
        graph.replay()
        yield Step(epoch, loss, test_loss, out, test_out, model)


def diverged(train_loss: float, first: float) -> bool:
    """The loss became non-finite or grew above 100x its first value."""
    return not math.isfinite(train_loss) or train_loss > 100 * max(first, 1e-12)


S = TypeVar("S")  # a frozen dataclass with the fields train_loss (float) and diverged (bool)


def is_snapshot(epoch: int, n: int, every: int, extra: Collection[int] = ()) -> bool:
    """Whether `snapshots` takes a snapshot at `epoch` (0-based) of an n-epoch run: every `every`
    epochs, at the epochs in `extra` and at the last."""
    return epoch % every == 0 or epoch == n - 1 or epoch in extra


def snapshots(steps: Iterator[Step], n: int, every: int, snapshot: Callable[[Step], S],
              extra: Collection[int] = (), finish: Callable[[S, Step], S] | None = None) -> Iterator[S]:
    """Thin the epochs to snapshot(step) at the epochs is_snapshot picks: every `every` epochs, at
    the epochs in `extra` and at the last (n - 1). Stops after a snapshot whose train loss
    diverged(), yielding it with diverged=True. `finish` (if given) rewrites the final snapshot, the
    last epoch's or the diverged one."""
    last = n - 1
    extra = frozenset(extra)
    first = None
    for step in steps:
        epoch = step.epoch
        if is_snapshot(epoch, n, every, extra):
            snap = snapshot(step)
            first = snap.train_loss if first is None else first
            if diverged(snap.train_loss, first):
                snap = replace(snap, diverged=True)
                yield snap if finish is None else finish(snap, step)
                return
            yield snap if finish is None or epoch != last else finish(snap, step)

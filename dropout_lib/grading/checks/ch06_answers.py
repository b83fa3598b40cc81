"""Known answers for chapter 6's exercises: other correct ways of writing them, and the
plausible mistakes, each with a phrase of the hint it must get (see `registry.Known`)."""

from __future__ import annotations

import torch

from ...layers import Dropout
from ...mc import mc_predict
from ..registry import Known


def _library_loop(model, x, samples, generator=None):
    """The library's reference loop: `samples` separate forward passes."""
    return mc_predict(model, x, samples, generator=generator, batched=False)


# --- 6.1 ---------------------------------------------------------------------------------------


def mc_predict_right(model, x, samples, generator=None, *, mistake=None):
    """A right answer written the way a learner would; `mistake` switches in one error."""
    modes = {m: m.training for m in model.modules()}
    layers = [m for m in model.modules() if isinstance(m, Dropout)]
    old = [layer.generator for layer in layers]
    model.train() if mistake == "all-train" else model.eval()
    for layer in layers:
        if mistake != "no-train-mode":
            layer.train()
        if mistake != "ignore-generator":
            layer.generator = generator
    n = x.shape[0]
    with torch.no_grad():
        if mistake == "loop":
            out = torch.stack([model(x) for _ in range(samples)])
        elif mistake == "repeat-after":
            out = model(x).unsqueeze(0).repeat(samples, 1, 1)
        elif mistake == "wrong-layout":
            out = model(x.repeat(samples, 1)).reshape(n, samples, -1).transpose(0, 1)
        else:
            out = model(x.repeat(samples, 1)).reshape(samples, n, -1)
    if mistake != "keep-generator":
        for layer, gen in zip(layers, old, strict=True):
            layer.generator = gen
    if mistake == "leave-train":
        model.train()
    elif mistake == "end-eval":
        model.eval()
    else:
        for module, mode in modes.items():
            module.training = mode
    axis = 1 if mistake == "wrong-axis" else 0
    mean, std = out.mean(axis), out.std(axis)
    std = {"variance": out.var(axis), "standard-error": std / samples**0.5,
           "sqrt-std": std.sqrt()}.get(mistake, std)
    if mistake == "swapped":
        return std, mean
    return torch.stack([mean, std]) if mistake == "one-tensor" else (mean, std)


def with_mistake(mistake):
    def answer(model, x, samples, generator=None):
        return mc_predict_right(model, x, samples, generator, mistake=mistake)
    return answer


def _unbiased(model, x, samples, generator=None):
    """Right as well: the std with divisor T - 1."""
    mean, std = mc_predict(model, x, samples, generator=generator)
    return mean, std * (samples / (samples - 1)) ** 0.5


def _float32(model, x, samples, generator=None):
    mean, std = mc_predict(model, x, samples, generator=generator)
    return mean.float(), std.float()


MC_VARIANTS = (
    Known("a learner's", mc_predict_right),
    Known("std with divisor T - 1", _unbiased),
    Known("float32 results", _float32),
)

MC_MISTAKES = tuple(Known(mistake, with_mistake(mistake), hint) for mistake, hint in (
    ("no-train-mode", "dropout was off"),
    ("repeat-after", "every sample used the same mask"),
    ("variance", "looks like the variance"),
    ("sqrt-std", "square root of the standard deviation"),
    ("standard-error", "standard error of the mean"),
    ("wrong-axis", "you averaged over the inputs"),
    ("wrong-layout", "reshape the output to (samples, n, ...)"),
    ("leave-train", "left in train mode afterwards"),
    ("end-eval", "modes are not the same afterwards"),
    ("all-train", "BatchNorm"),
    ("ignore-generator", "the `generator` was ignored"),
    ("keep-generator", "still holds your generator"),
    ("loop", "that is the loop"),
    ("swapped", "swapped"),
    ("one-tensor", "return a pair of tensors"),
)) + (Known("the library's loop", _library_loop, "that is the loop"),)

# --- 6.3 ---------------------------------------------------------------------------------------


def _fraction(inside):
    return inside.double().mean().item()


COVERAGE_VARIANTS = (
    Known("a 0-dim float32 tensor", lambda y, m, s, z: ((y - m).abs() <= z * s).float().mean()),
    Known("two bounds", lambda y, m, s, z: float(((m - z * s <= y) & (y <= m + z * s)).sum()
                                                 / len(y))),
    Known("strict <", lambda y, m, s, z: _fraction((y - m).abs() < z * s)),
    Known("a NumPy float32", lambda y, m, s, z: ((y - m).abs() <= z * s).numpy()
          .mean(dtype="float32")),
)

COVERAGE_MISTAKES = (
    Known("outside", lambda y, m, s, z: _fraction((y - m).abs() > z * s), "fraction *outside*"),
    Known("a count", lambda y, m, s, z: int(((y - m).abs() <= z * s).sum()), "that is a count"),
    Known("one-sided", lambda y, m, s, z: _fraction(y - m <= z * s), "one-sided bound"),
    Known("ignores z", lambda y, m, s, z: _fraction((y - m).abs() <= s), "ignores z"),
    Known("always 2 std", lambda y, m, s, z: _fraction((y - m).abs() <= 2 * s),
          "always 2 std wide"),
    Known("z as the width", lambda y, m, s, z: _fraction((y - m).abs() <= z * s / 2),
          "*half*-width"),
    Known("2 z std", lambda y, m, s, z: _fraction((y - m).abs() <= 2 * z * s),
          "not 2 * z * std"),
    Known("std as a variance", lambda y, m, s, z: _fraction((y - m).abs() <= z * s**2),
          "treats std as a variance"),
    Known("square root of std", lambda y, m, s, z: _fraction((y - m).abs() <= z * s.sqrt()),
          "takes a square root of std"),
    Known("per point", lambda y, m, s, z: ((y - m).abs() <= z * s).double(),
          "return one Python number"),
    Known("a string", lambda y, m, s, z: "95%", "return one Python number"),
)

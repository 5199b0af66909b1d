"""Run by benchmarks/bench_kernels.py with neural-tangents' own Python (a throwaway venv: never
an actlab dependency). Reads the inputs and settings from an .npz, times NT's NTK on all of them
(first call with jit, then the median of warm calls) and writes the timings and the kernel on
the error subset back to an .npz. The same conventions as actlab.ntk: Dense(W_std=σ_w,
b_std=σ_b) in the NTK parameterisation, ``depth`` hidden layers, the readout's kernel."""

import sys
import time

import jax
import numpy as np

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
from neural_tangents import stax  # noqa: E402

CLOSED = {"relu": stax.Relu, "gelu": stax.Gelu, "erf": stax.Erf}
NUMERICAL = {"tanh": jnp.tanh, "softplus": jax.nn.softplus, "selu": jax.nn.selu, "hardtanh": jax.nn.hard_tanh,
             "hardsigmoid": lambda x: jnp.clip(x / 6 + 0.5, 0.0, 1.0)}
DEG = 25  # NT's own example degree; FINE_DEG: the error a four times finer rule leaves (on the subset only)
FINE_DEG = 100


def layer(name: str, deg: int = DEG):
    return CLOSED[name]() if name in CLOSED else stax.ElementwiseNumerical(NUMERICAL[name], deg=deg)


def kernel_fn(name: str, depth: int, sw: float, sb: float, deg: int = DEG):
    layers = []
    for _ in range(depth):
        layers += [stax.Dense(1, W_std=sw, b_std=sb, parameterization="ntk"), layer(name, deg)]
    return jax.jit(stax.serial(*layers, stax.Dense(1, W_std=sw, b_std=sb, parameterization="ntk"))[2], static_argnames="get")


def conv_kernel_fn(sw: float, sb: float):
    """The article's convolutional architecture of bench_kernels: two 3×3 convs (valid), relu, 2×2 average pooling, dense."""
    conv = lambda: stax.Conv(1, (3, 3), padding="VALID", W_std=sw, b_std=sb, parameterization="ntk")  # noqa: E731
    return jax.jit(stax.serial(conv(), stax.Relu(), conv(), stax.Relu(), stax.AvgPool((2, 2), strides=(2, 2)), stax.Flatten(),
                               stax.Dense(1, W_std=sw, b_std=sb, parameterization="ntk"))[2], static_argnames="get")


def _peak_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def conv_main(d, dst: str) -> None:
    """Time NT's NNGP, then NNGP and NTK, of the conv architecture on images (n, H, W, C); the peak
    RSS above the baseline (inputs made, jax imported) after each."""
    x = jnp.asarray(d["images"])
    fn = conv_kernel_fn(float(d["sigma_w2"]) ** 0.5, float(d["sigma_b2"]) ** 0.5)
    base, out = _peak_mib(), {}
    for label, get in (("nngp", "nngp"), ("both", ("nngp", "ntk"))):
        t0 = time.perf_counter()
        jax.block_until_ready(fn(x, None, get=get))
        first = time.perf_counter() - t0
        warm = []
        for _ in range(int(d["repeats"])):
            t0 = time.perf_counter()
            k = fn(x, None, get=get)
            jax.block_until_ready(k)
            warm.append(time.perf_counter() - t0)
        out[f"{label}_first"], out[f"{label}_warm"], out[f"{label}_peak"] = first, np.median(warm), _peak_mib() - base
        out[f"{label}_kernel"] = np.asarray(k if label == "nngp" else k.ntk)
    np.savez(dst, **out)


def main(src: str, dst: str) -> None:
    d = np.load(src)
    if "images" in d:
        return conv_main(d, dst)
    x, sub = jnp.asarray(d["x"]), int(d["subset"])
    sw, sb, depth, repeats = float(d["sigma_w2"]) ** 0.5, float(d["sigma_b2"]) ** 0.5, int(d["depth"]), int(d["repeats"])
    out = {}
    for name in [str(n) for n in d["activations"]]:
        fn = kernel_fn(name, depth, sw, sb)
        t0 = time.perf_counter()
        k = fn(x, None, get="ntk").block_until_ready()
        first = time.perf_counter() - t0
        warm = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn(x, None, get="ntk").block_until_ready()
            warm.append(time.perf_counter() - t0)
        out[f"{name}_first"], out[f"{name}_warm"] = first, np.median(warm)
        out[f"{name}_subset"] = np.asarray(k)[:sub, :sub]
        fine = kernel_fn(name, depth, sw, sb, FINE_DEG) if name in NUMERICAL else fn
        out[f"{name}_fine"] = np.asarray(fine(x[:sub], None, get="ntk"))
    np.savez(dst, **out)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

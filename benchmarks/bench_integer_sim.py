"""Speed of the integer golden model: images per second, batched, next to a plain per-step
dense reference measured in the same run (which also checks that both give equal outputs).

    python benchmarks/bench_integer_sim.py [--batch 360] [--steps 16] [--repeat 3]
"""

import argparse
import time

import torch

from model.convert import convert
from model.encoding import input_codes, tsc_spikes
from model.quantize import quantize
from model.train import train


def dense_reference(qnet, x):
    """The windowed TSC network one step at a time: ``dV/dt += W T(t)`` as a dense product at
    every step, ``V += dV/dt``, then the firing rule; no batching over steps."""
    n, fmt = qnet.steps, qnet.fmt
    train_in = tsc_spikes(input_codes(x, n), n).to(torch.int64)
    for index, layer in enumerate(qnet.network.layers):
        w = layer.weight
        last = index == len(qnet.network.layers) - 1
        dvdt = torch.zeros(x.shape[0], w.shape[0], dtype=torch.int64)
        v = torch.full_like(dvdt, 0 if last else layer.threshold // 2)
        for t in range(n):
            dvdt, _ = fmt.saturating_add(dvdt, train_in[..., t] @ w.t(), "dvdt")
            v, _ = fmt.saturating_add(v, dvdt, "v")
        if last:
            return v
        out = torch.zeros(x.shape[0], w.shape[0], n, dtype=torch.int64)
        on = v >= layer.threshold
        out[..., 0] = on.long()
        v = torch.where(on, v - layer.threshold, v)
        for t in range(1, n):
            stop = on & ((v < layer.threshold) | (t == n - 1))
            out[..., t] = -stop.long()
            on = on & ~stop
            v = torch.where(on, v - layer.threshold, v)
        train_in = out


def measure(fn, repeat):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=360)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--arch", default="mlp", choices=("mlp", "deep"))
    args = parser.parse_args()
    model, split, _ = train(args.arch, epochs=10)
    qnet = quantize(convert(model, (64,)), split.x_train, args.steps)
    x = split.x_test.repeat(args.batch // len(split.x_test) + 1, 1)[:args.batch]
    golden_s, golden = measure(lambda: qnet.run(x).output, args.repeat)
    dense_s, dense = measure(lambda: dense_reference(qnet, x), args.repeat)
    assert torch.equal(golden, dense), "golden model and dense reference disagree"
    print(f"{args.arch}, N={args.steps}, batch {args.batch}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads (best of {args.repeat})")
    print(f"  golden model (batched over steps): {args.batch / golden_s:10.0f} images/s")
    print(f"  per-step dense reference:          {args.batch / dense_s:10.0f} images/s")
    print(f"  ratio golden / reference:          {dense_s / golden_s:10.2f}x  (outputs equal)")


if __name__ == "__main__":
    main()

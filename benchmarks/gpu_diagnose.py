"""GPU diagnosis, run by benchmarks/gpu_check.sh: where fp32 parity tests disagree, and by how much.

Prints, for the cuDNN kernel on full-length batches (seqkit runs them unpacked, torch.nn packed) and for the
per-step Triton kernel at H=512, the largest difference of each output and gradient from float64 and from
torch.nn, with TF32 allowed and forbidden. Then the generic kernel on CUDA against the step loop, and its
speed against the step loop and cuDNN for an LSTM.
"""

from __future__ import annotations

import time

import torch

import seqkit
from seqkit.testing import check_kernel


def grads_of(layer, x, lengths):
    x = x.to(next(layer.parameters()).dtype).requires_grad_()
    out, final = layer(x, lengths)
    final = final if isinstance(final, torch.Tensor) else final[0]
    loss = (out * torch.linspace(-1, 1, out.shape[-1], device=out.device)).sum() + final.sum()
    return [out, final, *torch.autograd.grad(loss, [x, *layer.parameters()])]


def compare(label, fast, slow, x, lengths):
    a, b = grads_of(fast, x, lengths), grads_of(slow, x, lengths)
    names = ["out", "final", "dx", *(n for n, _ in fast.named_parameters())]
    worst = max(
        ((u.double() - v.double()).abs().max().item() / (v.double().abs().max().item() + 1e-30), n)
        for u, v, n in zip(a, b, names)
    )
    print(f"{label}: worst relative difference {worst[0]:.2e} ({worst[1]})")


def main() -> None:
    torch.manual_seed(0)
    for tf32 in (True, False):
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cuda.matmul.allow_tf32 = tf32
        ours = seqkit.create_rnn("gru", 4, 6, backend="cudnn").cuda()
        ref = seqkit.create_rnn("gru", 4, 6, backend="reference").cuda().double()
        ref.load_state_dict(ours.state_dict())
        x = torch.randn(5, 7, 4, device="cuda")
        full = torch.full((5,), 7, device="cuda")
        compare(f"cudnn vs fp64, lengths all full, tf32={tf32}", ours, ref, x, full)
        nn_gru = ours.to_torch().cuda()
        packed = torch.nn.utils.rnn.pack_padded_sequence(x, full.cpu(), batch_first=True)
        unpacked_out = ours(x, full)[0]
        packed_out = torch.nn.utils.rnn.pad_packed_sequence(nn_gru(packed)[0], batch_first=True)[0]
        plain_out = nn_gru(x)[0]
        print(
            f"  unpacked vs packed torch.nn: {(unpacked_out - packed_out).abs().max().item():.2e}; "
            f"vs unpacked torch.nn: {(unpacked_out - plain_out).abs().max().item():.2e}"
        )
        for backend in ("triton", "triton_step"):
            lengths = torch.tensor([40, 1, 17, 33, 40, 8, 2, 39, 25, 12, 40, 5, 30, 31, 7, 16, 40, 3, 19, 22])
            torch.manual_seed(0)
            fast = seqkit.create_rnn("gru", 32, 512, bidirectional=True, backend=backend).cuda()
            exact = seqkit.create_rnn("gru", 32, 512, bidirectional=True, backend="reference").cuda().double()
            exact.load_state_dict(fast.state_dict())
            slow = seqkit.create_rnn("gru", 32, 512, bidirectional=True, backend="reference").cuda()
            slow.load_state_dict(fast.state_dict())
            x = torch.randn(20, 40, 32, device="cuda")
            compare(f"{backend} H=512 fp32 vs fp64, tf32={tf32}", fast, exact, x, lengths.cuda())
            compare(f"reference H=512 fp32 vs fp64, tf32={tf32}", slow, exact, x, lengths.cuda())
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    for kind in ("gru", "lstm", "rnn"):
        print(f"generic on cuda, {kind}:", check_kernel(kind, "generic", device="cuda"))
    x = torch.randn(64, 100, 256, device="cuda", requires_grad=True)
    layers = {b: seqkit.create_rnn("lstm", 256, 256, backend=b).cuda() for b in ("cudnn", "generic", "reference")}
    for name, layer in layers.items():
        for _ in range(3):
            layer(x)[0].sum().backward()
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(10):
            layer(x)[0].sum().backward()
        torch.cuda.synchronize()
        print(f"lstm B=64 T=100 H=256 fp32 forward+backward, {name}: {(time.perf_counter() - start) / 10 * 1e3:.2f} ms")


if __name__ == "__main__":
    main()

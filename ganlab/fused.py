"""The generator's training pass as one autograd node with a hand-written backward.

A training step of the article's small networks is hundreds of tiny torch
calls, and with autograd each call also records a node, saves its inputs
and runs a separate backward kernel. ``GeneratorTrainingPass`` runs the
whole generator forward in 5 calls per hidden layer and the whole backward
in 9, with no autograd bookkeeping between them. For each hidden layer:

    a = W h + b,  x̂ = (a - mean) * rstd,  s = sigmoid(2 (gamma x̂ + beta)),
    h' = (2 s - 1) * keep

where ``2 s - 1 = tanh(gamma x̂ + beta)`` and ``keep`` is the inverted-dropout
mask. The backward applies the chain rule to the same quantities:

    dL/ds = 2 keep dL/dh',  dL/du = s (1 - s) dL/ds  with u = 2 (gamma x̂ + beta),
    dL/dgamma = 2 sum(dL/du x̂),  dL/dbeta = 2 sum(dL/du),  dL/dx̂ = 2 gamma dL/du,

then ``native_layer_norm_backward`` for ``dL/da`` and two matrix products
for ``dL/dW`` and ``dL/dh``.
"""

from __future__ import annotations

import torch

_aten = torch.ops.aten


class GeneratorTrainingPass(torch.autograd.Function):
    """Generator output ``[members, 1, groups * n]`` in training mode.

    Inputs: ``z`` ``[members, 1, groups * n]``; ``keep2`` ``[layers, members,
    width, groups * n]``, twice the inverted-dropout masks, or None without
    dropout; ``groups``; ``eps``; ``statistics``, a list that receives each
    layer's (mean, rstd); then per hidden layer ``W, b, gamma, beta`` and last
    the output layer's ``W, b``. Only the parameters receive gradients, and
    the hidden layers' ``b`` none: batch norm subtracts it again, so its
    gradient is exactly zero and autograd would only return rounding noise.
    """

    @staticmethod
    def forward(ctx, z, keep2, groups, eps, statistics, *params):
        members, _, width = z.shape
        n = width // groups
        # layer_norm with this weight returns 2 x_hat, the sigmoid's argument before the affine map,
        # and on the CPU it runs faster than layer_norm without a weight.
        two = torch.full((n,), 2.0, device=z.device)
        keep2 = keep2.unbind(0) if keep2 is not None else [2.0] * (len(params) // 4)
        h, saved = z, []
        for w, b, gamma, beta, keep in zip(params[0:-2:4], params[1:-2:4], params[2::4], params[3::4], keep2):
            a = torch.baddbmm(b, w, h).view(members, -1, groups, n)
            x_hat2, mean, rstd = _aten.native_layer_norm(a, [n], two, None, eps)
            x_hat2 = x_hat2.view(members, -1, width)
            # mul, then add_: an addcmul that broadcasts runs several times slower on the CPU.
            s = torch.mul(x_hat2, gamma).add_(beta, alpha=2).sigmoid_()
            statistics.append((mean, rstd))
            saved.append((h, a, mean, rstd, x_hat2, s, keep))
            # (s - 1/2) * 2 keep = (2 s - 1) * keep = tanh(gamma x_hat + beta) * keep.
            h = torch.sub(s, 0.5).mul_(keep)
        ctx.saved, ctx.two, ctx.n = saved, two, n
        ctx.save_for_backward(h, *params)
        return torch.baddbmm(params[-1], params[-2], h)

    @staticmethod
    def backward(ctx, grad_out):
        last, *params = ctx.saved_tensors
        two, n = ctx.two, ctx.n
        grads = [torch.bmm(grad_out, last.mT), grad_out.sum(2, keepdim=True)]
        grad_h = torch.bmm(params[-2].mT, grad_out)
        grad_betas = []
        for (h, a, mean, rstd, x_hat2, s, keep), w, gamma in zip(
            reversed(ctx.saved), params[-6::-4], params[-4::-4]
        ):
            grad_u = _aten.sigmoid_backward(grad_h * keep, s)
            grad_beta = grad_u.sum(2, keepdim=True)
            grad_a = _aten.native_layer_norm_backward(
                torch.mul(grad_u, gamma).view(a.shape), a, [n], mean, rstd, two, None, [True, False, False]
            )[0].view(grad_u.shape)
            grad_h = torch.bmm(w.mT, grad_a)
            grad_gamma = torch.linalg.vecdot(grad_u, x_hat2).unsqueeze(2)
            grads[:0] = [torch.bmm(grad_a, h.mT), None, grad_gamma, grad_beta]
            grad_betas.append(grad_beta)
        # u = 2 (gamma x_hat + beta), so dL/dbeta = 2 sum(dL/du).
        torch._foreach_mul_(grad_betas, 2.0)
        ctx.saved = None
        return None, None, None, None, None, *grads

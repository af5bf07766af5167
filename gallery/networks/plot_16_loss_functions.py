r"""
Loss functions: MSE and cross-entropy
=====================================

A loss turns a model's output into one number to minimise, and its gradient is the
signal that backpropagation starts from. You will check that ``nn.MSELoss`` and
``nn.CrossEntropyLoss`` compute their textbook formulas, derive and verify the famous
gradient :math:`(p - \text{onehot}) / N` of softmax cross-entropy, and see why
``CrossEntropyLoss`` wants raw logits: probabilities give a flattened loss and a weaker
gradient, and only the fused log-sum-exp stays finite for large logits.
"""

# %%
# Mean squared error
# ------------------
# For predictions :math:`\hat y \in \mathbb{R}^N` and targets :math:`y \in \mathbb{R}^N`,
#
# .. math::
#
#    \mathrm{MSE}(\hat y, y) = \frac{1}{N} \sum_{n=1}^{N} (\hat y_n - y_n)^2 .
#
# With errors :math:`(-0.5, 0.5, 0, 1)` the squares sum to 1.5, and
# :math:`1.5 / 4 = 0.375` exactly.
import torch
from torch import nn

torch.manual_seed(42)

predictions = torch.tensor([2.5, 0.0, 2.0, 8.0])
targets = torch.tensor([3.0, -0.5, 2.0, 7.0])
mse = nn.MSELoss()(predictions, targets)
by_hand = ((predictions - targets) ** 2).mean()
print(f"nn.MSELoss: {mse.item():.4f}   formula: {by_hand.item():.4f}")
assert mse.item() == by_hand.item() == 0.375

# %%
# Cross-entropy equals :math:`-\log \mathrm{softmax}` at the target
# ------------------------------------------------------------------
# A classifier outputs one *logit* :math:`z_{nk}` per sample :math:`n` and class
# :math:`k`. Softmax turns a row of logits into probabilities, and cross-entropy is the
# average negative log-probability of the correct class :math:`t_n`:
#
# .. math::
#
#    p_{nk} = \frac{e^{z_{nk}}}{\sum_j e^{z_{nj}}}, \qquad
#    L = -\frac{1}{N} \sum_{n=1}^{N} \log p_{n t_n}.
#
# Five samples and three classes:
logits = torch.randn(5, 3)  # (N, K)
labels = torch.randint(0, 3, (5,))  # (N,)
print(f"logits:\n{logits}")
print(f"labels: {labels.tolist()}")

ce = nn.CrossEntropyLoss()(logits, labels)
probs = logits.softmax(dim=1)  # (N, K)
by_hand = -probs[torch.arange(5), labels].log().mean()
print(f"nn.CrossEntropyLoss:  {ce.item():.4f}")
print(f"-mean log p[target]:  {by_hand.item():.4f}")
torch.testing.assert_close(ce, by_hand)

# %%
# Probabilities and predicted classes
# -----------------------------------
# Each row of :math:`p` is a probability distribution over the three classes: its
# entries are positive and sum to 1. The predicted class of a sample is the most
# probable one, :math:`\hat t_n = \arg\max_k p_{nk}`. Softmax keeps the order of
# the logits (a larger :math:`z_{nk}` gives a larger :math:`p_{nk}`), so the
# ``argmax`` of the logits gives the same classes, and a classifier never needs
# the softmax to predict, only to train. (These logits are random numbers, not a
# trained model's, so the predictions are guesses.)
print("p_n1   p_n2   p_n3       sum  predicted  label")
for row, label in zip(probs, labels, strict=True):
    entries = " ".join(f"{v:.4f}" for v in row.tolist())
    print(f"{entries}  {row.sum():.4f}  {row.argmax().item():9d}  {label:5d}")
predicted = probs.argmax(dim=1)  # (N,)
accuracy = (predicted == labels).float().mean()
print(f"accuracy on these five samples: {accuracy:.0%}")
torch.testing.assert_close(probs.sum(dim=1), torch.ones(5))
assert torch.equal(predicted, logits.argmax(dim=1))

# %%
# The gradient with respect to the logits is :math:`(p - \text{onehot}) / N`
# --------------------------------------------------------------------------
# Write one sample's loss as :math:`\ell = -z_t + \log \sum_j e^{z_j}`. Differentiating
# with respect to :math:`z_k`,
#
# .. math::
#
#    \frac{\partial \ell}{\partial z_k} = -\mathbb{1}[k = t] + \frac{e^{z_k}}{\sum_j e^{z_j}}
#    = p_k - \mathbb{1}[k = t],
#
# and the mean over :math:`N` samples divides by :math:`N`. The exponentials of softmax
# and the logarithm of the loss cancel, leaving "predicted minus true" (derived in full on
# :doc:`/theory/foundations`). Autograd agrees:
import torch.nn.functional as F

z = logits.clone().requires_grad_()  # (N, K)
F.cross_entropy(z, labels).backward()
onehot = F.one_hot(labels, num_classes=3).float()  # (N, K)
closed_form = (probs - onehot) / 5  # (N, K)
print(f"autograd:\n{z.grad}")
print(f"(p - onehot) / N:\n{closed_form}")
torch.testing.assert_close(z.grad, closed_form)

# %%
# The formula as a backward, checked by finite differences
# --------------------------------------------------------
# Autograd agreeing with a formula could still mean both are wrong, so we check the
# formula against finite differences too. We put it into a custom
# :class:`torch.autograd.Function` whose ``backward`` is exactly :math:`(p -
# \text{onehot}) / N` times the upstream gradient, and let
# :func:`gradbook.gradcheck.check_gradients` compare it with finite differences in float64.
from gradbook.gradcheck import check_gradients


class SoftmaxCrossEntropy(torch.autograd.Function):
    """Mean softmax cross-entropy with the hand-derived backward."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        p = z.softmax(dim=1)  # (N, K)
        ctx.save_for_backward(p, labels)
        return -p[torch.arange(len(labels)), labels].log().mean()

    @staticmethod
    def backward(ctx, grad_out: torch.Tensor):
        p, labels = ctx.saved_tensors
        onehot = F.one_hot(labels, num_classes=p.shape[1]).to(
            p.dtype
        )  # (N, K)
        return grad_out * (p - onehot) / len(
            labels
        ), None  # no gradient for the labels


z64 = logits.double().requires_grad_()  # (N, K)
report = check_gradients(lambda z: SoftmaxCrossEntropy.apply(z, labels), z64)
print(report)
assert report.ok

# %%
# Why ``CrossEntropyLoss`` takes logits, not probabilities
# --------------------------------------------------------
# ``nn.CrossEntropyLoss`` applies log-softmax itself. Feeding it probabilities applies
# softmax twice. Since probabilities lie in :math:`[0, 1]`, the second softmax can never
# be confident: for :math:`K` classes the probability it gives the right class is at
# most :math:`e / (e + K - 1)`, so the loss can never fall below
# :math:`\log(1 + (K-1)/e) \approx 0.5514` for :math:`K = 3`, however right the model is.
import math

confident = torch.tensor(
    [[10.0, 0.0, 0.0]]
)  # (1, K): sure of class 0, and right
target = torch.tensor([0])
right = F.cross_entropy(confident, target)
double = F.cross_entropy(confident.softmax(dim=1), target)
floor = math.log(1 + 2 / math.e)
print(f"logits in:        loss = {right.item():.4f}")
print(f"probabilities in: loss = {double.item():.4f}")
print(f"floor log(1 + 2/e)     = {floor:.4f}")
assert right.item() < 1e-3 and double.item() >= floor

# %%
# The gradient is flattened too: on our five samples the double softmax shrinks the
# gradient that reaches the logits, and squeezes every per-sample loss toward
# :math:`\log 3 \approx 1.0986`, the loss of knowing nothing.
z_right = logits.clone().requires_grad_()
z_double = logits.clone().requires_grad_()
loss_right = F.cross_entropy(z_right, labels, reduction="none")  # (N,)
loss_double = F.cross_entropy(
    z_double.softmax(dim=1), labels, reduction="none"
)  # (N,)
loss_right.mean().backward()
loss_double.mean().backward()
print(
    "per-sample loss, logits in:        "
    + " ".join(f"{v:.4f}" for v in loss_right.tolist())
)
print(
    "per-sample loss, probabilities in: "
    + " ".join(f"{v:.4f}" for v in loss_double.tolist())
)
print(f"gradient norm, logits in:        {z_right.grad.norm().item():.4f}")
print(f"gradient norm, probabilities in: {z_double.grad.norm().item():.4f}")
# sphinx_gallery_start_ignore
assert z_double.grad.norm() < 0.5 * z_right.grad.norm()
assert (loss_double - torch.log(torch.tensor(3.0))).abs().max() < (
    loss_right - torch.log(torch.tensor(3.0))
).abs().max()
# sphinx_gallery_end_ignore

# %%
# Large logits: log-sum-exp keeps the loss finite
# -----------------------------------------------
# Computing softmax naively overflows: :math:`e^{1000}` is ``inf`` in floating point,
# ``inf / inf`` is ``nan``, and :math:`e^{-1000} / \infty = 0` has logarithm
# :math:`-\infty`. ``CrossEntropyLoss`` computes the log-softmax directly with
# the log-sum-exp trick, subtracting the largest logit :math:`m = \max_j z_j` first:
#
# .. math::
#
#    \log p_k = z_k - m - \log \sum_j e^{z_j - m},
#
# where every exponent is :math:`\le 0`, so nothing overflows.
big = torch.tensor([[1000.0, 0.0, -1000.0], [1000.0, 0.0, -1000.0]])  # (2, K)
big_labels = torch.tensor([0, 2])  # right, then badly wrong
naive_p = big.exp() / big.exp().sum(dim=1, keepdim=True)  # (2, K)
naive = -naive_p[torch.arange(2), big_labels].log()  # (2,)
stable = F.cross_entropy(big, big_labels, reduction="none")  # (2,)
print(f"naive softmax then log: {naive.tolist()}")
print(
    f"nn.CrossEntropyLoss:    {(stable + 0.0).tolist()}"
)  # + 0.0 prints -0.0 as 0.0
assert not naive.isfinite().any()
assert stable.tolist() == [0.0, 2000.0]

# %%
# Cross-entropy versus MSE for a classifier
# -----------------------------------------
# Why not train a classifier with the MSE between :math:`p` and the one-hot target? Vary
# the logit :math:`z` of the correct class with the other two logits at 0. Cross-entropy
# has :math:`\partial L / \partial z = p - 1`, which tends to :math:`-1` when the model is
# confidently wrong: a strong push in the right direction. The MSE on probabilities has
# :math:`\partial L / \partial z = -3p(1-p)^2` (softmax saturates), which *vanishes*
# exactly when the model is most wrong.


def three_logits(z: torch.Tensor) -> torch.Tensor:
    """Logits (z, 0, 0) for each z: the correct class is 0."""
    return torch.stack(
        [z, torch.zeros_like(z), torch.zeros_like(z)], dim=1
    )  # (T, 3)


def cross_entropy_of(z: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(
        three_logits(z),
        torch.zeros_like(z, dtype=torch.long),
        reduction="none",
    )


def mse_of(z: torch.Tensor) -> torch.Tensor:
    p = three_logits(z).softmax(dim=1)  # (T, 3)
    return ((p - torch.tensor([1.0, 0.0, 0.0], dtype=z.dtype)) ** 2).sum(
        dim=1
    )  # (T,)


def p_of(z: torch.Tensor) -> torch.Tensor:
    return three_logits(z).softmax(dim=1)[:, 0]  # (T,)


from gradbook.plotting import plot_function_and_derivative, use_style

use_style()
zs = torch.linspace(-8, 8, 401, dtype=torch.float64)  # (T,)
fig = plot_function_and_derivative(
    {"cross-entropy": cross_entropy_of, "MSE on probabilities": mse_of},
    zs,
    closed_form={
        "cross-entropy": lambda z: p_of(z) - 1,
        "MSE on probabilities": lambda z: -3 * p_of(z) * (1 - p_of(z)) ** 2,
    },
    xlabel="logit z of the correct class (others 0)",
    ylabels=("loss", r"$\partial L / \partial z$"),
    titles=("loss of one sample, 3 classes", "its gradient with respect to z"),
)

# %%
# At :math:`z = -6` the model gives the correct class a probability of about 0.001:
wrong = torch.tensor([-6.0], dtype=torch.float64, requires_grad=True)
for name, loss_of in (("cross-entropy", cross_entropy_of), ("MSE", mse_of)):
    (grad,) = torch.autograd.grad(loss_of(wrong).sum(), wrong)
    print(f"{name:13s} dL/dz at z = -6: {grad.item():+.4f}")
# sphinx_gallery_start_ignore
(g_ce,) = torch.autograd.grad(cross_entropy_of(wrong).sum(), wrong)
(g_mse,) = torch.autograd.grad(mse_of(wrong).sum(), wrong)
assert g_ce.item() < -0.99 and abs(g_mse.item()) < 0.01
torch.testing.assert_close(g_mse, -3 * p_of(wrong) * (1 - p_of(wrong)) ** 2)
# sphinx_gallery_end_ignore

# %%
# Where next
# ----------
# A loss and its gradient are what an optimizer consumes; the next tutorial,
# :ref:`sphx_glr_auto_examples_training_plot_17_optimizers.py`, writes the optimizers out from
# their equations. The softmax cross-entropy derivation is on
# :doc:`/theory/foundations`, and vector-Jacobian products on :doc:`/theory/jacobians`.
#
# API used here: :func:`gradbook.gradcheck.check_gradients`,
# :func:`gradbook.plotting.plot_function_and_derivative`.


# %%
# Exercises
# ---------
# Write your answer in each starter cell and run it:
# :func:`gradbook.exercises.check` says what is right, what is wrong and
# why. The solutions are folded under each exercise.
#
# **16.1** Write the backward of the mean softmax cross-entropy by hand:
# ``answer_16_1(logits, labels)`` returns
# :math:`\partial L / \partial z` for ``F.cross_entropy(logits, labels)``.
# The checker compares it with autograd, for several batch sizes.
from gradbook.exercises import check


def answer_16_1(logits: torch.Tensor, labels: torch.Tensor):
    raise NotImplementedError  # (N, K)


print(check("16.1", answer_16_1))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 16.1</summary>


def answer_16_1(logits: torch.Tensor, labels: torch.Tensor):
    p = logits.softmax(dim=1)  # (N, K)
    onehot = F.one_hot(labels, logits.shape[1]).to(p.dtype)  # (N, K)
    return (p - onehot) / len(labels)  # the mean divides by N


print(check("16.1", answer_16_1))
# sphinx_gallery_start_ignore
assert check("16.1", answer_16_1).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **16.2** Write ``answer_16_2(logits, labels)``, the mean cross-entropy
# itself, with the log-sum-exp trick so that it stays finite for logits of
# 1000.


def answer_16_2(logits: torch.Tensor, labels: torch.Tensor):
    raise NotImplementedError


print(check("16.2", answer_16_2))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 16.2</summary>


def answer_16_2(logits: torch.Tensor, labels: torch.Tensor):
    m = logits.max(dim=1, keepdim=True).values  # (N, 1)
    log_sum = torch.log(torch.exp(logits - m).sum(dim=1, keepdim=True))
    log_p = logits - m - log_sum  # (N, K), every exponent <= 0
    return -log_p[torch.arange(len(labels)), labels].mean()


print(check("16.2", answer_16_2))
# sphinx_gallery_start_ignore
assert check("16.2", answer_16_2).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>
#
# **16.3** Write the backward of ``nn.MSELoss()`` by hand:
# ``answer_16_3(prediction, target)`` returns
# :math:`\partial L / \partial \hat y`, for predictions of any shape.


def answer_16_3(prediction: torch.Tensor, target: torch.Tensor):
    raise NotImplementedError


print(check("16.3", answer_16_3))

# %%
# .. raw:: html
#
#    <details><summary>Solution to 16.3</summary>


def answer_16_3(prediction: torch.Tensor, target: torch.Tensor):
    # the mean runs over every element, not only over the rows
    return 2 * (prediction - target) / prediction.numel()


print(check("16.3", answer_16_3))
# sphinx_gallery_start_ignore
assert check("16.3", answer_16_3).ok
# sphinx_gallery_end_ignore

# %%
# .. raw:: html
#
#    </details>

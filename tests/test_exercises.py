"""Tests of gradbook.exercises: every reference solution passes, the typical mistakes are
caught with their own hints, garbage answers never raise, unknown ids list the valid ones.

The answers here are written as a learner would write them (the pages hold the same
solutions); ``MISTAKES`` holds, for each exercise, at least two plausible wrong answers
and words that the hint for each must contain.
"""

from __future__ import annotations

import math
import random
import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.autograd.function import once_differentiable

from gradbook.autodiff import Value
from gradbook.exercises import EXERCISES, Feedback, UnknownExerciseError, check, value_node
from gradbook.exercises._grading import KINDS

SOLUTIONS: dict[str, object] = {}
MISTAKES: dict[str, list[tuple[object, str]]] = {}


def solution(exercise_id):
    """Register the decorated function (or class) as the solution of ``exercise_id``."""

    def register(answer):
        SOLUTIONS[exercise_id] = answer
        return answer

    return register


def mistake(exercise_id, hint_words):
    """Register the decorated answer as a typical mistake, whose hint holds ``hint_words``."""

    def register(answer):
        MISTAKES.setdefault(exercise_id, []).append((answer, hint_words))
        return answer

    return register


# --------------------------------------------------------------------------------------
# 01 to 04
# --------------------------------------------------------------------------------------

SOLUTIONS["01.1"] = [6.0, 11.0]
MISTAKES["01.1"] = [([3.0, 12.0], "its derivative with respect to x is y"), ([1.0, 2.0], "y.grad")]


@solution("01.2")
def grad_by_hand(x, y):
    c = torch.cos(x**2 * y)
    return c * 2 * x * y, c * x**2


@mistake("01.2", "inner derivative")
def grad_no_inner(x, y):
    c = torch.cos(x**2 * y)
    return c, c


@mistake("01.2", "with a plus sign")
def grad_minus_cos(x, y):
    c = -torch.cos(x**2 * y)
    return c * 2 * x * y, c * x**2


SOLUTIONS["02.1"] = [5.0, 7.0]
MISTAKES["02.1"] = [([3.0, 3.0], "first call's 2x is still there"), ([2.0, 4.0], "added")]


@solution("02.2")
def micro_batch_backward(model, loss_fn, X, y, num_micro):
    model.zero_grad()
    for X_m, y_m in zip(X.chunk(num_micro), y.chunk(num_micro), strict=True):
        (loss_fn(model(X_m), y_m) * len(X_m) / len(X)).backward()


@mistake("02.2", "its share of the samples")
def micro_one_over_m(model, loss_fn, X, y, num_micro):
    model.zero_grad()
    for X_m, y_m in zip(X.chunk(num_micro), y.chunk(num_micro), strict=True):
        (loss_fn(model(X_m), y_m) / num_micro).backward()


@mistake("02.2", "zero the gradients first")
def micro_no_zero(model, loss_fn, X, y, num_micro):
    for X_m, y_m in zip(X.chunk(num_micro), y.chunk(num_micro), strict=True):
        (loss_fn(model(X_m), y_m) * len(X_m) / len(X)).backward()


@mistake("02.2", "once per micro-batch")
def micro_one_backward(model, loss_fn, X, y, num_micro):
    model.zero_grad()
    loss_fn(model(X), y).backward()


@mistake("02.2", "scale each micro-batch's loss")
def micro_unscaled(model, loss_fn, X, y, num_micro):
    model.zero_grad()
    for X_m, y_m in zip(X.chunk(num_micro), y.chunk(num_micro), strict=True):
        loss_fn(model(X_m), y_m).backward()


@solution("03.1")
def sgd_step(params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad
            p.grad.zero_()


@mistake("03.1", "torch.no_grad()")
def sgd_recorded(params, lr):
    for p in params:
        p -= lr * p.grad


@mistake("03.1", "makes a new tensor")
def sgd_rebinds(params, lr):
    with torch.no_grad():
        for p in params:
            p = p - lr * p.grad  # the mistake, on purpose: a new tensor
            p.grad = None


@mistake("03.1", "step against the gradient")
def sgd_ascends(params, lr):
    with torch.no_grad():
        for p in params:
            p += lr * p.grad
            p.grad.zero_()


@mistake("03.1", "zero each one")
def sgd_no_zero(params, lr):
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad


@solution("03.2")
def predict(model, X):
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model(X)
    model.train(was_training)
    return out


@mistake("03.2", "does not switch dropout off")
def predict_no_eval(model, X):
    with torch.no_grad():
        return model(X)


@mistake("03.2", "compute them under torch.no_grad()")
def predict_no_no_grad(model, X):
    was_training = model.training
    model.eval()
    out = model(X)
    model.train(was_training)
    return out


@mistake("03.2", "remember model.training")
def predict_always_train(model, X):
    model.eval()
    with torch.no_grad():
        out = model(X)
    model.train()
    return out


SOLUTIONS["03.3"] = [1.0, 4.0, 9.0]
MISTAKES["03.3"] = [([3.0, 12.0, 27.0], "a constant to autograd"), ([0.0] * 3, "not detached")]


@solution("04.1")
def vjp(f, x, v):
    x = x.detach().requires_grad_()
    f(x).backward(gradient=v)
    return x.grad


@mistake("04.1", "v = ones")
def vjp_ones(f, x, v):
    x = x.detach().requires_grad_()
    f(x).sum().backward()
    return x.grad


@mistake("04.1", "that is J v")
def vjp_jv(f, x, v):
    J = torch.autograd.functional.jacobian(f, x)
    return J @ v if J.shape[0] == J.shape[1] else v @ J * 2


@solution("04.2")
def jacobian_rows(f, x):
    x = x.detach().requires_grad_()
    y = f(x)
    rows = []
    for i in range(y.numel()):
        e_i = torch.zeros_like(y)
        e_i[i] = 1.0
        (row,) = torch.autograd.grad(y, x, grad_outputs=e_i, retain_graph=True)
        rows.append(row)
    return torch.stack(rows)


@mistake("04.2", "x.grad accumulates")
def jacobian_accumulates(f, x):
    x = x.detach().requires_grad_()
    y = f(x)
    rows = []
    for i in range(y.numel()):
        e_i = torch.zeros_like(y)
        e_i[i] = 1.0
        y.backward(e_i, retain_graph=True)
        rows.append(x.grad.clone())
    return torch.stack(rows)


@mistake("04.2", "transposed")
def jacobian_columns(f, x):
    return jacobian_rows(f, x).T


@solution("04.3")
def per_sample_grads(model, X, y):
    grads = []
    for x_n, y_n in zip(X, y, strict=True):
        loss = F.mse_loss(model(x_n[None]), y_n[None])
        grads.append(torch.autograd.grad(loss, model.weight)[0])
    return torch.stack(grads)


@mistake("04.3", "one sample's own loss")
def per_sample_shares(model, X, y):
    return per_sample_grads(model, X, y) / len(X)


@mistake("04.3", "the batch gradient repeated")
def per_sample_repeated(model, X, y):
    (g,) = torch.autograd.grad(F.mse_loss(model(X), y), model.weight)
    return g.expand(len(X), *g.shape)


# --------------------------------------------------------------------------------------
# 05 and 06: the Value engine
# --------------------------------------------------------------------------------------


@solution("05.1")
def value_sin(a):
    return value_node(math.sin(a.data), (a,), (math.cos(a.data),), op="sin")


@mistake("05.1", "+cos")
def value_sin_minus(a):
    return value_node(math.sin(a.data), (a,), (-math.cos(a.data),), op="sin")


@mistake("05.1", "not sin(a) again")
def value_sin_sin(a):
    return value_node(math.sin(a.data), (a,), (math.sin(a.data),), op="sin")


@mistake("05.1", "multiplies by out.grad")
def value_sin_times_grad(a):
    return value_node(math.sin(a.data), (a,), (math.cos(a.data) * a.grad,), op="sin")


@solution("05.2")
def value_div(a, b):
    return value_node(a.data / b.data, (a, b), (1 / b.data, -a.data / b.data**2), op="/")


@mistake("05.2", "minus sign")
def value_div_sign(a, b):
    return value_node(a.data / b.data, (a, b), (1 / b.data, a.data / b.data**2), op="/")


@mistake("05.2", "order of the parents")
def value_div_swapped(a, b):
    return value_node(a.data / b.data, (a, b), (-a.data / b.data**2, 1 / b.data), op="/")


@solution("05.3")
def backward(root):
    root.grad = 1.0
    for node in reversed(root.topological_order()):
        for parent, local in zip(node.parents, node.local_grads, strict=True):
            parent.grad += local * node.grad


@mistake("05.3", "+=")
def backward_assigns(root):
    root.grad = 1.0
    for node in reversed(root.topological_order()):
        for parent, local in zip(node.parents, node.local_grads, strict=True):
            parent.grad = local * node.grad


@mistake("05.3", "reversed(order)")
def backward_forward_order(root):
    root.grad = 1.0
    for node in root.topological_order():
        for parent, local in zip(node.parents, node.local_grads, strict=True):
            parent.grad += local * node.grad


@mistake("05.3", "seed the root")
def backward_no_seed(root):
    for node in reversed(root.topological_order()):
        for parent, local in zip(node.parents, node.local_grads, strict=True):
            parent.grad += local * node.grad


@solution("06.1")
def mse(scores, targets):
    return sum((s - t) ** 2 for s, t in zip(scores, targets, strict=True)) / len(scores)


@mistake("06.1", "a mean, not a sum")
def mse_sum(scores, targets):
    return sum((s - t) ** 2 for s, t in zip(scores, targets, strict=True))


@mistake("06.1", "expected a Value")
def mse_floats(scores, targets):
    return sum((s.data - t) ** 2 for s, t in zip(scores, targets, strict=True)) / len(scores)


@solution("06.2")
def neuron(w, b, x, nonlinear):
    act = sum((wi * xi for wi, xi in zip(w, x, strict=True)), b)
    return act.tanh() if nonlinear else act


@mistake("06.2", "add the bias")
def neuron_no_bias(w, b, x, nonlinear):
    act = sum(wi * xi for wi, xi in zip(w, x, strict=True))
    return act.tanh() if nonlinear else act


@mistake("06.2", "only when nonlinear is True")
def neuron_always_tanh(w, b, x, nonlinear):
    return sum((wi * xi for wi, xi in zip(w, x, strict=True)), b).tanh()


# --------------------------------------------------------------------------------------
# 07 to 11
# --------------------------------------------------------------------------------------


@solution("07.1")
def central_difference(f, x, h):
    grad = torch.zeros_like(x)
    for k in range(x.numel()):
        step = torch.zeros_like(x).flatten()
        step[k] = h
        step = step.reshape(x.shape)
        grad.view(-1)[k] = (f(x + step) - f(x - step)) / (2 * h)
    return grad


@mistake("07.1", "forward difference")
def forward_difference(f, x, h):
    grad = torch.zeros_like(x)
    for k in range(x.numel()):
        step = torch.zeros_like(x).flatten()
        step[k] = h
        grad.view(-1)[k] = (f(x + step.reshape(x.shape)) - f(x)) / h
    return grad


@mistake("07.1", "divides by 2h")
def central_over_h(f, x, h):
    return 2 * central_difference(f, x, h)


@solution("07.2")
def matvec_backward(W, x, grad_output):
    return torch.outer(grad_output, x), W.T @ grad_output


@mistake("07.2", "upstream gradient first")
def matvec_transposed(W, x, grad_output):
    grad_W = torch.outer(x, grad_output)
    return (grad_W if W.shape[0] == W.shape[1] else grad_W.T), W.T @ grad_output


@mistake("07.2", "transposed")
def matvec_bad_shape(W, x, grad_output):
    return torch.outer(x, grad_output), W.T @ grad_output


SOLUTIONS["07.3"] = 1e-5
MISTAKES["07.3"] = [(1e-8, "forward difference"), (1e-14, "rounding error"), (1e-2, "truncation")]


@solution("08.1")
class LogSumExp(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        m = x.max(dim=-1, keepdim=True).values
        out = m.squeeze(-1) + torch.log(torch.exp(x - m).sum(dim=-1))
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        x, out = ctx.saved_tensors
        return torch.exp(x - out.unsqueeze(-1)) * grad_output.unsqueeze(-1)


@mistake("08.1", "subtract each row's max")
class NaiveLogSumExp(LogSumExp):
    @staticmethod
    def forward(ctx, x):
        out = torch.log(torch.exp(x).sum(dim=-1))
        ctx.save_for_backward(x, out)
        return out


@mistake("08.1", "multiply by grad_output")
class LogSumExpIgnoresUpstream(LogSumExp):
    @staticmethod
    def backward(ctx, grad_output):
        x, out = ctx.saved_tensors
        return torch.exp(x - out.unsqueeze(-1))


@mistake("08.1", "grad_output.unsqueeze(-1)")
class LogSumExpNoUnsqueeze(LogSumExp):
    @staticmethod
    def backward(ctx, grad_output):
        x, out = ctx.saved_tensors
        return torch.exp(x - out.unsqueeze(-1)) * grad_output


@solution("08.2")
class SiLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * torch.sigmoid(x)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        return grad_output * (s + x * s * (1 - s))


@mistake("08.2", "once_differentiable")
class SiLUOnce(SiLU):
    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        s = torch.sigmoid(x)
        return grad_output * (s + x * s * (1 - s))


@mistake("08.2", "product rule")
class SiLUNoProduct(SiLU):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * torch.sigmoid(x)


@mistake("08.2", "do not detach")
class SiLUDetached(SiLU):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        x = x.detach()
        s = torch.sigmoid(x)
        return grad_output * (s + x * s * (1 - s))


@solution("09.1")
def clip_hook(bound):
    return lambda grad: grad.clamp(-bound, bound)


@mistake("09.1", "only by returning")
def clip_hook_no_return(bound):
    def hook(grad):
        grad.clamp(-bound, bound)

    return hook


@mistake("09.1", "both sides")
def clip_hook_one_side(bound):
    return lambda grad: grad.clamp(0, bound)


@solution("09.2")
def grad_output_norms(model, X, y):
    norms, handles = [], []
    for layer in model.modules():
        if isinstance(layer, nn.Linear):
            hook = lambda m, grad_in, grad_out: norms.append(grad_out[0].norm().item())  # noqa: E731
            handles.append(layer.register_full_backward_hook(hook))
    F.mse_loss(model(X), y).backward()
    for handle in handles:
        handle.remove()
    return norms[::-1]  # backward reaches the last layer first


@mistake("09.2", "reverse the list")
def grad_output_norms_reversed(model, X, y):
    return grad_output_norms(model, X, y)[::-1]


@mistake("09.2", "handle.remove()")
def grad_output_norms_hooks_left(model, X, y):
    norms = []
    for layer in model.modules():
        if isinstance(layer, nn.Linear):
            layer.register_full_backward_hook(lambda m, gi, go: norms.append(go[0].norm().item()))
    F.mse_loss(model(X), y).backward()
    return norms[::-1]


@solution("10.1")
def second_derivative(f, x):
    x = x.detach().requires_grad_()
    (d1,) = torch.autograd.grad(f(x).sum(), x, create_graph=True)
    (d2,) = torch.autograd.grad(d1.sum(), x)
    return d2


@mistake("10.1", "create_graph=True")
def second_derivative_no_graph(f, x):
    x = x.detach().requires_grad_()
    (d1,) = torch.autograd.grad(f(x).sum(), x)
    (d2,) = torch.autograd.grad(d1.sum(), x)
    return d2


@mistake("10.1", "once more")
def first_derivative(f, x):
    x = x.detach().requires_grad_()
    (d1,) = torch.autograd.grad(f(x).sum(), x)
    return d1


@solution("10.2")
def hvp(f, x, v):
    x = x.detach().requires_grad_()
    (g,) = torch.autograd.grad(f(x), x, create_graph=True)
    (Hv,) = torch.autograd.grad(g, x, grad_outputs=v)
    return Hv


@mistake("10.2", "multiply by v")
def hvp_ones(f, x, v):
    x = x.detach().requires_grad_()
    (g,) = torch.autograd.grad(f(x), x, create_graph=True)
    (Hv,) = torch.autograd.grad(g.sum(), x)
    return Hv


@mistake("10.2", "that is the gradient")
def hvp_gradient(f, x, v):
    x = x.detach().requires_grad_()
    (g,) = torch.autograd.grad(f(x), x)
    return g


@solution("10.3")
def newton_step(f, x):
    H = torch.autograd.functional.hessian(f, x)
    x_ = x.detach().requires_grad_()
    (g,) = torch.autograd.grad(f(x_), x_)
    return x - torch.linalg.solve(H, g)


@mistake("10.3", "torch.linalg.solve")
def newton_multiplies(f, x):
    H = torch.autograd.functional.hessian(f, x)
    x_ = x.detach().requires_grad_()
    (g,) = torch.autograd.grad(f(x_), x_)
    return x - H @ g


@mistake("10.3", "step against")
def newton_ascends(f, x):
    return 2 * x - newton_step(f, x)


@solution("11.1")
def two_steps(w):
    for _ in range(2):
        (3 * w.exp()).backward()
    return w.grad


@mistake("11.1", "inside the loop")
def two_steps_broken(w):
    h = w.exp()
    for _ in range(2):
        (3 * h).backward()
    return w.grad


@mistake("11.1", "sum of both")
def one_step(w):
    (3 * w.exp()).backward()
    return w.grad


@solution("11.2")
def doubled_sigmoid_grad(x):
    y = x.sigmoid() * 2
    y.sum().backward()
    return x.grad


@mistake("11.2", "out of place")
def doubled_sigmoid_broken(x):
    y = x.sigmoid()
    y *= 2
    y.sum().backward()
    return x.grad


@mistake("11.2", "factor 2 got lost")
def sigmoid_grad(x):
    x.sigmoid().sum().backward()
    return x.grad


@solution("11.3")
def predict_numpy(layer, data):
    return layer(torch.as_tensor(data, dtype=torch.float32))


@mistake("11.3", "same dtype")
def predict_numpy_broken(layer, data):
    return layer(torch.from_numpy(data))


@mistake("11.3", "convert the data, not the model")
def predict_numpy_double(layer, data):
    return layer.double()(torch.from_numpy(data))


@solution("11.4")
def class_loss(logits, labels):
    return F.cross_entropy(logits, labels.squeeze(1).long())


@mistake("11.4", "labels.squeeze(1)")
def class_loss_long_only(logits, labels):
    return F.cross_entropy(logits, labels.long())


@mistake("11.4", "labels.long()")
def class_loss_squeeze_only(logits, labels):
    return F.cross_entropy(logits, labels.squeeze(1))


# --------------------------------------------------------------------------------------
# 12 to 16
# --------------------------------------------------------------------------------------


@solution("12.1")
def linear_forward(X, W, b):
    return X @ W.T + b


@mistake("12.1", "W is (d_out, d_in)")
def linear_forward_no_t(X, W, b):
    return X @ W + b


@mistake("12.1", "add the bias")
def linear_forward_no_bias(X, W, b):
    return X @ W.T


@solution("12.2")
def he_normal(d_out, d_in):
    return torch.randn(d_out, d_in) * math.sqrt(2 / d_in)


@mistake("12.2", "fan-in")
def he_fan_out(d_out, d_in):
    return torch.randn(d_out, d_in) * math.sqrt(2 / d_out)


@mistake("12.2", "Xavier")
def xavier_normal(d_out, d_in):
    return torch.randn(d_out, d_in) * math.sqrt(2 / (d_in + d_out))


@mistake("12.2", "the std is its square root")
def he_std_as_variance(d_out, d_in):
    return torch.randn(d_out, d_in) * (2 / d_in)


@mistake("12.2", "normal distribution")
def he_uniform(d_out, d_in):
    bound = math.sqrt(3 * 2 / d_in)  # the right variance, the wrong distribution
    return (torch.rand(d_out, d_in) * 2 - 1) * bound


SOLUTIONS["12.3"] = 0.5
MISTAKES["12.3"] = [(1.0, "He's factor"), (0.25, "no more factors of 2")]


@solution("13.1")
def tanh_backward(x, grad_output):
    return grad_output * (1 - torch.tanh(x) ** 2)


@mistake("13.1", "multiply by grad_output")
def tanh_backward_no_upstream(x, grad_output):
    return 1 - torch.tanh(x) ** 2


@mistake("13.1", "not x")
def tanh_backward_of_x(x, grad_output):
    return grad_output * (1 - x**2)


@solution("13.2")
def gelu_derivative(x):
    normal = torch.distributions.Normal(0.0, 1.0)
    return normal.cdf(x) + x * normal.log_prob(x).exp()


@mistake("13.2", "the second term is missing")
def gelu_derivative_cdf(x):
    return torch.distributions.Normal(0.0, 1.0).cdf(x)


@mistake("13.2", "the first term is missing")
def gelu_derivative_pdf(x):
    return x * torch.distributions.Normal(0.0, 1.0).log_prob(x).exp()


@solution("13.3")
def leaky_relu_backward(x, grad_output, alpha):
    return grad_output * torch.where(x > 0, 1.0, alpha)


@mistake("13.3", "not x >= 0")
def leaky_relu_backward_at_zero(x, grad_output, alpha):
    return grad_output * torch.where(x >= 0, 1.0, alpha)


@mistake("13.3", "slope is 1 for x > 0")
def leaky_relu_backward_swapped(x, grad_output, alpha):
    return grad_output * torch.where(x > 0, alpha, 1.0)


@solution("14.1")
class ResidualBlock(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.linear1 = nn.Linear(d, d)
        self.linear2 = nn.Linear(d, d)

    def forward(self, x):
        return x + self.linear2(torch.relu(self.linear1(x)))


@mistake("14.1", "super().__init__()")
class ResidualNoSuper(ResidualBlock):
    def __init__(self, d):
        self.linear1 = nn.Linear(d, d)
        self.linear2 = nn.Linear(d, d)


@mistake("14.1", "a plain list hides")
class ResidualList(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.layers = [nn.Linear(d, d), nn.Linear(d, d)]

    def forward(self, x):
        return x + self.layers[1](torch.relu(self.layers[0](x)))


@mistake("14.1", "add the input back")
class ResidualNoSkip(ResidualBlock):
    def forward(self, x):
        return self.linear2(torch.relu(self.linear1(x)))


@solution("14.2")
def freeze_all_but_last(model):
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    model.requires_grad_(False)
    linears[-1].requires_grad_(True)


@mistake("14.2", "eval() changes")
def freeze_by_eval(model):
    model.eval()


@mistake("14.2", "stays trainable")
def freeze_everything(model):
    model.requires_grad_(False)


@solution("14.3")
def collapse(first, second):
    one = nn.Linear(first.in_features, second.out_features)
    with torch.no_grad():
        one.weight.copy_(second.weight @ first.weight)
        one.bias.copy_(second.weight @ first.bias + second.bias)
    return one


@mistake("14.3", "W2 @ W1")
def collapse_wrong_order(first, second):
    one = nn.Linear(first.in_features, second.out_features)
    with torch.no_grad():
        one.weight.copy_(first.weight @ second.weight)
        one.bias.copy_(second.weight @ first.bias + second.bias)
    return one


@mistake("14.3", "W2 b1 + b2")
def collapse_no_b1(first, second):
    one = nn.Linear(first.in_features, second.out_features)
    with torch.no_grad():
        one.weight.copy_(second.weight @ first.weight)
        one.bias.copy_(second.bias)
    return one


@solution("15.1")
def parameter_count(sizes):
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


@mistake("15.1", "also holds a bias")
def parameter_count_no_bias(sizes):
    return sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


@mistake("15.1", "d_out entries")
def parameter_count_bias_in(sizes):
    return sum(a * b + a for a, b in zip(sizes[:-1], sizes[1:], strict=True))


@solution("15.2")
def mlp_forward(X, weights, biases):
    for i, (W, b) in enumerate(zip(weights, biases, strict=True)):
        X = X @ W.T + b
        if i < len(weights) - 1:
            X = torch.relu(X)
    return X


@mistake("15.2", "no ReLU after the last layer")
def mlp_forward_relu_last(X, weights, biases):
    for W, b in zip(weights, biases, strict=True):
        X = torch.relu(X @ W.T + b)
    return X


@mistake("15.2", "collapse into one affine map")
def mlp_forward_no_relu(X, weights, biases):
    for W, b in zip(weights, biases, strict=True):
        X = X @ W.T + b
    return X


@solution("16.1")
def cross_entropy_backward(logits, labels):
    p = logits.softmax(dim=1)
    onehot = F.one_hot(labels, logits.shape[1]).to(p.dtype)
    return (p - onehot) / len(labels)


@mistake("16.1", "batch size")
def cross_entropy_backward_sum(logits, labels):
    return cross_entropy_backward(logits, labels) * len(labels)


@mistake("16.1", "over the classes, dim=1")
def cross_entropy_backward_dim0(logits, labels):
    p = logits.softmax(dim=0)
    return (p - F.one_hot(labels, logits.shape[1]).to(p.dtype)) / len(labels)


@mistake("16.1", "p - onehot")
def cross_entropy_backward_flipped(logits, labels):
    return -cross_entropy_backward(logits, labels)


@solution("16.2")
def cross_entropy(logits, labels):
    m = logits.max(dim=1, keepdim=True).values
    log_p = logits - m - torch.log(torch.exp(logits - m).sum(dim=1, keepdim=True))
    return -log_p[torch.arange(len(labels)), labels].mean()


@mistake("16.2", "subtract each row's max")
def cross_entropy_naive(logits, labels):
    p = logits.exp() / logits.exp().sum(dim=1, keepdim=True)
    return -p[torch.arange(len(labels)), labels].log().mean()


@mistake("16.2", "not a sum")
def cross_entropy_sum(logits, labels):
    return cross_entropy(logits, labels) * len(labels)


@solution("16.3")
def mse_backward(prediction, target):
    return 2 * (prediction - target) / prediction.numel()


@mistake("16.3", "factor 2 is missing")
def mse_backward_no_two(prediction, target):
    return (prediction - target) / prediction.numel()


@mistake("16.3", "number of elements")
def mse_backward_no_mean(prediction, target):
    return 2 * (prediction - target)


@mistake("16.3", "not (target - prediction)")
def mse_backward_flipped(prediction, target):
    return 2 * (target - prediction) / prediction.numel()


# --------------------------------------------------------------------------------------
# 17 to 21
# --------------------------------------------------------------------------------------


@solution("17.1")
def adam_step(theta, g, m, v, t):
    lr, beta1, beta2, eps = 0.1, 0.9, 0.999, 1e-8
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g**2
    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)
    return theta - lr * m_hat / (v_hat.sqrt() + eps), m, v


@mistake("17.1", "correct both averages")
def adam_step_uncorrected(theta, g, m, v, t):
    m = 0.9 * m + 0.1 * g
    v = 0.999 * v + 0.001 * g**2
    return theta - 0.1 * m / (v.sqrt() + 1e-8), m, v


@mistake("17.1", "eps goes outside the root")
def adam_step_eps_inside(theta, g, m, v, t):
    m = 0.9 * m + 0.1 * g
    v = 0.999 * v + 0.001 * g**2
    m_hat, v_hat = m / (1 - 0.9**t), v / (1 - 0.999**t)
    return theta - 0.1 * m_hat / (v_hat + 1e-8).sqrt(), m, v


@mistake("17.1", "expected a tuple of 3")
def adam_step_theta_only(theta, g, m, v, t):
    return adam_step(theta, g, m, v, t)[0]


@solution("17.2")
def momentum_step(theta, g, v, t):
    v = 0.9 * v + g
    return theta - 0.03 * v, v


@mistake("17.2", "no (1 - mu)")
def momentum_step_ema(theta, g, v, t):
    v = 0.9 * v + 0.1 * g
    return theta - 0.03 * v, v


@mistake("17.2", "step along the velocity")
def momentum_step_ignores_v(theta, g, v, t):
    return theta - 0.03 * g, 0.9 * v + g


@solution("17.3")
def rmsprop_step(theta, g, s, t):
    s = 0.99 * s + 0.01 * g**2
    return theta - 0.01 * g / (s.sqrt() + 1e-8), s


@mistake("17.3", "eps goes outside the root")
def rmsprop_step_eps_inside(theta, g, s, t):
    s = 0.99 * s + 0.01 * g**2
    return theta - 0.01 * g / (s + 1e-8).sqrt(), s


@mistake("17.3", "root mean square")
def rmsprop_step_no_root(theta, g, s, t):
    s = 0.99 * s + 0.01 * g**2
    return theta - 0.01 * g / (s + 1e-8), s


@solution("18.1")
def train(model, X, y, epochs, lr):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    for _ in range(epochs):
        loss = loss_fn(model(X), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model


@mistake("18.1", "wipes the gradient")
def train_broken(model, X, y, epochs, lr):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.MSELoss()
    for _ in range(epochs):
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.zero_grad()
        optimizer.step()
    return model


@mistake("18.1", "sum of all past gradients")
def train_no_zero(model, X, y, epochs, lr):
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    for _ in range(epochs):
        nn.MSELoss()(model(X), y).backward()
        optimizer.step()
    return model


@solution("18.2")
def train_epoch(model, optimizer, X, y, batch_size, generator):
    loss_fn = nn.MSELoss()
    perm = torch.randperm(len(X), generator=generator)
    X, y = X[perm], y[perm]
    for i in range(0, len(X), batch_size):
        loss = loss_fn(model(X[i : i + batch_size]), y[i : i + batch_size])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


@mistake("18.2", "y is not")
def train_epoch_broken(model, optimizer, X, y, batch_size, generator):
    loss_fn = nn.MSELoss()
    perm = torch.randperm(len(X), generator=generator)
    X = X[perm]
    for i in range(0, len(X), batch_size):
        loss = loss_fn(model(X[i : i + batch_size]), y[i : i + batch_size])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


@mistake("18.2", "last, smaller batch")
def train_epoch_drop_last(model, optimizer, X, y, batch_size, generator):
    loss_fn = nn.MSELoss()
    perm = torch.randperm(len(X), generator=generator)
    X, y = X[perm], y[perm]
    for i in range(0, len(X) - batch_size + 1, batch_size):
        loss = loss_fn(model(X[i : i + batch_size]), y[i : i + batch_size])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


SOLUTIONS["18.3"] = 4
MISTAKES["18.3"] = [(3, "the last batch"), (100 / 32, "rounding up")]
SOLUTIONS["19.1"] = 0.1
MISTAKES["19.1"] = [(0.01, "the bias correction"), ("0.1", "expected")]
SOLUTIONS["19.2"] = 1.0
MISTAKES["19.2"] = [(0.1, "no bias correction"), (10.0, "the root")]


@solution("20.1")
def shard(n, rank, world_size):
    per_rank = -(-n // world_size)  # ceil(n / world_size)
    padded = list(range(n)) * 2  # pad by repeating the first indices
    return padded[rank : per_rank * world_size : world_size]


@mistake("20.1", "pads")
def shard_no_padding(n, rank, world_size):
    return list(range(rank, n, world_size))


@mistake("20.1", "in turn")
def shard_blocks(n, rank, world_size):
    per_rank = -(-n // world_size)
    return list(range(n))[rank * per_rank : (rank + 1) * per_rank]


@solution("20.2")
def all_reduce_mean(grads):
    return torch.stack(grads).sum(dim=0) / len(grads)


@mistake("20.2", "divide by the world size")
def all_reduce_sum(grads):
    return torch.stack(grads).sum(dim=0)


@mistake("20.2", "every rank's gradient counts")
def rank_zero(grads):
    return grads[0]


SOLUTIONS["20.3"] = 5
MISTAKES["20.3"] = [(13, "per process"), (4, "a step too")]


@solution("21.1")
def save_training_state(path, model, optimizer, epoch):
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}
    torch.save(state, path)


@mistake("21.1", "not the model or optimizer objects")
def save_objects(path, model, optimizer, epoch):
    torch.save({"model": model, "optimizer": optimizer, "epoch": epoch}, path)


@mistake("21.1", "Adam's m, v")
def save_no_optimizer_state(path, model, optimizer, epoch):
    torch.save({"model": model.state_dict(), "optimizer": {}, "epoch": epoch}, path)


@solution("21.2")
def resume(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


@mistake("21.2", "load it too")
def resume_model_only(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    model.load_state_dict(checkpoint["model"])
    return checkpoint["epoch"]


@mistake("21.2", "on that model")
def resume_into_new_model(path, model, optimizer):
    checkpoint = torch.load(path, weights_only=True)
    model = nn.Linear(3, 2)
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    return checkpoint["epoch"]


# --------------------------------------------------------------------------------------
# The tests
# --------------------------------------------------------------------------------------

IDS = list(EXERCISES)


def test_every_tutorial_has_two_to_four_exercises():
    """Each of the 21 tutorials has 2 to 4 exercises, 42 or more in all, every kind used."""
    per_tutorial = {}
    for exercise in EXERCISES.values():
        per_tutorial.setdefault(exercise.tutorial, []).append(exercise.id)
    assert len(per_tutorial) == 21 and len(EXERCISES) >= 42
    assert all(2 <= len(ids) <= 4 for ids in per_tutorial.values()), per_tutorial
    assert {e.kind for e in EXERCISES.values()} == set(KINDS)
    assert IDS == sorted(IDS)  # reading order


def test_every_exercise_has_a_solution_and_two_mistakes_here():
    """This file holds a solution and at least two typical mistakes for every exercise."""
    assert set(SOLUTIONS) == set(IDS)
    assert {i for i, m in MISTAKES.items() if len(m) >= 2} == set(IDS)


@pytest.mark.parametrize("exercise_id", IDS)
def test_the_solution_passes(exercise_id):
    """The reference solution gets ok=True, and the feedback says what is right."""
    feedback = check(exercise_id, SOLUTIONS[exercise_id])
    assert feedback.ok, str(feedback)
    assert feedback.status == "correct" and feedback.right and bool(feedback)
    assert str(feedback).startswith(f"{exercise_id} {EXERCISES[exercise_id].title}: correct")


@pytest.mark.parametrize(
    ("exercise_id", "index"),
    [(i, k) for i in IDS for k in range(len(MISTAKES.get(i, ())))],
)
def test_a_typical_mistake_gets_its_own_hint(exercise_id, index):
    """A typical wrong answer gets ok=False and a hint that names that mistake."""
    answer, words = MISTAKES[exercise_id][index]
    feedback = check(exercise_id, answer)
    assert not feedback.ok and feedback.status == "not right yet", str(feedback)
    assert words in f"{feedback.wrong} {feedback.hint}", str(feedback)


def _raises(*args, **kwargs):
    raise ValueError("boom\nsecond line")


GARBAGE = {
    "an int": 42,
    "a str": "answer",
    "an object": object(),
    "a class": dict,
    "a function returning None": lambda *args, **kwargs: None,
    "a function raising ValueError": _raises,
    "a function returning NaN": lambda *args, **kwargs: torch.full((3,), math.nan),
    "a function returning a wrong shape": lambda *args, **kwargs: torch.zeros(97, 3),
    "a function returning a str": lambda *args, **kwargs: "text",
    "a lambda of no arguments": lambda: -123.0,
}


@pytest.mark.parametrize("exercise_id", IDS)
def test_garbage_never_raises(exercise_id):
    """Each garbage answer gets ok=False, never an exception, and text that fits 79 columns."""
    for name, answer in GARBAGE.items():
        feedback = check(exercise_id, answer)
        assert isinstance(feedback, Feedback) and not feedback.ok, name
        text = str(feedback)
        assert all(len(line) <= 79 for line in text.splitlines()), f"{name}:\n{text}"
        assert feedback.wrong, f"{name}:\n{text}"


def _stub(*args, **kwargs):
    raise NotImplementedError


class StubFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        raise NotImplementedError


class StubModule(nn.Module):
    def __init__(self, d):
        super().__init__()
        raise NotImplementedError


@pytest.mark.parametrize("exercise_id", IDS)
def test_a_stub_is_not_yet(exercise_id):
    """A stub that raises NotImplementedError (a function, or a class for the exercises
    that ask for one), and None itself, get "not yet"."""
    answer = EXERCISES[exercise_id].answer
    stub = {
        "a torch.autograd.Function subclass": StubFunction,
        "an nn.Module subclass": StubModule,
    }.get(" ".join(answer.split()[:3]), _stub)
    for answer in (None, stub):
        feedback = check(exercise_id, answer)
        assert feedback.status == "not yet" and not feedback.ok, str(feedback)
        assert "None" in feedback.wrong or "NotImplementedError" in feedback.wrong


@pytest.mark.parametrize(
    ("exercise_id", "answer", "expected", "came_back"),
    [
        ("13.1", lambda x, g: [1.0, 2.0], "expected a torch.Tensor of shape (6,)", "list"),
        ("13.1", lambda x, g: torch.zeros(2, 3), "expected shape (6,)", "got (2, 3)"),
        ("13.1", lambda x, g: x / 0.0, "NaN or inf", "values"),
        ("12.1", lambda X, W, b: None, "returned None", "expected a tensor (N, d_out)"),
        ("02.1", "five", "expected your prediction of x.grad", "str"),
        ("02.1", [1.0, 2.0, 3.0], "expected your prediction of x.grad", "3 number(s)"),
        ("08.1", LogSumExp.apply, "expected a torch.autograd.Function subclass", "method"),
        ("14.1", ResidualBlock(3), "expected an nn.Module subclass", "ResidualBlock"),
        ("05.1", lambda a: math.sin(a.data), "expected a Value", "float"),
        ("13.1", lambda x, g: torch.tanh("x"), "raised TypeError", "tanh()"),
    ],
)
def test_garbage_names_what_was_expected_and_what_came_back(
    exercise_id, answer, expected, came_back
):
    """The message of a garbage answer names what was expected and what came back."""
    feedback = check(exercise_id, answer)
    assert expected in feedback.wrong and came_back in feedback.wrong, str(feedback)


def test_the_learners_exception_is_quoted_in_one_line():
    """An exception inside the answer is quoted in one line, with its type."""
    feedback = check("13.1", _raises)
    assert feedback.wrong == "your function raised ValueError: boom second line"


@pytest.mark.parametrize("bad_id", ["02.9", "2.1", "99.1", ""])
def test_an_unknown_id_lists_the_valid_ones(bad_id):
    """An unknown id raises a KeyError that is also a ValueError, listing the valid ids."""
    with pytest.raises(UnknownExerciseError) as caught:
        check(bad_id, None)
    assert isinstance(caught.value, KeyError) and isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert f"no exercise {bad_id!r}" in message and all(i in message for i in IDS)


def test_the_closest_ids_come_first():
    """For an id of a tutorial's page, the ids of that page are the closest."""
    with pytest.raises(UnknownExerciseError, match=r"the closest: 02\.1, 02\.2"):
        check("02.9", None)


def test_a_non_string_id_is_a_type_error():
    """check(2.1, ...) names the argument and the expected type."""
    with pytest.raises(TypeError, match="exercise_id must be a str such as '02.1', got float"):
        check(2.1, None)


def test_a_check_leaves_the_random_states_and_grad_mode_alone():
    """The random states and the grad mode are the same after a check as before."""

    def greedy(*args):
        torch.manual_seed(123)
        random.seed(1)
        np.random.seed(2)
        torch.set_grad_enabled(False)
        raise ValueError

    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    expected = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(0)
    random.seed(0)
    np.random.seed(0)
    check("13.1", greedy)
    check("12.2", SOLUTIONS["12.2"])
    assert torch.is_grad_enabled()
    assert torch.equal(torch.rand(3), expected[0]) and random.random() == expected[1]
    assert np.random.rand() == expected[2]


def test_the_same_answer_gets_the_same_feedback():
    """Checks are seeded: two checks of one answer print the same text."""
    assert str(check("16.1", cross_entropy_backward_sum)) == str(
        check("16.1", cross_entropy_backward_sum)
    )


def test_the_feedback_text():
    """str(feedback) has the verdict first, then right, wrong and hint, wrapped to 79."""
    feedback = check("16.1", cross_entropy_backward_sum)
    lines = str(feedback).splitlines()
    assert lines[0] == "16.1 Softmax cross-entropy's backward: not right yet"
    assert lines[1].startswith("  wrong: ") and any(x.startswith("  hint:  ") for x in lines)
    assert "forgot to divide by the batch size N = 5" in feedback.hint
    assert repr(feedback) == "Feedback('16.1', 'not right yet', ok=False)"


def test_value_node_checks_its_arguments():
    """value_node refuses a parent that is not a Value, and a local gradient count off."""
    a = Value(1.0)
    with pytest.raises(TypeError, match=r"parents\[0\] must be a Value, got float"):
        value_node(1.0, (1.0,), (1.0,))
    with pytest.raises(ValueError, match="one number per parent: 1 parent"):
        value_node(1.0, (a,), (1.0, 2.0))
    out = value_node(math.exp(1.0), (a,), (math.exp(1.0),), op="exp")
    out.backward()
    assert a.grad == math.exp(1.0) and out.op == "exp"


def test_every_check_is_fast():
    """Every reference solution is checked in well under 0.3 s (after a warm-up)."""
    check("08.1", SOLUTIONS["08.1"])  # the first gradient check warms vmap up
    slow = {}
    for exercise_id in IDS:
        start = time.perf_counter()
        check(exercise_id, SOLUTIONS[exercise_id])
        took = time.perf_counter() - start
        if took > 0.3:
            slow[exercise_id] = round(took, 3)
    assert not slow, slow

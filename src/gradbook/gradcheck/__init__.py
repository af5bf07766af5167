r"""Gradient checking that finds the bug and says what it is.

A gradient check compares the gradient that autograd (or a hand-written
``torch.autograd.Function.backward``) computes, the *analytical* gradient, with a
*numerical* one from finite differences. For a function :math:`f` with Jacobian
:math:`J = \partial f / \partial x` and an upstream gradient :math:`v`, autograd
returns the vector-Jacobian product :math:`v^T J`; the central difference

.. math::

    J_{:,k} \approx \frac{f(x + h e_k) - f(x - h e_k)}{2 h}

gives the same product numerically, one input element :math:`k` at a time. The
perturbed copies of an input are evaluated in batched calls (:func:`torch.func.vmap`),
compared element by element with the relative error

.. math::

    r_k = \frac{|a_k - n_k|}{\max(|a_k|, |n_k|, \tau_k)}

(:math:`a` analytical, :math:`n` numerical, :math:`\tau_k` a floor below which a
value counts as zero), and summed up in a :class:`GradientReport` that names the worst
element, both values, a verdict band and, where the pattern is clear, the likely
mistake (a factor of 2, a sign flip, a transpose, an ignored ``grad_output``, ...).

The main entry points are :func:`check_gradients` (returns a report),
:func:`assert_gradients` (raises :class:`GradientCheckError`),
:func:`check_module` (the parameters of an ``nn.Module``),
:func:`check_gradgrad` and :func:`assert_gradgrad` (the second order: the backward's
own gradient), :func:`numerical_jacobian`, and :func:`compare_tensors` (the same
comparison and diagnoses for a tensor against a reference, e.g. a hand-written
gradient against autograd's).

The subpackage, one file per part:

- ``_report``: the report classes and the text table;
- ``_numerics``: the stencils, the step rule and the batched evaluation of ``fn``;
- ``_compare``: the element-wise comparison, kinks, verdicts, diagnoses and problems;
- ``_analytical``: the vector-Jacobian products and the checks of the backward;
- ``_api``: the public functions;
- ``_second_order``: the second-order check, as a first-order check of the backward.
"""

from ._api import assert_gradients, check_gradients, check_module, numerical_jacobian
from ._compare import compare_tensors
from ._report import GradientCheckError, GradientReport, PairResult, WorstElement
from ._second_order import assert_gradgrad, check_gradgrad

__all__ = ["GradientCheckError", "GradientReport", "PairResult", "WorstElement"]
__all__ += ["assert_gradients", "check_gradients", "check_module", "numerical_jacobian"]
__all__ += ["assert_gradgrad", "check_gradgrad", "compare_tensors"]

# The documented import path is gradbook.gradcheck.X: help(), reprs, pickles and the
# docs' "Examples using" backreferences should show it, not the private file.
for _name in __all__:
    globals()[_name].__module__ = __name__
del _name

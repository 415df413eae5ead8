"""Helpers shared by the gradient tests: central differences, and a checker against PyTorch's values."""
import numpy as np

EPS = 1e-6
TOLERANCE = 1e-6  # relative to the largest |value| of the oracle's array
TINY = 1e-6       # below this scale the relative check becomes an absolute one


def numerical_gradient(f, x, eps=EPS):
    """Central-difference gradient of the scalar f(x) with respect to every entry of the float64 array x."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + eps
        f_plus = f(x)
        x[index] = original - eps
        f_minus = f(x)
        x[index] = original
        grad[index] = (f_plus - f_minus) / (2 * eps)
    return grad


def assert_gradient_close(analytic, numeric):
    """The float64 analytic gradient matches central differences to about 1e-6 of the gradient's scale."""
    assert analytic.shape == numeric.shape
    assert analytic.dtype == np.float64
    error = np.abs(analytic - numeric).max() / max(np.abs(numeric).max(), 1e-3)
    assert error < 1e-6, f"relative gradient error {error:.2e}"


def make_close_checker(relative_errors):
    """check(op, ours, theirs): max |ours - theirs| / max |theirs| <= 1e-6, recording the largest per op."""
    def check(op, ours, theirs):
        if hasattr(theirs, "detach"):
            theirs = theirs.detach().numpy()
        ours, theirs = np.asarray(ours), np.asarray(theirs)
        assert ours.shape == theirs.shape, f"{op}: shape {ours.shape} != torch's {theirs.shape}"
        error = float(np.abs(ours - theirs).max() / max(np.abs(theirs).max(), TINY))
        relative_errors[op] = max(relative_errors.get(op, 0.0), error)
        assert error <= TOLERANCE, f"{op}: relative error {error:.2e} against PyTorch"
    return check


def leaf(torch, array):
    """A float64 torch leaf tensor that records its gradient."""
    return torch.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)

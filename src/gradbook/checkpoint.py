r"""Checkpoints done safely: state_dicts only, written atomically, loaded without running code.

A checkpoint is one file made by ``torch.save`` holding a plain dictionary: the model's
``state_dict``, optionally the optimizer's, and metadata of plain Python types (numbers,
strings, lists, dicts). Never the pickled model object itself: unpickling an object can run
arbitrary code, and a pickled model breaks as soon as its class moves.

- **Atomic save.** The file is written under a temporary name in the same folder, flushed
  and ``fsync``-ed, then renamed over the target with ``os.replace`` (atomic on POSIX and
  Windows). A crash mid-save leaves the previous checkpoint as it was.
- **Safe load.** ``torch.load(..., weights_only=True)`` accepts tensors and plain
  containers only; a file that carries any other pickled object is refused and nothing
  in it is executed.
- **All or nothing.** :func:`load_checkpoint` checks the whole file against the model (and
  optimizer) before it changes anything, so on any error they are left as they were.
- **Under DDP, one file with plain keys.** Inside a ``torch.distributed`` process group,
  :func:`save_checkpoint` is called on every rank; rank 0 writes the file and the others
  wait until it is there. A ``DistributedDataParallel`` wrapper is saved and loaded
  through the model it wraps, so the keys carry no ``module.`` prefix: a checkpoint saved
  under DDP loads into a plain model, and one saved from a plain model loads under DDP.
- **A good file is never called corrupt.** A ``map_location`` naming a device this machine
  does not have is refused before the file is opened, and a file saved on such a device
  (a GPU checkpoint on a CPU machine) gets a message with the fix, ``map_location="cpu"``:
  torch raises a ``RuntimeError`` for both, as it does for a damaged file.

Besides the public names, the module holds the writing (``_write_atomically``, and
``_write_on_rank_zero`` inside a process group), the checks of the arguments
(``_check_file_path``, ``_check_save_path``, ``_check_map_location``), of the file
(``_check_model_state``, ``_check_optimizer_state``) and of the metadata
(``_check_plain``), and ``_safe_torch_load``, which turns torch's errors into messages
about the file.
"""

from __future__ import annotations

import copy
import os
import pickle
import re
import secrets
import warnings
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from gradbook._validation import (
    check_device,
    check_model,
    check_optimizer,
    check_path,
    type_name,
)

__all__ = ["CheckpointError", "load_checkpoint", "save_checkpoint"]

_FORMAT_KEY = "gradbook_checkpoint"
_FORMAT_VERSION = 1
_PLAIN_SCALARS = (type(None), bool, int, float, str)
# What torch's RuntimeError says when a file's tensors belong on a device this machine does
# not have ("Attempting to deserialize object on a CUDA device but torch.cuda.is_available()
# is False", "... on CUDA device 3 but torch.cuda.device_count() is 1", "Storage device not
# recognized: mps", "don't know how to restore data location of ... (tagged with xpu)").
_DEVICE_ERROR = re.compile(
    r"deserialize object on|device_count\(\)|Storage device not recognized|"
    r"restore data location|not compiled with|not linked with support"
)


class CheckpointError(ValueError):
    """A checkpoint file that cannot be loaded into the given model or optimizer.

    The message names the file and what is wrong with it.
    """


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    **metadata: Any,
) -> None:
    """Save ``model``'s (and ``optimizer``'s) state to ``path``, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        Destination file; its folder must exist. An existing file is replaced only once
        the new one is completely on disk. An empty path, or one that names a folder (an
        existing one, or one ending in a path separator), is a ``ValueError``, raised
        before anything is written.
    model : nn.Module
        The model; its ``state_dict()`` is saved (for a ``DistributedDataParallel`` or
        ``DataParallel`` wrapper, that of the model it wraps: plain keys).
    optimizer : torch.optim.Optimizer, optional
        Saved with its ``state_dict()`` and its class name, so that loading into a
        different kind of optimizer is caught.
    **metadata
        Plain values to keep alongside (``epoch=10``, ``val_loss=0.03``,
        ``config={"lr": 0.1}``): ``None``, bool, int, float, str, and lists, tuples and
        dicts (with str keys) of those. :func:`load_checkpoint` returns them.

    Raises
    ------
    TypeError, ValueError
        For an argument of the wrong kind or value; the message names it.
    FileNotFoundError
        When the folder of ``path`` does not exist.
    RuntimeError
        Inside a process group, on the ranks other than 0, when rank 0 could not write
        the file (rank 0 raises the error itself).

    Notes
    -----
    Inside a ``torch.distributed`` process group, call it on *every* rank, not under
    ``if rank == 0``: rank 0 writes the one file (the ranks hold the same weights, so one
    copy is all there is to keep, and several processes writing one path would race),
    then tells the others, which wait for it, whether it succeeded. No rank returns
    before the file is complete, so any rank may load it right after. Called on rank 0
    alone, it would wait forever for the others.

    Examples
    --------
    >>> import torch, tempfile, os
    >>> model = torch.nn.Linear(2, 1)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.pt")
    >>> save_checkpoint(path, model, epoch=3)
    >>> load_checkpoint(path, model)
    {'epoch': 3}
    """
    path = _check_save_path(path)
    check_model(model)
    check_optimizer(optimizer, allow_none=True)
    for key, value in metadata.items():
        _check_plain(value, key)

    def write() -> None:
        payload = {
            _FORMAT_KEY: _FORMAT_VERSION,
            "model": _plain_model(model).state_dict(),
            "optimizer": None if optimizer is None else optimizer.state_dict(),
            "optimizer_class": None if optimizer is None else _class_name(optimizer),
            "metadata": dict(metadata),
        }
        _write_atomically(path, payload)

    if dist.is_available() and dist.is_initialized():
        _write_on_rank_zero(path, write)
    else:
        write()


def _write_atomically(path: str, payload: dict) -> None:
    """``torch.save(payload)`` to a temporary file in ``path``'s folder, renamed over ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"cannot save checkpoint {path}: folder {folder} does not exist")
    # A unique name in the same folder: os.replace is only atomic within one file system.
    tmp = os.path.join(folder, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    # 0o666 so the process umask decides the final permissions, as for a plain open().
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the rename makes it visible
        os.replace(tmp, path)
    except BaseException:
        # Anything, even KeyboardInterrupt: drop the partial file, keep the old checkpoint.
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_folder(folder)


def _write_on_rank_zero(path: str, write: Callable[[], None]) -> None:
    """``write()`` on rank 0; then every rank learns from rank 0 whether it worked.

    The broadcast of that flag is the barrier: a rank returns only once rank 0 has
    finished writing (with NCCL the flag lives on this rank's GPU, which NCCL needs).
    """
    error: Exception | None = None
    if dist.get_rank() == 0:
        try:
            write()
        except Exception as exc:  # told to the others before it is raised here
            error = exc
    device = torch.device("cpu")
    if dist.get_backend() == "nccl":  # this rank's GPU, as gradbook.train.fit picks it
        index = int(os.environ.get("LOCAL_RANK", torch.cuda.current_device()))
        device = torch.device("cuda", index % torch.cuda.device_count())
    ok = torch.tensor([error is None], dtype=torch.uint8, device=device)
    dist.broadcast(ok, src=0)
    if error is not None:
        raise error
    if not ok.item():
        raise RuntimeError(
            f"rank 0 could not save checkpoint {path} (rank 0 raised the error); nothing "
            "was written"
        )


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    map_location: Any = None,
) -> dict[str, Any]:
    """Load a checkpoint made by :func:`save_checkpoint` into ``model`` (and ``optimizer``).

    The file is read with ``torch.load(..., weights_only=True)``, then checked in full
    (every parameter name and shape, the optimizer's class and parameter groups) before
    anything is loaded: on any error the model and the optimizer are unchanged.

    Parameters
    ----------
    path : str or os.PathLike
        The checkpoint file.
    model : nn.Module
        Receives the saved ``state_dict`` (strictly: same names, same shapes). A
        ``DistributedDataParallel`` or ``DataParallel`` wrapper loads into the model it
        wraps. Inside a process group, load on every rank; with NCCL, pass this rank's
        GPU as ``map_location`` (a checkpoint saved on ``cuda:0`` otherwise loads its
        tensors there first on every rank).
    optimizer : torch.optim.Optimizer, optional
        Receives the saved optimizer state; must be of the same class as the saved one.
        When omitted, a saved optimizer state is ignored.
    map_location : None, str, torch.device, dict or callable, optional
        Passed to ``torch.load``, e.g. ``"cpu"`` to load a checkpoint saved on a GPU on a
        machine without one. A device (a str or a ``torch.device``, or the values of a
        dict such as ``{"cuda:0": "cpu"}`` that maps saved locations to new ones) must be
        one this machine has.

    Returns
    -------
    dict
        The metadata given to :func:`save_checkpoint`.

    Raises
    ------
    TypeError, ValueError
        For an argument of the wrong kind or value (``map_location=5``, an empty
        ``path``), and for a ``map_location`` naming a device this machine does not have
        (``"cuda"`` on a CPU-only machine); the message names the argument.
    FileNotFoundError
        When ``path`` does not exist.
    CheckpointError
        When the file is truncated, is not a gradbook checkpoint, carries pickled objects
        other than tensors and plain data (refused, never executed), or does not fit the
        model or optimizer; also, for a good file, when its tensors were saved on a device
        this machine does not have (the message says to pass ``map_location="cpu"``).
    """
    path = _check_file_path(path)
    check_model(model)
    model = _plain_model(model)
    check_optimizer(optimizer, allow_none=True)
    _check_map_location(map_location)
    if not os.path.exists(path):
        raise FileNotFoundError(f"checkpoint file {path} does not exist")
    if os.path.isdir(path):
        raise CheckpointError(f"checkpoint {path} is a folder, not a checkpoint file")
    if not os.path.isfile(path):
        raise CheckpointError(f"checkpoint {path} is not a regular file")
    if os.path.getsize(path) == 0:
        raise CheckpointError(
            f"checkpoint {path} is empty (truncated: a save that never finished?)"
        )
    with open(path, "rb") as f:
        magic = f.read(4)
    # torch.save writes a zip archive; older torch versions wrote a pickle stream (0x80).
    if not (magic.startswith(b"PK\x03\x04") or magic.startswith(b"\x80")):
        raise CheckpointError(
            f"{path} is not a checkpoint: it is not a file written by torch.save "
            f"(starts with {magic!r})"
        )
    obj = _safe_torch_load(path, map_location)
    if not isinstance(obj, dict) or obj.get(_FORMAT_KEY) is None:
        raise CheckpointError(_not_a_checkpoint_message(path, obj))
    if obj[_FORMAT_KEY] != _FORMAT_VERSION:
        raise CheckpointError(
            f"{path} is a gradbook checkpoint of format version {obj[_FORMAT_KEY]!r}; "
            f"this gradbook reads version {_FORMAT_VERSION}"
        )
    model_state = obj.get("model")
    if not isinstance(model_state, dict):
        raise CheckpointError(f"{path} is damaged: it holds no model state_dict")
    _check_model_state(path, model, model_state)
    optimizer_state = obj.get("optimizer")
    if optimizer is not None:
        _check_optimizer_state(path, optimizer, optimizer_state, obj.get("optimizer_class"))

    # Everything fits; load, and roll back if torch still objects to something.
    model_backup = {k: v.detach().clone() for k, v in model.state_dict().items()}
    optimizer_backup = None if optimizer is None else copy.deepcopy(optimizer.state_dict())
    try:
        model.load_state_dict(model_state)
        if optimizer is not None:
            optimizer.load_state_dict(optimizer_state)
    except Exception as exc:
        model.load_state_dict(model_backup)
        if optimizer is not None:
            optimizer.load_state_dict(optimizer_backup)
        raise CheckpointError(f"could not load {path}: {exc}") from exc
    metadata = obj.get("metadata")
    return dict(metadata) if isinstance(metadata, dict) else {}


def _safe_torch_load(path: str, map_location: Any) -> Any:
    try:
        with warnings.catch_warnings():
            # Files pickled with protocol > 2 make torch warn before it refuses them; the
            # refusal below is the message that matters.
            warnings.filterwarnings(
                "ignore", message="Detected pickle protocol", category=UserWarning
            )
            return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = str(exc.__context__ or exc).strip().splitlines()[0].split(". ")[0][:200]
        if "GLOBAL" in reason:
            # The unpickler met a reference to a Python callable or class: code that would
            # run on load. It stopped there, before calling anything.
            what = "a pickled Python object that could run code on load"
        else:
            what = (
                "pickled data other than tensors and plain containers (corrupt, or no checkpoint)"
            )
        raise CheckpointError(
            f"refused to load {path}: it carries {what} ({reason}); nothing in it was "
            "executed. Load only checkpoints made by save_checkpoint."
        ) from None
    except RuntimeError as exc:
        if _DEVICE_ERROR.search(str(exc)):
            raise CheckpointError(_device_message(path, map_location, exc)) from None
        raise CheckpointError(_corrupt_message(path, exc)) from None
    except (OSError, EOFError, ValueError, KeyError) as exc:
        raise CheckpointError(_corrupt_message(path, exc)) from None


def _corrupt_message(path: str, exc: Exception) -> str:
    return (
        f"{path} is truncated or corrupt and cannot be read "
        f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})"
    )


def _device_message(path: str, map_location: Any, exc: RuntimeError) -> str:
    """For a good file whose tensors belong on a device that this machine does not have."""
    if map_location is None:
        where = "its tensors were saved on a device this machine does not have"
    else:
        shown = repr(map_location) if len(repr(map_location)) <= 60 else type_name(map_location)
        where = f"map_location={shown} names a device this machine does not have"
    reason = str(exc).splitlines()[0].split(". ")[0][:200]  # torch's first sentence
    return (
        f"cannot load {path}: {where} ({reason}). The file itself is fine: load it "
        "with map_location='cpu'"
    )


def _check_file_path(path: Any) -> str:
    """``path`` as a str: a str or os.PathLike, not empty."""
    path = check_path(path)
    if not path:
        raise ValueError("path must name a checkpoint file, got an empty path ''")
    return path


def _check_save_path(path: Any) -> str:
    """``path`` as a str, checked to name a file (not a folder) before anything is written."""
    path = _check_file_path(path)
    if os.path.isdir(path):
        example = os.path.join(path, "checkpoint.pt")
        raise ValueError(
            f"path {path!r} is an existing folder: give a file name in it, e.g. {example!r}"
        )
    if path.endswith(tuple(sep for sep in (os.sep, os.altsep) if sep)):
        raise ValueError(
            f"path {path!r} ends with a path separator, so it names a folder: give a file "
            f"name, e.g. {path + 'checkpoint.pt'!r}"
        )
    return path


def _check_map_location(map_location: Any) -> None:
    """``map_location`` is a kind that ``torch.load`` takes, naming devices this machine has."""
    if map_location is None or (callable(map_location) and not isinstance(map_location, type)):
        return
    if isinstance(map_location, (str, torch.device)):
        check_device(map_location, "map_location")
        return
    if not isinstance(map_location, dict):
        got = repr(map_location) if len(repr(map_location)) <= 40 else "..."
        raise TypeError(
            "map_location must be None, a str, a torch.device, a dict or a callable, "
            f"got {type_name(map_location)}: {got}"
        )
    for key, value in map_location.items():
        # torch looks the saved location tags ("cpu", "cuda:0") up among the keys, and
        # passes the values on as they are: both must be str, a torch.device would not do.
        for label, item in (("keys", key), ("values", value)):
            if not isinstance(item, str):
                raise TypeError(
                    "map_location as a dict maps saved locations to new ones, such as "
                    f"{{'cuda:0': 'cpu'}}; its {label} must be str, got {type_name(item)}: "
                    f"{item!r}"
                )
        check_device(value, f"map_location[{key!r}]")


def _not_a_checkpoint_message(path: str, obj: Any) -> str:
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return (
            f"{path} is not a gradbook checkpoint: it holds a bare state_dict; load it with "
            "model.load_state_dict(torch.load(path, weights_only=True))"
        )
    return f"{path} is not a gradbook checkpoint: it holds a {type_name(obj)}"


def _check_model_state(path: str, model: nn.Module, saved: dict) -> None:
    expected = model.state_dict()
    missing = [k for k in expected if k not in saved]
    unexpected = [k for k in saved if k not in expected]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {_names(missing)}")
        if unexpected:
            parts.append(f"unexpected {_names(unexpected)}")
        raise CheckpointError(f"{path} does not fit {type(model).__name__}: {'; '.join(parts)}")
    for name, target in expected.items():
        value = saved[name]
        if not isinstance(value, torch.Tensor):
            raise CheckpointError(
                f"{path} is damaged: {name!r} is a {type(value).__name__}, not a tensor"
            )
        if value.shape != target.shape:
            raise CheckpointError(
                f"{path} does not fit {type(model).__name__}: parameter {name!r} has shape "
                f"{tuple(value.shape)} in the checkpoint but {tuple(target.shape)} in the model"
            )


def _check_optimizer_state(
    path: str, optimizer: torch.optim.Optimizer, saved: Any, saved_class: Any
) -> None:
    if saved is None:
        raise CheckpointError(f"{path} holds no optimizer state (it was saved without one)")
    if saved_class != _class_name(optimizer):
        raise CheckpointError(
            f"{path} holds state for a {saved_class} optimizer; cannot load it into a "
            f"{_class_name(optimizer)}"
        )
    groups = saved.get("param_groups") if isinstance(saved, dict) else None
    if not isinstance(groups, list) or not isinstance(saved.get("state"), dict):
        raise CheckpointError(f"{path} is damaged: its optimizer state has no param_groups")
    current = optimizer.param_groups
    if len(groups) != len(current):
        raise CheckpointError(
            f"{path}: the saved optimizer has {len(groups)} parameter group(s), "
            f"this one has {len(current)}"
        )
    for i, (g_saved, g_now) in enumerate(zip(groups, current, strict=True)):
        n_saved, n_now = len(g_saved.get("params", ())), len(g_now["params"])
        if n_saved != n_now:
            raise CheckpointError(
                f"{path}: parameter group {i} of the saved optimizer holds {n_saved} "
                f"parameters, this optimizer's holds {n_now}"
            )


def _names(names: list[str], limit: int = 5) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return f"{shown}{more}"


def _plain_model(model: nn.Module) -> nn.Module:
    """The model inside a DDP or DataParallel wrapper, whose keys have no ``module.``."""
    if isinstance(model, (DistributedDataParallel, nn.DataParallel)):
        return model.module
    return model


def _class_name(obj: Any) -> str:
    cls = type(obj)
    return f"{cls.__module__}.{cls.__qualname__}"


def _check_plain(value: Any, where: str) -> None:
    """Metadata must survive ``weights_only=True`` loading: plain data only."""
    if isinstance(value, _PLAIN_SCALARS):
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"metadata {where!r} has a non-str key {key!r}")
            _check_plain(item, f"{where}[{key!r}]")
        return
    hint = " (use .tolist() or .item())" if isinstance(value, torch.Tensor) else ""
    raise TypeError(
        f"metadata {where!r} must be None, bool, int, float, str, or a list, tuple or dict "
        f"of those, got {type_name(value)}{hint}"
    )


def _fsync_folder(folder: str) -> None:
    """Make the rename itself durable. Best effort: not every OS or file system allows it."""
    if os.name == "nt":
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

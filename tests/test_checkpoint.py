"""Tests for gradbook.checkpoint: atomic saves, safe loads, all-or-nothing restores."""

from __future__ import annotations

import os
import pickle
import re

import pytest
import torch
from torch import nn

from gradbook.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from gradbook.models import MLP


def _trained(sizes=(3, 8, 2), seed=0, steps=2):
    """An MLP and an Adam optimizer that has taken a few steps (so it has state)."""
    torch.manual_seed(seed)
    model = MLP(list(sizes))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    X, y = torch.randn(16, sizes[0]), torch.randn(16, sizes[-1])
    for _ in range(steps):
        opt.zero_grad()
        nn.functional.mse_loss(model(X), y).backward()
        opt.step()
    return model, opt


def _snapshot(model, opt=None):
    state = {k: v.clone() for k, v in model.state_dict().items()}
    if opt is None:
        return state, None
    return state, pickle.dumps(opt.state_dict())


def _same(model, snapshot):
    return all(torch.equal(v, snapshot[k]) for k, v in model.state_dict().items())


def test_round_trip_restores_model_optimizer_and_metadata(tmp_path):
    """A fresh model and optimizer loaded from a checkpoint equal the saved ones."""
    model, opt = _trained()
    path = tmp_path / "ckpt.pt"
    meta = dict(epoch=7, val_loss=0.25, name="run-1", sizes=[3, 8, 2], cfg={"lr": 0.01}, tag=None)
    assert save_checkpoint(path, model, opt, **meta) is None
    fresh, fresh_opt = _trained(seed=1, steps=1)
    assert not _same(fresh, model.state_dict())
    assert load_checkpoint(path, fresh, fresh_opt) == meta
    assert _same(fresh, model.state_dict())
    saved_state, loaded_state = opt.state_dict()["state"], fresh_opt.state_dict()["state"]
    assert saved_state.keys() == loaded_state.keys()
    for i in saved_state:
        for key in ("step", "exp_avg", "exp_avg_sq"):
            assert torch.equal(saved_state[i][key], loaded_state[i][key])


def test_resumed_training_matches_uninterrupted_training(tmp_path):
    """Save after 2 steps, load into a fresh pair, take 2 more: same as 4 steps straight."""
    X, y = torch.randn(16, 3), torch.randn(16, 2)

    def step(model, opt):
        opt.zero_grad()
        nn.functional.mse_loss(model(X), y).backward()
        opt.step()

    model, opt = _trained()
    save_checkpoint(tmp_path / "c.pt", model, opt)
    step(model, opt)
    step(model, opt)
    resumed, resumed_opt = _trained(seed=5, steps=1)
    load_checkpoint(str(tmp_path / "c.pt"), resumed, resumed_opt)
    step(resumed, resumed_opt)
    step(resumed, resumed_opt)
    assert _same(resumed, model.state_dict())


def test_saved_file_holds_only_state_dicts_and_plain_data(tmp_path):
    """The file loads with weights_only=True and holds no pickled model object."""
    model, opt = _trained()
    save_checkpoint(tmp_path / "c.pt", model, opt, epoch=1)
    raw = torch.load(tmp_path / "c.pt", weights_only=True)
    assert set(raw) == {"gradbook_checkpoint", "model", "optimizer", "optimizer_class", "metadata"}
    assert all(isinstance(v, torch.Tensor) for v in raw["model"].values())


def test_optimizer_state_is_optional(tmp_path):
    """Without an optimizer, only the model is saved; a saved optimizer state may be ignored."""
    model, opt = _trained()
    save_checkpoint(tmp_path / "m.pt", model)
    fresh, _ = _trained(seed=1)
    assert load_checkpoint(tmp_path / "m.pt", fresh) == {}
    assert _same(fresh, model.state_dict())
    save_checkpoint(tmp_path / "mo.pt", model, opt)
    load_checkpoint(tmp_path / "mo.pt", fresh)


def test_overwrite_replaces_the_previous_checkpoint(tmp_path):
    """Saving to an existing path replaces it and leaves no temporary files behind."""
    model, _ = _trained()
    path = tmp_path / "c.pt"
    save_checkpoint(path, model, epoch=1)
    save_checkpoint(path, model, epoch=2)
    assert load_checkpoint(path, model) == {"epoch": 2}
    assert os.listdir(tmp_path) == ["c.pt"]


@pytest.mark.skipif(os.name == "nt", reason="POSIX permission bits")
def test_saved_file_permissions_follow_the_umask(tmp_path):
    """The checkpoint gets the permissions a plain open() would give it, not mkstemp's 0600."""
    model, _ = _trained()
    save_checkpoint(tmp_path / "c.pt", model)
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / "c.pt").stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("exc", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_crash_during_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch, exc):
    """A save that dies halfway leaves the old file intact and no temporary file behind."""
    model, opt = _trained()
    path = tmp_path / "c.pt"
    save_checkpoint(path, model, opt, epoch=1)
    before = path.read_bytes()
    real_save = torch.save

    def crashing_save(obj, f, *args, **kwargs):
        real_save(obj, f, *args, **kwargs)
        f.seek(0)
        f.truncate(100)  # leave a half-written file, then die
        raise exc

    monkeypatch.setattr(torch, "save", crashing_save)
    newer, newer_opt = _trained(seed=3)
    with pytest.raises(type(exc)):
        save_checkpoint(path, newer, newer_opt, epoch=2)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.pt"]
    fresh, fresh_opt = _trained(seed=1)
    assert load_checkpoint(path, fresh, fresh_opt) == {"epoch": 1}
    assert _same(fresh, model.state_dict())


def test_missing_file_and_missing_folder(tmp_path):
    """A missing checkpoint, or a save into a missing folder, names the path."""
    model, _ = _trained()
    missing = tmp_path / "nope.pt"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        load_checkpoint(missing, model)
    with pytest.raises(FileNotFoundError, match="folder .*does not exist"):
        save_checkpoint(tmp_path / "no" / "such" / "c.pt", model)


def _write_truncated_half(path, model, opt):
    save_checkpoint(path, model, opt)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _write_truncated_tail(path, model, opt):
    save_checkpoint(path, model, opt)
    path.write_bytes(path.read_bytes()[:-20])


def _write_truncated_head(path, model, opt):
    save_checkpoint(path, model, opt)
    path.write_bytes(path.read_bytes()[:100])


def _write_empty(path, model, opt):
    path.write_bytes(b"")


def _write_random(path, model, opt):
    path.write_bytes(torch.randint(0, 256, (2000,), dtype=torch.uint8).numpy().tobytes())


def _write_text(path, model, opt):
    path.write_text("epoch,loss\n1,0.5\n")


def _write_tensor(path, model, opt):
    torch.save(torch.randn(3, 3), path)


def _write_bare_state_dict(path, model, opt):
    torch.save(model.state_dict(), path)


def _write_plain_pickle(path, model, opt):
    with open(path, "wb") as f:
        pickle.dump({"a": [1, 2, 3]}, f, protocol=4)


@pytest.mark.parametrize(
    ("writer", "match"),
    [
        (_write_truncated_half, "truncated or corrupt"),
        (_write_truncated_tail, "truncated or corrupt"),
        (_write_truncated_head, "truncated or corrupt"),
        (_write_empty, "empty"),
        (_write_random, "not a checkpoint"),
        (_write_text, "not a checkpoint"),
        (_write_tensor, "not a gradbook checkpoint: it holds a Tensor"),
        (_write_bare_state_dict, "bare state_dict"),
        (_write_plain_pickle, "refused to load"),
    ],
)
def test_unreadable_files_are_named_and_change_nothing(tmp_path, writer, match):
    """Truncated, empty and foreign files raise CheckpointError naming the file; nothing loads."""
    model, opt = _trained()
    path = tmp_path / "bad.pt"
    writer(path, model, opt)
    target, target_opt = _trained(seed=1)
    snap, snap_opt = _snapshot(target, target_opt)
    with pytest.raises(CheckpointError, match=match) as info:
        load_checkpoint(path, target, target_opt)
    assert str(path) in str(info.value)
    assert _same(target, snap) and pickle.dumps(target_opt.state_dict()) == snap_opt


def test_shape_mismatch_names_the_parameter_and_changes_nothing(tmp_path):
    """Loading into a model of another width names the first parameter whose shape differs."""
    model, _ = _trained(sizes=(3, 8, 2))
    save_checkpoint(tmp_path / "c.pt", model)
    other, _ = _trained(sizes=(3, 9, 2))
    snap, _ = _snapshot(other)
    with pytest.raises(CheckpointError, match=r"'layers\.0\.weight' has shape \(8, 3\) in the "
                       r"checkpoint but \(9, 3\) in the model") as info:  # fmt: skip
        load_checkpoint(tmp_path / "c.pt", other)
    assert str(tmp_path / "c.pt") in str(info.value)
    assert _same(other, snap)


def test_missing_and_unexpected_keys_are_listed(tmp_path):
    """A checkpoint of a different architecture lists the missing and unexpected names."""
    model, _ = _trained(sizes=(3, 8, 2))
    save_checkpoint(tmp_path / "c.pt", model)
    deeper, _ = _trained(sizes=(3, 8, 8, 2))
    with pytest.raises(CheckpointError, match=r"missing 'layers\.4\.weight', 'layers\.4\.bias'"):
        load_checkpoint(tmp_path / "c.pt", deeper)
    with pytest.raises(CheckpointError, match=r"unexpected 'layers\.0\.weight'"):
        load_checkpoint(tmp_path / "c.pt", nn.Linear(3, 2))


def test_optimizer_of_another_kind_is_refused_before_anything_loads(tmp_path):
    """Adam state into SGD is refused, and the model (which would fit) is left unchanged too."""
    model, opt = _trained()
    save_checkpoint(tmp_path / "c.pt", model, opt)
    target, _ = _trained(seed=1)
    sgd = torch.optim.SGD(target.parameters(), lr=0.1, momentum=0.9)
    snap, snap_opt = _snapshot(target, sgd)
    with pytest.raises(CheckpointError, match="state for a torch.optim.adam.Adam optimizer.*SGD"):
        load_checkpoint(tmp_path / "c.pt", target, sgd)
    assert _same(target, snap) and pickle.dumps(sgd.state_dict()) == snap_opt


def test_optimizer_with_other_groups_or_no_saved_state_is_refused(tmp_path):
    """Different parameter groups, or no optimizer in the file, are clear errors."""
    model, opt = _trained()
    save_checkpoint(tmp_path / "c.pt", model, opt)
    target, _ = _trained(seed=1)
    partial = torch.optim.Adam(target.layers[0].parameters())
    with pytest.raises(CheckpointError, match="group 0 .* holds 4 parameters, .* holds 2"):
        load_checkpoint(tmp_path / "c.pt", target, partial)
    save_checkpoint(tmp_path / "m.pt", model)
    with pytest.raises(CheckpointError, match="holds no optimizer state"):
        load_checkpoint(tmp_path / "m.pt", target, torch.optim.Adam(target.parameters()))


def _write_marker(path):
    """What a malicious checkpoint would run on load: here, only create a file."""
    with open(path, "w") as f:
        f.write("code ran")


class _Evil:
    """Pickles as a call to _write_marker: unpickling it runs code."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (_write_marker, (str(self.marker),))


def _evil_zip(path, payload):
    torch.save(payload, path)


def _evil_legacy(path, payload):
    torch.save(payload, path, _use_new_zipfile_serialization=False)


def _evil_pickle(path, payload):
    with open(path, "wb") as f:
        pickle.dump(payload, f, protocol=2)


@pytest.mark.parametrize("write", [_evil_zip, _evil_legacy, _evil_pickle])
@pytest.mark.parametrize("where", ["top", "metadata"])
def test_file_with_pickled_code_is_refused_never_executed(tmp_path, write, where):
    """A file whose unpickling would run code is refused with an error naming it; nothing runs."""
    marker = tmp_path / "marker"
    evil = _Evil(marker)
    model, _ = _trained()
    if where == "top":
        payload = evil
    else:  # hidden in an otherwise well-formed checkpoint
        payload = {
            "gradbook_checkpoint": 1,
            "model": model.state_dict(),
            "optimizer": None,
            "optimizer_class": None,
            "metadata": {"note": evil},
        }
    path = tmp_path / "evil.pt"
    write(path, payload)
    # The marker really is what unpickling without weights_only would create.
    assert not marker.exists()
    target, _ = _trained(seed=1)
    snap, _ = _snapshot(target)
    with pytest.raises(CheckpointError, match="refused to load .*could run code") as info:
        load_checkpoint(path, target)
    assert str(path) in str(info.value)
    assert not marker.exists()
    assert _same(target, snap)


def test_the_malicious_payload_is_real(tmp_path):
    """Guard for the test above: plain pickle.loads of _Evil does create the marker."""
    marker = tmp_path / "marker"
    pickle.loads(pickle.dumps(_Evil(marker)))
    assert marker.read_text() == "code ran"


@pytest.mark.parametrize(
    ("metadata", "match"),
    [
        ({"w": torch.ones(2)}, r"'w' .*got Tensor \(use \.tolist\(\)"),
        ({"fn": print}, "'fn' must be None, bool, int, float, str"),
        ({"cfg": {"inner": [1, object()]}}, r"cfg\['inner'\]\[1\]"),
        ({"cfg": {1: "a"}}, "non-str key 1"),
    ],
)
def test_metadata_must_be_plain(tmp_path, metadata, match):
    """Metadata that would not survive weights_only loading is refused at save time."""
    model, _ = _trained()
    with pytest.raises(TypeError, match=match):
        save_checkpoint(tmp_path / "c.pt", model, **metadata)
    assert not os.listdir(tmp_path)


def test_argument_types_are_checked(tmp_path):
    """Wrong argument types are TypeErrors naming the argument."""
    model, _ = _trained()
    with pytest.raises(TypeError, match="path"):
        save_checkpoint(3, model)
    with pytest.raises(TypeError, match="model"):
        save_checkpoint(tmp_path / "c.pt", {"w": 1})
    with pytest.raises(TypeError, match="optimizer"):
        save_checkpoint(tmp_path / "c.pt", model, "adam")


def test_map_location_loads_onto_the_cpu(tmp_path):
    """map_location is passed to torch.load."""
    model, opt = _trained()
    save_checkpoint(tmp_path / "c.pt", model, opt)
    fresh, fresh_opt = _trained(seed=1)
    load_checkpoint(tmp_path / "c.pt", fresh, fresh_opt, map_location="cpu")
    assert _same(fresh, model.state_dict())


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_checkpoint_loads_into_a_cpu_model(tmp_path):
    """A checkpoint saved from a GPU model loads into a CPU model with map_location='cpu'."""
    model, opt = _trained()
    model.cuda()
    save_checkpoint(tmp_path / "c.pt", model)
    fresh, _ = _trained(seed=1)
    load_checkpoint(tmp_path / "c.pt", fresh, map_location="cpu")
    assert _same(fresh, {k: v.cpu() for k, v in model.state_dict().items()})


# ------------------------------------------------------------------ issue 13: bad arguments


def test_an_empty_path_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    """save_checkpoint("") raises ValueError naming path, and writes nothing, here or above."""
    model, _ = _trained()
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    with pytest.raises(ValueError, match="path must name a checkpoint file, got an empty path"):
        save_checkpoint("", model)
    assert os.listdir(tmp_path) == ["here"] and os.listdir(here) == []
    with pytest.raises(ValueError, match="path must name a checkpoint file, got an empty path"):
        load_checkpoint("", model)


def test_a_folder_as_path_is_refused_before_anything_is_written(tmp_path):
    """An existing folder, or a path ending in a separator, is a ValueError naming path."""
    model, _ = _trained()
    folder = tmp_path / "runs"
    folder.mkdir()
    with pytest.raises(ValueError, match=r"path '.*runs' is an existing folder: give a file "
                       r"name in it, e.g. '.*runs/checkpoint\.pt'"):  # fmt: skip
        save_checkpoint(folder, model)
    with pytest.raises(ValueError, match="ends with a path separator, so it names a folder"):
        save_checkpoint(str(tmp_path / "new") + os.sep, model)
    assert sorted(os.listdir(tmp_path)) == ["runs"] and os.listdir(folder) == []
    with pytest.raises(CheckpointError, match="is a folder, not a checkpoint file"):
        load_checkpoint(folder, model)


@pytest.mark.parametrize(
    ("map_location", "error", "match"),
    [
        (5, TypeError, "map_location must be None, a str, a torch.device, a dict or a callable, "
         "got int: 5"),
        (torch.device, TypeError, "map_location must be None, a str, .* got type"),
        ([("cuda:0", "cpu")], TypeError, "map_location must be None, .* got list"),
        ({"cuda:0": torch.device("cpu")}, TypeError, "its values must be str, got device"),
        ({0: "cpu"}, TypeError, "its keys must be str, got int"),
        ("gpu", ValueError, "map_location 'gpu' is not a valid torch device"),
    ],
)  # fmt: skip
def test_map_location_of_the_wrong_kind_is_named(tmp_path, map_location, error, match):
    """A map_location that torch.load cannot take raises an error naming map_location."""
    model, _ = _trained()
    save_checkpoint(tmp_path / "c.pt", model)
    with pytest.raises(error, match=match):
        load_checkpoint(tmp_path / "c.pt", model, map_location=map_location)


@pytest.mark.parametrize(
    "map_location",
    ["cpu", torch.device("cpu"), {"cpu": "cpu"}, lambda storage, location: storage],
    ids=["str", "device", "dict", "callable"],
)
def test_every_kind_of_map_location_loads(tmp_path, map_location):
    """map_location as a str, a torch.device, a dict or a callable is passed on and loads."""
    model, opt = _trained()
    save_checkpoint(tmp_path / "c.pt", model, opt)
    fresh, fresh_opt = _trained(seed=1)
    load_checkpoint(tmp_path / "c.pt", fresh, fresh_opt, map_location=map_location)
    assert _same(fresh, model.state_dict())


def test_load_argument_types_are_checked(tmp_path):
    """Wrong argument types of load_checkpoint are TypeErrors naming the argument."""
    model, _ = _trained()
    save_checkpoint(tmp_path / "c.pt", model)
    with pytest.raises(TypeError, match="path must be a str or os.PathLike, got int"):
        load_checkpoint(3, model)
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, got dict"):
        load_checkpoint(tmp_path / "c.pt", {"w": 1})
    with pytest.raises(TypeError, match=r"model must be .*create one with MLP\("):
        load_checkpoint(tmp_path / "c.pt", MLP)
    with pytest.raises(TypeError, match="optimizer must be a torch.optim.Optimizer or None"):
        load_checkpoint(tmp_path / "c.pt", model, "adam")


# ------------------------------------------------------------------ issue 13: devices


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("map_location", ["cuda", torch.device("cuda"), {"cpu": "cuda:0"}])
def test_map_location_cuda_on_a_cpu_machine_names_the_device_not_the_file(tmp_path, map_location):
    """map_location naming CUDA on this CPU machine says so, with the fix; the file still loads."""
    model, opt = _trained()
    path = tmp_path / "c.pt"
    save_checkpoint(path, model, opt)
    target, target_opt = _trained(seed=1)
    snap, snap_opt = _snapshot(target, target_opt)
    with pytest.raises(ValueError) as info:
        load_checkpoint(path, target, target_opt, map_location=map_location)
    message = str(info.value)
    assert re.match(
        r"map_location(\['cpu'\])?=.* names a device this machine does not have", message
    )
    assert "CUDA" in message and message.endswith("='cpu'")  # the fix: map_location='cpu'
    assert "corrupt" not in message and "truncated" not in message
    assert _same(target, snap) and pickle.dumps(target_opt.state_dict()) == snap_opt
    load_checkpoint(path, target, target_opt, map_location="cpu")  # the file is fine
    assert _same(target, model.state_dict())


@pytest.mark.skipif(torch.backends.mps.is_available(), reason="needs a machine without MPS")
def test_map_location_mps_without_mps_names_the_device(tmp_path):
    """map_location='mps' where MPS is missing raises ValueError naming map_location."""
    model, _ = _trained()
    save_checkpoint(tmp_path / "c.pt", model)
    with pytest.raises(ValueError, match="map_location='mps' names a device this machine does "
                       "not have: .*MPS.*; use map_location='cpu'"):  # fmt: skip
        load_checkpoint(tmp_path / "c.pt", model, map_location="mps")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_checkpoint_saved_on_a_gpu_loads_on_a_cpu_machine_with_the_fix(tmp_path, monkeypatch):
    """A file whose tensors were saved on CUDA, loaded here without map_location, gets a
    CheckpointError that says the file is fine and to pass map_location='cpu', which works."""
    model, opt = _trained()
    path = tmp_path / "gpu.pt"
    # torch.save tags each storage with where it lives; tag them as a GPU save would.
    monkeypatch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
    save_checkpoint(path, model, opt, epoch=4)
    monkeypatch.undo()
    target, target_opt = _trained(seed=1)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, target, target_opt)
    message = str(info.value)
    start = f"cannot load {path}: its tensors were saved on a device this machine does not have"
    assert message.startswith(start + " (Attempting to deserialize object on a CUDA device")
    assert message.endswith("The file itself is fine: load it with map_location='cpu'")
    assert "corrupt" not in message
    assert load_checkpoint(path, target, target_opt, map_location="cpu") == {"epoch": 4}
    assert _same(target, model.state_dict())

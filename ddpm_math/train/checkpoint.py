"""Atomic, hash-checked, exactly resumable training checkpoints (safetensors + JSON only).

On disk a run directory holds one folder per saved step::

    RUN/checkpoints/step_00000030/
        model.safetensors       the model's state_dict
        ema.safetensors         the EMA weights
        optimizer.safetensors   every tensor of optimizer.state_dict(), keyed by where it sits
                                ("state.0.exp_avg", "state.0.step", ...)
        extra.safetensors       any other named tensors (RNG states, sampler history, ...)
        state.json              format version, step, config, meta, the optimizer's non-tensor
                                state, and the SHA-256 and size of each .safetensors file

A save writes everything into ``RUN/checkpoints/.tmp-step_00000030-<random>``, fsyncs each file
and the folder, renames the folder to its final name and fsyncs the parent, so a step folder only
ever appears complete. Loading reads safetensors and JSON and nothing else; no code or object
deserialisation happens, so a checkpoint from an untrusted source cannot run code.

Resuming exactly: ``tensors, rng = capture_rng_state({"data": gen})``, then
``save_checkpoint(..., extra={**tensors, ...}, meta={"rng": rng})``; after
``ckpt = load_checkpoint(run_dir)`` call ``restore_rng_state(ckpt.extra, ckpt.meta["rng"], ...)``.

One process saves into a run directory at a time: a save deletes every ``.tmp-*`` folder there.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import safetensors.torch
import torch
from safetensors import SafetensorError

# the RNG helpers live in their own module; a checkpoint stores what they capture
from ddpm_math.train.rng import capture_rng_state, restore_rng_state
from ddpm_math.train.state_codec import decode_state, encode_state, storable

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "capture_rng_state",
    "latest_checkpoint",
    "list_checkpoints",
    "load_checkpoint",
    "restore_rng_state",
    "save_checkpoint",
]
FORMAT = "ddpm_math.checkpoint"
FORMAT_VERSION = 1
TENSOR_FILES = ("model", "ema", "optimizer", "extra")
STATE_FILE = "state.json"
CHECKPOINTS_DIR = "checkpoints"
TMP_PREFIX = ".tmp-"
_STEP_DIR = re.compile(r"step_(\d{8,})")


class CheckpointError(ValueError):
    """A checkpoint is missing, incomplete, corrupted or of an unknown format (one-line message)."""


@dataclass
class Checkpoint:
    """One loaded checkpoint; ``optimizer`` is ready for ``optimizer.load_state_dict``."""

    path: Path
    step: int
    config: dict
    model: dict[str, torch.Tensor]
    ema: dict[str, torch.Tensor]
    optimizer: dict
    extra: dict[str, torch.Tensor]
    meta: dict


# ----------------------------------------------------------------------------- saving


def save_checkpoint(
    run_dir: str | os.PathLike,
    *,
    step: int,
    config: dict,
    model: Mapping[str, torch.Tensor],
    ema: Mapping[str, torch.Tensor],
    optimizer: dict,
    extra: Mapping[str, torch.Tensor] | None = None,
    meta: dict | None = None,
    keep_last: int = 3,
) -> Path:
    """Write ``RUN/checkpoints/step_<step>`` atomically and return its path.

    Resaving an existing step replaces it. After the save, step folders older than the newest
    ``keep_last`` (counting this one) and stale ``.tmp-*`` folders are deleted; folders of later
    steps are left alone. ``config`` and ``meta`` must be JSON-serialisable (tuples come back as
    lists); the optimizer state dict round-trips exactly, tuples and integer keys included.
    """
    _check_int("step", step, minimum=0)
    _check_int("keep_last", keep_last, minimum=1)
    optimizer_tensors: dict[str, torch.Tensor] = {}
    if not isinstance(optimizer, dict):
        raise TypeError(f"optimizer must be an optimizer.state_dict() dict, got {type(optimizer)}")
    optimizer_json = encode_state(optimizer, optimizer_tensors)
    tensors = {
        "model": _tensor_dict("model", model),
        "ema": _tensor_dict("ema", ema),
        "optimizer": optimizer_tensors,
        "extra": _tensor_dict("extra", {} if extra is None else extra),
    }
    state = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "step": step,
        "config": _check_json("config", config),
        "meta": _check_json("meta", {} if meta is None else meta),
        "optimizer": optimizer_json,
        "keys": {name: list(tensors[name]) for name in ("model", "ema", "extra")},
        "files": {},
    }
    ckpt_dir = Path(run_dir) / CHECKPOINTS_DIR
    if not ckpt_dir.is_dir():
        ckpt_dir.mkdir(parents=True, exist_ok=True)
        _fsync_dir(ckpt_dir.parent)
    final = ckpt_dir / _step_name(step)
    _write_step_dir(ckpt_dir, final, tensors, state)
    _prune(ckpt_dir, step, keep_last)
    return final


def _write_step_dir(ckpt_dir: Path, final: Path, tensors: dict, state: dict) -> None:
    """Write into a temporary sibling folder, then rename it to ``final`` (atomically)."""
    tmp = ckpt_dir / f"{TMP_PREFIX}{final.name}-{secrets.token_hex(4)}"
    aside = ckpt_dir / f"{TMP_PREFIX}{final.name}-old-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        for name in TENSOR_FILES:
            data = safetensors.torch.save(storable(tensors[name]), metadata={"format": "pt"})
            _write_file(tmp / f"{name}.safetensors", data)
            state["files"][f"{name}.safetensors"] = {
                "sha256": hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
            }
        _write_file(tmp / STATE_FILE, json.dumps(state, indent=1).encode())
        _fsync_dir(tmp)
        if final.exists():  # resaving a step: move the old folder aside, never delete it first
            os.rename(final, aside)
        os.rename(tmp, final)
        _fsync_dir(ckpt_dir)
    except BaseException:
        if aside.exists() and not final.exists():
            os.rename(aside, final)
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(aside, ignore_errors=True)


def _write_file(path: Path, data: bytes) -> None:
    """Create ``path`` with ``data`` and fsync it."""
    with open(path, "xb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    """Make a directory's entries durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _prune(ckpt_dir: Path, step: int, keep_last: int) -> None:
    """Delete step folders older than the newest ``keep_last`` up to ``step``, and ``.tmp-*``."""
    older = [p for p in _step_dirs(ckpt_dir) if _step_of(p) < step]
    for path in older[: max(0, len(older) - (keep_last - 1))]:
        aside = ckpt_dir / f"{TMP_PREFIX}{path.name}-del-{secrets.token_hex(4)}"
        try:
            os.rename(path, aside)  # disappears at once, never half-deleted under its name
        except OSError:
            continue
    for path in ckpt_dir.iterdir():
        if path.name.startswith(TMP_PREFIX):
            shutil.rmtree(path, ignore_errors=True)


def _tensor_dict(name: str, tensors: Mapping) -> dict[str, torch.Tensor]:
    """Check that ``tensors`` maps str to torch.Tensor."""
    if not isinstance(tensors, Mapping):
        raise TypeError(f"{name} must be a dict of str -> torch.Tensor, got {type(tensors)}")
    for key, value in tensors.items():
        if not isinstance(key, str):
            raise TypeError(f"{name}: key {key!r} must be a str")
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"{name}[{key!r}] must be a torch.Tensor, got {type(value).__name__}")
    return dict(tensors)


def _check_int(name: str, value: object, *, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int >= {minimum}, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value}")


def _check_json(name: str, value: object) -> object:
    if not isinstance(value, dict):
        raise TypeError(f"{name} must be a JSON-serialisable dict, got {type(value).__name__}")
    try:
        json.dumps(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be JSON-serialisable: {exc}") from None
    return value


# ----------------------------------------------------------------------------- loading


def load_checkpoint(path: str | os.PathLike, *, map_location: str | torch.device = "cpu"
                    ) -> Checkpoint:
    """Load a step folder, or the latest complete checkpoint of a run directory.

    ``model``, ``ema`` and ``extra`` are moved to ``map_location``; the optimizer's tensors stay
    on the CPU, where ``optimizer.load_state_dict`` moves them to each parameter's device itself.
    """
    path = _check_path(path, "path")
    if not path.exists():
        raise CheckpointError(f"no checkpoint or run directory at {path}")
    if not path.is_dir():
        raise CheckpointError(f"{path} is a file, not a run directory or a step folder")
    if _step_of(path) is not None or (path / STATE_FILE).exists():
        return _load_step_dir(path, map_location)
    ckpt_dir = path / CHECKPOINTS_DIR
    candidates = _step_dirs(ckpt_dir)
    for candidate in reversed(candidates):
        try:
            return _load_step_dir(candidate, map_location)
        except CheckpointError:
            continue
    skipped = f" ({len(candidates)} incomplete or corrupted step folders)" if candidates else ""
    raise CheckpointError(f"no complete checkpoint in {ckpt_dir}{skipped}")


def latest_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest complete, hash-verified step folder of a run directory, or None."""
    for candidate in reversed(_step_dirs(_check_path(run_dir, "run_dir") / CHECKPOINTS_DIR)):
        if _is_complete(candidate):
            return candidate
    return None


def list_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """The complete, hash-verified step folders of a run directory, oldest step first."""
    return [p for p in _step_dirs(_check_path(run_dir, "run_dir") / CHECKPOINTS_DIR)
            if _is_complete(p)]


def _check_path(path: object, name: str) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path (str or os.PathLike), got "
                        f"{type(path).__name__} {path!r}")
    return Path(path)


def _step_name(step: int) -> str:
    return f"step_{step:08d}"


def _step_of(path: Path) -> int | None:
    match = _STEP_DIR.fullmatch(path.name)
    return int(match.group(1)) if match else None


def _step_dirs(ckpt_dir: Path) -> list[Path]:
    """Step folders (complete or not) of a checkpoints folder, by step; ``.tmp-*`` excluded."""
    if not ckpt_dir.is_dir():
        return []
    found = [p for p in ckpt_dir.iterdir() if _step_of(p) is not None and p.is_dir()]
    return sorted(found, key=_step_of)


def _is_complete(step_dir: Path) -> bool:
    try:
        state = _read_state(step_dir)
        for name in TENSOR_FILES:
            file = step_dir / f"{name}.safetensors"
            _check_bytes(file, _digest(file), state["files"][file.name])
    except CheckpointError:
        return False
    return True


def _digest(file: Path) -> tuple[int, str]:
    """(size, SHA-256) of a file, read in chunks."""
    sha = hashlib.sha256()
    size = 0
    try:
        with open(file, "rb") as f:
            while chunk := f.read(1 << 20):
                sha.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        raise CheckpointError(f"{file} is missing (incomplete checkpoint)") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read {file}: {exc.strerror}") from None
    return size, sha.hexdigest()


def _check_bytes(file: Path, digest: tuple[int, str], expected: dict) -> None:
    size, sha256 = digest
    if size != expected["bytes"]:
        raise CheckpointError(
            f"{file} has {size} bytes, state.json records {expected['bytes']} "
            "(truncated or modified)"
        )
    if sha256 != expected["sha256"]:
        raise CheckpointError(
            f"{file} does not match its SHA-256 in state.json (corrupted or modified)"
        )


def _read_state(step_dir: Path) -> dict:
    """Parse and validate ``state.json`` of a step folder."""
    file = step_dir / STATE_FILE
    if not file.is_file():
        raise CheckpointError(f"{file} is missing (incomplete checkpoint)")
    try:
        state = json.loads(file.read_bytes())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CheckpointError(f"cannot read {file}: {exc}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{file} is not a ddpm_math checkpoint state file")
    if state.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{file} has format version {state.get('format_version')!r}; "
            f"this ddpm_math reads version {FORMAT_VERSION}"
        )
    files = state.get("files")
    entries = [files.get(f"{name}.safetensors") if isinstance(files, dict) else None
               for name in TENSOR_FILES]
    ok = (isinstance(state.get("step"), int) and isinstance(state.get("config"), dict)
          and isinstance(state.get("meta"), dict) and "optimizer" in state
          and isinstance(state.get("keys"), dict)
          and all(isinstance(entry, dict) and isinstance(entry.get("bytes"), int)
                  and isinstance(entry.get("sha256"), str) for entry in entries))
    if not ok:
        raise CheckpointError(f"{file} lacks step, config, meta or a file's hash")
    named_step = _step_of(step_dir)
    if named_step is not None and named_step != state["step"]:
        raise CheckpointError(f"{file} records step {state['step']}, the folder name {named_step}")
    return state


def _load_step_dir(step_dir: Path, map_location: str | torch.device) -> Checkpoint:
    state = _read_state(step_dir)
    loaded: dict[str, dict[str, torch.Tensor]] = {}
    for name in TENSOR_FILES:
        file = step_dir / f"{name}.safetensors"
        try:
            data = file.read_bytes()
        except FileNotFoundError:
            raise CheckpointError(f"{file} is missing (incomplete checkpoint)") from None
        except OSError as exc:
            raise CheckpointError(f"cannot read {file}: {exc.strerror}") from None
        _check_bytes(file, (len(data), hashlib.sha256(data).hexdigest()), state["files"][file.name])
        try:
            loaded[name] = safetensors.torch.load(data)
        except SafetensorError as exc:
            raise CheckpointError(f"{file} is not a valid safetensors file: {exc}") from None
    used: set[str] = set()
    try:
        optimizer = decode_state(state["optimizer"], loaded["optimizer"], used)
    except (KeyError, TypeError, ValueError) as exc:
        message = f"{step_dir / STATE_FILE}: malformed optimizer state ({exc!r})"
        raise CheckpointError(message) from None
    if used != set(loaded["optimizer"]):
        raise CheckpointError(f"{step_dir}: optimizer.safetensors and state.json do not match")

    def moved(name: str) -> dict[str, torch.Tensor]:
        """The tensors of one file in the order they were saved, on ``map_location``."""
        order = state["keys"].get(name)
        if not isinstance(order, list) or sorted(order) != sorted(loaded[name]):
            raise CheckpointError(f"{step_dir}: {name}.safetensors and state.json do not match")
        return {key: loaded[name][key].to(map_location) for key in order}

    return Checkpoint(
        path=step_dir, step=state["step"], config=state["config"], model=moved("model"),
        ema=moved("ema"), optimizer=optimizer, extra=moved("extra"), meta=state["meta"],
    )


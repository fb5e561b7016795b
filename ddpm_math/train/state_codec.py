"""How a checkpoint stores a nested state dict: tensors apart, the rest as JSON.

``encode_state`` turns an optimizer's ``state_dict()`` (or any nest of dicts, lists and tuples
over tensors and JSON scalars) into JSON, moving each tensor into a flat ``{dotted path:
tensor}`` dict for safetensors; ``decode_state`` inverts it exactly, tuples and integer keys
included (plain JSON would turn both into lists and strings). ``storable`` makes tensors
safetensors can write: detached, on the CPU, contiguous and each with its own storage.
"""

from __future__ import annotations

import torch

__all__ = ["decode_state", "encode_state", "storable"]

_TAGS = ("__tensor__", "__tuple__", "__dict__")
_JSON_SCALARS = (type(None), bool, int, float, str)


def _join(path: str, key: object) -> str:
    return f"{path}.{key}" if path else str(key)


def encode_state(value: object, tensors: dict[str, torch.Tensor], path: str = "") -> object:
    """JSON form of a nested state dict; tensors go to ``tensors`` under their dotted path."""
    if isinstance(value, torch.Tensor):
        if path in tensors:
            raise ValueError(f"optimizer: two tensors would be stored under the key {path!r}")
        tensors[path] = value
        return {"__tensor__": path}
    if isinstance(value, _JSON_SCALARS):
        return value
    if isinstance(value, (list, tuple)):
        items = [encode_state(item, tensors, _join(path, i)) for i, item in enumerate(value)]
        return {"__tuple__": items} if isinstance(value, tuple) else items
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, _JSON_SCALARS):
                raise TypeError(f"optimizer: key {key!r} under {path!r} must be a str or number")
        plain = all(isinstance(key, str) for key in value)
        if plain and not (len(value) == 1 and next(iter(value)) in _TAGS):
            return {key: encode_state(item, tensors, _join(path, key))
                    for key, item in value.items()}
        return {"__dict__": [[key, encode_state(item, tensors, _join(path, key))]
                             for key, item in value.items()]}
    raise TypeError(
        f"optimizer: {path or 'the state dict'} is a {type(value).__name__}; a checkpoint stores "
        "tensors, None, bool, int, float, str, list, tuple and dict"
    )


def decode_state(node: object, tensors: dict[str, torch.Tensor], used: set[str]) -> object:
    """Inverse of :func:`encode_state`; the paths of the tensors it reads are added to ``used``."""
    if isinstance(node, list):
        return [decode_state(item, tensors, used) for item in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1 and next(iter(node)) in _TAGS:
        ((tag, body),) = node.items()
        if tag == "__tensor__":
            used.add(body)
            return tensors[body]
        if tag == "__tuple__":
            return tuple(decode_state(item, tensors, used) for item in body)
        return {key: decode_state(item, tensors, used) for key, item in body}
    return {key: decode_state(item, tensors, used) for key, item in node.items()}


def storable(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Detached CPU tensors, contiguous and each with its own storage (safetensors needs both)."""
    out: dict[str, torch.Tensor] = {}
    seen: set[int] = set()
    for key, tensor in tensors.items():
        tensor = tensor.detach().to("cpu")
        ptr = tensor.untyped_storage().data_ptr()
        whole = tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size()
        if not tensor.is_contiguous() or not whole or ptr in seen:
            tensor = tensor.clone(memory_format=torch.contiguous_format)
        if tensor.numel():
            seen.add(tensor.untyped_storage().data_ptr())
        out[key] = tensor
    return out

"""A tiny name -> class registry, one per component kind (fairseq-style).

CLI ``choices=`` come from :meth:`Registry.names`, so adding a component is one
decorated class in one new file.
"""
from typing import Any, Callable, Dict, List, Type


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self._entries: Dict[str, Any] = {}

    def register(self, name: str) -> Callable[[Any], Any]:
        def decorator(obj: Any) -> Any:
            if name in self._entries:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._entries[name] = obj
            return obj

        return decorator

    def names(self) -> List[str]:
        return sorted(self._entries)

    def get(self, name: str) -> Any:
        if name not in self._entries:
            raise KeyError(f"unknown {self.kind} '{name}'; choose one of: {', '.join(self.names())}")
        return self._entries[name]

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def build(self, name: str, args: Any) -> Any:
        """Build a component from the resolved options (its ``from_args``)."""
        cls: Type = self.get(name)
        return cls.from_args(args) if hasattr(cls, "from_args") else cls(args)

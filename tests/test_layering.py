"""The layering of uer/ (docs/architecture.md, "Layers"): read from the source with ``ast``.

An edge ``a -> b`` is any ``import``/``from ... import`` in module ``a`` naming module ``b`` (or a
name defined in ``b``), at module level or inside a function, relative imports resolved. Parent
packages that Python imports implicitly are not edges. For the cycle check, the edges from a
package's ``__init__`` to its own submodules are left out: that is the registry pattern
(``uer/encoders/__init__.py`` creates ``ENCODERS``, then imports the files that register into it,
which import ``ENCODERS`` back), a cycle by construction and a harmless one.
"""
import ast
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Set

REPO = Path(__file__).resolve().parents[1]

# The parts a model is made of and the ground helpers: they never reach the tokenizers, the
# training runtime, the fine-tuning library or the pre-training loop, not even through another module.
LOW = ("uer.layers", "uer.embeddings", "uer.encoders", "uer.decoders", "uer.targets", "uer.utils")
HIGH = ("uer.finetune", "uer.trainer", "uer.tokenizers", "uer.training")
# package -> what it may import directly (besides itself)
ALLOWED = {
    "uer.utils": ("uer.utils", "uer.registry"),
    "uer.tokenizers": ("uer.tokenizers", "uer.utils", "uer.registry"),
}
FORBIDDEN = {"uer.training": ("uer.finetune", "uer.trainer")}  # the loops stand on their runtime, not under it


def within(module: str, packages: Iterable[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in packages)


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = REPO) -> Dict[str, Set[str]]:
    paths = {module_name(p, root): p for p in sorted((root / "uer").rglob("*.py"))}
    graph = {}
    for module, path in paths.items():
        is_package = path.name == "__init__.py"
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = module.split(".") if is_package else module.split(".")[:-1]
                    parts = parts[: len(parts) - (node.level - 1)]
                    base = ".".join(parts + ([node.module] if node.module else []))
                names = [base] + [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                while name and name not in paths:  # a name inside a module -> the module
                    name = name.rpartition(".")[0]
                if name and name != module:
                    edges.add(name)
        graph[module] = edges
    return graph


def reachable(graph: Dict[str, Set[str]], start: str) -> Set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def find_cycle(graph: Dict[str, Set[str]]) -> List[str]:
    """One cycle as ``[a, b, ..., a]``, or ``[]``; iterative depth-first search."""
    state: Dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in sorted(graph):
        if state.get(start):
            continue
        path, iterators = [start], [iter(sorted(graph[start]))]
        state[start] = 1
        while path:
            target = next(iterators[-1], None)
            if target is None:
                state[path.pop()] = 2
                iterators.pop()
            elif state.get(target) == 1:
                return path[path.index(target):] + [target]
            elif not state.get(target):
                state[target] = 1
                path.append(target)
                iterators.append(iter(sorted(graph.get(target, ()))))
    return []


def without_registry_edges(graph: Dict[str, Set[str]]) -> Dict[str, Set[str]]:
    return {m: {t for t in edges if not t.startswith(m + ".")} for m, edges in graph.items()}


def violations(graph: Dict[str, Set[str]]) -> List[str]:
    bad = []
    for module in sorted(graph):
        if within(module, LOW):
            bad += [f"{module} reaches {t}" for t in sorted(reachable(graph, module)) if within(t, HIGH)]
        for package, allowed in ALLOWED.items():
            if within(module, (package,)):
                bad += [f"{module} -> {t} ({package} imports only {', '.join(allowed)})"
                        for t in sorted(graph[module]) if t != "uer" and not within(t, allowed)]
        for package, forbidden in FORBIDDEN.items():
            if within(module, (package,)):
                bad += [f"{module} -> {t}" for t in sorted(graph[module]) if within(t, forbidden)]
    return bad


def test_the_checks_catch_what_they_look_for():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []
    assert find_cycle({"a": {"a.x"}, "a.x": {"a"}}) == ["a", "a.x", "a"]
    assert find_cycle(without_registry_edges({"a": {"a.x"}, "a.x": {"a"}})) == []
    fake = {"uer.layers.x": {"uer.models.y"}, "uer.models.y": {"uer.training.z"}, "uer.training.z": set(),
            "uer.utils.seed": {"uer.model_saver"}, "uer.model_saver": set(), "uer.tokenizers.t": {"uer.data"},
            "uer.data": set(), "uer.training.r": {"uer.trainer"}, "uer.trainer": set()}
    assert violations(fake) == [
        "uer.layers.x reaches uer.training.z",
        "uer.tokenizers.t -> uer.data (uer.tokenizers imports only uer.tokenizers, uer.utils, uer.registry)",
        "uer.training.r -> uer.trainer",
        "uer.utils.seed -> uer.model_saver (uer.utils imports only uer.utils, uer.registry)",
    ]


def test_the_graph_sees_every_kind_of_import():
    graph = import_graph()
    assert "uer.utils.act_fun" in graph["uer.layers.position_ffn"]  # from uer.utils.act_fun import ...
    assert "uer.tokenizers.spm" in graph["uer.tokenizers.vocab"]  # inside a function
    assert "uer.demo.text" in graph["uer.demo.sentiment"]  # relative
    assert "uer.encoders" in graph["uer.encoders.transformer_encoder"]  # the registry of the package


def test_no_import_from_a_lower_layer_to_a_higher_one():
    assert violations(import_graph()) == []


def test_no_import_cycle():
    assert find_cycle(without_registry_edges(import_graph())) == []


ALLOCATOR_PREAMBLE = ("from uer.training.allocator import use_mimalloc", "use_mimalloc(__file__)")


def test_scripts_take_the_allocator_from_one_place_before_anything_else():
    scripts = [p for p in sorted(REPO.glob("**/*.py")) if p.relative_to(REPO).parts[0] not in ("tests", "uer")
               and "use_mimalloc" in p.read_text(encoding="utf-8")]
    assert len(scripts) >= 10
    for script in scripts:
        # the first statement after the docstring and ``import os``/``import sys`` (benchmarks set sys.path)
        first = next(s for s in ast.parse(script.read_text(encoding="utf-8")).body
                     if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
                     and ast.unparse(s) not in ("import os", "import sys"))
        assert isinstance(first, ast.If) and "__main__" in ast.unparse(first.test), script
        assert tuple(ast.unparse(s) for s in first.body[-2:]) == ALLOCATOR_PREAMBLE, script


def test_the_allocator_loads_neither_torch_nor_the_rest_of_uer():
    probe = ("import sys; import uer.training.allocator; "
             "print(sorted(m for m in sys.modules if m == 'torch' or m.startswith(('torch.', 'numpy', 'uer'))))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['uer', 'uer.training', 'uer.training.allocator']"

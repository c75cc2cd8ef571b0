"""The package's import rules: every name imported from the module that defines it, and no import loops."""
from __future__ import annotations

import ast
from pathlib import Path

import icformat

ROOT = Path(icformat.__file__).parent


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py") if "benchmarks" not in p.relative_to(ROOT).parts}
TREES = {name: ast.parse(path.read_text(), str(path)) for name, path in MODULES.items()}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _target(module: str, node: ast.ImportFrom) -> str | None:
    if node.level == 0:
        return node.module
    base = (module if _is_package(module) else module.rsplit(".", 1)[0]).split(".")
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _bound_names(stmts: list[ast.stmt]) -> set[str]:
    """Names a module defines itself at top level (functions, classes, assignments, also inside if/try)."""
    names: set[str] = set()
    for stmt in stmts:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(stmt, (ast.If, ast.Try, ast.With)):
            for block in (getattr(stmt, "body", []), getattr(stmt, "orelse", []), getattr(stmt, "finalbody", [])):
                names |= _bound_names(block)
            for handler in getattr(stmt, "handlers", []):
                names |= _bound_names(handler.body)
    return names


DEFINED = {name: _bound_names(tree.body) for name, tree in TREES.items()}


def _internal_imports():
    """(importing module, imported module, name or None for a whole module, line) for every import inside the package."""
    for module, tree in TREES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = _target(module, node)
                if target and (target == "icformat" or target.startswith("icformat.")):
                    for alias in node.names:
                        if f"{target}.{alias.name}" in MODULES:
                            yield module, f"{target}.{alias.name}", None, node.lineno
                        else:
                            yield module, target, alias.name, node.lineno
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("icformat."):
                        yield module, alias.name, None, node.lineno


def test_every_name_is_imported_from_the_module_that_defines_it():
    wrong = [f"{MODULES[m].relative_to(ROOT.parent)}:{line}: {name} from {target}"
             for m, target, name, line in _internal_imports()
             if name is not None and (target not in MODULES or name not in DEFINED[target])]
    assert wrong == []


def test_the_compatibility_shims_have_no_users_inside():
    users = [f"{m}:{line}" for m, target, _, line in _internal_imports() if target == "icformat.streams"]
    assert users == []


def test_no_import_loops():
    graph: dict[str, set[str]] = {}
    for module, target, _, _ in _internal_imports():
        if target in MODULES and target != module and not module.startswith(target + "."):
            graph.setdefault(module, set()).add(target)
    loops = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                loops.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert loops == []


def test_the_loader_does_not_reach_into_the_trainer():
    assert not [t for m, t, _, _ in _internal_imports() if m.startswith("icformat.loader") and t.startswith("icformat.train")]

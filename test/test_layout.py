"""The package reads as the pipeline: every package documented, no import circle between modules."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / 'src' / 'musmove' / 'musmove'


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """The musmove modules a module imports, at its top or inside its functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f'{node.module}.{alias.name}' for alias in node.names]
        found.update(name for name in names if name in modules)
    return found


def test_every_package_says_what_it_is():
    for init in PACKAGE.rglob('__init__.py'):
        assert ast.get_docstring(ast.parse(init.read_text())), f'{init} has no docstring'


def test_no_import_circle():
    paths = {module_name(p): p for p in PACKAGE.rglob('*.py')}
    graph = {name: imports(path, set(paths)) - {name} for name, path in paths.items()}
    done: set[str] = set()

    def visit(name: str, stack: list[str]) -> None:
        if name in stack:
            raise AssertionError('import circle: ' + ' -> '.join([*stack[stack.index(name) :], name]))
        if name in done:
            return
        for imported in graph[name]:
            if not name.startswith(imported + '.'):  # a module importing its own package is not a circle
                visit(imported, [*stack, name])
        done.add(name)

    for name in graph:
        visit(name, [])
    assert len(done) == len(graph) > 40


def test_readme_lists_the_package_as_it_is():
    readme = (PACKAGE.parents[2] / 'README.md').read_text()
    rows = [line.split('|')[1].strip() for line in readme.splitlines() if line.startswith('| `musmove/')]
    listed = {name.strip('` ') for row in rows for name in row.split(',')}
    listed = {name if name.startswith('musmove/') else f'musmove/{name}' for name in listed}
    present = {f'musmove/{p.name}/' for p in PACKAGE.iterdir() if (p / '__init__.py').is_file()}
    present |= {f'musmove/{p.name}' for p in PACKAGE.glob('*.py') if p.name != '__init__.py'}
    assert listed == present

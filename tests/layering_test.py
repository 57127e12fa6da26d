"""keras_gen's imports point down its layers and form no cycle (../shared/DESIGN.md).

The graph is read from the source (ast), every import counted, those inside
functions too, so a deferred import cannot hide a cycle or an upward edge.
"""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "keras_gen"

# Lowest first; a module belongs to the layer of its longest matching prefix. The package
# itself ("keras_gen", its __init__: the Python API's load and fit) is an entry point and
# matches only itself.
LAYERS = [
    ("bottom", ["keras_gen.config", "keras_gen.data", "keras_gen.layers",
                "keras_gen.losses", "keras_gen.schedule", "keras_gen.plots", "keras_gen.lazy",
                "keras_gen.machine", "keras_gen.tf_startup", "keras_gen.storage"]),
    ("families", ["keras_gen.families", "keras_gen.registry", "keras_gen.serving",
                  "keras_gen.onnx_export"]),
    ("engine", ["keras_gen.engine"]),
    ("bench", ["keras_gen.bench"]),
    ("metrics and generation", ["keras_gen.metrics", "keras_gen.generation",
                                "keras_gen.pretrained"]),
    ("entry points", ["keras_gen", "keras_gen.api", "keras_gen.cli", "keras_gen.train",
                      "keras_gen.export", "keras_gen.evaluate", "keras_gen.generate",
                      "keras_gen.metrics.train_classifier"]),
]
# What the metrics and generation layer may use of the engine: rebuilding a run (from a
# checkpoint or the pretrained zoo) and writing image grids; never the loop.
ENGINE_FOR_TOOLS = {"keras_gen.engine.restore", "keras_gen.engine.checkpoints",
                    "keras_gen.engine.summaries"}


def test_the_engine_holds_training_modules_only():
  assert sorted(path.stem for path in (PACKAGE / "engine").glob("*.py")) == [
      "__init__", "checkpoints", "lock", "loop", "memory", "restore", "segments",
      "step_context", "strategies", "summaries"]


def _module_name(path):
  parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
  return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph():
  """{module: {keras_gen modules it imports}} for every module under keras_gen/."""
  paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
  graph = {}
  for name, path in paths.items():
    imported = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
      if isinstance(node, ast.Import):
        imported.update(alias.name for alias in node.names)
      elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
        for alias in node.names:
          submodule = f"{node.module}.{alias.name}"
          imported.add(submodule if submodule in paths else node.module)
    graph[name] = {module for module in imported if module in paths and module != name}
  return graph


def layer_of(module):
  best = None
  for index, (_, prefixes) in enumerate(LAYERS):
    for prefix in prefixes:
      if module == prefix or (prefix != "keras_gen" and module.startswith(prefix + ".")):
        if best is None or len(prefix) > best[1]:
          best = (index, len(prefix))
  assert best is not None, f"{module} is in no layer; add it to LAYERS"
  return best[0]


def test_imports_point_down_the_layers():
  upward = [f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} "
            f"({LAYERS[layer_of(target)][0]})"
            for module, targets in import_graph().items() for target in sorted(targets)
            if layer_of(target) > layer_of(module)]
  assert not upward, "\n".join(upward)


def test_metrics_and_generation_use_the_engine_only_to_rebuild_a_run():
  tools = [index for index, (name, _) in enumerate(LAYERS) if name == "metrics and generation"]
  reaching = [f"{module} imports {target}" for module, targets in import_graph().items()
              if layer_of(module) in tools for target in sorted(targets)
              if target.startswith("keras_gen.engine") and target not in ENGINE_FOR_TOOLS]
  assert not reaching, "\n".join(reaching)


def _cycles(graph):
  """Every strongly connected component of more than one module (Tarjan)."""
  index, low, stack, on_stack, components = {}, {}, [], set(), []

  def visit(node):
    index[node] = low[node] = len(index)
    stack.append(node)
    on_stack.add(node)
    for target in sorted(graph[node]):
      if target not in index:
        visit(target)
        low[node] = min(low[node], low[target])
      elif target in on_stack:
        low[node] = min(low[node], index[target])
    if low[node] == index[node]:
      component = []
      while True:
        member = stack.pop()
        on_stack.discard(member)
        component.append(member)
        if member == node:
          break
      if len(component) > 1:
        components.append(sorted(component))

  for node in sorted(graph):
    if node not in index:
      visit(node)
  return components


def test_no_module_imports_one_that_imports_it_back():
  assert _cycles(import_graph()) == []


def test_the_cycle_finder_finds_a_cycle():
  assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def _sources(folder):
  return {path: path.read_text() for path in (PACKAGE / folder).rglob("*.py")}


def test_distribution_calls_stay_in_the_engine():
  calls = ("merge_call", "call_for_each_replica", "extended.update", "all_reduce(")
  found = [f"{path.name}: {call}" for path, text in _sources("families").items()
           for call in calls if call in text]
  assert not found, found


def test_the_engine_reads_the_family_interface_not_hasattr():
  found = [path.name for path, text in _sources("engine").items() if "hasattr(family" in text]
  assert not found, found


def _engine_functions():
  for path in sorted((PACKAGE / "engine").glob("*.py")):
    for node in ast.walk(ast.parse(path.read_text())):
      if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        positional = [arg.arg for arg in node.args.posonlyargs + node.args.args
                      if arg.arg not in ("self", "cls")]
        yield f"{path.name}:{node.name}", node.end_lineno - node.lineno + 1, positional


def test_no_engine_function_is_longer_than_50_lines():
  assert [(name, length) for name, length, _ in _engine_functions() if length > 50] == []


def test_no_engine_function_takes_more_than_5_positional_parameters():
  assert [(name, positional) for name, _, positional in _engine_functions()
          if len(positional) > 5] == []

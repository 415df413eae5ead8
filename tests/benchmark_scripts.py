"""Loading a script of benchmarks/ in a test, as the script itself runs: its folder on sys.path (the scripts
import bench_vs_torch beside them) and the module registered under its name (spawned workers import it)."""
import importlib.util
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def script_path(name):
    return os.path.join(ROOT, "benchmarks", name + ".py")


def load_script(monkeypatch, name):
    path = script_path(name)
    monkeypatch.syspath_prepend(os.path.dirname(path))
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, name, module)
    spec.loader.exec_module(module)
    return module

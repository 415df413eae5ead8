"""docs/tutorial.ipynb: stored without outputs, and every cell runs in a fresh kernel."""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "docs" / "tutorial.ipynb"


def read_notebook():
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    return notebook


def test_the_notebook_is_stored_without_outputs():
    notebook = read_notebook()
    assert notebook.nbformat == 4
    stale = [index for index, cell in enumerate(notebook.cells)
             if cell.cell_type == "code" and (cell.outputs or cell.execution_count is not None)]
    assert not stale, (f"code cells {stale} of {NOTEBOOK.name} hold outputs; clear them before committing "
                       "(jupyter nbconvert --clear-output --inplace docs/tutorial.ipynb)")


@pytest.mark.slow
def test_every_cell_of_the_notebook_runs(tmp_path, monkeypatch):
    notebook = read_notebook()
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    # The kernel is a child process: it inherits this environment, so it imports this checkout and draws off screen.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if any cell fails
    errors = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert not errors

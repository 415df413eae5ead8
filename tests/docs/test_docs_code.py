"""The code in the documentation runs: every ```python block of README.md and docs/*.md, every `scratchcnn`
command of docs/cli.md.

Python. Each page is one test. Its ```python blocks run in order in one fresh namespace
(a later block sees what an earlier one defined), in a temporary working directory,
with matplotlib drawing off screen. A traceback names the page and its line numbers.
New pages are found by globbing docs/*.md: nothing to register.

Shell. Each line of a ```bash or ```sh block of docs/cli.md that starts with `scratchcnn `
(a `$ ` prompt before it is allowed, a trailing backslash continues it) runs as
`python -m scratchcnn ...`, in order, in one temporary working directory for the page,
and must exit 0. Other lines (pip, python ..., comments) do not run.

Cut-downs: a comment inside the block it applies to, on a line of its own or at the end of
a line (`epochs=100,  # test: epochs=2`). In Python it applies to the whole block either
way; in a shell block, one on a line of its own applies to every command of the block,
one at the end of a command line to that command alone:

    # test: skip REASON           the block does not run; say why (it needs MPI, a browser,
                                  or minutes of training). Use sparingly.
    # test: NAME=VALUE, ...       Python: every keyword argument or assignment `NAME=...` in
                                  the block becomes `NAME=VALUE` (e.g. `# test: epochs=1,
                                  limit=256`); the old value must be one token, such as a
                                  number, a string or a name.
                                  Shell: the option `--NAME` (underscores written as dashes)
                                  takes VALUE: replaced where the command has it, appended
                                  where it does not but its sub-command takes it (asked of
                                  scratchcnn.cli's parser), else left out
                                  (`# test: epochs=1` -> `--epochs 1`).

Each NAME a directive gives must occur in its Python block, so a cut-down cannot go
stale without failing. A page whose Python takes more than about a second to run carries
the HTML comment `<!-- test: slow -->` anywhere in its text: its test is then marked
`slow` (not run by `python -m pytest -m "not slow"`). The CLI page's test, a subprocess
per command, is always `slow`. A ```python block is code that runs; a fragment that
cannot run alone belongs in a ```text block (or is skipped, saying why).
"""
import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SLOW_PAGE = "<!-- test: slow -->"
FENCE = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)
DIRECTIVE = re.compile(r"#\s*test:\s*(.*?)\s*$", re.MULTILINE)


# -- reading the pages -----------------------------------------------------------------
def pages():
    """README.md and every docs/*.md, sorted."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def code_blocks(text, languages):
    """[(first line number of the code, 1-based, code)] of the fenced blocks in one of `languages`."""
    blocks = []
    for match in FENCE.finditer(text):
        if match.group(1).lower() in languages:
            first_line = text.count("\n", 0, match.start(2)) + 1
            blocks.append((first_line, match.group(2)))
    return blocks


def directives(code):
    """A block's cut-downs: (skip reason or None, {NAME: VALUE}). ValueError for a malformed directive."""
    skip, values = None, {}
    for text in DIRECTIVE.findall(code):
        if text == "skip" or text.startswith("skip "):
            skip = text[len("skip"):].strip(" -:")
            if not skip:
                raise ValueError("'# test: skip' needs a reason, e.g. '# test: skip needs MPI'")
            continue
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, equals, value = item.partition("=")
            if not equals or not name.strip().isidentifier() or not value.strip():
                raise ValueError(f"Received the cut-down {item!r}, expected NAME=VALUE (e.g. epochs=1)")
            values[name.strip()] = value.strip()
    return skip, values


def cut_down_python(code, values):
    """`NAME=old` -> `NAME=VALUE` for every keyword argument and assignment of each NAME in the block."""
    for name, value in values.items():
        pattern = re.compile(rf"(?<![\w.=!<>]){re.escape(name)}(\s*)=(?!=)(\s*)[^\s,)\]}}#]+")
        code, count = pattern.subn(lambda m: f"{name}{m.group(1)}={m.group(2)}{value}", code)
        if not count:
            raise ValueError(f"The cut-down {name}={value} matches no '{name}=...' in its block")
    return code


def shell_commands(code):
    """The `scratchcnn ...` lines of a shell block, continuation lines joined, prompts dropped."""
    commands, line = [], ""
    for raw in code.splitlines():
        line = f"{line} {raw.strip()}" if line else raw.strip()
        if line.endswith("\\"):
            line = line[:-1].rstrip()
            continue
        text = line
        if text.startswith("$ "):
            text = text[2:].lstrip()
        if text.startswith("scratchcnn "):
            commands.append(text)
        line = ""
    return commands


def shell_steps(code):
    """[(command, skip reason or None, {NAME: VALUE})] of a shell block: a directive on a line of its own applies
    to every command of the block, one at the end of a command line to that command (and wins)."""
    block_skip, block_values = directives("\n".join(line for line in code.splitlines() if line.strip().startswith("#")))
    steps = []
    for command in shell_commands(code):
        line_skip, line_values = directives(command)
        steps.append((command, line_skip or block_skip, {**block_values, **line_values}))
    return steps


def cut_down_command(command, values, accepts=lambda words, option: True):
    """Set each `--NAME VALUE` option of one command: its value replaced where the command has the option,
    the option appended where `accepts(words, option)` says the command takes it, else left out."""
    words = shlex.split(command, comments=True)
    for name, value in values.items():
        option = "--" + name.replace("_", "-")
        if option in words:
            words[words.index(option) + 1] = value
        elif any(word.startswith(option + "=") for word in words):
            words = [f"{option}={value}" if word.startswith(option + "=") else word for word in words]
        elif accepts(words, option):
            words += [option, value]
    return words


def cli_accepts(words, option):
    """Whether the `scratchcnn` sub-command in words (words[1]) takes `option`, asked of the CLI's own parser."""
    from scratchcnn.cli import build_parser

    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction) and len(words) > 1 and words[1] in action.choices:
            return option in action.choices[words[1]]._option_string_actions
    return False


# Pages whose code does not run as it stands, each with what it needs. The mark is a strict xfail: once the page
# runs, its test fails until the entry is removed, so an entry cannot outlive its reason.
PAGES_TO_FIX: dict[str, str] = {}


def page_param(path):
    name = str(path.relative_to(ROOT))
    marks = [pytest.mark.slow] if path.exists() and SLOW_PAGE in path.read_text(encoding="utf-8") else []
    if name in PAGES_TO_FIX:
        marks.append(pytest.mark.xfail(strict=True, reason=PAGES_TO_FIX[name]))
    return pytest.param(path, id=name, marks=marks)


# -- running them ----------------------------------------------------------------------
@pytest.fixture
def docs_environment(tmp_path, monkeypatch):
    """A fresh working directory, off-screen matplotlib, this checkout first on the import path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    try:
        import matplotlib
        matplotlib.use("Agg")
    except ImportError:
        pass
    yield tmp_path
    try:
        import matplotlib.pyplot as plt
        plt.close("all")
    except ImportError:
        pass
    from scratchcnn import parallel
    parallel.set_num_threads(None)


@pytest.mark.parametrize("page", [page_param(path) for path in pages()])
def test_python_blocks_of_the_page_run(page, docs_environment):
    blocks = code_blocks(page.read_text(encoding="utf-8"), {"python", "py"})
    if not blocks:
        pytest.skip(f"{page.name} has no python blocks")
    namespace = {"__name__": "__docs__"}
    ran = 0
    for first_line, code in blocks:
        skip, values = directives(code)
        if skip:
            continue
        code = cut_down_python(code, values)
        # Blank lines in front put the code at its own line numbers: tracebacks point into the page.
        exec(compile("\n" * (first_line - 1) + code, str(page), "exec"), namespace)
        ran += 1
    assert ran or all(directives(code)[0] for _, code in blocks)


@pytest.mark.slow
def test_every_cli_command_of_the_cli_page_runs(tmp_path):
    page = ROOT / "docs" / "cli.md"
    if not page.exists():
        pytest.skip("docs/cli.md does not exist yet; its commands are tested once it does")
    text = page.read_text(encoding="utf-8")
    environment = {**os.environ, "MPLBACKEND": "Agg",
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    ran = 0
    for first_line, code in code_blocks(text, {"bash", "sh", "shell", "console"}):
        for command, skip, values in shell_steps(code):
            if skip:
                continue
            words = cut_down_command(command, values, cli_accepts)
            result = subprocess.run([sys.executable, "-m", "scratchcnn", *words[1:]], cwd=tmp_path,
                                    env=environment, capture_output=True, text=True, timeout=600)
            assert result.returncode == 0, (f"docs/cli.md, block at line {first_line}: {shlex.join(words)} exited "
                                            f"{result.returncode}\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
            ran += 1
    if not ran:
        pytest.skip("docs/cli.md shows no `scratchcnn ...` command outside skipped blocks")


# -- the harness itself ----------------------------------------------------------------
def test_blocks_are_found_with_their_line_numbers():
    text = "# Title\n\n```python\nx = 1\n```\n\n```bash\nscratchcnn summary m.model\n```\n```\nplain\n```\n"
    assert code_blocks(text, {"python"}) == [(4, "x = 1\n")]
    assert code_blocks(text, {"bash"}) == [(8, "scratchcnn summary m.model\n")]


def test_directives_skip_with_a_reason_and_set_values():
    assert directives("# test: skip needs MPI\nx = 1\n") == ("needs MPI", {})
    assert directives("x = 1  \n# test: epochs=1, limit=256\n") == (None, {"epochs": "1", "limit": "256"})
    assert directives("f(epochs=100)  # train long   # test: epochs=2\n") == (None, {"epochs": "2"})
    with pytest.raises(ValueError, match="needs a reason"):
        directives("# test: skip\n")
    with pytest.raises(ValueError, match="expected NAME=VALUE"):
        directives("# test: epochs\n")


def test_python_cut_downs_rewrite_keywords_and_assignments_only():
    code = "limit = None\nnet.train(x[:limit], y, epochs=12, batch_size=64)\nif epochs == 3: pass\nmax_epochs=5\n"
    out = cut_down_python(code, {"epochs": "1", "limit": "256"})
    assert out == "limit = 256\nnet.train(x[:limit], y, epochs=1, batch_size=64)\nif epochs == 3: pass\nmax_epochs=5\n"
    with pytest.raises(ValueError, match="matches no 'rounds=...'"):
        cut_down_python(code, {"rounds": "1"})


def test_shell_commands_are_joined_and_cut_down():
    code = "pip install -e .\n$ scratchcnn experiment mnist \\\n    --epochs 3 --out runs/mnist\nscratchcnn summary a.model\n"
    assert shell_commands(code) == ["scratchcnn experiment mnist --epochs 3 --out runs/mnist",
                                    "scratchcnn summary a.model"]
    words = cut_down_command(shell_commands(code)[0], {"epochs": "1", "limit": "256"})
    steps = shell_steps("# test: limit=8\nscratchcnn experiment xor  # test: epochs=2\nscratchcnn serve m  # test: skip a server\n")
    assert steps == [("scratchcnn experiment xor  # test: epochs=2", None, {"limit": "8", "epochs": "2"}),
                     ("scratchcnn serve m  # test: skip a server", "a server", {"limit": "8"})]
    assert words == ["scratchcnn", "experiment", "mnist", "--epochs", "1", "--out", "runs/mnist", "--limit", "256"]
    assert cut_down_command("scratchcnn train xor --batch-size=8", {"batch_size": "2"})[-1] == "--batch-size=2"
    summary = cut_down_command("scratchcnn summary a.model", {"epochs": "1"}, cli_accepts)
    assert summary == ["scratchcnn", "summary", "a.model"]  # summary takes no --epochs
    assert cli_accepts(["scratchcnn", "experiment", "xor"], "--limit")

"""The README and docs/ stay true to the repository: every relative link and image resolves (to a file, and for
`page.md#anchor` to a heading of that page, GitHub-style), and every `python -m testtime ...` example, in a fenced
block or an inline code span, parses with the CLI's own parser (`testtime.cli.build_parser`).

No subprocess and no engine: the parser imports nothing heavy, so this runs in well under a second.
"""

import argparse
import contextlib
import io
import re
import shlex
from pathlib import Path

import pytest

from tests.helpers import ROOT
from testtime.cli import build_parser

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE_OPEN = re.compile(r"^\s*(`{3,}|~{3,})")
INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.S)
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")
EXAMPLE = re.compile(r"\bpython[\w.]*\s+-m\s+testtime(?=\s|$)(.*)")
PLACEHOLDER = re.compile(r"<[^<>\n]*>")   # runs/<run>, <a PRM>: a dummy value stands in
SHELL_OPERATORS = set(";&|")


def split_fences(text: str) -> tuple[str, list[str]]:
    """The text outside fenced code blocks (fenced lines blanked, so line numbers hold) and each block's body."""
    prose, blocks, block, fence = [], [], None, ""
    for line in text.split("\n"):
        if block is None:
            opened = FENCE_OPEN.match(line)
            if opened:
                block, fence = [], opened.group(1)
                prose.append("")
            else:
                prose.append(line)
        elif line.strip().startswith(fence) and not line.strip().strip(fence[0]):
            blocks.append("\n".join(block))
            block = None
            prose.append("")
        else:
            block.append(line)
            prose.append("")
    return "\n".join(prose), blocks


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: link text kept, lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading anchor of a Markdown page; a repeated heading gets -1, -2, ... as on GitHub."""
    prose, _ = split_fences(page.read_text())
    seen: dict[str, int] = {}
    out = set()
    for line in prose.split("\n"):
        heading = HEADING.match(line)
        if heading:
            base = slug(heading.group(1))
            out.add(base if base not in seen else f"{base}-{seen[base]}")
            seen[base] = seen.get(base, 0) + 1
    return out


def broken_links(page: Path) -> list[str]:
    """Relative links and images of `page` that point at no file, or at no heading of the page they name."""
    prose, _ = split_fences(page.read_text())
    prose = INLINE_CODE.sub("", prose)
    bad = []
    for target in LINK.findall(prose):
        if SCHEME.match(target):
            continue   # http(s), mailto: not checked here (no network)
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            bad.append(f"{target}: no such file {dest}")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            bad.append(f"{target}: no heading '#{anchor}' in {dest.name}")
    return bad


def examples(text: str) -> list[str]:
    """The argument text after `python -m testtime` of every example: in fenced blocks (lines continued with a
    backslash joined) and in inline code spans (which may wrap across lines)."""
    prose, blocks = split_fences(text)
    lines = [line for block in blocks for line in block.replace("\\\n", " ").split("\n")]
    spans = [span for line in lines for _, span in INLINE_CODE.findall(line)]   # quoted in a comment or a diagram
    lines = [INLINE_CODE.sub("", line) for line in lines]
    lines += spans + [span.replace("\n", " ") for _, span in INLINE_CODE.findall(prose)]
    found = [m.group(1).strip() for line in lines for m in [EXAMPLE.search(line)] if m]
    return [example for example in found if example.split(" ")[0] != "..."]   # `python -m testtime ...`: any


def arguments(example: str) -> list[str]:
    """shlex-split arguments, placeholders replaced by a dummy, up to a comment or a shell operator (; && |)."""
    lexer = shlex.shlex(PLACEHOLDER.sub("X", example), posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    args = []
    for token in lexer:
        if set(token) <= SHELL_OPERATORS:
            break
        args.append(token)
    return args


def parse_error(args: list[str]) -> str | None:
    """The CLI parser's complaint about `args`, or None when it accepts them."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            build_parser().parse_args(args)
        except SystemExit as e:
            if e.code:
                return err.getvalue().strip().splitlines()[-1]
    return None


def bad_examples(text: str) -> list[str]:
    bad = []
    for example in examples(text):
        error = parse_error(arguments(example))
        if error:
            bad.append(f"python -m testtime {example}\n    -> {error}")
    return bad


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_docs_links_resolve(page):
    assert not broken_links(page), "\n".join(broken_links(page))


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_docs_examples_parse_with_the_cli_parser(page):
    bad = bad_examples(page.read_text())
    assert not bad, "\n".join(bad)


def test_docs_example_checks_fail_on_a_flag_the_cli_lacks(tmp_path):
    text = ("```bash\npython -m testtime run --n 4 \\\n    --no-such-flag 3   # a comment\n```\n\n"
            "In prose, `python -m testtime analyze runs/<run> --no-such-option`.\n")
    found = examples(text)
    assert len(found) == 2 and "--no-such-flag 3" in found[0] and found[1] == "analyze runs/<run> --no-such-option"
    bad = bad_examples(text)
    assert len(bad) == 2 and "unrecognized arguments: --no-such-flag 3" in bad[0], bad
    assert "--no-such-option" in bad[1]
    assert not bad_examples("```bash\npython -m testtime run --n 4 --set scorer_model=<a PRM>  # ok\n```\n")
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](#title) [missing](#nowhere) [file](no-such.md) ![img](gone.png)\n")
    assert [b.split(":")[0] for b in broken_links(page)] == ["#nowhere", "no-such.md", "gone.png"]


def test_docs_pages_are_all_linked_from_the_readme():
    readme = (ROOT / "README.md").read_text()
    linked = {target.partition("#")[0] for target in LINK.findall(readme)}
    missing = [page_id(p) for p in PAGES[1:] if page_id(p) not in linked]
    assert not missing, f"README.md's Documentation list lacks {missing}"


def test_readme_tour_shows_every_command():
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    shown = {arguments(example)[0] for example in examples((ROOT / "README.md").read_text())}
    assert set(commands) <= shown, f"the README's tour lacks {sorted(set(commands) - shown)}"

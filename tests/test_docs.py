"""The documentation shows what is true: every `chat` command line in README.md and docs/ parses with the
real command line (options, their values, the command names), every link between the pages leads to a
page that exists, and every test docs/RELIABILITY.md names exists."""

from __future__ import annotations

import ast
import contextlib
import io
import re
import shlex
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
INLINE = re.compile(r"`(chat [^`]+)`")
# What a shown command line may hold that is a placeholder, not a value to parse.
PLACEHOLDER = re.compile(
    r"\[|\]|…|\.\.\.|\bID\b|\bTEXT\b|\bFILE\b|\bNAME\b|\bPATH\b|\bURL\b|\bWHEN\b|\bN\b|\bQUESTION\b|<|>"
)
SHELL_STOPS = {"|", "||", "&&", ";", ">", ">>", "<", "2>", "&"}


def command_lines() -> list[tuple[str, str, bool]]:
    """(page, command line, whole) for each `chat ...` shown: in shell blocks (whole command lines), and
    inline in the text when it holds no placeholder (there a flag may be named without its value)."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for language, body in FENCE.findall(text):
            if language not in ("sh", "bash", "shell", "console"):
                continue
            for line in body.splitlines():
                line = line.split("  #")[0].split(" # ")[0].strip().removeprefix("$ ")
                for part in re.split(r"\|\||&&|;|\|", line):
                    words = part.strip().split()
                    while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
                        words = words[1:]  # VARIABLE=value chat ...
                    if words[:1] == ["chat"] and not PLACEHOLDER.search(part):
                        found.append((page.name, " ".join(words), True))
        for span in INLINE.findall(text):
            if not PLACEHOLDER.search(span) and "|" not in span:
                found.append((page.name, span, False))
    return found


@lru_cache
def _group():
    import chatcli.app.cli  # noqa: F401  (registers every command)
    from chatcli.app.shared import app

    return app.commands()


def parse(line: str, whole: bool = True) -> None:
    """Parse ``line`` as chat's command line does (routing, options, choices), running nothing; not ``whole``,
    a value or an argument left out is no error (the text names a flag or a command)."""
    from chatcli.app.shared import question_words, route

    try:
        words = shlex.split(line)[1:]
    except ValueError as exc:
        raise AssertionError(f"not a command line: {line} ({exc})") from None
    cut = next((i for i, w in enumerate(words) if w in SHELL_STOPS), len(words))
    if words[:1] in (["--install-completion"], ["--show-completion"]):
        return  # answered before the parser (chatcli.app.cli._completion)
    name, *args = route(words[:cut])
    if name == "ask":  # a question typed without quotes is one argument, as chatcli.app.cli.main makes it
        args = question_words(args)[0]
    command = _group().commands[name]
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            command.make_context(f"chat {name}", list(args), resilient_parsing=False)
        except Exception as exc:  # noqa: BLE001 - typer carries its own click: told by what they are
            if type(exc).__name__ == "Exit":
                return  # --help, --version: they parse
            if not hasattr(exc, "format_message"):
                raise
            if not whole and type(exc).__name__ in ("MissingParameter", "BadOptionUsage"):
                return
            raise AssertionError(f"{line}: {exc.format_message()}") from None


LINES = command_lines()


def test_the_pages_show_command_lines():
    assert len(LINES) > 60, len(LINES)  # the check reads what the pages show


@pytest.mark.parametrize("page, line, whole", LINES, ids=[f"{p}:{line[:60]}" for p, line, _ in LINES])
def test_every_command_line_shown_parses(page, line, whole):
    parse(line, whole)


def test_the_check_refuses_what_chat_refuses():
    for wrong in ("chat --no-such-flag hi", "chat --memory forever hi", "chat threads --limit many", "chat show a b c"):
        with pytest.raises(AssertionError):
            parse(wrong)
    with pytest.raises(AssertionError):
        parse("chat --thread", whole=True)  # a shell line must be whole


def test_every_link_between_the_pages_leads_somewhere():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#\s]+\.md)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            if not (page.parent / target).resolve().exists():
                broken.append(f"{page.name} -> {target}")
    assert not broken, broken


def test_the_readme_starts_with_chatting_and_stays_short():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first_screen = "\n".join(text.splitlines()[:40])
    for needed in ("pip install -e .", "OPENAI_API_KEY", 'chat "', "chat -c", "chat threads", "--tools"):
        assert needed in first_screen, needed
    assert len(text.splitlines()) <= 250


@lru_cache
def _tests_in(path: str) -> frozenset[str]:
    tree = ast.parse((ROOT / "tests" / path).read_text(encoding="utf-8"))
    return frozenset(n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))


def test_every_test_reliability_names_exists():
    text = (ROOT / "docs" / "RELIABILITY.md").read_text(encoding="utf-8")
    abbreviations = dict(re.findall(r"\b([A-Z]{1,4}) = `tests/(test_\w+\.py)`", text))
    assert len(abbreviations) > 30, abbreviations
    missing = []
    for short, name in re.findall(r"\b([A-Z]{1,4})::(test_\w+)", text):
        path = abbreviations.get(short)
        if path is None or name not in _tests_in(path):
            missing.append(f"{short}::{name}")
    for path, name in re.findall(r"`?tests/(test_\w+\.py)::(test_\w+)", text):
        if not (ROOT / "tests" / path).exists() or name not in _tests_in(path):
            missing.append(f"{path}::{name}")
    assert not missing, f"docs/RELIABILITY.md names tests that do not exist: {sorted(set(missing))}"

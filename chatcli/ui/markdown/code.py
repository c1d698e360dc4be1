"""Colour code blocks line by line: a fast scanner for the common languages, Pygments for the rest.

Pygments' lexers cost about 60 microseconds for a typical line of Python (most of the
CPU of a code-heavy streamed answer, more than printing the answer raw), so the
languages models write most (Python, JavaScript/TypeScript, shell, JSON and the C
family) are scanned here with one regular expression per language. The scanner yields
the same Pygments token types, so the colours are the theme's, and it carries state from
line to line (an open triple-quoted string, a ``/* ... */`` comment, a JS template string),
which lexing each line with Pygments alone gets wrong. Any other language goes to Pygments,
one line at a time.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Callable, Iterator, NamedTuple

from pygments.token import Comment, Keyword, Name, Number, Operator, String, Text, _TokenType

Tokens = Iterator[tuple[_TokenType, str]]

_WORDS = {
    "python": (
        "def class return if elif else for while try except finally with as pass break continue raise yield "
        "lambda global nonlocal del assert async await match case",
        "import from",
        "True False None",
        "and or not in is",
        "print len range str int float list dict set tuple open super isinstance self cls",
    ),
    "js": (
        "break case catch class const continue debugger default delete do else export extends finally for "
        "function if in instanceof let new of return super switch this throw try typeof var void while with "
        "yield async await static get set interface type enum implements private public protected readonly "
        "declare namespace abstract as",
        "import from require",
        "true false null undefined NaN Infinity",
        "",
        "console window document Math JSON Promise Object Array String Number",
    ),
    "c": (
        "auto break case catch class const constexpr continue default delete do else enum explicit extern "
        "final for fn func go goto if impl implements import in interface let loop match mod move mut new "
        "override package private protected pub public return select static struct super switch template "
        "this throw throws trait try type typedef typename union unsafe use using var virtual void volatile "
        "where while defer chan map range namespace async await dyn ref crate",
        "#include #define #ifdef #ifndef #endif #pragma",
        "true false null nullptr nil None NULL self Self",
        "",
        "int char bool float double long short unsigned signed string String size_t u8 u16 u32 u64 usize "
        "i8 i16 i32 i64 isize f32 f64 str byte rune error Vec Option Result Box",
    ),
    "json": ("", "", "true false null", "", ""),
    "shell": (
        "if then else elif fi for in do done case esac while until function return select time",
        "local declare readonly source alias unset",
        "true false",
        "",
        "echo cd printf read set exit pwd test exec eval trap shift export",
    ),
}
_KINDS = (Keyword, Keyword.Namespace, Keyword.Constant, Operator.Word, Name.Builtin)
# The fence languages each scanner takes, by their names and aliases.
_ALIASES = {
    alias: family
    for family, aliases in {
        "python": "python py python3 py3",
        "js": "javascript js jsx typescript ts tsx node mjs",
        "c": "c h cpp c++ cc hpp java go golang rust rs cs csharp c# kotlin kt swift scala dart",
        "shell": "bash sh shell zsh console shell-session",
        "json": "json jsonc json5",
    }.items()
    for alias in aliases.split()
}
# Multi-line constructs by their openers (each closed by itself, a comment by "*/"), and the pattern's other groups.
_SPANS = {'"""': String.Doc, "'''": String.Doc, "/*": Comment.Multiline, "`": String.Backtick}
_GROUPS = {"closed": String, "comment": Comment.Single, "string": String, "number": Number, "operator": Operator}
_GROUPS |= {"decorator": Name.Decorator, "variable": Name.Variable}


class Scanner(NamedTuple):
    """One language's scanner: its pattern and the token type of each named group."""

    pattern: re.Pattern[str]
    words: dict[str, _TokenType]


@functools.cache
def _scanner(language: str) -> Scanner:
    words = {name: kind for kind, names in zip(_KINDS, _WORDS.get(language, ())) for name in names.split()}
    block = r"/\*.*?\*/"  # (the scanners are those of _ALIASES: c and json take the defaults)
    comment = {"python": r"\#.*", "shell": r"(?<!\S)\#.*"}.get(language, r"//.*")
    opens = {"python": r'"""|' + r"'''", "js": r"/\*|`", "shell": r"(?!)"}.get(language, r"/\*")
    closed = {"python": r'""".*?"""|' + r"'''.*?'''", "js": block + r"|`(?:\\.|[^`\\])*`", "shell": "(?!)"}
    word = r"\#?[A-Za-z_$][\w$]*" if language == "c" else r"[A-Za-z_$][\w$]*"
    pattern = (
        rf"(?P<closed>{closed.get(language, block)})|(?P<open>{opens})|(?P<comment>{comment})"
        r"|(?P<string>[rbfuRBFU]{0,2}\"(?:\\.|[^\"\\])*\"|[rbfuRBFU]{0,2}'(?:\\.|[^'\\])*')"
        r"|(?P<number>\b(?:0[xX][\da-fA-F_]+|\d[\d_]*\.?\d*(?:[eE][+-]?\d+)?)[a-zA-Z]*\b)"
        r"|(?P<decorator>(?<![\w)\]])@[\w.]+)"
        r"|(?P<variable>\$\{[^}]*\}|\$[\w@#?*!$-]+)"
        rf"|(?P<word>{word})"
        r"|(?P<operator>[-+*/%=<>!&|^~?]+)"
    )
    return Scanner(re.compile(pattern), words)


_EXCEPTION = re.compile(r"[a-z](?:Error|Exception|Warning)$")
# The word after one of these names a function or a class.
_DEFINES = {
    **dict.fromkeys("def function fn func".split(), Name.Function),
    **dict.fromkeys("class struct interface enum trait type".split(), Name.Class),
}


class LineScanner:
    """Colours the lines of one code block in order, remembering an open multi-line string or comment."""

    def __init__(self, family: str, scanner: Scanner) -> None:
        self.family, self.scanner = family, scanner
        self.open: str | None = None  # the closer we are inside of

    def tokens(self, line: str, commit: bool = True) -> Tokens:
        """Token types and text for one line; ``commit=False`` leaves the state as it was."""
        state, out, pos = self.open, [], 0
        if state is not None:
            closer, kind = state.replace("/*", "*/"), _SPANS[state]
            end = line.find(closer)
            if end < 0:
                return iter([(kind, line)])
            out.append((kind, line[: end + len(closer)]))
            pos, state = end + len(closer), None
        words, after_define = self.scanner.words, ""
        for match in self.scanner.pattern.finditer(line, pos):
            if match.start() > pos:
                out.append((Text, line[pos : match.start()]))
            pos = match.end()
            group, text = match.lastgroup, match.group()
            assert group is not None  # each of the pattern's alternatives is a named group
            if group == "word":
                kind = words.get(text)
                if kind is None:
                    kind = _DEFINES.get(after_define) or (Name.Exception if _EXCEPTION.search(text) else Name)
                out.append((kind, text))
                after_define = text if kind is Keyword and text in _DEFINES else ""
                continue
            after_define = ""
            if group == "open":
                state = text
                out.append((_SPANS[text], line[match.start() :]))
                pos = len(line)
                break
            kind = Comment.Multiline if group == "closed" and text.startswith("/*") else _GROUPS[group]
            if group == "string" and self.family == "json":
                kind = Name.Tag if line[pos:].lstrip().startswith(":") else String.Double
            out.append((kind, text))
        if pos < len(line):
            out.append((Text, line[pos:]))
        if commit:
            self.open = state
        return iter(out)


def highlighter(language: str) -> Callable[[str, bool], Tokens] | None:
    """A function colouring one code block line by line (``commit=False``: a preview), or None."""
    if (family := _ALIASES.get(language)) is not None:  # a language of the fast scanner's; Pygments colours the rest
        return LineScanner(family, _scanner(family)).tokens
    if (lexer := _pygments_lexer(language)) is None:
        return None
    return lambda line, commit: ((kind, text) for _, kind, text in lexer.get_tokens_unprocessed(line))


@functools.cache
def _pygments_lexer(language: str) -> Any:
    """The Pygments lexer for a language name, or None."""
    from pygments.lexers import get_lexer_by_name
    from pygments.util import ClassNotFound

    try:
        return get_lexer_by_name(language) if language else None
    except ClassNotFound:
        return None

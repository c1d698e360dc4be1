"""What chat knows about each provider is one row of chatcli/provider_table.json, and every door reads it.

A provider is its module (chatcli/providers/NAME.py), its row, its extra and its fake server with its line in
tests/providers.py. A provider module the table does not describe, a row without its module, its fake or its
extra, or a variable a provider's client reads by itself that the row does not name fails here: adding a
provider (or a new SDK version that reads one more variable) cannot skip the table.
"""

from __future__ import annotations

import ast
import importlib.util
import re
import tomllib
from dataclasses import fields
from pathlib import Path

import pytest

from chatcli import provider_table as table
from chatcli.provider_table import ProviderInfo
from chatcli.providers import provider, registry
from chatcli.providers.base import Provider
from tests.providers import ROWS

ROOT = Path(__file__).resolve().parent.parent
PROVIDERS_DIR = ROOT / "chatcli" / "providers"
# An environment read in a library's source: os.environ.get("X"), os.getenv("X"), os.environ["X"], LangChain's
# secret_from_env("X") / from_env("X") / get_from_dict_or_env(data, "x", "X").
ENV_READ = re.compile(
    r"""(?:getenv|environ\.get|environ\.setdefault|secret_from_env|from_env|get_from_dict_or_env|get_from_env)"""
    r"""\s*\(\s*(?:[^()"']*?,\s*)?(?:["'][a-z_]+["']\s*,\s*)?\[?\s*["']([A-Z][A-Z0-9_]{2,})["']"""
    r"""|environ\[\s*["']([A-Z][A-Z0-9_]{2,})["']\s*\]"""
)
# A list of names, any of which is read: from_env(["A_URL", "B_URL"]).
ENV_LIST = re.compile(r"""(?:secret_from_env|from_env)\s*\(\s*\[([^\]]*)\]""")
NAME = re.compile(r"""["']([A-Z][A-Z0-9_]{2,})["']""")


def environment_reads(text: str) -> set[str]:
    """The variable names a source text reads from the environment."""
    found = {m.group(1) or m.group(2) for m in ENV_READ.finditer(text)}
    return found | {name for m in ENV_LIST.finditer(text) for name in NAME.findall(m.group(1))}


def implements_a_provider(source: str) -> bool:
    """True for a module that makes a provider: it sets ``PROVIDER`` or defines a subclass of ``Provider``."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(target, ast.Name) and target.id == "PROVIDER" for target in targets):
                return True
        if isinstance(node, ast.ClassDef) and node.name != "Provider":
            if any(ast.unparse(base).split(".")[-1] == "Provider" for base in node.bases):
                return True
    return False


def provider_modules() -> set[str]:
    """The modules of chatcli/providers/ that implement a provider (base.py defines the seam, none)."""
    return {path.stem for path in PROVIDERS_DIR.glob("*.py") if implements_a_provider(path.read_text())}


def test_every_provider_module_is_a_row_of_the_table_and_every_row_has_its_module():
    assert provider_modules() == set(table.NAMES), "a provider module the table does not describe, or a row without one"
    for name in table.NAMES:
        made = provider(name)
        assert isinstance(made, Provider) and made.name == name
        assert all(getattr(made, each.name) == getattr(table.info(name), each.name) for each in fields(ProviderInfo))


def test_a_module_that_makes_a_provider_is_found_however_it_is_written():
    assert implements_a_provider("PROVIDER = Groq()\n")
    assert implements_a_provider("PROVIDER: Provider = Groq()\n")
    assert implements_a_provider("class Groq(base.Provider):\n    pass\n")
    assert not implements_a_provider("class Provider(ABC):\n    pass\n")
    assert not implements_a_provider("from chatcli.providers.base import Provider\nPROVIDERS = ()\n")


def test_the_shared_tests_drive_every_provider_of_the_table_each_with_its_fake():
    assert [row.name for row in ROWS] == list(table.NAMES)
    assert all(row.graph_model[1] for row in ROWS), "each row says how a graph of a user's builds its model"
    for row in ROWS:
        module, _, name = row.fake.partition(":")
        assert importlib.util.find_spec(module) is not None, f"{row.name}'s fake {module} does not exist"
        assert isinstance(getattr(row.fake_module(), name, None), type), f"{module} has no {name}"


def test_every_provider_package_is_an_extra_of_its_own_and_of_the_whole_set_and_tested():
    """pyproject.toml: a provider's LangChain package is its extra (chatcli-langgraph[anthropic]), the providers
    extra installs every one, and the test extra installs them too (every provider is driven by the tests)."""
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    every = extras["providers"][0].partition("[")[2].rstrip("]").split(",")
    for row in table.PROVIDERS:
        if not row.package:
            assert not row.extra, f"{row.name} needs no package but names an extra"
            continue
        wanted = row.package.replace("_", "-")
        assert [req for req in extras.get(row.extra, []) if req.startswith(wanted)], f"no extra {row.extra}"
        assert row.extra in every, f"the providers extra does not install {row.extra}"
        assert set(extras[row.extra]) <= set(extras["test"]), f"the test extra does not install {row.extra}'s"
    assert sorted(every) == sorted(row.extra for row in table.PROVIDERS if row.extra)


def _reads(module: str) -> set[str]:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, module
    found: set[str] = set()
    for path in Path(spec.origin).parent.rglob("*.py"):
        found |= environment_reads(path.read_text(encoding="utf-8", errors="replace"))
    return found


@pytest.mark.parametrize("row", table.PROVIDERS, ids=lambda row: row.name)
def test_every_variable_a_providers_client_reads_by_itself_is_named_in_its_row(row):
    installed = [m for m in row.clients if importlib.util.find_spec(m.split(".")[0]) and importlib.util.find_spec(m)]
    if not installed:
        pytest.skip(f"{row.name}'s client is not installed")
    read = set().union(*(_reads(module) for module in installed))
    assert read, f"no environment read found in {installed}: the scan is broken"
    unknown = sorted(read - set(row.credentials) - set(row.harmless))
    assert unknown == [], (
        f"{row.name}'s client reads {unknown} from the environment by itself: name each in its row of "
        "chatcli/provider_table.json, as a credential (withheld where a .env chose the server) or as harmless"
    )
    # Chat's own variables for it are credentials too: the key, and where the key goes.
    assert {row.key_var, row.url_var} - {None} <= set(row.credentials)


def test_the_scan_finds_every_shape_of_environment_read():
    text = (
        'os.environ.get("A_KEY")\nos.getenv(\'B_KEY\', None)\nos.environ["C_KEY"]\n'
        'secret_from_env("D_KEY", default=None)\nfrom_env(["E_URL", "F_URL"])\n'
        'get_from_dict_or_env(values, "g_key", "G_KEY")\n'
    )
    assert environment_reads(text) == {"A_KEY", "B_KEY", "C_KEY", "D_KEY", "E_URL", "F_URL", "G_KEY"}


def test_an_error_belongs_to_the_provider_whose_client_raised_it():
    class Raised(Exception):
        pass

    for row in table.PROVIDERS:
        for module in row.clients:
            Raised.__module__ = f"{module}.errors"
            assert registry.owner_of(Raised("x")) == row.name
    Raised.__module__ = "httpx"
    assert registry.owner_of(Raised("x")) is None and registry.raised_by_a_client(Raised("x"))
    Raised.__module__ = "googleapis_other"  # a module whose name only begins like a client's
    assert registry.owner_of(Raised("x")) is None and not registry.raised_by_a_client(Raised("x"))

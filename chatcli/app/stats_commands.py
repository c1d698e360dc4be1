"""``chat stats``: the tokens and dollars of the threads' answers, by day, model and thread."""

from __future__ import annotations

from typing import IO, Any, Optional

from chatcli.app.shared import environment, opt, switch
from chatcli.app.thread_commands import on_threads
from chatcli.text import neutralise, say, say_json

# Threads shown in the table (--json lists them all).
THREADS_SHOWN = 10
UNPRICED, LOCAL = "no known price", "local, not priced"
LEFT_OUT = 'left out of the dollars; config.toml\'s [prices."MODEL"] can'  # ... add one, price it


@on_threads("stats")
async def stats_command(
    threads: Any,
    since: Optional[str] = opt(
        "--since WHEN", "Only answers since WHEN: a date (2026-11-20), today, or an age (7d, 12h, 2w)."
    ),
    as_json: bool = switch("--json", "Print one JSON object (for scripts)."),
) -> None:
    """Total the tokens and dollars of the threads' answers by day (local dates), model and thread; unknown prices are
    counted apart, never guessed."""
    from chatcli.threads.spending import parse_since, spending, standing

    report = await spending(threads, parse_since(since) if since else None)
    # The spending limits set, against the ledger: the day's, and the thread that spent the most (of them all: --since
    # leaves the ledger whole).
    ids = list(report.titles) if since is None else [info.thread_id for info in await threads.list()]
    limits = await standing(threads.settings, threads.store.index, ids, read=as_json)
    out = environment().stdout
    if as_json:
        say_json(out, {**report.as_dict(), "spending": limits.as_dict()})
    else:
        from chatcli.service.limits import limit_lines

        print_stats(report, out)
        say(out, "".join(line + "\n" for line in limit_lines(limits, most=True)), data=True)


def _money(tally: Any) -> str:
    """A dollars cell: one precision down the column (4 decimals, cents once a dollar is reached)."""
    if tally.cost_usd is None:
        return (LOCAL if tally.local == tally.unpriced else UNPRICED) if tally.unpriced else "-"
    usd = tally.cost_usd
    shown = f"${usd:,.2f}" if usd >= 1 else "<$0.0001" if 0 < usd < 0.00005 else f"${usd:.4f}"
    return shown + (f" + {tally.unpriced} unpriced" if tally.unpriced else "")


def print_stats(report: Any, out: IO[str]) -> None:
    """The report as aligned text: a section per grouping, then the total and what has no price."""
    from chatcli.threads.spending import ranked

    if not report.total.answers:
        when = f" since {report.since:%Y-%m-%d %H:%M}" if report.since else ""
        say(out, f"no answers{when}\n", data=True)
        return
    threads = ranked(report.by_thread)
    cached = ("cached",) if report.total.cache[0] > 0 else ()  # a column for the input read from a prompt cache
    rows: list[tuple[str, ...]] = [("", "answers", "tokens in", *cached, "tokens out", "dollars")]

    def cells(tally: Any) -> tuple[str, ...]:
        counts = (tally.answers, tally.input_tokens, *((tally.cache[0],) if cached else ()), tally.output_tokens)
        return (*(f"{n:,}" for n in counts), _money(tally))

    for heading, group in (
        ("by day", sorted(report.by_day.items())),
        ("by model", ranked(report.by_model)),
        ("by thread", threads[:THREADS_SHOWN]),
    ):
        rows.append((heading,))
        for key, tally in group:
            title = report.titles.get(key) if heading == "by thread" else None
            label = f"{key} {' '.join(title.split())[:40]}" if title else key
            rows.append(("  " + neutralise(label), *cells(tally)))
    total = report.total
    rows.append(("total", *cells(total)))
    width = max(len(row[0]) for row in rows if len(row) > 1)
    for r in rows:  # a heading alone, or a label and its cells
        line = r[0] if len(r) == 1 else r[0].ljust(width) + "".join(c.rjust(12) for c in r[1:-1]) + "  " + r[-1]
        say(out, line + "\n", data=True)
    if len(threads) > THREADS_SHOWN:
        say(out, f"({len(threads) - THREADS_SHOWN} more threads: --json lists them all)\n", data=True)
    of_them = f"of the {total.answers:,} answers"
    if unknown := total.unpriced - total.local:
        models = ", ".join(neutralise(m) for m in sorted(report.unpriced_models))
        has = "have" if unknown > 1 else "has"
        say(out, f"{unknown} {of_them} {has} no known price ({models}): {LEFT_OUT} add one\n")
    if total.local:
        models = ", ".join(neutralise(m) for m in sorted(report.local_models))
        are = "are" if total.local > 1 else "is"
        say(out, f"{total.local} {of_them} {are} from a local model, not priced ({models}): {LEFT_OUT} price it\n")

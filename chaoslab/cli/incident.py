"""Incidents: open, acknowledge, triage, communicate, name the root cause, resolve with proof, review,
score. The work happens in chaoslab.incident.desk; these commands parse and print."""

from __future__ import annotations

import json
import sys
import time

import click

from chaoslab import command
from chaoslab.backend import Options
from chaoslab.cli import cli
from chaoslab.cli.cohort import team_namespaces
from chaoslab.cli.common import backend, pass_options, team_option
from chaoslab.cli.instructor import authorise
from chaoslab.errors import BadInput
from chaoslab.escape import printable
from chaoslab.incident import rota
from chaoslab.incident.actions import TYPES, Actions
from chaoslab.incident.desk import Desk
from chaoslab.incident.notify import Follower
from chaoslab.incident.record import ROLES, said
from chaoslab.incident.review import markdown
from chaoslab.incident.score import ranked, table, trend
from chaoslab.incident.severity import VERIFY_DEFAULT_S, contract
from chaoslab.incident.triage import prompt
from chaoslab.incident.truth import is_graded
from chaoslab.timefmt import duration


def _desk(options: Options, team: str | None, reveal: str = ""):
    """The incident desk of the lab; ``reveal`` names an instructor's view, authorised and audited first."""
    lab = backend(options, team)
    if reveal:
        authorise(lab, reveal)
    return Desk(lab)


def _clock(ts: float | None) -> str:
    return "-" if ts is None else time.strftime("%H:%M:%S", time.localtime(ts))


def id_option(command_function):
    return click.option("--id", "incident_id", default=None, help="The incident (default: the open one).")(
        command_function
    )


@cli.group()
def incident() -> None:
    """Incidents: list, show, watch, open, page, ack, commander, role, severity, note, update, rootcause, resolve,
    mark, pir."""


@incident.command("list")
@team_option
@click.option("--json", "as_json", is_flag=True)
@pass_options
def incident_list(options: Options, team: str | None, as_json: bool) -> None:
    """Every incident of the lab, oldest first."""
    found = _desk(options, team).incidents()
    if as_json:
        click.echo(json.dumps([i.to_json() | {"timeline": len(i.entries)} for i in found], indent=2))
        return
    if not found:
        click.echo(f"no incidents; `{command('incident open TITLE')}` opens one from a report")
        return
    click.echo(f"{'ID':<7} {'SEV':<4} {'STATE':<21} {'DECLARED':<9} {'COMMANDER':<12} TITLE")
    for i in found:
        click.echo(
            f"{i.id:<7} {i.severity:<4} {i.describe_state():<21} {_clock(i.declared_at):<9} "
            f"{printable(i.commander or '-'):<12} {printable(i.title)}"
        )


def _triage_folded(entries: list[dict]) -> list[dict]:
    """The timeline with one row per triage question, at its first answer: a later answer is added to
    that row ("then: ...") instead of a row of its own (`--json` keeps every entry)."""
    firsts: dict[str, dict] = {}
    shown = []
    for e in entries:
        question = (e.get("data") or {}).get("question") if e["kind"] == "triage_answer" else None
        if question is None:
            shown.append(e)
        elif question not in firsts:
            firsts[question] = dict(e)
            shown.append(firsts[question])
        else:
            later = e["text"].split(": ", 1)[-1]
            firsts[question]["text"] += f" (then: {later})"
    return shown


def _print_incident(desk, found, reveal: bool) -> None:
    rule = contract(found.severity)
    click.echo(f"{found.id}  {found.severity}  {found.describe_state()}  {printable(found.title)}")
    click.echo(
        f"  declared {_clock(found.declared_at)} by {printable(found.declared_by or '-')} "
        f"(detected by {found.detected_by}); commander {printable(found.commander or 'none yet')}"
    )
    others = [f"{role} {printable(name)}" for role, name in found.roles.items() if role != "commander"]
    if others:
        click.echo(f"  roles: {', '.join(others)}")
    if rule.ack_within_s:
        click.echo(
            f"  {found.severity} contract: acknowledge within {rule.ack_within_s / 60:g} min, "
            f"status update every {rule.update_every_s / 60:g} min"
        )
    if found.firing:
        click.echo(f"  firing: {', '.join(sorted(found.firing))}")
    rows = [
        (
            e["ts"],
            e["source"],
            e.get("actor", ""),
            e["kind"] + (f" #{e['no']}" if "no" in e else "") + (" (key)" if (e.get("data") or {}).get("key") else ""),
            said(e) + "".join(f" [{link}]" for link in e["links"]),
        )
        for e in _triage_folded(found.entries)
    ]
    start = found.declared_at - 3600
    end = found.resolved_at or time.time()
    rows += [
        (d["ts"], "lab", d.get("by", ""), "deploy", f"{d.get('id', '-')} {d['service']}: {d.get('summary', '')}")
        for d in desk.deploys()
        if start <= d["ts"] <= end
    ]

    truth = desk.truth(found)
    if is_graded(truth) and (reveal or not truth.secret):
        rows.append((truth.started_at, "truth", "", "impact_started", truth.scenario.summary))
        for f in truth.faults:
            what = f"{f.get('kind')} on {f.get('where') or f.get('service')}"
            kind = "fault_injected" if f["event"] == "fault.started" else "fault_cleared"
            rows.append((f["ts"], "truth", f.get("actor", ""), kind, what))
    click.echo("")
    for ts, source, actor, kind, text in sorted(rows, key=lambda r: r[0]):
        first, *more = str(text).splitlines() or [""]
        click.echo(f"  {_clock(ts)}  {source:<10} {printable(actor)[:12]:<12} {kind:<18} {printable(first)}")
        for line in more:  # a status update is several lines: each its own, escaped, under the first
            click.echo(f"  {'':<8}  {'':<10} {'':<12} {'':<18} {printable(line)}")


@incident.command("show")
@team_option
@click.argument("incident_id", required=False)
@click.option("--json", "as_json", is_flag=True)
@click.option("--reveal", is_flag=True, help="Also what was true in a mystery drill (instructors: CHAOSLAB_TOKEN).")
@pass_options
def incident_show(options: Options, team: str | None, incident_id: str | None, as_json: bool, reveal: bool) -> None:
    """One incident with its timeline (the open one by default); deploys come from the change feed."""
    desk = _desk(options, team, "incident show --reveal" if reveal else "")
    found = desk.get(incident_id)
    if as_json:
        click.echo(json.dumps(found.to_json(), indent=2))
        return
    _print_incident(desk, found, reveal)


@incident.command("open")
@team_option
@click.argument("title")
@click.option("--severity", "tier", default="P2", show_default=True, help="P1 to P4 (P0 is P1).")
@click.option(
    "--detected-by",
    type=click.Choice(["user-report", "monitoring", "alerting"]),
    default="user-report",
    show_default=True,
    help="How it came to light (a user's report, someone watching a dashboard, a page).",
)
@click.option("--report", default="", help="The report's words, as the user gave them.")
@click.option("--new", is_flag=True, help="Open a second incident while one is open.")
@pass_options
def incident_open(
    options: Options, team: str | None, title: str, tier: str, detected_by: str, report: str, new: bool
) -> None:
    """Declare an incident, e.g. `chaoslab incident open "checkout hangs" --severity P1`."""
    found = _desk(options, team).declare(title, tier, detected_by, report, new)
    click.echo(f"{found.id} opened: {found.severity} {printable(found.title)}")
    click.echo(f"next: `{command('incident ack')}`, then `{command('triage')}` and `{command('incident update ack')}`")


@incident.command("page")
@team_option
@click.argument("alert")
@click.option("--severity", "tier", default="P1", show_default=True)
@click.option("--owner", default="", help="The team the alert routes to.")
@click.option("--summary", default="", help="One line on what fires.")
@click.option("--resolved", is_flag=True, help="The alert resolved.")
@pass_options
def incident_page(
    options: Options, team: str | None, alert: str, tier: str, owner: str, summary: str, resolved: bool
) -> None:
    """Page by hand (a game master's page, or an alert seen elsewhere): the path a firing alert takes."""
    found = _desk(options, team).page(alert, tier, owner, summary, resolved)
    if found is None:
        click.echo(f"{alert} {'resolved' if resolved else 'fired'}: no incident touched (not a paging tier)")
    else:
        click.echo(f"{alert} {'resolved' if resolved else 'fired'}: on {found.id} ({found.describe_state()})")


@incident.command("watch")
@team_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object a line, for scripts (no bell).")
@click.option("--no-bell", is_flag=True, help="Do not ring the terminal bell on pages and escalations.")
@click.option("--replay", is_flag=True, help="First every notice the record already holds, then new ones.")
@click.option(
    "--every", "every_s", type=click.FloatRange(0.2, 60), default=1.0, show_default=True, help="Seconds between looks."
)
@click.option("--for", "for_s", type=click.FloatRange(min=0), default=None, help="Stop after this many seconds.")
@pass_options
def incident_watch(
    options: Options, team: str | None, as_json: bool, no_bell: bool, replay: bool, every_s: float, for_s: float | None
) -> None:
    """Follow the record: print each page, escalation, overdue update and state change as it happens,
    ringing the terminal bell for the ones that need a person (Ctrl-C stops)."""
    lab = backend(options, team)
    follower = Follower(lab.store(), lab.actor, replay=replay)
    if not as_json:
        click.echo("watching the incident record for pages (Ctrl-C stops)", err=True)
    deadline = None if for_s is None else time.monotonic() + for_s
    try:
        while True:
            for notice in follower.poll():
                if as_json:
                    click.echo(json.dumps(notice.to_json()))
                else:
                    bell = "\a" if notice.rings and not no_bell else ""
                    click.echo(bell + printable(notice.line()))
            sys.stdout.flush()
            if deadline is not None and time.monotonic() >= deadline:
                return
            time.sleep(every_s if deadline is None else max(0.0, min(every_s, deadline - time.monotonic())))
    except KeyboardInterrupt:
        return


@cli.group()
def oncall() -> None:
    """The team's on-call rota: who a page reaches first, and who next (set, show, clear)."""


@oncall.command("set")
@team_option
@click.argument("path", type=click.File("r"))
@pass_options
def oncall_set(options: Options, team: str | None, path) -> None:
    """Set the rota from a YAML file (- reads standard input); `chaoslab oncall show` prints the format."""
    found = rota.parse(path.read())
    rota.save(backend(options, team).store(), found)
    _print_rota(found)


@oncall.command("show")
@team_option
@click.option("--json", "as_json", is_flag=True)
@pass_options
def oncall_show(options: Options, team: str | None, as_json: bool) -> None:
    """The rota pages follow, and when each escalation level comes due for each paging tier."""
    found = rota.load(backend(options, team).store())
    if as_json:
        click.echo(json.dumps(found.to_json() if found else None, indent=2))
    elif found is None:
        click.echo("no on-call rota: an unacknowledged page escalates once, to nobody by name. Set one with")
        click.echo(f"`{command('oncall set FILE')}`, a YAML file like:\n{rota.EXAMPLE}")
    else:
        _print_rota(found)


@oncall.command("clear")
@team_option
@pass_options
def oncall_clear(options: Options, team: str | None) -> None:
    """Remove the rota (escalations then page nobody by name)."""
    backend(options, team).store().delete(rota.ONCALL)
    click.echo("on-call rota removed")


def _print_rota(found: rota.Rota) -> None:
    click.echo(f"primary {printable(found.primary)} (paged first)")
    if found.secondary:
        click.echo(f"secondary {printable(found.secondary)}")
    if found.commanders:
        click.echo(f"incident-commander rota: {printable(', '.join(found.commanders))} (one per incident, in turn)")
    for tier in ("P1", "P2"):
        levels = found.due(contract(tier).ack_within_s or 0)
        said = "; ".join(f"level {n} after {after / 60:g} min: {step.notify}" for n, after, step in levels)
        click.echo(f"  {tier} unacknowledged: {said}")


@incident.command("ack")
@team_option
@click.argument("incident_id", required=False)
@click.option("--commander", default=None, help="Who commands (default: you).")
@pass_options
def incident_ack(options: Options, team: str | None, incident_id: str | None, commander: str | None) -> None:
    """Acknowledge the page and take command (stops the escalation clock)."""
    found = _desk(options, team).ack(incident_id, commander)
    click.echo(
        f"{found.id} acknowledged {duration(found.acknowledged_at - found.declared_at)} after it was declared; "
        f"commander {printable(found.commander)}"
    )


@incident.command("commander")
@team_option
@click.argument("name")
@id_option
@pass_options
def incident_commander(options: Options, team: str | None, name: str, incident_id: str | None) -> None:
    """Hand command over to NAME (recorded on the timeline)."""
    found = _desk(options, team).commander(incident_id, name)
    click.echo(f"{found.id} commander: {printable(found.commander)}")


@incident.command("mark")
@team_option
@click.argument("disposition", type=click.Choice(["false-positive", "duplicate"]))
@click.option("--reason", required=True, help="Why, in a sentence (kept on the record).")
@click.option("--of", "of", default=None, help="With duplicate: the incident it duplicates (INC-2).")
@id_option
@pass_options
def incident_mark(
    options: Options, team: str | None, disposition: str, reason: str, of: str | None, incident_id: str | None
) -> None:
    """Close an incident that is not one of its own: a false positive (a verify's load paged, an alert
    flapped) or a duplicate of another. It stays on the record, out of the scores."""
    found = _desk(options, team).mark(incident_id, disposition.replace("-", "_"), reason, of)
    click.echo(f"{found.id} closed as {found.describe_state()}; `{command('score')}` leaves it out")


@incident.group("role")
def incident_role() -> None:
    """Response roles: assign, list (commander, comms, scribe, ops)."""


@incident_role.command("assign")
@team_option
@click.argument("role", type=click.Choice(list(ROLES)))
@click.argument("name")
@id_option
@pass_options
def incident_role_assign(options: Options, team: str | None, role: str, name: str, incident_id: str | None) -> None:
    """Give ROLE to NAME (a hand-off is the same command), e.g. `incident role assign comms Bea`."""
    found = _desk(options, team).assign(incident_id, role, name)
    click.echo(f"{found.id} {role}: {printable(found.roles[role])}")


@incident_role.command("list")
@team_option
@id_option
@pass_options
def incident_role_list(options: Options, team: str | None, incident_id: str | None) -> None:
    """Who holds each role of the incident, and what the role does."""
    found = _desk(options, team).get(incident_id)
    for role, duty in ROLES.items():
        click.echo(f"  {role:<10} {printable(found.roles.get(role, '-')):<16} {duty}")


@incident.command("severity")
@team_option
@click.argument("level")
@id_option
@click.option("--reason", default="", help="Why.")
@pass_options
def incident_severity(options: Options, team: str | None, level: str, incident_id: str | None, reason: str) -> None:
    """Change the severity (P1 total outage … P4 cosmetic; P0 is P1)."""
    found = _desk(options, team).set_severity(incident_id, level, reason)
    click.echo(f"{found.id} is now {found.severity}")


@incident.command("note")
@team_option
@click.argument("text")
@id_option
@click.option("--hypothesis", is_flag=True, help="Record it as a hypothesis being tested.")
@click.option("--link", "links", multiple=True, help="Evidence: a trace id, a metric query or a URL (repeatable).")
@click.option("--key", is_flag=True, help="A key moment: the review lists it on its own (the scribe's mark).")
@click.option(
    "--corrects", type=click.IntRange(min=1), help="The number of a note it replaces (kept on the record, marked)."
)
@pass_options
def incident_note(
    options: Options,
    team: str | None,
    text: str,
    incident_id: str | None,
    hypothesis: bool,
    links: tuple[str, ...],
    key: bool,
    corrects: int | None,
) -> None:
    """Add a note (or --hypothesis) to the timeline, with --link evidence; --key marks a key moment;
    --corrects N replaces note #N (nothing is erased: both stay, the old one marked)."""
    desk = _desk(options, team)
    item = desk.note(incident_id, text, "hypothesis" if hypothesis else "note", links, key, corrects)
    written = next(e for e in reversed(desk.get(item["incident"]).entries) if e["ts"] == item["ts"] and "no" in e)
    click.echo(f"{item['incident']} {item['kind']} #{written['no']} at {_clock(item['ts'])}")


@incident.command("update")
@team_option
@click.argument("moment", type=click.Choice(["ack", "status", "resolved"]))
@id_option
@click.option("--audience", type=click.Choice(["internal", "external"]), default="internal", show_default=True)
@click.option("--public", is_flag=True, help="For customers: --audience external, posted on the status page.")
@click.option("--say", default="", help="Your own words, added to the template's.")
@pass_options
def incident_update(
    options: Options, team: str | None, moment: str, incident_id: str | None, audience: str, public: bool, say: str
) -> None:
    """Write and record the acknowledgment, a status update or the resolution announcement (--public: the
    customers' version, on the status page and to its subscribers)."""
    click.echo(_desk(options, team).update(incident_id, moment, "external" if public else audience, say))


@incident.command("rootcause")
@team_option
@click.option("--service", required=True, help="The service where the fault is.")
@click.option("--kind", required=True, help="The fault kind (`chaoslab fault kinds` lists them).")
@id_option
@pass_options
def incident_rootcause(options: Options, team: str | None, service: str, kind: str, incident_id: str | None) -> None:
    """Name the root cause; graded against the drill, and wrong answers count."""
    correct, said = _desk(options, team).rootcause(incident_id, service, kind)
    click.echo(f"root cause {kind} on {service}: {said}")
    if correct is False:
        sys.exit(1)


@incident.command("resolve")
@team_option
@click.argument("incident_id", required=False)
@click.option(
    "--duration",
    type=float,
    default=VERIFY_DEFAULT_S,
    show_default=True,
    help="Seconds of load the verify runs (a verified fix holds its SLO this long).",
)
@click.option("--unverified", is_flag=True, help="Resolve without proof: recorded as resolved, unverified.")
@pass_options
def incident_resolve(
    options: Options, team: str | None, incident_id: str | None, duration: float, unverified: bool
) -> None:
    """Resolve after a passing verify of the drill's SLO after the last deploy (run now if needed)."""
    last = [0.0]

    def progress(elapsed: float, stats: dict) -> None:
        if elapsed - last[0] >= 10:
            last[0] = elapsed
            rps, failed = stats.get("current_rps", 0), stats.get("fail_ratio", 0)
            click.echo(f"  {elapsed:4.0f}s  {rps:6.1f} req/s  failures {failed:.1%}")

    done = _desk(options, team).resolve(incident_id, duration, unverified, click.echo, progress)
    found = done.incident
    click.echo(f"{found.id} {found.describe_state()} after {duration_text(found)}: {found.first('resolved')['text']}")
    click.echo(f"announce it: `{command('incident update resolved')}`; review: `{command('incident pir')}`")


def duration_text(found) -> str:
    return duration((found.resolved_at or time.time()) - found.declared_at)


@incident.command("pir")
@team_option
@click.argument("incident_id", required=False)
@click.option("--json", "as_json", is_flag=True, help="The review as JSON.")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write it to a file.")
@click.option(
    "--reveal", is_flag=True, help="The truth beside the team's timeline in a mystery (instructors: CHAOSLAB_TOKEN)."
)
@pass_options
def incident_pir(
    options: Options, team: str | None, incident_id: str | None, as_json: bool, output: str | None, reveal: bool
) -> None:
    """Draft the post-incident review (Markdown, or --json) with the incident's real numbers."""
    desk = _desk(options, team, "incident pir --reveal" if reveal else "")
    doc = desk.review(desk.get(incident_id), reveal)
    text = json.dumps(doc, indent=2, default=str) + "\n" if as_json else markdown(doc)
    if output:
        with open(output, "w") as handle:
            handle.write(text)
        click.echo(f"wrote {output}")
    else:
        click.echo(text, nl=False)


@cli.group()
def actions() -> None:
    """Action items a team tracks from drill to drill: list, add (by hand or --from-pir), done."""


@actions.command("list")
@team_option
@click.option("--all", "show_all", is_flag=True, help="Also the items done.")
@click.option("--json", "as_json", is_flag=True)
@pass_options
def actions_list(options: Options, team: str | None, show_all: bool, as_json: bool) -> None:
    """The open action items (with --all, the done ones too), oldest first."""
    tracked = Actions(backend(options, team).store())
    found = tracked.items() if show_all else tracked.open_items()
    if as_json:
        click.echo(json.dumps([i.to_json() for i in found], indent=2))
        return
    if not found:
        click.echo(
            f"no {'' if show_all else 'open '}action items; `{command('actions add --from-pir')}` takes a review's"
        )
    for i in found:
        status = "open" if i.open else f"done {_clock(i.done_at)} by {printable(i.done_by or '-')}"
        click.echo(
            f"{i.id}  {i.type:<8} {printable(i.owner):<14} due {i.due or '-':<10} {status:<6} "
            f"{printable(i.text)}" + (f" ({i.incident})" if i.incident else "")
        )


@actions.command("add")
@team_option
@click.argument("text", required=False, default="")
@click.option("--owner", default="", help="Who does it: a person's name (or a team).")
@click.option("--due", default="", help="By when: a date like 2026-12-31.")
@click.option("--type", "kind", type=click.Choice(TYPES), default="process", show_default=True)
@click.option("--from-pir", "from_pir", is_flag=True, help="Every item of the incident's review draft.")
@id_option
@pass_options
def actions_add(
    options: Options,
    team: str | None,
    text: str,
    owner: str,
    due: str,
    kind: str,
    from_pir: bool,
    incident_id: str | None,
) -> None:
    """Track an item, e.g. `actions add "alert on the outbox backlog" --owner Ana --due 2026-12-31`, or
    every item of the latest review with `actions add --from-pir`."""
    desk = _desk(options, team)
    tracked = Actions(desk.store, desk.lab.actor)
    if not from_pir:
        found = desk.get(incident_id) if incident_id else None
        made = tracked.add(text, owner, due, kind, found.id if found else "")
        click.echo(f"{made.id} added: {printable(made.text)} (owner {printable(made.owner)})")
        return
    if text:
        raise BadInput("--from-pir takes the review's items: give no TEXT with it")
    found = desk.get(incident_id)
    known = {(i.incident, i.text) for i in tracked.items()}
    added = 0
    for item in desk.review(found, False)["action_items"]:
        who = item["owner"]
        if who == "the incident commander":
            who = found.commander or owner or who
        if (found.id, item["item"]) in known:
            continue  # taken from this review already
        tracked.add(item["item"], owner or who, item.get("due") or due, item["type"], found.id)
        added += 1
    click.echo(f"{added} action item(s) from {found.id}'s review; `{command('actions list')}` shows them")


@actions.command("done")
@team_option
@click.argument("item_id")
@pass_options
def actions_done(options: Options, team: str | None, item_id: str) -> None:
    """Mark an item done."""
    lab = backend(options, team)
    made = Actions(lab.store(), lab.actor).done(item_id)
    click.echo(f"{made.id} done: {printable(made.text)}")


QUESTION_OPTIONS = ("what", "when", "scope", "change", "owner")


@cli.command()
@team_option
@id_option
@click.option("--what", default=None, help="WHAT fired: the alert's name, or none.")
@click.option("--when", default=None, help="WHEN the impact started: 14:05, 14:05:30, or 5m ago.")
@click.option(
    "--scope", default=None, help="SCOPE: percent of the hurt journey's requests affected, or all / partial / none."
)
@click.option("--change", default=None, help="RECENT CHANGE: a change id from `chaoslab changes`, or none.")
@click.option("--owner", default=None, help="OWNER: the team that owns it.")
@pass_options
def triage(options: Options, team: str | None, incident_id: str | None, **given: str | None) -> None:
    """The 5-question drill (WHAT, WHEN, SCOPE, RECENT CHANGE, OWNER), graded against the lab's truth.

    Answer by flags, or run it without flags to be asked each question in turn."""
    answers = {q: given.get(q) for q in QUESTION_OPTIONS if given.get(q) is not None}
    if not answers:
        click.echo("Five questions; press Enter to skip one (a skipped question can be answered later).")
        for question in QUESTION_OPTIONS:
            reply = click.prompt(prompt(question), default="", show_default=False).strip()
            if reply:
                answers[question] = reply
    graded = _desk(options, team).triage(incident_id, answers)
    for answer in graded:
        click.echo(f"{answer.question.upper():<7} {printable(answer.given):<28} {answer.note}")
    right = sum(a.correct is True for a in graded)
    click.echo(
        f"{right}/{len(graded)} right" + ("" if all(a.correct is not None for a in graded) else " (some not graded)")
    )


def _print_history(found: dict, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    if not found["drills"]:
        click.echo(f"no incidents yet; `{command('scenario start --mystery')}` starts a drill")
        return

    def t(seconds):
        return duration(seconds) if seconds is not None else "-"

    click.echo(f"{'INCIDENT':<8} {'DECLARED':<14} {'SCENARIO':<17} {'STAGE':<12} {'TTA':>6} {'TTRC':>6} {'TTR':>6}")
    for row in found["drills"]:
        declared = time.strftime("%m-%d %H:%M", time.localtime(row["declared_at"]))
        scenario = row["scenario"] or ("(not graded)" if not row["graded"] else "-")
        click.echo(
            f"{row['incident']:<8} {declared:<14} {scenario:<17} {row['stage']:<12} "
            f"{t(row['tta_s']):>6} {t(row['ttrc_s']):>6} {t(row['ttr_s']):>6}"
        )
    means = found["means"]
    click.echo(
        " · ".join(
            f"{name} {t(means[key]['mean_s'])} over {means[key]['n']}"
            for name, key in (("MTTA", "tta"), ("MTTR", "ttr"), ("mean TTRC", "ttrc"))
        )
    )


@cli.command()
@team_option
@click.argument("incident_id", required=False)
@click.option("--all-teams", is_flag=True, help="A scoreboard of every team namespace on the cluster (instructors).")
@click.option("--reveal", is_flag=True, help="Grade a mystery drill still being played (instructors: CHAOSLAB_TOKEN).")
@click.option("--history", is_flag=True, help="The team's drills in order, with MTTA, MTTR and the mean TTRC.")
@click.option("--json", "as_json", is_flag=True)
@pass_options
def score(
    options: Options,
    team: str | None,
    incident_id: str | None,
    all_teams: bool,
    reveal: bool,
    history: bool,
    as_json: bool,
) -> None:
    """Times (TTD, TTA, TTRC, TTM, TTVF), counts and the ranking time; docs/scoring.md has the formula."""
    if history:
        desk = _desk(options, team, "score --reveal" if reveal else "")
        played = [found for found in desk.incidents() if found.disposition is None]
        _print_history(trend([(found, desk.score_of(found, reveal)) for found in played]), as_json)
        return
    if all_teams:
        scores = []
        for namespace in team_namespaces(options):
            desk = Desk(backend(options.for_namespace(namespace)))
            for found in desk.incidents():
                if found.disposition is not None:
                    continue
                scored = desk.score_of(found, reveal=True)
                scored.team = namespace.removeprefix("chaoslab-")
                scores.append(scored)
    else:
        desk = _desk(options, team, "score --reveal" if reveal else "")
        chosen = [desk.get(incident_id)] if incident_id else desk.incidents()
        if not chosen:
            desk.get(None)  # NoIncident with its hint
        set_aside = [found for found in chosen if found.disposition is not None]
        chosen = [found for found in chosen if found.disposition is None]
        if not as_json:
            for found in set_aside:
                click.echo(f"{found.id}: closed as {found.describe_state()}, not scored")
        scores = [desk.score_of(found, reveal) for found in chosen]
    board = ranked(scores)
    if as_json:
        click.echo(json.dumps([s.to_json() for s in board], indent=2))
        return
    for line in table(board):
        click.echo(line)

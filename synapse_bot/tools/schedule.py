"""schedule, list_schedules, cancel_schedule, resume_schedule, run_schedule: posts on a clock.

- `remind #dev about reviews in acme/widgets, acme/api every weekday at 09:00 [quiet]`: the pull requests waiting
  for review (`review_queue`), posted in the channel;
- `recap #dev every monday at 09:30`: `recap_channel` over the time since the previous run (the last day the first
  time), posted in the channel;
- `remind me about my reviews [in acme/widgets] every day at 08:45`: a DM with the reviews asked of the person and
  their own stuck pull requests (their GitHub login from `my github is …` or SYNAPSE_GITHUB_USERS);
- `list schedules` (this channel's and your own; everything for admins), `cancel schedule <id>`,
  `resume schedule <id>` (one paused because its channel was archived or Synapse removed).
Days are `day`, `weekday`, day names or a comma list of them; the time is on the requester's Slack wall clock
(`users.info` → `tz`) and stays there across daylight-saving changes. The scheduler (`background/scheduler.py`)
turns each due time into `run schedule <id> due <time>`, which only Synapse runs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from synapse_bot.github.client import GitHubClient
from synapse_bot.github.errors import GitHubError
from synapse_bot.integrations.slack_reader import SlackReader, dm_channel
from synapse_bot.request import RequestKind
from synapse_bot.schedules.model import Schedule, ScheduleKind
from synapse_bot.schedules.timing import TimingError, parse_days, parse_time, zone
from synapse_bot.store.schedules import ScheduleStore
from synapse_bot.tools.base import ActionOutcome, Tool, ToolArgs, ToolResult
from synapse_bot.tools.context import ToolContext
from synapse_bot.tools.grammar import CHANNEL, REPO, FastPathError, Grammar, RouteResult, ToolCall, channel_refs
from synapse_bot.tools.recap_channel import RecapChannelArgs
from synapse_bot.tools.review_queue import MAX_REPOS, NO_LOGIN, ReviewQueueArgs, login_of
from synapse_bot.tools.slack_reading import is_admin_user, reading_slack

MAX_PER_TEAM = 200
CANCEL_SCHEDULE_ACTION = "synapse_cancel_schedule"  # the Cancel button beside each schedule on the Home tab
DAY_SECONDS = 86400


class ScheduleArgs(ToolArgs):
    kind: Literal["reviews", "recap", "my_reviews"]
    channel: str | None = Field(default=None, description="#name; default here")
    repos: list[str] = Field(default_factory=list, description="owner/name")
    days: str = Field(description="day, weekday, monday… or a list")
    at: str = Field(description="HH:MM")
    quiet: bool = Field(default=False, description="nothing when empty")

    hints: ClassVar[Mapping[str, str]] = {
        "days": "`day`, `weekday`, `monday` … `sunday`, or a list such as `monday, thursday`",
        "at": "a time such as `09:00`",
        "channel": "a channel, e.g. `#dev`",
        "repos": "repositories as `owner/name`",
    }


class ListSchedulesArgs(ToolArgs):
    pass


class ScheduleIdArgs(ToolArgs):
    id: str = Field(description="the schedule's id, e.g. s1a2b3c")

    hints: ClassVar[Mapping[str, str]] = {"id": "a schedule id from `list schedules`, e.g. `s1a2b3c`"}


class RunScheduleArgs(ToolArgs):
    id: str
    due: int = 0  # the due time of a scheduled run; 0 for its owner trying it out now


def _fail(text: str) -> ToolResult:
    return ToolResult(text=text, ok=False)


def _store(ctx: ToolContext) -> ScheduleStore | None:
    return ctx.services.schedules


def _when(epoch: float, tz: str) -> str:
    """A moment on the schedule's wall clock, named with its zone: "Mon 14 Dec 09:00 (Europe/Berlin)"."""
    moment = datetime.fromtimestamp(epoch, zone(tz))
    return f"{moment:%a} {moment.day} {moment:%b %H:%M} ({tz})"


# schedule ------------------------------------------------------------------------------------------


def _schedule(args: ScheduleArgs, ctx: ToolContext) -> ToolResult:
    store = _store(ctx)
    if store is None:
        return _fail("Schedules need Redis, which this runtime does not have.")
    try:
        days, at = parse_days(args.days), parse_time(args.at)
    except TimingError as exc:
        return _fail(f"I couldn't schedule that: {exc}.")
    team, owner = ctx.request.team_id, ctx.request.user_id
    if len(store.team_schedules(team)) >= MAX_PER_TEAM:
        return _fail(f"This workspace has {MAX_PER_TEAM} schedules already; cancel some first (`list schedules`).")

    def work(reader: SlackReader) -> ToolResult:
        assert store is not None
        tz = str(reader.user_info(owner).get("tz") or "UTC")
        try:
            zone(tz)
        except TimingError:
            tz = "UTC"
        kind = ScheduleKind(args.kind)
        target = _target(ctx, reader, args, kind)
        if isinstance(target, ToolResult):
            return target
        repos = _checked_repos(ctx, reader, args, kind)
        if isinstance(repos, ToolResult):
            return repos
        schedule = Schedule(
            team_id=team,
            kind=kind,
            owner=owner,
            channel_id=target,
            repos=repos,
            days=sorted(days),
            at=at.strftime("%H:%M"),
            tz=tz,
            quiet=args.quiet,
            created_at=time.time(),
        )
        next_due = schedule.due_after(time.time())
        store.save(schedule, next_due)
        return ToolResult(
            text=f"Scheduled {schedule.describe()}. First post: {_when(next_due, tz)}. "
            f"`cancel schedule {schedule.id}` stops it.",
            data={"schedule": schedule.id, "next_due": int(next_due)},
            changed=True,
        )

    return reading_slack(ctx, "Schedules need", work)


def _target(ctx: ToolContext, reader: SlackReader, args: ScheduleArgs, kind: ScheduleKind) -> str | ToolResult:
    """Where the schedule posts: the owner's DM for their own reviews, else the channel (which Synapse must be in,
    and which, when private, the owner must be in: a recap of it posts only there)."""
    owner = ctx.request.user_id
    if kind is ScheduleKind.MY_REVIEWS:
        return dm_channel(reader, owner)
    channel = reader.resolve_channel(args.channel or ctx.request.context_channel_id or ctx.request.channel_id)
    if channel.startswith("D"):
        if kind is ScheduleKind.RECAP:
            return _fail("Which channel should I recap? For example: `recap #dev every monday at 09:00`.")
        return channel
    info = reader.channel_info(channel)
    if not info.get("is_member"):
        return _fail(f"I'm not in <#{channel}>, so I couldn't post there. Invite me with `/invite @synapse` first.")
    if info.get("is_archived"):
        return _fail(f"<#{channel}> is archived: nothing can be posted there.")
    if (info.get("is_private") or channel.startswith("G")) and not reader.is_member(channel, owner):
        return _fail(f"You're not in <#{channel}>, so you can't schedule posts there.")
    return channel


def _checked_repos(
    ctx: ToolContext, reader: SlackReader, args: ScheduleArgs, kind: ScheduleKind
) -> list[str] | ToolResult:
    if kind is ScheduleKind.RECAP:
        return []
    repos = list(dict.fromkeys(args.repos)) or ctx.settings.default_repo_list
    if kind is ScheduleKind.MY_REVIEWS and login_of(ctx, ctx.request.user_id) is None:
        return _fail(NO_LOGIN)
    if not repos:
        return _fail(
            "Which repositories? For example: `remind #dev about reviews in acme/widgets every weekday at 09:00`."
        )
    if len(repos) > MAX_REPOS:
        return _fail(f"At most {MAX_REPOS} repositories a reminder (got {len(repos)}): make two reminders.")
    try:
        ReviewQueueArgs(repos=repos)
    except ValueError:
        return _fail("Repositories are `owner/name`, e.g. `acme/widgets`.")
    client = ctx.services.github or GitHubClient(ctx.settings)
    named = []
    for repo in repos:
        try:
            info = client.repo_info(repo)
        except GitHubError as exc:
            return _fail(str(exc))
        if (
            info.private
            and kind is ScheduleKind.REVIEWS
            and not is_admin_user(ctx.settings.admin_ids, reader, ctx.request.user_id)
        ):
            return _fail(
                f"{info.full_name} is private: only a Synapse admin (SYNAPSE_ADMINS) or a workspace admin may schedule "
                "its review list into a channel."
            )
        named.append(info.full_name)
    return named


# list / cancel / resume ----------------------------------------------------------------------------


def _is_admin(ctx: ToolContext) -> bool:
    if ctx.request.user_id in ctx.settings.admin_ids:
        return True
    if ctx.services.slack is None:
        return False
    reader = SlackReader(ctx.services.slack, ctx.services.redis, ctx.services.keys, ctx.request.team_id)
    return is_admin_user(ctx.settings.admin_ids, reader, ctx.request.user_id)


def _list(args: ListSchedulesArgs, ctx: ToolContext) -> ToolResult:
    store = _store(ctx)
    if store is None:
        return _fail("Schedules need Redis, which this runtime does not have.")
    request = ctx.request
    here = request.context_channel_id or request.channel_id
    everything = store.team_schedules(request.team_id)
    admin = _is_admin(ctx)
    shown = [s for s in everything if admin or s.owner == request.user_id or s.channel_id == here]
    if not shown:
        return ToolResult(
            text="No schedules here or of yours. For example: `remind #dev about reviews in acme/widgets every "
            "weekday at 09:00`."
        )
    lines = []
    for schedule in shown:
        due = store.next_due(request.team_id, schedule.id)
        after = f" — next {_when(due, schedule.tz)}" if due and not schedule.paused else ""
        lines.append(f"• {schedule.describe()}{after}")
    title = "All schedules" if admin else "Schedules here and yours"
    return ToolResult(text=f"*{title}* ({len(shown)})\n" + "\n".join(lines), data={"count": len(shown)})


def _owned(ctx: ToolContext, schedule_id: str) -> Schedule | ToolResult:
    store = _store(ctx)
    if store is None:
        return _fail("Schedules need Redis, which this runtime does not have.")
    schedule = store.get(ctx.request.team_id, schedule_id.strip().lower())
    if schedule is None:
        return _fail(f"There is no schedule `{schedule_id}` — `list schedules` shows their ids.")
    if schedule.owner != ctx.request.user_id and not _is_admin(ctx):
        return _fail(f"Schedule `{schedule.id}` is <@{schedule.owner}>'s: only they or an admin may change it.")
    return schedule


def _cancel_clicked(ctx: ToolContext, value: str) -> ActionOutcome:
    """The Home tab's Cancel button: value is the schedule id; its owner or an admin may cancel it."""
    result = _cancel(ScheduleIdArgs(id=value), ctx)
    return ActionOutcome(result.text, private=True, refresh_home=True)


def _cancel(args: ScheduleIdArgs, ctx: ToolContext) -> ToolResult:
    schedule = _owned(ctx, args.id)
    if isinstance(schedule, ToolResult):
        return schedule
    assert ctx.services.schedules is not None
    ctx.services.schedules.remove(schedule.team_id, schedule.id)
    return ToolResult(text=f"Cancelled schedule `{schedule.id}` ({schedule.what()}).", changed=True)


def _resume(args: ScheduleIdArgs, ctx: ToolContext) -> ToolResult:
    schedule = _owned(ctx, args.id)
    if isinstance(schedule, ToolResult):
        return schedule
    assert ctx.services.schedules is not None
    resumed = schedule.model_copy(update={"paused": None, "missed": 0})
    next_due = resumed.due_after(time.time())
    ctx.services.schedules.save(resumed, next_due)
    return ToolResult(text=f"Resumed schedule `{schedule.id}`; next post {_when(next_due, schedule.tz)}.", changed=True)


# run (Synapse only) --------------------------------------------------------------------------------


def _run(args: RunScheduleArgs, ctx: ToolContext) -> ToolResult:
    """One due run: the schedule's post (empty when it is quiet and there is nothing: nothing is posted)."""
    store = _store(ctx)
    if store is None:
        return _fail("Schedules need Redis, which this runtime does not have.")
    schedule = store.get(ctx.request.team_id, args.id)
    if schedule is None:
        return ToolResult(text="")  # cancelled since it fell due
    if ctx.request.kind is not RequestKind.AUTOMATIC:
        if schedule.owner != ctx.request.user_id and not _is_admin(ctx):
            return _fail(f"Schedule `{schedule.id}` is <@{schedule.owner}>'s: only they or an admin may try it out.")
        # A try-out: posted here, now; the schedule's own runs (and the window of its next recap) are unchanged.
        return _run_kind(schedule, int(time.time()), ctx)
    result = _run_kind(schedule, args.due, ctx)
    store.update(schedule.model_copy(update={"last_due": float(args.due), "missed": 0}))
    empty = bool(result.data.get("empty"))
    if empty and schedule.quiet:
        return ToolResult(text="", data=result.data)
    note = ""
    if schedule.missed:
        runs = "run was" if schedule.missed == 1 else "runs were"
        note = f"\n_({schedule.missed} earlier {runs} missed while Synapse was down.)_"
    return result.model_copy(update={"text": result.text + note, "changed": False})


def _run_kind(schedule: Schedule, due: int, ctx: ToolContext) -> ToolResult:
    if schedule.kind is ScheduleKind.RECAP:
        since = schedule.last_due or (due - DAY_SECONDS)
        recap = ctx.registry.get("recap_channel")
        assert recap is not None
        result = recap.run(RecapChannelArgs(channel=schedule.channel_id, since=f"{since:.6f}"), ctx)
        return result.model_copy(update={"data": {**result.data, "empty": result.data.get("messages") == 0}})
    queue = ctx.registry.get("review_queue")
    assert queue is not None
    mine = schedule.kind is ScheduleKind.MY_REVIEWS
    return queue.run(ReviewQueueArgs(repos=schedule.repos, mine=mine), ctx)


# The fast path -------------------------------------------------------------------------------------

_AT = r"(?P<at>\d{1,2}(?::\d{2})?\s*(?:am|pm)?|noon|midday|midnight)"
_EVERY = r"\s+every\s+(?P<days>.+?)\s+at\s+" + _AT + r"(?P<quiet>\s+quiet(?:ly)?)?\.?$"
_REMIND_CHANNEL = re.compile(
    r"^remind\s+(?P<channel>\S+)\s+(?:about|of)\s+(?:the\s+)?(?:pending\s+)?reviews?\s+(?:in|for|of)\s+(?P<repos>.+?)"
    + _EVERY,
    re.I,
)
_REMIND_ME = re.compile(
    r"^remind\s+me\s+(?:about|of)\s+my\s+(?:pending\s+)?reviews?(?:\s+in\s+(?P<repos>.+?))?" + _EVERY, re.I
)
_RECAP = re.compile(r"^recap\s+(?P<channel>\S+)" + _EVERY, re.I)
_LIST = re.compile(r"^(?:list|show)\s+(?:all\s+|my\s+|the\s+)?schedules?\??$", re.I)
_ID = re.compile(r"^(?P<verb>cancel|delete|remove|stop|resume)\s+schedule\s+`?(?P<id>s[0-9a-f]{6})`?\.?$", re.I)
_RUN = re.compile(
    r"^(?:run|try)\s+schedule\s+`?(?P<id>s[0-9a-f]{6})`?(?:\s+due\s+(?P<due>\d{9,11}))?(?:\s+now)?\.?$", re.I
)


def _repos_in(text: str) -> list[str]:
    return [f"{m.group(1)}/{m.group(2)}" for m in REPO.finditer(text)]


def _parse(text: str, lower: str) -> RouteResult:
    if _LIST.match(text):
        return [ToolCall("list_schedules", {})]
    if match := _ID.match(text):
        name = "resume_schedule" if match["verb"].lower() == "resume" else "cancel_schedule"
        return [ToolCall(name, {"id": match["id"].lower()})]
    if match := _RUN.match(text):
        due = int(match["due"]) if match["due"] else 0  # 0: now, its owner trying it out
        return [ToolCall("run_schedule", {"id": match["id"].lower(), "due": due})]
    timing = {}
    if match := _REMIND_ME.match(text):
        call = {"kind": "my_reviews", "repos": _repos_in(match["repos"] or "")}
    elif match := _REMIND_CHANNEL.match(text):
        if not CHANNEL.fullmatch(match["channel"]):
            return FastPathError(
                "Which channel? For example: `remind #dev about reviews in acme/widgets every weekday at 09:00`."
            )
        repos = _repos_in(match["repos"])
        if not repos:
            return FastPathError("Which repositories? Name them as `owner/name`, e.g. `acme/widgets`.")
        call = {"kind": "reviews", "channel": channel_refs(match["channel"])[0], "repos": repos}
    elif match := _RECAP.match(text):
        if not CHANNEL.fullmatch(match["channel"]):
            return None
        call = {"kind": "recap", "channel": channel_refs(match["channel"])[0]}
    else:
        if re.match(r"^(?:remind|recap)\b.*\bevery\b", lower):
            return FastPathError(
                "I didn't get the schedule. Say e.g. `remind #dev about reviews in acme/widgets every weekday at "
                "09:00`, `recap #dev every monday at 09:30` or `remind me about my reviews every day at 08:45`."
            )
        return None
    timing = {"days": match["days"], "at": match["at"], "quiet": bool(match["quiet"])}
    return [ToolCall("schedule", {**call, **timing})]


GRAMMAR = Grammar(verbs=("remind", r"recap\s+\S+\s+every", "list", "cancel", "resume", "run"), parse=_parse, exact=True)

TOOL = Tool(
    name="schedule",
    summary="post review reminders, channel recaps or your own reviews on a schedule",
    description=(
        "Post on a schedule: reviews (PRs waiting in repos, to a channel), recap (of a channel), my_reviews (a DM)."
    ),
    args_model=ScheduleArgs,
    handler=_schedule,
    status="is setting up the schedule…",
    examples=(
        "remind #dev about reviews in acme/widgets every weekday at 09:00",
        "recap #dev every monday at 09:30",
        "remind me about my reviews every day at 08:45",
    ),
    grammar=GRAMMAR,
)
LIST_TOOL = Tool(
    name="list_schedules",
    summary="list the schedules of this channel and yours",
    description="List schedules: this channel's and the requester's (all for admins).",
    args_model=ListSchedulesArgs,
    handler=_list,
    examples=("list schedules",),
    offered_to_model=False,
)
CANCEL_TOOL = Tool(
    name="cancel_schedule",
    summary="cancel a schedule",
    description="Cancel a schedule by id (its owner or an admin).",
    args_model=ScheduleIdArgs,
    handler=_cancel,
    examples=("cancel schedule s1a2b3c",),
    actions={CANCEL_SCHEDULE_ACTION: _cancel_clicked},
    offered_to_model=False,
)
RESUME_TOOL = Tool(
    name="resume_schedule",
    summary="resume a paused schedule",
    description="Resume a paused schedule by id (its owner or an admin).",
    args_model=ScheduleIdArgs,
    handler=_resume,
    examples=("resume schedule s1a2b3c",),
    offered_to_model=False,
)
RUN_TOOL = Tool(
    name="run_schedule",
    summary="try a schedule out now, in the thread (Synapse runs them at their times itself)",
    description="Run one schedule.",
    args_model=RunScheduleArgs,
    handler=_run,
    examples=("run schedule s1a2b3c",),
    offered_to_model=False,
)

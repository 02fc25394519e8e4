"""The thread a question was asked in, as the model will see it: read from Slack, cut to the context budget.

Only for questions asked inside a thread (a reply, a DM thread, a follow-up): a mention at a channel's top level
has no thread to read. The thread is read once (one `conversations.replies` page for up to 1,000 messages); a
cached summary of it is used for the older part when there is one, never made for this.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time

import redis

from synapse_bot.context.excerpt import CountTokens, Excerpt, ThreadMessage, thread_excerpt
from synapse_bot.context.github_links import LinkedItem, github_links, linked_block
from synapse_bot.github.client import GitHubClient
from synapse_bot.github.errors import GitHubError
from synapse_bot.integrations.slack_reader import SlackReader, SlackReadError
from synapse_bot.request import RequestKind, SlackRequest
from synapse_bot.store.linked_items import TTL_S, LinkedItems
from synapse_bot.summaries.model import ThreadSummary
from synapse_bot.summaries.slack_text import mentioned_users
from synapse_bot.summaries.transcript import build_lines
from synapse_bot.tools.context import ToolServices

log = logging.getLogger(__name__)


def in_a_thread(request: SlackRequest) -> bool:
    """Asked in a thread by a person (a mention, a follow-up, the shortcut): that thread is the question's context."""
    return request.kind in (RequestKind.MENTION, RequestKind.SHORTCUT) and request.thread_asked_in is not None


def permalink(workspace_url: str, channel: str, ts: str, thread_ts: str) -> str:
    """A message's link, built as Slack builds it (no API call per message)."""
    link = f"{workspace_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"
    return link if ts == thread_ts else f"{link}?thread_ts={thread_ts}&cid={channel}"


def summary_text(summary: ThreadSummary) -> str:
    parts = [summary.tldr, *[f"- {p}" for p in summary.key_points]]
    parts += [f"- decided: {d}" for d in summary.decisions]
    parts += [f"- to do: {a.task}" + (f" ({a.owner})" if a.owner else "") for a in summary.action_items]
    parts += [f"- open: {q}" for q in summary.open_questions]
    return "\n".join(parts)


def read_thread_excerpt(
    request: SlackRequest, services: ToolServices, question: str, budget: int, count: CountTokens
) -> Excerpt | None:
    """The excerpt of the request's thread for `question`; None outside a thread or when Slack refuses the read."""
    if not in_a_thread(request) or services.slack is None or not request.thread_ts:
        return None
    channel, thread_ts = request.channel_id, request.thread_ts
    reader = SlackReader(services.slack, services.redis, services.keys, request.team_id, services.secrets)
    try:
        messages = [m for m in reader.replies(channel, thread_ts) if str(m.get("ts")) != request.message_ts]
        people = {str(m.get("user", "")) for m in messages}
        for message in messages:
            people |= mentioned_users(str(message.get("text", "")))
        names = reader.user_names(people)
    except SlackReadError as exc:
        log.info("thread not readable for context", extra={"error": str(exc)[:200]})
        return None
    position = {str(m.get("ts")): index + 1 for index, m in enumerate(messages)}
    lines = build_lines(messages, names, bot_user_id=services.bot_user_id)
    url = services.workspace_url
    thread = [
        ThreadMessage(f"m{position[line.ts]}", line, permalink(url, channel, line.ts, thread_ts) if url else None)
        for line in lines
    ]
    cached = services.summaries.get(request.team_id, channel, thread_ts) if services.summaries else None
    summary = summary_text(cached.summary) if cached and not cached.offline else None
    if not thread:
        return None  # nothing from people yet: no empty block for a small model to repeat back
    linked = linked_block(_linked_items(request.team_id, [str(m.get("text", "")) for m in messages], services))
    linked_tokens = count(linked) + 1 if linked else 0
    excerpt = thread_excerpt(
        thread, question, max(200, budget - linked_tokens), count, where=f"Slack channel {channel}", summary=summary
    )
    if not linked:
        return excerpt
    return dataclasses.replace(excerpt, text=f"{excerpt.text}\n{linked}", tokens=excerpt.tokens + linked_tokens)


def _linked_items(team: str, texts: list[str], services: ToolServices) -> list[LinkedItem]:
    """The GitHub issues and PRs linked in the thread: title, state, labels (read once, cached ten minutes; a failed
    read one minute). A private repository's are named, not read: whoever reads the answer may not be able to read
    them. Reads run side by side and are waited for `LINKED_READ_S` at most: a slow GitHub must not hold up the
    answer (a read that finishes later is cached for the next question)."""
    links = github_links(texts)
    github = services.github
    if not links or github is None:
        return []
    cache = LinkedItems(services.redis, services.keys) if services.redis is not None else None
    found = {(repo, number): _cached(cache, team, repo, number) for repo, number in links}
    missing = [link for link, item in found.items() if item is None]
    if missing:
        read: dict[tuple[str, int], LinkedItem] = {}

        def read_one(link: tuple[str, int]) -> None:
            item = _read_linked(github, *link)
            _store(cache, team, item)
            read[link] = item

        # Daemon threads: a read stuck on GitHub must not hold up this answer, nor the process's exit either.
        readers = [threading.Thread(target=read_one, args=(link,), daemon=True) for link in missing]
        for reader in readers:
            reader.start()
        until = time.monotonic() + LINKED_READ_S
        for reader in readers:
            reader.join(max(0.0, until - time.monotonic()))
        for link in missing:
            found[link] = read.get(link) or LinkedItem(*link, problem="GitHub did not answer in time")
    return [item for item in found.values() if item is not None]


PRIVATE = "a private repository"
LINKED_READ_S = 3.0
FAILED_READ_TTL_S = 60


def _read_linked(github: GitHubClient, repo: str, number: int) -> LinkedItem:
    try:
        if github.repo_info(repo).private:
            return LinkedItem(repo, number, problem=PRIVATE)
        issue = github.issue(repo, number, comments=0)
    except GitHubError as exc:
        return LinkedItem(repo, number, problem=str(exc)[:120])
    state = "merged" if issue.merged else issue.state
    return LinkedItem(repo, number, issue.title[:200], state, issue.is_pull_request, issue.labels[:8])


def _cached(cache: LinkedItems | None, team: str, repo: str, number: int) -> LinkedItem | None:
    if cache is None:
        return None
    try:
        return cache.get(team, repo, number)
    except (redis.RedisError, OSError, TypeError, ValueError):
        return None


def _store(cache: LinkedItems | None, team: str, item: LinkedItem) -> None:
    if cache is None:
        return
    try:
        # A failed read (GitHub down, no access) is kept only a minute: worth trying again soon.
        cache.put(team, item, ttl_s=TTL_S if item.problem in (None, PRIVATE) else FAILED_READ_TTL_S)
    except (redis.RedisError, OSError):
        log.debug("linked item not cached", exc_info=True)

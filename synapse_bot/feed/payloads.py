"""GitHub's JSON as observations: the same parsers read the REST API's lists and objects and the webhooks'
payloads (GitHub sends the same issue, pull request, comment, review, check run and release objects both ways)."""

from __future__ import annotations

import re
from typing import Any

from synapse_bot.feed.model import CheckRun, Comment, Item, Observations, Release, Review, Source, is_bot, parse_time

# Webhook events Synapse reads, and what it does with each; others are acknowledged and ignored.
WEBHOOK_EVENTS = ("issues", "pull_request", "pull_request_review", "issue_comment", "check_run", "release")
_ISSUE_NUMBER = re.compile(r"/issues/(\d+)$")


class PayloadError(ValueError):
    """A payload that is not the JSON GitHub sends for its event (the webhook answers 400 with this message)."""


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _login(user: Any) -> tuple[str, bool]:
    user = _dict(user)
    login = str(user.get("login") or "someone")
    return login, is_bot(login, str(user.get("type") or ""))


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit():
        raise PayloadError(f"{what} is missing or not a number")
    return int(value)


def _labels(data: dict[str, Any]) -> list[str]:
    return [str(_dict(label).get("name")) for label in data.get("labels") or [] if _dict(label).get("name")]


def item_from_issue(repo: str, data: dict[str, Any]) -> Item:
    """An issue object (issue lists and single issues, the `issue` of webhooks); pull requests appear as issues
    with a `pull_request` member (merged_at included), without their PR details."""
    author, bot = _login(data.get("user"))
    pull = data.get("pull_request")
    merged_at = parse_time(_dict(pull).get("merged_at")) if pull else None
    return Item(
        repo=repo,
        number=_int(data.get("number"), "issue number"),
        is_pull=bool(pull),
        title=str(data.get("title") or ""),
        url=str(data.get("html_url") or ""),
        author=author,
        author_bot=bot,
        state=str(data.get("state") or "open"),
        merged=merged_at is not None,
        draft=bool(data.get("draft")),
        labels=_labels(data),
        created_at=parse_time(data.get("created_at")) or 0.0,
        updated_at=parse_time(data.get("updated_at")) or 0.0,
        closed_at=parse_time(data.get("closed_at")),
        merged_at=merged_at,
    )


def item_from_pull(repo: str, data: dict[str, Any]) -> Item:
    """A pull request object (`GET /pulls/{n}`, the `pull_request` of webhooks), with its details."""
    author, bot = _login(data.get("user"))
    merged_at = parse_time(data.get("merged_at"))
    base, head = _dict(data.get("base")), _dict(data.get("head"))
    reviewers = [str(_dict(u).get("login")) for u in data.get("requested_reviewers") or [] if _dict(u).get("login")]
    teams = [f"team {_dict(t).get('slug')}" for t in data.get("requested_teams") or [] if _dict(t).get("slug")]
    return Item(
        repo=repo,
        number=_int(data.get("number"), "pull request number"),
        is_pull=True,
        title=str(data.get("title") or ""),
        url=str(data.get("html_url") or ""),
        author=author,
        author_bot=bot,
        state=str(data.get("state") or "open"),
        merged=bool(data.get("merged")) or merged_at is not None,
        draft=bool(data.get("draft")),
        labels=_labels(data),
        created_at=parse_time(data.get("created_at")) or 0.0,
        updated_at=parse_time(data.get("updated_at")) or 0.0,
        closed_at=parse_time(data.get("closed_at")),
        merged_at=merged_at,
        detailed=True,
        base=str(base.get("ref") or ""),
        head=str(head.get("ref") or ""),
        head_sha=str(head.get("sha") or ""),
        additions=int(data.get("additions") or 0),
        deletions=int(data.get("deletions") or 0),
        changed_files=int(data.get("changed_files") or 0),
        requested_reviewers=reviewers + teams,
    )


def comment_from(repo: str, data: dict[str, Any], number: int | None = None) -> Comment:
    """An issue or PR conversation comment; its number from `issue_url` when the list does not say."""
    if number is None:
        match = _ISSUE_NUMBER.search(str(data.get("issue_url") or ""))
        if match is None:
            raise PayloadError("comment without issue_url")
        number = int(match.group(1))
    author, bot = _login(data.get("user"))
    return Comment(
        repo=repo,
        number=number,
        id=_int(data.get("id"), "comment id"),
        author=author,
        author_bot=bot,
        body=str(data.get("body") or ""),
        url=str(data.get("html_url") or ""),
        created_at=parse_time(data.get("created_at")) or 0.0,
    )


def review_from(repo: str, number: int, data: dict[str, Any]) -> Review:
    reviewer, bot = _login(data.get("user"))
    return Review(
        repo=repo,
        number=number,
        id=_int(data.get("id"), "review id"),
        reviewer=reviewer,
        reviewer_bot=bot,
        state=str(data.get("state") or "COMMENTED").upper(),  # webhooks say "approved", the REST API "APPROVED"
        body=str(data.get("body") or ""),
        url=str(data.get("html_url") or ""),
        submitted_at=parse_time(data.get("submitted_at")) or 0.0,
    )


def check_from(repo: str, data: dict[str, Any], numbers: list[int] | None = None) -> CheckRun:
    output = _dict(data.get("output"))
    if numbers is None:
        numbers = [int(n) for p in data.get("pull_requests") or [] if str(n := _dict(p).get("number", "")).isdigit()]
    return CheckRun(
        repo=repo,
        numbers=numbers,
        id=_int(data.get("id"), "check run id"),
        name=str(data.get("name") or "check"),
        status=str(data.get("status") or "completed"),
        conclusion=str(data["conclusion"]) if data.get("conclusion") else None,
        title=str(output.get("title") or ""),
        summary=str(output.get("summary") or ""),
        url=str(data.get("html_url") or data.get("details_url") or ""),
        head_sha=str(data.get("head_sha") or ""),
        completed_at=parse_time(data.get("completed_at")) or 0.0,
    )


def release_from(repo: str, data: dict[str, Any]) -> Release:
    author, bot = _login(data.get("author"))
    return Release(
        repo=repo,
        id=_int(data.get("id"), "release id"),
        tag=str(data.get("tag_name") or ""),
        name=str(data.get("name") or ""),
        url=str(data.get("html_url") or ""),
        author=author,
        author_bot=bot,
        published_at=parse_time(data.get("published_at")) or parse_time(data.get("created_at")) or 0.0,
        prerelease=bool(data.get("prerelease")),
        draft=bool(data.get("draft")),
    )


def webhook_repo(payload: dict[str, Any]) -> str | None:
    """owner/name of the repository a webhook payload is about (a ping for an organisation hook has none)."""
    name = _dict(payload.get("repository")).get("full_name")
    return str(name) if isinstance(name, str) and "/" in name else None


def from_webhook(event: str, payload: dict[str, Any]) -> Observations | None:
    """The observations a webhook delivery carries; None for events and actions Synapse does not post."""
    repo = webhook_repo(payload)
    if repo is None or event not in WEBHOOK_EVENTS:
        return None
    seen = Observations(repo=repo, source=Source.WEBHOOK)
    action = str(payload.get("action") or "")
    try:
        if event == "issues":
            seen.items.append(item_from_issue(repo, _dict(payload.get("issue"))))
        elif event == "pull_request":
            seen.items.append(item_from_pull(repo, _dict(payload.get("pull_request"))))
        elif event == "pull_request_review":
            pull = item_from_pull(repo, _dict(payload.get("pull_request")))
            seen.items.append(pull)
            if action == "submitted":
                seen.reviews.append(review_from(repo, pull.number, _dict(payload.get("review"))))
        elif event == "issue_comment":
            issue = item_from_issue(repo, _dict(payload.get("issue")))
            seen.items.append(issue)
            if action == "created":
                seen.comments.append(comment_from(repo, _dict(payload.get("comment")), issue.number))
        elif event == "check_run":
            seen.checks.append(check_from(repo, _dict(payload.get("check_run"))))
        elif event == "release" and action in ("published", "released", "prereleased"):
            seen.releases.append(release_from(repo, _dict(payload.get("release"))))
    except (TypeError, AttributeError) as exc:
        raise PayloadError(f"the {event} payload is not shaped as GitHub sends it ({exc})") from None
    return seen if not seen.empty else None

"""The GitHub stand-in's repositories changing while the bot runs: what people and CI do on GitHub, with real
timestamps, each change also recorded on the repository events feed (visible only after `events_lag_s`, as GitHub
documents its feed) and sent to the webhooks added with `add_hook`, signed as GitHub signs them.

A mixin of `GitHubServer` (it uses the server's repositories, lock and JSON builders); tests call these methods.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from synapse_sandbox.github_server import FileChange, _Repo

EVENT_TYPES = {
    "issues": "IssuesEvent",
    "pull_request": "PullRequestEvent",
    "pull_request_review": "PullRequestReviewEvent",
    "issue_comment": "IssueCommentEvent",
    "release": "ReleaseEvent",
}


def user_json(login: str) -> dict[str, Any]:
    """A GitHub account; apps' accounts (logins ending in [bot]) are `type: Bot`, as GitHub marks them."""
    return {
        "login": login,
        "id": int(hashlib.sha1(login.encode()).hexdigest()[:7], 16),
        "type": "Bot" if login.endswith("[bot]") else "User",
        "html_url": f"https://github.com/{login}",
    }


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def signature(secret: str, body: bytes) -> str:
    """`X-Hub-Signature-256`: the HMAC-SHA256 of the raw body with the hook's secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Hook:
    url: str
    secret: str
    content_type: str = "json"  # or "form": payload=<json>, as GitHub sends for application/x-www-form-urlencoded
    id: int = 1


@dataclass
class Delivery:
    """One webhook delivery as GitHub records it: what was sent and what the receiver answered."""

    id: str
    event: str
    body: bytes
    hook: Hook
    status: int | None = None  # None until answered; 0 when nothing answered
    answer: str = ""
    seconds: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)


class LiveRepos:
    # Provided by GitHubServer.
    repos: dict[str, _Repo]
    _lock: threading.RLock
    _ids: Any
    events_lag_s: float

    def _init_live(self) -> None:
        self.hooks: list[Hook] = []
        self.deliveries: list[Delivery] = []
        self._sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sandbox-hooks")  # in order, like GitHub

    # Fixture-side builders GitHubServer defines.
    if TYPE_CHECKING:
        _issue_json: Any
        _pull_json: Any
        _comment_json: Any
        _repo_json: Any
        _paged: Any
        _label: Any
        add_issue: Any
        add_pull: Any

    # What people do ------------------------------------------------------------------------------

    def _repo(self, full_name: str) -> _Repo:
        return self.repos[full_name.lower()]

    def _touch(self, repo: _Repo, number: int) -> dict[str, Any]:
        issue = repo.issues[number]
        issue["updated_at"] = now_iso()
        return issue

    def open_issue(
        self, full_name: str, title: str, body: str = "", *, user: str = "octocat", labels: list[str] | None = None
    ) -> int:
        stamp = now_iso()
        number = self.add_issue(full_name, title, body, user=user, labels=labels, updated_at=stamp)
        with self._lock:
            repo = self._repo(full_name)
            repo.issues[number]["created_at"] = stamp
            self._emit(repo, "issues", "opened", user, issue=self._issue_json(repo, repo.issues[number]))
        return number

    def open_pull(
        self,
        full_name: str,
        title: str,
        body: str = "",
        *,
        user: str = "octocat",
        files: list[FileChange] | None = None,
        draft: bool = False,
        requested_reviewers: list[str] | None = None,
        labels: list[str] | None = None,
        base: str = "main",
    ) -> int:
        stamp = now_iso()
        number = self.add_pull(
            full_name,
            title,
            body,
            user=user,
            files=files,
            draft=draft,
            requested_reviewers=requested_reviewers,
            labels=labels,
            base=base,
        )
        with self._lock:
            repo = self._repo(full_name)
            repo.issues[number].update(created_at=stamp, updated_at=stamp)
            self._emit_pull(repo, number, "opened", user)
        return number

    def comment(self, full_name: str, number: int, body: str, *, user: str = "octocat") -> int:
        with self._lock:
            repo = self._repo(full_name)
            issue = self._touch(repo, number)
            comment_id = next(self._ids)
            stamp = issue["updated_at"]
            repo.comments[number].append(
                {"id": comment_id, "body": body, "user": user, "created_at": stamp, "updated_at": stamp}
            )
            issue["comments"] = len(repo.comments[number])
            self._emit(
                repo,
                "issue_comment",
                "created",
                user,
                issue=self._issue_json(repo, issue),
                comment=self._comment_json(repo, number, repo.comments[number][-1]),
            )
            return comment_id

    def submit_review(self, full_name: str, number: int, user: str, state: str = "APPROVED", body: str = "") -> int:
        """A review submitted now (APPROVED, CHANGES_REQUESTED or COMMENTED with a body)."""
        with self._lock:
            repo = self._repo(full_name)
            issue = self._touch(repo, number)
            review_id = next(self._ids)
            review = {
                "id": review_id,
                "node_id": "PRR_x",
                "body": body,
                "state": state,
                "user": user_json(user),
                "html_url": f"https://github.com/{repo.full_name}/pull/{number}#pullrequestreview-{review_id}",
                "commit_id": repo.head(number),
                "submitted_at": issue["updated_at"],
            }
            repo.reviews[number].append(review)
            pending = issue["pull_request"]["requested_reviewers"]
            if user in pending:
                pending.remove(user)
            self._emit(
                repo,
                "pull_request_review",
                "submitted",
                user,
                review={**review, "state": state.lower()},  # webhooks spell review states in lower case
                pull_request=self._pull_json(repo, issue),
            )
            return review_id

    def close(self, full_name: str, number: int, *, user: str = "octocat") -> None:
        with self._lock:
            repo = self._repo(full_name)
            issue = self._touch(repo, number)
            issue.update(state="closed", closed_at=issue["updated_at"], state_reason="completed")
            self._emit_item(repo, number, "closed", user)

    def reopen(self, full_name: str, number: int, *, user: str = "octocat") -> None:
        with self._lock:
            repo = self._repo(full_name)
            issue = self._touch(repo, number)
            issue.update(state="open", closed_at=None, state_reason="reopened")
            self._emit_item(repo, number, "reopened", user)

    def merge(self, full_name: str, number: int, *, user: str = "octocat") -> None:
        with self._lock:
            repo = self._repo(full_name)
            issue = self._touch(repo, number)
            issue.update(state="closed", closed_at=issue["updated_at"])
            issue["pull_request"].update(merged=True, merged_at=issue["updated_at"])
            self._emit_item(repo, number, "closed", user)

    def set_labels(self, full_name: str, number: int, labels: list[str], *, user: str = "octocat") -> None:
        with self._lock:
            repo = self._repo(full_name)
            issue = self._touch(repo, number)
            issue["labels"] = [repo.labels.get(n.lower()) or self._label(repo.full_name, n) for n in labels]
            self._emit_item(repo, number, "labeled", user)

    def mark_ready(self, full_name: str, number: int, *, user: str = "octocat") -> None:
        with self._lock:
            repo = self._repo(full_name)
            issue = self._touch(repo, number)
            issue["pull_request"]["draft"] = False
            self._emit_item(repo, number, "ready_for_review", user)

    def push(self, full_name: str, number: int, *, user: str = "octocat") -> str:
        """A new commit on the pull request's branch: a new head sha (its checks start over)."""
        with self._lock:
            repo = self._repo(full_name)
            self._touch(repo, number)
            sha = hashlib.sha1(f"{full_name}#{number}:{time.time()}".encode()).hexdigest()
            repo.heads[number] = sha
            self._emit_item(repo, number, "synchronize", user)
            return sha

    def finish_check(
        self,
        full_name: str,
        number: int,
        name: str,
        conclusion: str = "failure",
        *,
        title: str = "",
        summary: str = "",
    ) -> int:
        """A check run on the pull request's head that completed now (GitHub Actions, say)."""
        with self._lock:
            repo = self._repo(full_name)
            run_id = next(self._ids)
            stamp = now_iso()
            run = {
                "id": run_id,
                "node_id": "CR_x",
                "name": name,
                "head_sha": repo.head(number),
                "status": "completed",
                "conclusion": conclusion,
                "output": {"title": title, "summary": summary},
                "url": f"{getattr(self, 'base_url', '')}/repos/{repo.full_name}/check-runs/{run_id}",
                "html_url": f"https://github.com/{repo.full_name}/runs/{run_id}",
                "details_url": f"https://github.com/{repo.full_name}/runs/{run_id}",
                "started_at": stamp,
                "completed_at": stamp,
                "app": {"slug": "github-actions"},
            }
            repo.check_runs[number].append(run)
            self._emit(
                repo,
                "check_run",
                "completed",
                "github-actions[bot]",
                check_run={**run, "pull_requests": [{"number": number}]},
            )
            return run_id

    def publish_release(
        self, full_name: str, tag: str, name: str = "", *, user: str = "octocat", prerelease: bool = False
    ) -> int:
        with self._lock:
            repo = self._repo(full_name)
            release_id = next(self._ids)
            stamp = now_iso()
            release = {
                "id": release_id,
                "tag_name": tag,
                "name": name or tag,
                "draft": False,
                "prerelease": prerelease,
                "author": user_json(user),
                "html_url": f"https://github.com/{repo.full_name}/releases/tag/{tag}",
                "created_at": stamp,
                "published_at": stamp,
                "body": "",
            }
            repo.releases.append(release)
            self._emit(repo, "release", "published", user, release=release)
            return release_id

    def delete_repo(self, full_name: str) -> None:
        """The repository is gone (deleted, renamed, or the token lost access): 404 from now on."""
        with self._lock:
            self._repo(full_name).gone = True

    def restore_repo(self, full_name: str) -> None:
        with self._lock:
            self._repo(full_name).gone = False

    def _emit_item(self, repo: _Repo, number: int, action: str, user: str) -> None:
        if repo.issues[number].get("pull_request"):
            self._emit_pull(repo, number, action, user)
        else:
            self._emit(repo, "issues", action, user, issue=self._issue_json(repo, repo.issues[number]))

    def _emit_pull(self, repo: _Repo, number: int, action: str, user: str) -> None:
        self._emit(
            repo, "pull_request", action, user, number=number, pull_request=self._pull_json(repo, repo.issues[number])
        )

    # The events feed and webhooks ------------------------------------------------------------------

    def _emit(self, repo: _Repo, event: str, action: str, user: str, **payload: Any) -> None:
        body = {"action": action, **payload, "repository": self._repo_json(repo), "sender": user_json(user)}
        if event in EVENT_TYPES:
            feed_event = {
                "id": str(next(self._ids)),
                "type": EVENT_TYPES[event],
                "actor": user_json(user),
                "repo": {"name": repo.full_name},
                "payload": {k: v for k, v in body.items() if k not in ("repository", "sender")},
                "public": not repo.private,
                "created_at": now_iso(),
            }
            repo.events.append((time.time() + self.events_lag_s, feed_event))
        for hook in self.hooks:
            self._deliver(hook, event, json.dumps(body).encode())

    def _repo_events(self, request: web.Request, repo: _Repo) -> web.Response:
        """GET /repos/{o}/{r}/events: newest first, each event only once its lag has passed."""
        now = time.time()
        visible = [event for shown_at, event in reversed(repo.events) if shown_at <= now]
        response = self._paged(request, visible[:300])
        response.headers["X-Poll-Interval"] = "60"
        return response

    def _repo_comments(self, request: web.Request, repo: _Repo) -> web.Response:
        """GET /repos/{o}/{r}/issues/comments: every issue's and PR's comments, `since`, sorted as asked."""
        since = request.query.get("since", "")

        def updated(comment: dict[str, Any]) -> str:
            return str(comment.get("updated_at", comment["created_at"]))

        items = [(c, number) for number, comments in repo.comments.items() for c in comments if updated(c) >= since]
        reverse = request.query.get("direction", "asc") == "desc"
        items.sort(key=lambda pair: (updated(pair[0]), pair[0]["id"]), reverse=reverse)
        return self._paged(request, [self._comment_json(repo, number, c) for c, number in items])

    def _pulls(self, request: web.Request, repo: _Repo) -> web.Response:
        query = request.query
        items = [
            i
            for i in repo.issues.values()
            if i.get("pull_request") and query.get("state", "open") in ("all", i["state"])
        ]
        sort = query.get("sort", "created")
        items.sort(key=lambda i: (i["updated_at"], i["number"]) if sort == "updated" else i["number"])
        if query.get("direction", "desc") != "asc":
            items.reverse()
        return self._paged(request, [self._pull_json(repo, i) for i in items])

    def add_hook(self, url: str, secret: str, *, content_type: str = "json") -> Hook:
        """A repository webhook for every event, sent to `url` signed with `secret`; GitHub pings it first."""
        hook = Hook(url, secret, content_type, id=len(self.hooks) + 1)
        self.hooks.append(hook)
        self._deliver(hook, "ping", json.dumps({"zen": "Keep it logically awesome.", "hook_id": hook.id}).encode())
        return hook

    def _deliver(self, hook: Hook, event: str, body: bytes, delivery_id: str | None = None) -> Delivery:
        delivery = Delivery(delivery_id or str(uuid.uuid4()), event, body, hook)
        self.deliveries.append(delivery)
        self._sender.submit(self._send, delivery)
        return delivery

    def redeliver(self, delivery: Delivery) -> Delivery:
        """GitHub's "Redeliver": the same body and the same X-GitHub-Delivery id."""
        return self._deliver(delivery.hook, delivery.event, delivery.body, delivery.id)

    def _send(self, delivery: Delivery) -> None:
        hook = delivery.hook
        if hook.content_type == "form":
            data = urllib.parse.urlencode({"payload": delivery.body.decode()}).encode()
            content_type = "application/x-www-form-urlencoded"
        else:
            data, content_type = delivery.body, "application/json"
        request = urllib.request.Request(
            hook.url,
            data=data,
            method="POST",
            headers={
                "Content-Type": content_type,
                "User-Agent": "GitHub-Hookshot/sandbox",
                "X-GitHub-Event": delivery.event,
                "X-GitHub-Delivery": delivery.id,
                "X-GitHub-Hook-ID": str(hook.id),
                "X-Hub-Signature-256": signature(hook.secret, data),
            },
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # GitHub gives up after 10 s
                delivery.status, delivery.answer = response.status, response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            delivery.status, delivery.answer = exc.code, exc.read().decode(errors="replace")
        except OSError as exc:
            delivery.status, delivery.answer = 0, str(exc)
        delivery.seconds = time.monotonic() - started
        delivery.done.set()

    def delivered(self, event: str | None = None) -> list[Delivery]:
        return [d for d in self.deliveries if event is None or d.event == event]

    def close_hooks(self) -> None:
        self._sender.shutdown(wait=False, cancel_futures=True)

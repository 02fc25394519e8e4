"""A GitHub REST v3 stand-in that PyGithub talks to unchanged: repositories, issues and their comments, labels,
issue search, pull requests with their reviews, check runs and commit statuses.

Paging follows GitHub exactly (per_page up to 100, RFC 5988 `Link` headers), every response carries the
X-RateLimit headers, and errors use GitHub's status codes and bodies (401 Bad credentials, 404 Not Found, 403 rate
limit, 422 for a search over a repository that cannot be searched). Search understands the qualifiers Synapse
sends (`repo:`, `is:`, `state:`, `label:`, `author:`) and matches every other word against titles, bodies and
comments. Mutating calls are recorded in `writes`, so tests can prove that nothing was written without a click.

A repository can also change while the bot runs, as GitHub's would (`open_issue`, `comment`, `submit_review`,
`close`, `merge`, `publish_release`… in `github_live.py`): with real timestamps, lists that honour `since`, `sort` and
`direction`, ETags on every read (a matching `If-None-Match` answers 304 and costs no rate limit), the repository
events feed (which shows events only after a lag, as GitHub documents), and signed webhooks to the hooks added.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from synapse_sandbox.github_live import LiveRepos, user_json
from synapse_sandbox.server import BackgroundServer, StandIn

CREATED = "2026-01-05T10:00:00Z"
_SEARCH_TOKEN = re.compile(r'(-?)([a-z]+):("[^"]*"|\S+)|"([^"]*)"|(\S+)', re.I)
_UNSEARCHABLE = (
    "The listed users and repositories cannot be searched either because the resources do not exist or you do not "
    "have permission to view them."
)


def _at(minutes: int) -> str:
    """A GitHub timestamp `minutes` after CREATED, so fixtures have a real order."""
    return (datetime(2026, 1, 5, 10, tzinfo=UTC) + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")


def head_sha(number: int) -> str:
    """The head commit of the sandbox's pull request `number`."""
    return f"{number:040d}"


@dataclass
class FileChange:
    filename: str
    patch: str | None = None
    status: str = "modified"
    additions: int = 0
    deletions: int = 0
    previous_filename: str | None = None


@dataclass
class _Repo:
    full_name: str
    private: bool
    labels: dict[str, dict[str, Any]]
    language: str | None
    issues: dict[int, dict[str, Any]] = field(default_factory=dict)
    files: dict[int, list[FileChange]] = field(default_factory=dict)
    reviews: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    check_runs: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    statuses: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    releases: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[float, dict[str, Any]]] = field(default_factory=list)  # (visible from, event) for /events
    heads: dict[int, str] = field(default_factory=dict)  # a pull request's head sha, once pushed to
    gone: bool = False  # deleted, or the token lost access: 404 from then on

    def head(self, number: int) -> str:
        return self.heads.get(number, head_sha(number))


class GitHubServer(LiveRepos, StandIn):
    def __init__(self, token: str = "ghp_sandboxtoken0000") -> None:
        self.tokens = {token}
        self.token = token
        self.repos: dict[str, _Repo] = {}
        self.requests: list[dict[str, Any]] = []
        self.writes: list[dict[str, Any]] = []
        self.rate_limited_until: float | None = None
        self.apps: dict[str, tuple[str, int]] = {}
        self.installation_tokens: list[str] = []  # app id -> (public key PEM, installation id)
        self.fail_statuses: list[int] = []
        self.stalls: list[float] = []
        self.denied: set[str] = set()
        self.rate_limit = 5000
        self.rate_used = 0  # requests that cost rate limit (a 304 does not)
        self.secondary_limits: list[float] = []  # Retry-After seconds of the next secondary-limit refusals
        self.in_flight = 0
        self.max_in_flight = 0
        self.events_lag_s = 60.0  # the repository events feed shows an event this long after it happened
        self._lock = threading.RLock()
        self._init_live()
        self._ids = iter(range(1000, 10_000_000))
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._server = BackgroundServer(app)

    @property
    def base_url(self) -> str:
        return self._server.base_url

    def stop(self) -> None:
        self.close_hooks()
        super().stop()

    # Fixtures -------------------------------------------------------------------------------------

    def add_repo(
        self, full_name: str, *, private: bool = False, labels: list[str] | None = None, language: str | None = "Python"
    ) -> None:
        with self._lock:
            self.repos[full_name.lower()] = _Repo(
                full_name, private, {name.lower(): self._label(full_name, name) for name in labels or []}, language
            )

    def _label(self, repo: str, name: str) -> dict[str, Any]:
        return {
            "id": next(self._ids),
            "node_id": "LA_x",
            "url": f"{self.base_url}/repos/{repo}/labels/{name}",
            "name": name,
            "color": "ededed",
            "default": False,
            "description": None,
        }

    def register_app(self, app_id: str, public_key_pem: str, installation_id: int) -> None:
        """A GitHub App whose JWTs (signed with the matching private key) may create installation tokens."""
        self.apps[app_id] = (public_key_pem, installation_id)

    def remove_label(self, full_name: str, name: str) -> None:
        with self._lock:
            self.repos[full_name.lower()].labels.pop(name.lower(), None)

    def add_issue(
        self,
        full_name: str,
        title: str,
        body: str = "",
        *,
        labels: list[str] | None = None,
        user: str = "octocat",
        updated_at: str = CREATED,
        state: str = "open",
        state_reason: str | None = None,
        assignees: list[str] | None = None,
        created_at: str = CREATED,
    ) -> int:
        with self._lock:
            repo = self.repos[full_name.lower()]
            number = len(repo.issues) + 1
            repo.issues[number] = {
                "number": number,
                "title": title,
                "body": body,
                "state": state,
                "state_reason": state_reason,
                "user": user,
                "assignees": list(assignees or []),
                "labels": [repo.labels.get(n.lower()) or self._label(full_name, n) for n in labels or []],
                "updated_at": updated_at,
                "created_at": created_at,
                "comments": 0,
            }
            repo.comments[number] = []
            return number

    def add_comment(self, full_name: str, number: int, body: str, *, user: str = "octocat") -> int:
        """A comment on an issue or pull request, each one a minute after the previous; returns its id."""
        with self._lock:
            repo = self.repos[full_name.lower()]
            comments = repo.comments[number]
            comment_id = next(self._ids)
            comments.append({"id": comment_id, "body": body, "user": user, "created_at": _at(len(comments) + 1)})
            repo.issues[number]["comments"] = len(comments)
            return comment_id

    def add_pull(
        self,
        full_name: str,
        title: str,
        body: str = "",
        *,
        files: list[FileChange] | None = None,
        user: str = "octocat",
        draft: bool = False,
        merged: bool = False,
        mergeable: bool | None = True,
        base: str = "main",
        requested_reviewers: list[str] | None = None,
        labels: list[str] | None = None,
        created_at: str = CREATED,
    ) -> int:
        state = "closed" if merged else "open"
        number = self.add_issue(full_name, title, body, user=user, labels=labels, state=state, created_at=created_at)
        with self._lock:
            repo = self.repos[full_name.lower()]
            repo.issues[number]["pull_request"] = {
                "draft": draft,
                "merged": merged,
                "mergeable": mergeable,
                "base": base,
                "requested_reviewers": list(requested_reviewers or []),
            }
            repo.files[number] = list(files or [])
            repo.reviews[number] = []
            repo.check_runs[number] = []
            repo.statuses[number] = []
        return number

    def add_review(self, full_name: str, number: int, user: str, state: str = "APPROVED") -> None:
        """A submitted review (APPROVED, CHANGES_REQUESTED, COMMENTED) on a pull request, as a reviewer left it."""
        with self._lock:
            repo = self.repos[full_name.lower()]
            reviews = repo.reviews[number]
            reviews.append(
                {
                    "id": next(self._ids),
                    "node_id": "PRR_x",
                    "body": "",
                    "state": state,
                    "user": {"login": user, "id": 4},
                    "html_url": f"https://github.com/{repo.full_name}/pull/{number}#pullrequestreview-{len(reviews)}",
                    "commit_id": head_sha(number),
                    "submitted_at": _at(len(reviews) + 1),
                }
            )

    def add_check_run(
        self, full_name: str, number: int, name: str, *, status: str = "completed", conclusion: str | None = "success"
    ) -> None:
        """A check run (GitHub Actions job, say) on the pull request's head commit."""
        with self._lock:
            repo = self.repos[full_name.lower()]
            run_id = next(self._ids)
            repo.check_runs[number].append(
                {
                    "id": run_id,
                    "node_id": "CR_x",
                    "name": name,
                    "head_sha": repo.head(number),
                    "status": status,
                    "conclusion": conclusion if status == "completed" else None,
                    "url": f"{self.base_url}/repos/{repo.full_name}/check-runs/{run_id}",
                    "html_url": f"https://github.com/{repo.full_name}/runs/{run_id}",
                    "details_url": f"https://github.com/{repo.full_name}/runs/{run_id}",
                    "started_at": CREATED,
                    "completed_at": CREATED if status == "completed" else None,
                }
            )

    def add_status(self, full_name: str, number: int, context: str, state: str = "success") -> None:
        """A commit status (the older API CI services use) on the pull request's head commit."""
        with self._lock:
            repo = self.repos[full_name.lower()]
            status_id = next(self._ids)
            repo.statuses[number].append(
                {
                    "id": status_id,
                    "node_id": "SC_x",
                    "state": state,
                    "context": context,
                    "description": f"{context}: {state}",
                    "target_url": f"https://ci.example.com/builds/{status_id}",
                    "url": f"{self.base_url}/repos/{repo.full_name}/statuses/{head_sha(number)}",
                    "created_at": CREATED,
                    "updated_at": CREATED,
                }
            )

    def delete_issue(self, full_name: str, number: int) -> None:
        """GitHub answers 410 Gone for a deleted issue."""
        with self._lock:
            self.repos[full_name.lower()].issues[number]["deleted"] = True

    def labels_of(self, full_name: str, number: int) -> list[str]:
        with self._lock:
            return [label["name"] for label in self.repos[full_name.lower()].issues[number]["labels"]]

    # Knobs ------------------------------------------------------------------------------------------

    def exhaust_rate_limit(self, reset_in: float = 60) -> None:
        self.rate_limited_until = time.time() + reset_in

    def fail_next(self, status: int = 502, times: int = 1) -> None:
        self.fail_statuses.extend([status] * times)

    def deny(self, path_suffix: str) -> None:
        """Answer 403 "Resource not accessible by integration" to every path ending so (e.g. `/check-runs`), like a
        GitHub App installed without that permission."""
        self.denied.add(path_suffix)

    def stall_next(self, seconds: float, times: int = 1) -> None:
        """The next `times` requests wait `seconds` before answering, like a GitHub that is slow to respond."""
        self.stalls.extend([seconds] * times)

    # Server -----------------------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        limited = self.rate_limited_until is not None and time.time() < self.rate_limited_until
        reset = int(self.rate_limited_until or time.time() + 3600)
        return {
            "X-RateLimit-Limit": str(self.rate_limit),
            "X-RateLimit-Remaining": "0" if limited else str(max(0, self.rate_limit - 1 - self.rate_used)),
            "X-RateLimit-Reset": str(reset),
            "X-RateLimit-Used": str(self.rate_used + 1),
            "X-RateLimit-Resource": "core",
        }

    def _json(self, data: Any, status: int = 200, extra: dict[str, str] | None = None) -> web.Response:
        return web.json_response(data, status=status, headers={**self._headers(), **(extra or {})})

    def _conditional(self, request: web.Request, response: web.Response) -> web.Response:
        """GitHub's ETags: every successful GET carries one; a request whose If-None-Match names it gets 304 Not
        Modified, without a body and without spending rate limit."""
        if request.method != "GET" or response.status != 200 or not isinstance(response.body, bytes):
            return response
        link = response.headers.get("Link", "")
        etag = 'W/"' + hashlib.sha1(response.body + link.encode()).hexdigest() + '"'
        response.headers["ETag"] = etag
        wanted = request.headers.get("If-None-Match", "")
        if etag in [tag.strip() for tag in wanted.split(",")]:
            self.rate_used -= 1  # conditional requests that answer 304 are free
            return web.Response(status=304, headers={**self._headers(), "ETag": etag})
        return response

    def _error(self, status: int, message: str) -> web.Response:
        return self._json({"message": message, "documentation_url": "https://docs.github.com/rest"}, status)

    async def _handle(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            response = await self._answer(request)
        finally:
            self.in_flight -= 1
        return response

    async def _answer(self, request: web.Request) -> web.Response:
        body: Any = await request.json() if request.can_read_body else None
        auth = request.headers.get("Authorization", "")
        token = auth.split(" ", 1)[1] if " " in auth else ""
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": dict(request.query),
                "body": body,
                "authorized": bool(token),
                "conditional": bool(request.headers.get("If-None-Match")),
                "at": time.time(),
            }
        )
        if self.stalls:
            await asyncio.sleep(self.stalls.pop(0))
        if self.fail_statuses:
            return self._error(self.fail_statuses.pop(0), "Server Error")
        if token and token not in self.tokens and not request.path.startswith("/app/"):
            return self._error(401, "Bad credentials")
        if any(request.path.endswith(suffix) for suffix in self.denied):
            return self._error(403, "Resource not accessible by integration")
        if self.rate_limited_until is not None and time.time() < self.rate_limited_until:
            return self._error(403, "API rate limit exceeded for user ID 1. If you reach out to GitHub Support...")
        if self.secondary_limits:
            retry_after = self.secondary_limits.pop(0)
            refusal = self._error(403, "You have exceeded a secondary rate limit. Please wait a few minutes.")
            refusal.headers["Retry-After"] = str(int(retry_after))
            return refusal
        if token:
            self.rate_used += 1
        parts = [p for p in request.path.split("/") if p]
        if len(parts) == 4 and parts[:2] == ["app", "installations"] and parts[3] == "access_tokens":
            return self._installation_token(token, int(parts[2]) if parts[2].isdigit() else -1)
        with self._lock:
            return self._conditional(request, self._route(request, parts, body, bool(token)))

    def _installation_token(self, jwt_token: str, installation_id: int) -> web.Response:
        import jwt  # PyJWT comes with PyGithub

        try:
            app_id = str(jwt.decode(jwt_token, options={"verify_signature": False})["iss"])
            public_key, installation = self.apps[app_id]
            jwt.decode(jwt_token, public_key, algorithms=["RS256"])
        except (KeyError, jwt.PyJWTError):
            return self._error(401, "A JSON web token could not be decoded")
        if installation != installation_id:
            return self._error(404, "Not Found")
        token = f"ghs_installation{next(self._ids)}"
        self.tokens.add(token)
        self.installation_tokens.append(token)
        return self._json({"token": token, "expires_at": "2099-01-01T00:00:00Z", "permissions": {}}, status=201)

    def _route(self, request: web.Request, parts: list[str], body: Any, authed: bool) -> web.Response:
        if parts == ["rate_limit"]:
            core = {"limit": 5000, "remaining": 4999, "reset": int(time.time()) + 3600, "used": 1}
            return self._json({"resources": {"core": core, "search": core}, "rate": core})
        if parts == ["user"]:
            return (
                self._json({"login": "synapse-bot", "id": 1}) if authed else self._error(401, "Requires authentication")
            )
        if parts == ["search", "issues"]:
            return self._search_issues(request, authed)
        if len(parts) < 3 or parts[0] != "repos":
            return self._error(404, "Not Found")
        repo = self.repos.get(f"{parts[1]}/{parts[2]}".lower())
        if repo is None or repo.gone or (repo.private and not authed):
            return self._error(404, "Not Found")
        rest, method = parts[3:], request.method
        if not rest:
            return self._json(self._repo_json(repo))
        if rest == ["labels"]:
            return self._paged(request, list(repo.labels.values()))
        if rest == ["issues"]:
            return self._issues(request, repo)
        if rest == ["issues", "comments"]:
            return self._repo_comments(request, repo)
        if rest == ["pulls"]:
            return self._pulls(request, repo)
        if rest == ["releases"]:
            return self._paged(request, sorted(repo.releases, key=lambda r: -r["id"]))
        if rest == ["events"]:
            return self._repo_events(request, repo)
        if rest[0] == "issues" and len(rest) >= 2 and rest[1].isdigit():
            issue = repo.issues.get(int(rest[1]))
            if issue is None:
                return self._error(404, "Not Found")
            if issue.get("deleted"):
                return self._error(410, "This issue was deleted")
            if len(rest) == 2:
                return self._json(self._issue_json(repo, issue))
            if rest[2:] == ["comments"] and method == "GET":
                comments = [
                    c for c in repo.comments[issue["number"]] if c["created_at"] >= request.query.get("since", "")
                ]
                return self._paged(request, [self._comment_json(repo, issue["number"], c) for c in comments])
            if rest[2:] == ["labels"] and method == "POST":
                names = body.get("labels", []) if isinstance(body, dict) else list(body or [])
                self.writes.append(
                    {"kind": "labels", "repo": repo.full_name, "number": issue["number"], "labels": names}
                )
                present = {label["name"].lower() for label in issue["labels"]}
                for name in names:
                    if name.lower() not in present:
                        issue["labels"].append(repo.labels.get(name.lower()) or self._label(repo.full_name, name))
                return self._json(issue["labels"])
        if rest[0] == "pulls" and len(rest) >= 2 and rest[1].isdigit():
            number = int(rest[1])
            issue = repo.issues.get(number)
            if issue is None or not issue.get("pull_request"):
                return self._error(404, "Not Found")
            if len(rest) == 2:
                return self._json(self._pull_json(repo, issue))
            if rest[2:] == ["files"]:
                return self._paged(request, [self._file_json(repo, f) for f in repo.files[number]][:3000])
            if rest[2:] == ["reviews"] and method == "POST":
                review = {
                    "id": next(self._ids),
                    "node_id": "PRR_x",
                    "body": body.get("body", ""),
                    "state": "COMMENTED",
                    "user": {"login": "synapse-bot", "id": 1},
                    "html_url": f"https://github.com/{repo.full_name}/pull/{number}#pullrequestreview-1",
                    "commit_id": "0" * 40,
                    "submitted_at": CREATED,
                }
                repo.reviews[number].append({**review, "comments": body.get("comments", [])})
                self.writes.append({"kind": "review", "repo": repo.full_name, "number": number, "body": body})
                return self._json(review)
            if rest[2:] == ["reviews"]:
                return self._paged(request, repo.reviews[number])
        if len(rest) == 3 and rest[0] == "commits" and method == "GET":
            pull_number = next((n for n in repo.check_runs if repo.head(n) == rest[1]), None)
            if pull_number is None:
                return self._error(404, "Not Found")  # GitHub: "No commit found for SHA"
            if rest[2] == "check-runs":
                runs = [r for r in repo.check_runs[pull_number] if r["head_sha"] == rest[1]]
                return self._paged(request, runs, list_item="check_runs")
            if rest[2] == "status":
                return self._json(self._combined_status(repo, pull_number, request))
        return self._error(404, "Not Found")

    def _paged(
        self, request: web.Request, items: list[Any], *, list_item: str | None = None, **envelope: Any
    ) -> web.Response:
        """One page of `items`; with `list_item`, wrapped as GitHub wraps search and check-run pages."""
        per_page = max(1, min(int(request.query.get("per_page", 30)), 100))
        page = max(1, int(request.query.get("page", 1)))
        last = max(1, -(-len(items) // per_page))
        links = []
        query = dict(request.query)
        if page < last:
            links.append(f'<{self.base_url}{request.path}?{urlencode({**query, "page": page + 1})}>; rel="next"')
            links.append(f'<{self.base_url}{request.path}?{urlencode({**query, "page": last})}>; rel="last"')
        if page > 1:
            links.append(f'<{self.base_url}{request.path}?{urlencode({**query, "page": page - 1})}>; rel="prev"')
            links.append(f'<{self.base_url}{request.path}?{urlencode({**query, "page": 1})}>; rel="first"')
        extra = {"Link": ", ".join(links)} if links else {}
        chunk = items[(page - 1) * per_page : page * per_page]
        if list_item is None:
            return self._json(chunk, extra=extra)
        return self._json({"total_count": len(items), **envelope, list_item: chunk}, extra=extra)

    def _search_issues(self, request: web.Request, authed: bool) -> web.Response:
        """GET /search/issues: the qualifiers Synapse uses, every other word matched in title, body or comments."""
        repos: list[_Repo] = []
        kinds: set[str] = set()
        states: set[str] = set()
        labels: list[str] = []
        excluded: list[str] = []
        authors: list[str] = []
        words: list[str] = []
        for match in _SEARCH_TOKEN.finditer(request.query.get("q", "")):
            negated, key, value, quoted, bare = match.groups()
            if key is None:
                words.append((quoted if quoted is not None else bare).lower())
                continue
            key, value = key.lower(), value.strip('"').lower()
            if key == "repo":
                repo = self.repos.get(value)
                if repo is None or (repo.private and not authed):
                    return self._json(
                        {
                            "message": "Validation Failed",
                            "errors": [
                                {"message": _UNSEARCHABLE, "resource": "Search", "field": "q", "code": "invalid"}
                            ],
                            "documentation_url": "https://docs.github.com/v3/search/",
                        },
                        422,
                    )
                repos.append(repo)
            elif key in ("is", "type") and value in ("issue", "pr", "pull-request"):
                kinds.add("pr" if value != "issue" else "issue")
            elif key in ("is", "state") and value in ("open", "closed"):
                states.add(value)
            elif key == "label":
                (excluded if negated else labels).append(value)
            elif key == "author":
                authors.append(value)
            else:
                words.append(f"{key}:{value}")
        hits = []
        for repo in repos or [r for r in self.repos.values() if authed or not r.private]:
            for issue in sorted(repo.issues.values(), key=lambda i: -i["number"]):
                kind = "pr" if issue.get("pull_request") else "issue"
                names = {label["name"].lower() for label in issue["labels"]}
                text = " ".join(
                    [issue["title"], issue["body"], *(c["body"] for c in repo.comments[issue["number"]])]
                ).lower()
                if (
                    (not kinds or kind in kinds)
                    and (not states or issue["state"] in states)
                    and all(label in names for label in labels)
                    and not any(label in names for label in excluded)
                    and (not authors or issue["user"].lower() in authors)
                    and all(word in text for word in words)
                ):
                    hits.append({**self._issue_json(repo, issue), "score": 1.0})
        return self._paged(request, hits[:1000], list_item="items", incomplete_results=False)

    def _combined_status(self, repo: _Repo, number: int, request: web.Request) -> dict[str, Any]:
        statuses = repo.statuses[number]
        states = {s["state"] for s in statuses}
        if states & {"failure", "error"}:
            state = "failure"
        elif not statuses or "pending" in states:
            state = "pending"
        else:
            state = "success"
        per_page = max(1, min(int(request.query.get("per_page", 100)), 100))
        return {
            "state": state,
            "sha": head_sha(number),
            "total_count": len(statuses),
            "statuses": statuses[:per_page],
            "commit_url": f"{self.base_url}/repos/{repo.full_name}/commits/{head_sha(number)}",
            "url": f"{self.base_url}/repos/{repo.full_name}/commits/{head_sha(number)}/status",
        }

    def _comment_json(self, repo: _Repo, number: int, comment: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": comment["id"],
            "node_id": "IC_x",
            "body": comment["body"],
            "user": user_json(comment["user"]),
            "created_at": comment["created_at"],
            "updated_at": comment.get("updated_at", comment["created_at"]),
            "author_association": "CONTRIBUTOR",
            "url": f"{self.base_url}/repos/{repo.full_name}/issues/comments/{comment['id']}",
            "html_url": f"https://github.com/{repo.full_name}/issues/{number}#issuecomment-{comment['id']}",
            "issue_url": f"{self.base_url}/repos/{repo.full_name}/issues/{number}",
        }

    def _issues(self, request: web.Request, repo: _Repo) -> web.Response:
        query = request.query
        items = [i for i in repo.issues.values() if query.get("state", "open") in ("all", i["state"])]
        if query.get("labels"):
            wanted = {n.strip().lower() for n in query["labels"].split(",")}
            items = [i for i in items if wanted <= {label["name"].lower() for label in i["labels"]}]
        if query.get("since"):
            items = [i for i in items if i["updated_at"] >= query["since"]]
        return self._paged(request, [self._issue_json(repo, i) for i in self._sorted(items, query)])

    @staticmethod
    def _sorted(items: list[dict[str, Any]], query: Any) -> list[dict[str, Any]]:
        """GitHub's list order: `sort` created (by number here, which follows creation), updated or comments;
        `direction` desc unless asc."""
        sort = query.get("sort", "created")
        if sort == "updated":
            key: Any = lambda i: (i["updated_at"], i["number"])  # noqa: E731
        elif sort == "comments":
            key = lambda i: (i["comments"], i["number"])  # noqa: E731
        else:
            key = lambda i: i["number"]  # noqa: E731
        return sorted(items, key=key, reverse=query.get("direction", "desc") != "asc")

    def _repo_json(self, repo: _Repo) -> dict[str, Any]:
        owner, name = repo.full_name.split("/")
        return {
            "id": 1,
            "node_id": "R_x",
            "name": name,
            "full_name": repo.full_name,
            "private": repo.private,
            "owner": {"login": owner, "id": 2},
            "html_url": f"https://github.com/{repo.full_name}",
            "url": f"{self.base_url}/repos/{repo.full_name}",
            "default_branch": "main",
            "language": repo.language,
            "open_issues_count": len(repo.issues),
        }

    def _issue_json(self, repo: _Repo, issue: dict[str, Any]) -> dict[str, Any]:
        number = issue["number"]
        data = {
            "id": 100000 + number,
            "node_id": "I_x",
            "number": number,
            "title": issue["title"],
            "body": issue["body"],
            "state": issue["state"],
            "state_reason": issue["state_reason"],
            "labels": issue["labels"],
            "assignees": [{"login": login, "id": 6} for login in issue["assignees"]],
            "comments": issue["comments"],
            "user": user_json(issue["user"]),
            "created_at": issue.get("created_at", CREATED),
            "updated_at": issue["updated_at"],
            "closed_at": issue.get("closed_at") or (CREATED if issue["state"] == "closed" else None),
            "url": f"{self.base_url}/repos/{repo.full_name}/issues/{number}",
            "html_url": f"https://github.com/{repo.full_name}/issues/{number}",
            "repository_url": f"{self.base_url}/repos/{repo.full_name}",
        }
        if issue.get("pull_request"):
            data["pull_request"] = {
                "url": f"{self.base_url}/repos/{repo.full_name}/pulls/{number}",
                "html_url": f"https://github.com/{repo.full_name}/pull/{number}",
                "merged_at": self._merged_at(issue),
            }
            data["draft"] = issue["pull_request"]["draft"]
            data["html_url"] = f"https://github.com/{repo.full_name}/pull/{number}"
        return data

    def _pull_json(self, repo: _Repo, issue: dict[str, Any]) -> dict[str, Any]:
        number = issue["number"]
        files = repo.files[number]
        pull = issue["pull_request"]
        return {
            "id": 200000 + number,
            "node_id": "PR_x",
            "number": number,
            "title": issue["title"],
            "body": issue["body"],
            "state": issue["state"],
            "draft": pull["draft"],
            "merged": pull["merged"],
            "merged_at": self._merged_at(issue),
            "closed_at": issue.get("closed_at") or (CREATED if issue["state"] == "closed" else None),
            "mergeable": pull["mergeable"],
            "mergeable_state": {True: "clean", False: "dirty", None: "unknown"}[pull["mergeable"]],
            "labels": issue["labels"],
            "requested_reviewers": [{"login": login, "id": 7} for login in pull["requested_reviewers"]],
            "requested_teams": [],
            "commits": 1,
            "comments": issue["comments"],
            "user": user_json(issue["user"]),
            "url": f"{self.base_url}/repos/{repo.full_name}/pulls/{number}",
            "html_url": f"https://github.com/{repo.full_name}/pull/{number}",
            "head": {
                "sha": repo.head(number),
                "ref": f"feature-{number}",
                "label": f"{repo.full_name}:feature-{number}",
            },
            "base": {"ref": pull["base"], "sha": "0" * 40, "label": f"{repo.full_name}:{pull['base']}"},
            "changed_files": len(files),
            "additions": sum(f.additions for f in files),
            "deletions": sum(f.deletions for f in files),
            "created_at": issue.get("created_at", CREATED),
            "updated_at": issue["updated_at"],
        }

    @staticmethod
    def _merged_at(issue: dict[str, Any]) -> str | None:
        pull = issue.get("pull_request") or {}
        if not pull.get("merged"):
            return None
        return str(pull.get("merged_at") or CREATED)

    def _file_json(self, repo: _Repo, change: FileChange) -> dict[str, Any]:
        data = {
            "sha": "1" * 40,
            "filename": change.filename,
            "status": change.status,
            "additions": change.additions,
            "deletions": change.deletions,
            "changes": change.additions + change.deletions,
            "blob_url": f"https://github.com/{repo.full_name}/blob/x/{change.filename}",
        }
        if change.patch is not None:
            data["patch"] = change.patch
        if change.previous_filename:
            data["previous_filename"] = change.previous_filename
        return data

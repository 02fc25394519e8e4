"""The GitHub poller: subscribed repositories read every SYNAPSE_GITHUB_POLL_SECONDS, without a public URL.

Not from the repository events feed (GitHub documents it as 30 s to 6 h late) but from what is current: the issue
list sorted by update `since` the cursor (pull requests are in it), and for what changed, the pull requests
themselves, their reviews and the repository's comments since the cursor; the check runs of the open pull requests
being watched; the releases. Every read is conditional (`If-None-Match`): an unchanged repository answers 304 and
costs no rate limit, so an idle deployment spends none.

Each job-running process runs two poller threads, the second only while polls fall behind (idle, it would only wake
the first for nothing); a repository is polled by one of them at a time, across all processes
(leases, `store/poll_schedule.py`). What a poll sees is queued as one batch for the events job, and only then is
the cursor moved on: a poller killed in between leaves the cursor behind, and the next one reads the same changes,
which the job recognises. Requests are paced for every process together, and where the subscribed repositories
cannot all be read in one interval within that pace, the interval stretches (said once in the log).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis

from synapse_bot.config import Settings
from synapse_bot.feed.cards import PAUSE_PROBE_MINUTES
from synapse_bot.feed.model import CheckRun, Comment, Item, Observations, Problem, Release, Review, Source, iso_time
from synapse_bot.feed.payloads import (
    PayloadError,
    check_from,
    comment_from,
    item_from_issue,
    item_from_pull,
    release_from,
    review_from,
)
from synapse_bot.feed.subscription import Kind
from synapse_bot.github.conditional import ConditionalReader, GitHubUnreachable, Read, is_rate_limited, limits_of
from synapse_bot.store.poll_cursors import PollCursors, RepoCursor
from synapse_bot.store.poll_schedule import REQUESTS_PER_MINUTE, PollSchedule
from synapse_bot.store.subscriptions import SubscriptionStore

log = logging.getLogger(__name__)

LEASE_S = 15.0  # a dead poller's repositories are taken over this long after its last renewal
IDLE_WAIT_S = 5.0  # the longest an idle poller sleeps before looking at the schedule again
BEHIND_S = 2.0  # a repository overdue by this long brings a process's helper poller thread in
HELPER_WAIT_S = 15.0  # how often an idle helper thread looks whether polls fall behind (a backlog lasts minutes)
MAX_PAGES = 10  # pages of one list per poll: a catch-up reads at most 1,000 changed items a round
WINDOW_ITEMS = 50  # items the cursor's window may hold before `since` moves on
MAX_WATCHED_HEADS = 30  # open pull requests whose checks one repository's poll reads
REQUESTS_PER_POLL = 1.2  # an idle repository's poll is one conditional request; a few change now and then
RATE_RESERVE = 100  # primary rate limit left to people's own requests: polling waits for the reset below this
PAUSE_PROBE_S = PAUSE_PROBE_MINUTES * 60
AUTH_RETRY_S = 300.0
SYNC_EVERY_S = 30.0
GONE_STATUSES = (404, 410, 451)


class BatchSubmitter(Protocol):
    """Where a poll's observations go: the events job's queue."""

    def submit_github(self, seen: Observations) -> None: ...


def poll_interval(settings: Settings, repositories: int) -> float:
    """SYNAPSE_GITHUB_POLL_SECONDS, stretched when that many repositories cannot be read that often within the
    request pace every process shares."""
    needed = repositories * REQUESTS_PER_POLL * 60 / REQUESTS_PER_MINUTE
    return max(float(settings.github_poll_seconds), needed)


def spread(repo_key: str) -> float:
    """Where in the interval a repository's polls fall, in [0, 1): fixed per repository, even over many."""
    return zlib.crc32(repo_key.encode()) / 2**32


class _Stop(Exception):
    """This poll ends here (GitHub asked to wait, or refuses the token): `due` says when to poll again."""

    def __init__(self, due: float) -> None:
        super().__init__(due)
        self.due = due


@dataclass
class _Poll:
    """One poll of one repository: what it read, where the cursor goes."""

    repo: str
    repo_key: str
    kinds: set[Kind]
    cursor: RepoCursor
    token: str
    seen: Observations


class GitHubPoller:
    def __init__(
        self,
        settings: Settings,
        subscriptions: SubscriptionStore,
        schedule: PollSchedule,
        cursors: PollCursors,
        batches: BatchSubmitter,
        *,
        threads: int = 2,
        reader_factory: Callable[[], ConditionalReader] | None = None,
    ) -> None:
        self.settings = settings
        self.subscriptions = subscriptions
        self.schedule = schedule
        self.cursors = cursors
        self.batches = batches
        self.threads = threads
        self._reader_factory = reader_factory or (lambda: ConditionalReader(settings))
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._last_sync = 0.0
        self._sync_lock = threading.Lock()
        self._stretched_logged = False
        self._last_warning: dict[str, float] = {}
        self.polls = 0
        self.requests = 0

    def start(self) -> GitHubPoller:
        for index in range(self.threads):
            thread = threading.Thread(target=self._run, args=(index,), name=f"synapse-github-poll-{index}", daemon=True)
            thread.start()
            self._workers.append(thread)
        log.info("github poller started", extra={"threads": self.threads})
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        for thread in self._workers:
            thread.join(timeout=timeout)

    # The loop ------------------------------------------------------------------------------------

    def _run(self, index: int) -> None:
        readers: list[ConditionalReader] = []  # made at the first claim: with nothing to poll, no PyGithub

        def reader() -> ConditionalReader:
            if not readers:
                readers.append(self._reader_factory())
            return readers[0]

        token = uuid.uuid4().hex
        while not self._stop.is_set():
            try:
                self._round(reader, token, helper=index > 0)
            except (redis.RedisError, OSError) as exc:
                self._warn("redis", f"GitHub polling paused: Redis is unreachable ({type(exc).__name__})")
                self._stop.wait(IDLE_WAIT_S)
            except Exception:
                log.exception("github poller round failed")
                self._stop.wait(IDLE_WAIT_S)
        for made in readers:
            made.close()

    def _round(self, reader: Callable[[], ConditionalReader], token: str, *, helper: bool = False) -> None:
        """One claim and poll. A `helper` thread takes part only while the schedule is behind (a repository overdue
        by BEHIND_S): idle, it would only wake the first thread's claims for nothing."""
        self._sync_schedule()
        held = self.schedule.held_until()
        if held is not None:
            self._stop.wait(min(IDLE_WAIT_S, max(0.05, held[0] - time.time())))
            return
        if helper:
            due = self.schedule.next_due()
            if due is None or due > time.time() - BEHIND_S:
                self._stop.wait(HELPER_WAIT_S)
                return
        repo_key = self.schedule.claim(token, LEASE_S)
        if repo_key is None:
            due = self.schedule.next_due()
            wait = IDLE_WAIT_S if due is None else due - time.time()
            self._stop.wait(min(IDLE_WAIT_S, max(0.05, wait)))
            return
        started = time.time()
        try:
            due = self.poll(reader(), repo_key, token, started)
        except _Stop as stop:
            due = stop.due
        except GitHubUnreachable as exc:
            self._warn("unreachable", f"GitHub cannot be reached ({exc}); polling goes on every interval")
            due = started + self._interval()
        except Exception:
            log.exception("github poll failed", extra={"repo": repo_key})
            due = started + self._interval()
        self.schedule.release(repo_key, token, due)

    def _sync_schedule(self) -> None:
        """Every subscribed repository on the schedule, and nothing else (a subscription saved while Redis lost
        the schedule, one removed while a poller held its repository)."""
        now = time.monotonic()
        with self._sync_lock:
            if now - self._last_sync < SYNC_EVERY_S:
                return
            self._last_sync = now
        subscribed = set(self.subscriptions.repos())
        scheduled = set(self.schedule.scheduled())
        for repo_key in subscribed - scheduled:
            self.schedule.add(repo_key)
        for repo_key in scheduled - subscribed:
            self.schedule.drop(repo_key)

    def _interval(self) -> float:
        repositories = self.schedule.size()
        interval = poll_interval(self.settings, repositories)
        if interval > self.settings.github_poll_seconds and not self._stretched_logged:
            self._stretched_logged = True
            log.warning(
                f"polling {repositories} GitHub repositories every {interval:.0f} s instead of every "
                f"{self.settings.github_poll_seconds:.0f} s (SYNAPSE_GITHUB_POLL_SECONDS): reading them all more often "
                f"would pass the {REQUESTS_PER_MINUTE} requests a minute Synapse allows itself under GitHub's "
                "secondary rate limit. Webhooks (SYNAPSE_GITHUB_WEBHOOK_PORT) deliver at once."
            )
        return interval

    def _warn(self, what: str, message: str, every_s: float = 60.0) -> None:
        now = time.monotonic()
        if now - self._last_warning.get(what, -every_s) >= every_s:
            self._last_warning[what] = now
            log.warning(message)

    # One poll --------------------------------------------------------------------------------------

    def poll(self, reader: ConditionalReader, repo_key: str, token: str, started: float | None = None) -> float:
        """Read what changed in one repository, queue it, move its cursor; returns when to poll it next."""
        started = time.time() if started is None else started
        subscriptions = self.subscriptions.for_repo(repo_key)
        if not subscriptions:
            self.schedule.drop(repo_key)
            self.cursors.drop(repo_key)
            return started
        first = float(int(min(s.created_at for s in subscriptions)))
        cursor = self.cursors.get(repo_key)
        first_look = cursor is None
        if cursor is None or (cursor.since is not None and cursor.since < first - 1):
            cursor = RepoCursor(tracked_since=first)  # new, or left from subscriptions removed since: start afresh
        cursor.tracked_since = first
        repo = subscriptions[0].repo
        run = _Poll(
            repo,
            repo_key,
            {k for s in subscriptions for k in s.kinds},
            cursor,
            token,
            Observations(repo=repo, source=Source.POLL),
        )
        self.polls += 1
        interval = max(self._interval(), cursor.interval_s or 0.0)
        if cursor.problem is not None and not self._resumed(reader, run):
            return started + PAUSE_PROBE_S
        if self._refused(run, self._read_items(reader, run)):
            return started + PAUSE_PROBE_S
        if run.seen.items:
            self._read_details(reader, run)
        if Kind.CHECKS in run.kinds and cursor.heads:
            self._read_checks(reader, run)
        if Kind.RELEASES in run.kinds:
            self._read_releases(reader, run)
        if not run.seen.empty:
            self.batches.submit_github(run.seen)
        self.cursors.save(repo_key, cursor)
        if first_look:  # spread the repositories over the interval: subscribed together, they are not polled together
            return started + max(float(IDLE_WAIT_S), interval * spread(repo_key))
        return started + interval

    def _get(
        self, reader: ConditionalReader, run: _Poll, url: str, params: dict[str, Any] | None, etag: str | None
    ) -> Read:
        """One paced, leased read; raises _Stop when GitHub says to wait or refuses the token."""
        while (wait := self.schedule.take_request()) > 0:
            if self._stop.wait(min(wait, LEASE_S / 3)):
                raise _Stop(time.time())
            self.schedule.renew(run.repo_key, run.token, LEASE_S)
        self.schedule.renew(run.repo_key, run.token, LEASE_S)
        read = reader.get(url, params, etag)
        self.requests += 1
        limits = limits_of(read)
        if limits.poll_interval:
            run.cursor.interval_s = limits.poll_interval
        if is_rate_limited(read):
            until = time.time() + (limits.retry_after or 0)
            if not limits.retry_after:
                until = max(time.time() + 60, limits.reset or 0)
            self.schedule.hold(until, "secondary rate limit" if limits.secondary else "rate limit")
            self._warn(
                "rate",
                f"GitHub's rate limit was hit: polling waits {until - time.time():.0f} s, as GitHub asked",
                every_s=300,
            )
            raise _Stop(until)
        if limits.remaining is not None and limits.remaining < RATE_RESERVE and limits.reset:
            self.schedule.hold(limits.reset, "rate limit nearly used")
            self._warn(
                "reserve",
                f"only {limits.remaining} GitHub requests are left until the reset: polling waits for it, leaving them "
                "to people's own requests",
                every_s=300,
            )
        if read.status == 401:
            self._warn(
                "auth",
                "GitHub rejected the token (401 Bad credentials): polling stops until it is fixed; an admin should "
                "check GITHUB_TOKEN (or the GitHub App settings)",
                every_s=600,
            )
            raise _Stop(time.time() + AUTH_RETRY_S)
        return read

    # Reading ---------------------------------------------------------------------------------------

    def _read_items(self, reader: ConditionalReader, run: _Poll) -> Read:
        """Issues and pull requests updated since the cursor, oldest first, less those read before unchanged.

        The cursor's `since` stays put until its window holds WINDOW_ITEMS items: the same URL then answers 304 until
        something changes, and each change costs one read. Moving it on changes the URL, so its ETag is dropped.
        """
        cursor = run.cursor
        since = cursor.since if cursor.since is not None else cursor.tracked_since - 1
        params: dict[str, Any] | None = {
            "state": "all",
            "sort": "updated",
            "direction": "asc",
            "since": iso_time(since),
            "per_page": 100,
        }
        first = self._get(reader, run, f"/repos/{run.repo}/issues", params, cursor.etags.get("issues"))
        if not first.ok:
            return first
        read, pages, listed = first, 0, {}
        while read.ok and isinstance(read.data, list):
            for raw in read.data:
                try:
                    item = item_from_issue(run.repo, raw)
                except PayloadError:
                    continue
                listed[str(item.number)] = item.updated_at
                if cursor.seen_at_since.get(str(item.number)) != item.updated_at:
                    run.seen.items.append(item)  # new in the window, or changed since it was read
            pages += 1
            if read.next_url is None or pages >= MAX_PAGES:
                break
            read = self._get(reader, run, read.next_url, None, None)
        cursor.seen_at_since = listed
        if first.etag and pages == 1:
            cursor.etags["issues"] = first.etag
        if len(listed) >= WINDOW_ITEMS:
            newest = max(listed.values())
            cursor.since = newest
            cursor.seen_at_since = {n: at for n, at in listed.items() if at == newest}
            cursor.etags.pop("issues", None)
        elif cursor.since is None:
            cursor.since = since
        return first

    def _read_details(self, reader: ConditionalReader, run: _Poll) -> None:
        """For the pull requests that changed: the PR itself (base, head, size, reviewers) and its reviews; for
        everything that changed, the repository's comments since the cursor."""
        pulls = [i for i in run.seen.items if i.is_pull]
        details: dict[int, Item] = {}
        for item in pulls:
            read = self._get(reader, run, f"/repos/{run.repo}/pulls/{item.number}", None, None)
            if read.ok and isinstance(read.data, dict):
                try:
                    details[item.number] = item_from_pull(run.repo, read.data)
                except PayloadError:
                    continue
        run.seen.items = [details.get(i.number, i) for i in run.seen.items]
        for item in details.values():
            if item.state == "open" and item.head_sha:
                run.cursor.heads[str(item.number)] = item.head_sha
            else:
                run.cursor.heads.pop(str(item.number), None)
        while len(run.cursor.heads) > MAX_WATCHED_HEADS:
            run.cursor.heads.pop(min(run.cursor.heads, key=int))
        if Kind.REVIEWS in run.kinds:
            for item in pulls:
                run.seen.reviews += self._reviews(reader, run, item.number)
        if Kind.COMMENTS in run.kinds:
            run.seen.comments += self._comments(reader, run)

    def _reviews(self, reader: ConditionalReader, run: _Poll, number: int) -> list[Review]:
        """Every review since tracking began: the events job knows which it has seen."""
        raw_reviews, _ = self._list(reader, run, f"/repos/{run.repo}/pulls/{number}/reviews", {"per_page": 100})
        reviews: list[Review] = []
        for raw in raw_reviews:
            try:
                review = review_from(run.repo, number, raw)
            except PayloadError:
                continue
            if review.submitted_at >= run.cursor.tracked_since:
                reviews.append(review)
        return reviews

    def _comments(self, reader: ConditionalReader, run: _Poll) -> list[Comment]:
        """Comments since the cursor: the repository's list in one read (a GitHub without it: each changed
        item's own). Those read at exactly the cursor's second last time are skipped."""
        cursor = run.cursor
        since = cursor.comments_since if cursor.comments_since is not None else cursor.tracked_since - 1
        params = {"since": iso_time(since), "sort": "updated", "direction": "asc", "per_page": 100}
        raw_comments, readable = self._list(reader, run, f"/repos/{run.repo}/issues/comments", params)
        if not readable:
            raw_comments = [
                raw
                for item in run.seen.items
                for raw in self._list(reader, run, f"/repos/{run.repo}/issues/{item.number}/comments", params)[0]
            ]
        comments: list[Comment] = []
        for raw in raw_comments:
            try:
                comment = comment_from(run.repo, raw)
            except PayloadError:
                continue
            if comment.id not in cursor.comments_seen and comment.created_at >= cursor.tracked_since:
                comments.append(comment)
        newest = max([since, *(c.created_at for c in comments)])
        if newest > since:
            cursor.comments_seen = []
        cursor.comments_since = newest
        cursor.comments_seen = sorted({*cursor.comments_seen, *(c.id for c in comments if c.created_at == newest)})
        return comments

    def _list(
        self, reader: ConditionalReader, run: _Poll, url: str, params: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], bool]:
        """Every page of a list (at most MAX_PAGES), and whether GitHub served it at all."""
        items: list[dict[str, Any]] = []
        next_url: str | None = url
        query: dict[str, Any] | None = params
        for _ in range(MAX_PAGES):
            if next_url is None:
                break
            read = self._get(reader, run, next_url, query, None)
            if not read.ok or not isinstance(read.data, list):
                return items, bool(items)
            items += [raw for raw in read.data if isinstance(raw, dict)]
            next_url, query = read.next_url, None
        return items, True

    def _read_checks(self, reader: ConditionalReader, run: _Poll) -> None:
        """The check runs of the watched pull requests' heads; a head whose runs did not change answers 304."""
        for number, sha in list(run.cursor.heads.items()):
            key = f"check:{sha}"
            read = self._get(
                reader, run, f"/repos/{run.repo}/commits/{sha}/check-runs", {"per_page": 100}, run.cursor.etags.get(key)
            )
            if read.ok and isinstance(read.data, dict):
                if read.etag:
                    run.cursor.etags[key] = read.etag
                for raw in read.data.get("check_runs") or []:
                    try:
                        check: CheckRun = check_from(run.repo, raw, [int(number)])
                    except PayloadError:
                        continue
                    if check.status == "completed" and check.completed_at >= run.cursor.tracked_since:
                        run.seen.checks.append(check)
            elif read.status in GONE_STATUSES:
                run.cursor.heads.pop(number, None)
        live = {f"check:{sha}" for sha in run.cursor.heads.values()}
        run.cursor.etags = {k: v for k, v in run.cursor.etags.items() if not k.startswith("check:") or k in live}

    def _read_releases(self, reader: ConditionalReader, run: _Poll) -> None:
        read = self._get(reader, run, f"/repos/{run.repo}/releases", {"per_page": 10}, run.cursor.etags.get("releases"))
        if not read.ok or not isinstance(read.data, list):
            return
        if read.etag:
            run.cursor.etags["releases"] = read.etag
        for raw in read.data:
            try:
                release: Release = release_from(run.repo, raw)
            except PayloadError:
                continue
            if not release.draft and release.published_at >= run.cursor.tracked_since:
                run.seen.releases.append(release)

    # Refusals --------------------------------------------------------------------------------------

    def _refused(self, run: _Poll, read: Read) -> bool:
        """The repository's list was refused for good (gone, or no access): pause it and say so once."""
        if read.status in GONE_STATUSES:
            problem = Problem.GONE
        elif read.status == 403:
            problem = Problem.FORBIDDEN
        else:
            if read.status >= 500:
                self._warn("5xx", f"GitHub answered {read.status} for {run.repo}; polling goes on every interval")
            return False
        run.cursor.problem, run.cursor.problem_since = problem, time.time()
        self.cursors.save(run.repo_key, run.cursor)
        log.warning(
            "github repository paused",
            extra={"repo": run.repo, "status": read.status, "probe_every_s": PAUSE_PROBE_S},
        )
        self.batches.submit_github(
            Observations(repo=run.repo, source=Source.POLL, problem=problem, problem_since=run.cursor.problem_since)
        )
        return True

    def _resumed(self, reader: ConditionalReader, run: _Poll) -> bool:
        """A paused repository is looked at again (one request); readable again, it is resumed, and that is said."""
        read = self._get(reader, run, f"/repos/{run.repo}", None, None)
        if not read.ok:
            return False
        since = run.cursor.problem_since or time.time()
        run.cursor.problem, run.cursor.problem_since = None, None
        self.batches.submit_github(
            Observations(repo=run.repo, source=Source.POLL, problem=Problem.BACK, problem_since=since)
        )
        log.info("github repository resumed", extra={"repo": run.repo})
        return True

"""The follow-up rule on words alone: which messages in a thread Synapse answered in are meant for it."""

from __future__ import annotations

import pytest

from synapse_bot.context.addressed import Addressed, ThreadFacts, addressed

BOT = "U0SYNAPSE"
ASKER = ThreadFacts(asked_here=True, seconds_since_answer=30)


def verdict(text: str, facts: ThreadFacts = ASKER) -> Addressed:
    return addressed(text, facts, window_s=600, bot_user_id=BOT)


@pytest.mark.parametrize(
    "text",
    [
        "can you also check the staging logs?",
        "Synapse, what about yesterday's deploy?",
        "summarize the last ten messages",
        "and what about the EU region?",
        "please list who owns each action item",
        "thanks, can you also triage acme/widgets?",
        "what else did they decide?",
    ],
)
def test_questions_and_requests_to_synapse_are_answered(text: str) -> None:
    assert verdict(text) is Addressed.ANSWER


@pytest.mark.parametrize(
    "text",
    [
        "thanks!",
        "Thank you so much",
        "+1",
        "agreed",
        "ok",
        "lgtm 👍",
        ":tada: :tada:",
        "🙏",
        "I think it's the token refresh race again.",  # a statement
        "Let's ship it tomorrow",
        "does anyone know who owns the billing service?",  # put to the group
        "anyone tried turning the cache off?",
        "<@U0BOB> can you take this one?",  # to someone else
        "<!here> the deploy is done",
    ],
)
def test_statements_acknowledgements_group_questions_and_replies_to_others_are_left(text: str) -> None:
    assert verdict(text) is Addressed.IGNORE


@pytest.mark.parametrize("text", ["is it the cache?", "why would that fail on Fridays?", "did the migration run"])
def test_a_question_that_could_be_for_anyone_is_checked(text: str) -> None:
    assert verdict(text) is Addressed.CHECK


def test_only_the_people_who_asked_synapse_here_and_only_soon_after_its_answer() -> None:
    question = "can you also check the staging logs?"
    assert verdict(question, ThreadFacts(asked_here=False, seconds_since_answer=30)) is Addressed.IGNORE
    assert verdict(question, ThreadFacts(asked_here=True, seconds_since_answer=601)) is Addressed.IGNORE
    assert verdict(question, ThreadFacts(asked_here=True, seconds_since_answer=None)) is Addressed.IGNORE
    # A mention of Synapse itself is not "someone else" (the app_mention event answers such messages anyway).
    assert verdict(f"<@{BOT}> can you check?") is Addressed.ANSWER

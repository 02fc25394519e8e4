"""The privacy rule alone (pure): may content from one conversation be posted in another?"""

from __future__ import annotations

from synapse_bot.privacy import Conversation, Delivery, Visibility, decide, may_show

BOT = frozenset({"U0BOT"})


def public(cid: str, name: str, *, shared: bool = False, members: set[str] | None = None) -> Conversation:
    return Conversation(
        cid, name, Visibility.PUBLIC, frozenset(members) if members is not None else None, shared_externally=shared
    )


def private(cid: str, name: str, members: set[str], visibility: Visibility = Visibility.PRIVATE) -> Conversation:
    return Conversation(cid, name, visibility, frozenset(members | BOT))


GENERAL = public("C1", "general")
RANDOM = public("C2", "random")
SECRET = private("G1", "secret", {"alice", "bob"})


def test_content_may_always_stay_in_its_own_conversation() -> None:
    assert may_show(SECRET, SECRET, BOT)
    assert decide([SECRET], SECRET, "alice", BOT).delivery is Delivery.IN_PLACE


def test_a_public_channel_may_be_quoted_in_any_conversation_of_the_workspace() -> None:
    dm = private("D1", "", {"alice"}, Visibility.DIRECT)
    assert may_show(GENERAL, RANDOM, BOT) and may_show(GENERAL, SECRET, BOT) and may_show(GENERAL, dm, BOT)
    assert decide([GENERAL], RANDOM, "carol", BOT).delivery is Delivery.IN_PLACE


def test_a_public_channel_is_not_quoted_to_another_organisation_unless_all_its_members_are_in_it() -> None:
    shared = private("G9", "partners", {"alice", "ext-zed"})
    shared = Conversation(shared.id, shared.name, shared.visibility, shared.members, shared_externally=True)
    assert not may_show(public("C1", "general", members={"alice", "bob"} | BOT), shared, BOT)
    assert may_show(public("C1", "general", members={"alice", "ext-zed"} | BOT), shared, BOT)
    assert not may_show(GENERAL, shared, BOT)  # members of the source unknown: not shown


def test_a_private_channel_never_goes_to_a_public_one() -> None:
    verdict = decide([SECRET], GENERAL, "alice", BOT)
    assert verdict.delivery is Delivery.PRIVATE and verdict.blocking == (SECRET,)
    assert verdict.reason() == "This quotes #secret, which not everyone here can read, so only you see it."


def test_a_private_channel_goes_where_every_reader_is_one_of_its_members() -> None:
    pair = private("G2", "alice-bob", {"alice", "bob"})
    trio = private("G3", "trio", {"alice", "bob", "carol"})
    alice_dm = private("D1", "", {"alice"}, Visibility.DIRECT)
    assert may_show(SECRET, pair, BOT) and may_show(SECRET, alice_dm, BOT)
    assert not may_show(SECRET, trio, BOT)
    assert decide([SECRET], trio, "alice", BOT).delivery is Delivery.PRIVATE


def test_a_dm_is_not_quoted_anywhere_else_but_to_its_own_people() -> None:
    dm = private("D1", "", {"alice"}, Visibility.DIRECT)
    assert not may_show(dm, SECRET, BOT) and not may_show(dm, GENERAL, BOT)
    verdict = decide([dm], GENERAL, "alice", BOT)
    assert "a direct message" in verdict.reason()


def test_unknown_members_are_never_cleared() -> None:
    unknown = Conversation("G7", "", Visibility.PRIVATE, None, shared_externally=True)
    assert not may_show(unknown, SECRET, BOT) and not may_show(GENERAL, unknown, BOT)
    assert decide([GENERAL], unknown, "alice", BOT).delivery is Delivery.PRIVATE


def test_one_blocking_source_among_several_makes_the_whole_answer_private_and_is_named() -> None:
    other = private("G4", "ops", {"alice"})
    verdict = decide([GENERAL, SECRET, other], RANDOM, "alice", BOT)
    assert verdict.delivery is Delivery.PRIVATE and {c.id for c in verdict.blocking} == {"G1", "G4"}
    assert "#secret and #ops" in verdict.reason()


def test_content_the_requester_cannot_read_is_withheld_even_from_them() -> None:
    verdict = decide([SECRET], GENERAL, "carol", BOT)
    assert verdict.delivery is Delivery.WITHHELD and "not a member" in verdict.reason()


def test_a_public_channel_reaches_a_guest_only_through_channels_the_guest_is_in() -> None:
    guests = frozenset({"gus"})
    incidents = public("C3", "incidents", members={"alice", "bob"} | BOT)
    with_gus = public("C4", "support", members={"alice", "gus"} | BOT)
    assert not may_show(incidents, with_gus, BOT, guests)
    assert may_show(public("C3", "incidents", members={"alice", "gus"}), with_gus, BOT, guests)
    assert may_show(incidents, public("C5", "staff", members={"alice", "bob"}), BOT, guests)  # no guest there
    assert not may_show(GENERAL, with_gus, BOT, guests)  # the source's members unknown: not shown
    assert decide([incidents], with_gus, "alice", BOT, guests).delivery is Delivery.PRIVATE

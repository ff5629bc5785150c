"""The position tracking behind Client.follow: copies seen before a break are dropped, an epoch change is reported,
and a resumed request carries the positions."""

from __future__ import annotations

from herald.models import Event, NotRecovered, Position
from herald.subscription import Tracker
from herald.v1 import event_pb2, herald_pb2


def event(eid: str, *positions: tuple[str, str, int]) -> herald_pb2.SubscribeResponse:
    ev = event_pb2.Event(id=eid, namespace="/", name="n", targets=[p[0] for p in positions])
    for topic, epoch, offset in positions:
        ev.positions.add(topic=topic, epoch=epoch, offset=offset)
    return herald_pb2.SubscribeResponse(event=ev)


def ids(items: list) -> list[str]:
    return [i.id if isinstance(i, Event) else f"!{i.topic}" for i in items]


def test_a_replayed_copy_is_dropped_and_positions_advance() -> None:
    t = Tracker("/", "room:a")
    assert ids(t.items(event("1", ("room:a", "e", 1)))) == ["1"]
    assert ids(t.items(event("2", ("room:a", "e", 2)))) == ["2"]
    assert t.items(event("1", ("room:a", "e", 1))) == [], "seen before the break"
    assert t.positions["room:a"] == Position("room:a", "e", 2)
    req = t.request()
    assert list(req.topics) == ["room:a"]
    assert [(p.topic, p.epoch, p.offset) for p in req.since] == [("room:a", "e", 2)]


def test_an_epoch_change_is_reported_before_the_event() -> None:
    t = Tracker("/", ["room:a"], since=[Position("room:a", "old", 7)])
    items = t.items(event("9", ("room:a", "new", 1)))
    assert items[0] == NotRecovered(topic="room:a", reason="epoch changed")
    assert ids(items[1:]) == ["9"]


def test_not_recovered_moves_the_position_and_volatile_events_pass() -> None:
    t = Tracker("/", ["room:a"])
    msg = herald_pb2.SubscribeResponse(
        not_recovered=herald_pb2.NotRecovered(
            topic="room:a", reason="outside the recovery window", current=event_pb2.Position(topic="room:a", epoch="e", offset=40)
        )
    )
    assert t.items(msg) == [NotRecovered(topic="room:a", reason="outside the recovery window")]
    assert t.positions["room:a"].offset == 40
    assert ids(t.items(event("v"))) == ["v"], "a volatile event has no position and is never a duplicate"
    assert t.items(herald_pb2.SubscribeResponse(subscribed=herald_pb2.Subscribed())) == []

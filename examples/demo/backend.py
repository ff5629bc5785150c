"""The demo backend: an inbox service for alice, bob and carol, written with the `herald` package.

It handles the page's client events over Herald's `Handle` stream (the handler's reply is the
Socket.IO ack) and pushes events back with `Emit`:

  message:send                    store, reply, then `new_message` to every participant's devices,
                                  asking for acks (delivery receipts) and a push task for offline users
  message:delivered               a device got messages without an ack (replayed on reconnection)
  convo_mark_conversation_read    read receipts: `convo_message_read` to the participants
  convo_snooze_conversation       `convo_snooze_conversation` to the user's other tabs
  convo_unsnooze_conversation     `conversation_unsnoozed` to the user's tabs
  leads:find                      a `scrape` task that notifies the user (`scrape_progress`, `scrape_complete`)
  demo:announce                   `system_announcement` to everyone (`*`)
  $connect                        joins the user's conversation rooms and `lobby` (presence)
  demo:token (namespace /demo)    demo mode only: a signed token for one of the demo users

State lives in memory: restart the backend and the inbox starts again.

Run: python examples/demo/backend.py [--url 127.0.0.1:50061] [--secret herald-demo-secret]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import logging
import os
import time
from typing import Any

import herald
from herald import codec
from herald.connection import aio_channel, auth_metadata
from herald.v1 import herald_pb2, herald_pb2_grpc

log = logging.getLogger("demo-backend")

USERS = {"alice": "Alice", "bob": "Bob", "carol": "Carol"}
CONVERSATIONS = {
    "c-ab": {"title": "", "members": ["alice", "bob"]},
    "c-ac": {"title": "", "members": ["alice", "carol"]},
    "c-team": {"title": "Team", "members": ["alice", "bob", "carol"]},
}
ACK_TIMEOUT_MS = 5000


class Refused(Exception):
    """A client event the backend refuses: the client's ack is {"error": message}."""


class Inbox:
    """Conversations, messages with their receipts, and snoozes, in memory."""

    def __init__(self, client: herald.AsyncClient, presence: herald_pb2_grpc.HeraldServiceStub, metadata: Any):
        self.client = client
        self.presence = presence
        self.metadata = metadata
        self.messages: dict[str, list[dict[str, Any]]] = {c: [] for c in CONVERSATIONS}
        self.snoozed: set[tuple[str, str]] = set()
        self.ids = itertools.count(1)

    def conversation(self, user: str, args: list[Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
        body = args[0] if args and isinstance(args[0], dict) else {}
        cid = body.get("conversationId")
        conv = CONVERSATIONS.get(cid) if isinstance(cid, str) else None
        if conv is None or user not in conv["members"]:
            raise Refused(f"unknown conversation {cid!r}")
        return cid, conv, body

    async def on_event(self, event: str, user: str, args: list[Any]) -> Any:
        if event == "$connect":
            rooms = [f"conv:{c}" for c, conv in CONVERSATIONS.items() if user in conv["members"]]
            return {"rooms": rooms + ["lobby"], "data": {"name": USERS.get(user, user)}}
        if user not in USERS:
            raise Refused(f"unknown user {user!r}")
        if event == "inbox:load":
            return await self.load(user)
        if event == "message:send":
            return await self.send(user, args)
        if event == "message:delivered":
            cid, _, body = self.conversation(user, args)
            ids = body.get("messageIds") if isinstance(body.get("messageIds"), list) else []
            await self.mark_delivered(user, [m for m in self.messages[cid] if m["id"] in ids])
            return {"ok": True}
        if event == "convo_mark_conversation_read":
            return await self.mark_read(user, args)
        if event in ("convo_snooze_conversation", "convo_unsnooze_conversation"):
            cid, _, _ = self.conversation(user, args)
            if event == "convo_snooze_conversation":
                self.snoozed.add((user, cid))
                await self.client.emit(event, to=f"user:{user}", args=[{"conversationId": cid, "is_snoozed": True}])
            else:
                self.snoozed.discard((user, cid))
                await self.client.emit("conversation_unsnoozed", to=f"user:{user}", args=[{"conversationId": cid}])
            return {"ok": True}
        if event == "leads:find":
            return await self.find_leads(user, args)
        if event == "demo:announce":
            text = str(args[0] if args else "").strip()[:200] or "Scheduled maintenance on Monday, 2-4 AM"
            await self.client.emit("system_announcement", to="*", args=[{"title": "Announcement", "message": text}])
            return {"ok": True}
        raise Refused(f"unknown event {event!r}")

    async def load(self, user: str) -> dict[str, Any]:
        """Everything a freshly connected tab shows; what it had not received counts as delivered now."""
        others = [u for u in USERS if u != user]
        status = await self.presence.Presence(herald_pb2.PresenceRequest(user_ids=others), metadata=self.metadata)
        undelivered = [m for msgs in self.messages.values() for m in msgs if user not in m["delivered"]]
        await self.mark_delivered(user, [m for m in undelivered if user in CONVERSATIONS[m["conversationId"]]["members"]])
        return {
            "me": user,
            "users": USERS,
            "online": {p.user_id: p.online for p in status.users},
            "conversations": [
                {"id": c, "title": conv["title"], "members": conv["members"], "snoozed": (user, c) in self.snoozed,
                 "messages": self.messages[c]}
                for c, conv in CONVERSATIONS.items() if user in conv["members"]
            ],
        }

    async def send(self, user: str, args: list[Any]) -> dict[str, Any]:
        cid, conv, body = self.conversation(user, args)
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            raise Refused("a message needs some text")
        msg = {"id": f"m{next(self.ids)}", "conversationId": cid, "from": user, "text": text.strip()[:2000],
               "ts": int(time.time() * 1000), "delivered": [user], "read": [user]}
        self.messages[cid].append(msg)
        asyncio.create_task(self.deliver(msg, conv["members"]))
        return {"message": msg}

    async def deliver(self, msg: dict[str, Any], members: list[str]) -> None:
        """One Emit to every participant's devices; acks are delivery receipts, offline users get a push."""
        push = {"queue": "push", "payload": {"from": msg["from"], "conversationId": msg["conversationId"],
                                             "text": msg["text"][:80]}}
        try:
            res = await self.client.emit("new_message", to=[f"user:{m}" for m in members], args=[msg],
                                         ack_timeout_ms=ACK_TIMEOUT_MS, idempotency_key=f"msg:{msg['id']}",
                                         push_if_offline=push)
        except herald.RpcError as err:
            log.warning("new_message %s: %s", msg["id"], err)
            return
        acked = {a.user_id for a in res.acks if a.acked}
        for u in acked:
            await self.mark_delivered(u, [msg])

    async def mark_delivered(self, user: str, msgs: list[dict[str, Any]]) -> None:
        for m in msgs:
            if user not in m["delivered"]:
                m["delivered"].append(user)
                await self.status_changed(m)

    async def status_changed(self, msg: dict[str, Any]) -> None:
        await self.client.emit("message_status", to=f"user:{msg['from']}", args=[
            {"conversationId": msg["conversationId"], "messageId": msg["id"],
             "delivered": msg["delivered"], "read": msg["read"]}])

    async def mark_read(self, user: str, args: list[Any]) -> dict[str, Any]:
        cid, conv, _ = self.conversation(user, args)
        newly = [m for m in self.messages[cid] if user not in m["read"]]
        for m in newly:
            m["read"].append(user)
            if user not in m["delivered"]:
                m["delivered"].append(user)
        if newly:
            await self.client.emit("convo_message_read", to=[f"user:{u}" for u in conv["members"]], args=[
                {"conversationId": cid, "messageIds": [m["id"] for m in newly],
                 "readBy": {"_id": user, "name": USERS[user]}, "timestamp": int(time.time() * 1000)}])
        return {"ok": True, "messageIds": [m["id"] for m in newly]}

    async def find_leads(self, user: str, args: list[Any]) -> dict[str, Any]:
        body = args[0] if args and isinstance(args[0], dict) else {}
        keyword, location = str(body.get("keyword", "")).strip(), str(body.get("location", "")).strip()
        if not keyword or not location:
            raise Refused("give a keyword and a location")
        task = await self.client.submit("scrape", {"keyword": keyword, "location": location}, notify={
            "topic": f"user:{user}", "completed_event": "scrape_complete",
            "progress_event": "scrape_progress", "failed_event": "scrape_failed"})
        return {"taskId": task.id}


def demo_token(secret: str, user: str, ttl_secs: int = 12 * 3600) -> str:
    """An HS256 JWT for a demo user (demo mode only: real apps get tokens from their login service)."""
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = b64(json.dumps({"sub": user, "name": USERS[user], "exp": int(time.time()) + ttl_secs}).encode())
    signature = hmac.new(secret.encode(), f"{header}.{claims}".encode(), hashlib.sha256).digest()
    return f"{header}.{claims}.{b64(signature)}"


async def handle(url: str, token: str, namespace: str, events: list[str], on_event: Any) -> None:
    """Keeps one Handle stream registered for `events` of `namespace`, reconnecting when it breaks."""
    channel = aio_channel(url)
    stub = herald_pb2_grpc.HeraldServiceStub(channel)
    while True:
        outbox: asyncio.Queue[herald_pb2.HandleRequest] = asyncio.Queue(maxsize=1024)
        await outbox.put(herald_pb2.HandleRequest(register=herald_pb2.HandleRegister(namespace=namespace, events=events)))

        async def requests() -> Any:
            while True:
                yield await outbox.get()

        async def answer(ev: herald_pb2.ClientEvent) -> None:
            reply = herald_pb2.HandleReply(call_id=ev.call_id)
            try:
                value = await on_event(ev.event, ev.user_id, [codec.from_arg(a) for a in ev.args])
                reply.args.append(codec.to_arg(value))
            except Refused as err:
                reply.error = str(err)
            except Exception as err:  # a bug in a flow must not kill the stream: the client sees an error ack
                log.exception("%s failed", ev.event)
                reply.error = f"backend error: {err}"
            if ev.call_id:
                await outbox.put(herald_pb2.HandleRequest(reply=reply))

        try:
            call = stub.Handle(requests(), metadata=auth_metadata(token))
            async for resp in call:
                if resp.HasField("registered"):
                    log.info("handling %s in %s", ", ".join(events), namespace)
                elif resp.HasField("event"):
                    asyncio.create_task(answer(resp.event))
        except Exception as err:  # the core restarted or is not up yet: register again
            log.info("Handle stream for %s: %s; retrying", namespace, getattr(err, "details", lambda: err)())
        await asyncio.sleep(1)


async def main_async(url: str, token: str, secret: str) -> None:
    async with herald.AsyncClient(url, token=token) as client:
        presence = herald_pb2_grpc.HeraldServiceStub(aio_channel(url))
        inbox = Inbox(client, presence, auth_metadata(token))

        async def tokens(event: str, _user: str, args: list[Any]) -> Any:
            who = args[0] if args else None
            if who not in USERS:
                raise Refused(f"pick one of {', '.join(USERS)}")
            return {"token": demo_token(secret, who), "user": who}

        events = ["$connect", "inbox:load", "message:send", "message:delivered", "convo_mark_conversation_read",
                  "convo_snooze_conversation", "convo_unsnooze_conversation", "leads:find", "demo:announce"]
        await asyncio.gather(handle(url, token, "/", events, inbox.on_event),
                             handle(url, token, "/demo", ["demo:token"], tokens))


def main() -> None:
    parser = argparse.ArgumentParser(description="Herald demo backend (inbox flows, demo tokens)")
    parser.add_argument("--url", default=os.environ.get("HERALD_URL", "127.0.0.1:50061"))
    parser.add_argument("--token", default=os.environ.get("HERALD_TOKEN", herald.DEFAULT_TOKEN))
    parser.add_argument("--secret", default=os.environ.get("HERALD_DEMO_SECRET", "herald-demo-secret"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    try:
        asyncio.run(main_async(args.url, args.token, args.secret))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

"""Receiving Beckn messages: the checked pipeline behind `<subscriber_url>/<action>`, and the inbox."""

from participant.inbound.checks import InboundPolicy, Rejection
from participant.inbound.handlers import ActionHandler, BaseActionHandler, InboundMessage
from participant.inbound.inbox import InboxDispatcher
from participant.inbound.pipeline import InboundPipeline, InboundReply, Inspection, build_beckn_router
from participant.inbound.recent import RecentMessages

__all__ = [
    "ActionHandler",
    "BaseActionHandler",
    "InboundMessage",
    "InboundPipeline",
    "InboundPolicy",
    "InboundReply",
    "InboxDispatcher",
    "Inspection",
    "RecentMessages",
    "Rejection",
    "build_beckn_router",
]

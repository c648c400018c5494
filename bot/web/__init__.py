"""The web app (Chainlit): handlers, what they show, and how it is launched.

One module per thing shown: chat_view (a session as it happens),
debrief_view (its end), transcripts (its record), dashboard (every session,
for trainers). handlers only wires Chainlit's events to those and to the
session engine; launch prepares and starts it. Every UI word is in bot.i18n.
"""

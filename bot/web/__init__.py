"""The web app (Chainlit): its handlers, what they show, and how it is launched."""

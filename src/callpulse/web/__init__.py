"""The read side people look at: the HTTP server, the status document and its page."""

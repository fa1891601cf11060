"""liveupdates: a real-time live-blog server."""

"""The shapes the API reads (Create/Update) and writes (Public), a module per resource:
blogs, entries, polls, bylines, finding (tags, search), tokens, questions, push; what their
text may be is app/domain/text.py's."""

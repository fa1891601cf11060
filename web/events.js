// @ts-check
// What the web client and the server must agree on, as the server names it: the events a
// blog's readers and the newsroom's desks receive (app/domain/events.py), the close codes a reader acts on
// (app/live/wire.py), entries' and blogs' statuses (app/domain/models.py) and how long an entry's line of
// text may be (app/domain/alerts.py). tests/test_contract.py checks each against app/.

export const EVENT = Object.freeze({
  HELLO: "hello",
  ENTRY_CREATED: "entry.created",
  ENTRY_UPDATED: "entry.updated",
  ENTRY_DELETED: "entry.deleted",
  BLOG_UPDATED: "blog.updated",
  AUTHOR_UPDATED: "author.updated", // a profile in the blog's bylines changed
  AUDIENCE: "audience", // a notice, without an offset: how many read the blog now
  POLL_RESULTS: "poll.results", // a notice, without an offset: the polls' results
});

// The newsroom's desk stream (never readers'): readers' questions.
export const DESK = Object.freeze({
  QUESTIONS: "questions", // the open questions, when the stream starts (and after a gap)
  QUESTION_ASKED: "question.asked",
  QUESTION_CLOSED: "question.closed",
});

export const CLOSE = Object.freeze({
  BAD_OFFSET: 4400, // our offset is no good: start afresh from the page or the API
  STREAM_CHANGED: 4409, // our offset counts in another stream (a restore): start afresh
  NO_SUCH_BLOG: 4404,
  ARCHIVED: 4410, // the blog is archived: its page is all there is; do not come back
});

export const STATUS = Object.freeze({
  PUBLISHED: "published",
  DRAFT: "draft", // seen only in the newsroom, until published
  SCHEDULED: "scheduled", // published by the server at `publish_at`
  SUBMITTED: "submitted", // a contributor's, waiting for an editor's approval
  RETURNED: "returned", // sent back to its contributor with a `review_note`
});

export const BLOG_STATUS = Object.freeze({
  UPCOMING: "upcoming", // announced for `starts_at`: live with its first entry
  LIVE: "live",
  ENDED: "ended",
});

// An entry's line in lists (key events, what screen readers are told of a new one).
export const SUMMARY_LENGTH = 90;

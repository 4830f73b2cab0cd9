package io.weaseldb.pipeline;

import io.weaseldb.txn.CommitRequest;

/** What the sequencer's inbox carries (from event loops and from the persister). */
public sealed interface SequencerMessage {

    record Commit(CommitRequest request, Completion completion) implements SequencerMessage {}

    /** A health probe; it travels every stage like a commit but writes nothing. */
    record Probe(Completion completion) implements SequencerMessage {}

    /** {@code GET /v1/status}: what happened to a request id, made final by asking. */
    record Status(String requestId, long minVersion, Completion completion) implements SequencerMessage {}

    /** Clean shutdown: stop sequencing and end the term with a final marker. */
    record Retire() implements SequencerMessage {
        static final Retire INSTANCE = new Retire();
    }

    /** The persister needs a version without a transaction (heartbeat, or bans while idle). */
    record MarkerRequest() implements SequencerMessage {
        static final MarkerRequest INSTANCE = new MarkerRequest();
    }
}

package io.weaseldb.pipeline;

import io.weaseldb.txn.CommitRequest;

/** What the sequencer's inbox carries (from event loops and from the persister). */
public sealed interface SequencerMessage {

    record Commit(CommitRequest request, Completion completion) implements SequencerMessage {}

    /** A health probe; it travels every stage like a commit but writes nothing. */
    record Probe(Completion completion) implements SequencerMessage {}
}

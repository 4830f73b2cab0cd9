package io.weaseldb.log;

/**
 * A leader term: who leads, from which version. {@code startVersion} is the version the term's
 * start marker claims in the log; the term's first transaction is {@code startVersion + 1}.
 */
public record Term(long term, String leaderId, long startVersion, long prevTxnVersion) {}

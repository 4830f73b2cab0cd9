package io.weaseldb.pipeline;

import java.util.List;

/**
 * A group of pipeline items whose outcome is now decided, handed from the persister to the
 * releaser. With {@code failure == null} each transaction committed; otherwise each transaction
 * gets {@code failure} (its request id filled in). Replies keep their own outcome.
 */
record Release(List<Sequenced> items, String leaderId, Outcome.Unavailable failure) {}

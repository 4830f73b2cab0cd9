package io.weaseldb.log;

import java.util.List;

/**
 * The request-id section of a log object, readable on its own (a ranged GET of the object's
 * first bytes): what the request-id index is rebuilt from at startup.
 *
 * @param versions   the version of each transaction
 * @param timestamps each transaction's timestamp (epoch ms)
 * @param requestIds each transaction's request id
 * @param bans       request ids that /v1/status declared never to commit
 */
public record RequestIds(BatchHeader header, long[] versions, long[] timestamps, List<String> requestIds,
                         List<String> bans) {}

package io.weaseldb.txn;

/**
 * A mutation in a transaction. Keys and values are raw bytes; the arrays are owned by the
 * record and never mutated after construction (records compare arrays by identity).
 */
public sealed interface Operation permits Operation.Write, Operation.Delete, Operation.RangeDelete {

    /** Bytes this operation contributes to size accounting (keys + values). */
    int payloadBytes();

    record Write(byte[] key, byte[] value) implements Operation {
        @Override
        public int payloadBytes() {
            return key.length + value.length;
        }
    }

    record Delete(byte[] key) implements Operation {
        @Override
        public int payloadBytes() {
            return key.length;
        }
    }

    /** Deletes every key in {@code [begin, end)}; {@code begin < end} is validated by the parser. */
    record RangeDelete(byte[] begin, byte[] end) implements Operation {
        @Override
        public int payloadBytes() {
            return begin.length + end.length;
        }
    }
}
